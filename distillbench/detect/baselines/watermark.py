from __future__ import annotations

from functools import lru_cache
from typing import ClassVar

from distillbench.detect.base import Verdict
from distillbench.detect.registry import register
from distillbench.evidence.view import AccessLevel, PairEvidence


@lru_cache(maxsize=8)
def _tokenizer(tokenizer_json: str):
    """Parsed once per teacher tokenizer, not once per pair."""
    from tokenizers import Tokenizer

    return Tokenizer.from_str(tokenizer_json)


@register
class WatermarkRadioactivityDetector:
    """Does the student's own text carry the teacher's watermark? (After Sander et al. 2024, "Watermarking Makes
    Language Models Radioactive".)

    With the teacher's secret watermark key (teacher-side track), the student's greedy answers to the probe prompts
    are tokenized with the teacher's tokenizer, concatenated, and scored by transformers' `WatermarkDetector` (the
    Kirchenbauer et al. green-list z-test) with `ignore_repeated_ngrams=True`: each (context, token) pair counts
    once, which is the de-duplication Sander et al. require for the p-value to stay valid on a model's repetitive
    output. Score: the z statistic; p-value: the detector's one-sided normal p. A teacher without a watermark gives
    no evidence: it abstains. Departure: the paper also filters to tokens the suspect model scores under a
    reading mode; this uses the open (generation) mode only.
    """

    name: ClassVar[str] = "watermark_radioactivity"
    access: ClassVar[AccessLevel] = AccessLevel.TEACHER_SIDE
    summary: ClassVar[str] = "teacher's watermark (secret key) found in the student's answers, de-duplicated z-test"
    uses: ClassVar[frozenset[str]] = frozenset({"generations"})

    def score(self, pair: PairEvidence) -> Verdict:
        secret = pair.teacher_secret
        if secret is None or secret.watermark is None:
            return Verdict.abstain()
        import torch
        from transformers import GPT2Config, WatermarkDetector, WatermarkingConfig

        tok = _tokenizer(secret.tokenizer_json)
        eos = tok.token_to_id("<|endoftext|>") or 0
        ids: list[int] = []
        for key in sorted(pair.student.generations):
            ids += tok.encode(pair.student.generations[key], add_special_tokens=False).ids + [eos]
        if len(ids) < 8:
            return Verdict.abstain()
        # The detector reads only vocab_size and the EOS/pad id from the config it is given.
        config = GPT2Config(vocab_size=tok.get_vocab_size(), bos_token_id=eos, eos_token_id=eos, pad_token_id=eos)
        detector = WatermarkDetector(model_config=config, device="cpu",
                                     watermarking_config=WatermarkingConfig(**secret.watermark),
                                     ignore_repeated_ngrams=True)
        out = detector(torch.tensor([ids]), return_dict=True)
        z, p = float(out.z_score[0]), float(out.p_value[0])
        return Verdict(score=z if z == z else 0.0, p_value=min(1.0, max(0.0, p)) if p == p else None)
