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

    A SynthID teacher (its secret has `ngram_len` and `keys`: transformers' `SynthIDTextWatermarkingConfig`) is
    scored by its mean g-value (Dathathri et al. 2024): transformers' `SynthIDTextWatermarkLogitsProcessor.
    compute_g_values` gives, for each n-gram of the student's answers, one pseudo-random bit per tournament layer.
    Text written without the key has bits that are fair coins whoever wrote it (the references' mean g-values sit at
    1/2), so with each distinct n-gram counted once (the same de-duplication as above) the mean of n·depth bits is
    tested against 1/2: score z = (mean - 1/2) / sqrt(1 / (4 n depth)), one-sided normal p. Bits of one n-gram are
    hashed with independent layer keys, so they count as independent.
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
        if "ngram_len" in secret.watermark:
            return _synthid_verdict(secret.watermark, tok, pair.student.generations)
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


def synthid_score(config: dict, tok, texts: list[str]) -> tuple[float, int]:  # noqa: ANN001 (tokenizers.Tokenizer)
    """(mean g-value, number of distinct n-grams) of `texts` under a SynthID config: each n-gram that lies inside
    one text is counted once, wherever and however often it occurs."""
    import torch
    from transformers.generation.logits_process import SynthIDTextWatermarkLogitsProcessor

    n = config["ngram_len"]
    grams: set[tuple[int, ...]] = set()
    for text in texts:
        ids = tok.encode(text, add_special_tokens=False).ids
        grams.update(tuple(ids[i : i + n]) for i in range(len(ids) - n + 1))
    if not grams:
        return 0.5, 0
    processor = SynthIDTextWatermarkLogitsProcessor(
        ngram_len=n, keys=config["keys"], sampling_table_size=config.get("sampling_table_size", 2**16),
        sampling_table_seed=config.get("sampling_table_seed", 0),
        context_history_size=config.get("context_history_size", 1024), device="cpu")
    # One row per n-gram: compute_g_values reads each row's single n-gram (shape [n_grams, 1, depth]).
    g = processor.compute_g_values(torch.tensor(sorted(grams), dtype=torch.long))
    return float(g.float().mean()), len(grams)


def _synthid_verdict(config: dict, tok, generations: dict[str, str]) -> Verdict:  # noqa: ANN001
    from scipy.stats import norm

    mean, n = synthid_score(config, tok, [generations[k] for k in sorted(generations)])
    if n < 8:
        return Verdict.abstain()
    z = (mean - 0.5) / (1.0 / (4.0 * n * len(config["keys"]))) ** 0.5
    return Verdict(score=z, p_value=float(norm.sf(z)))
