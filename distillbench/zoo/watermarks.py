"""Watermarks, plural: how a teacher's watermark spec becomes what it serves, and what watermarking costs it.

Takes a teacher's `WatermarkSpec` (green lists, transformers' `WatermarkingConfig`) or `SynthIDSpec` (SynthID Text,
`SynthIDTextWatermarkingConfig`) and produces the transformers config its generations use. Produces, per build,
`watermark_cost.json` (`WatermarkCosts`): each watermarked teacher's perplexity on its own watermarked and
unwatermarked samples for the pool prompts, both scored by the unwatermarked teacher, the quality price of the mark.

Where the secret lives: a green-list config is saved in the teacher's `generation_config.json` under
`watermarking_config`, and transformers re-applies it whenever the model generates. Transformers cannot reload a
SynthID config from that file (`GenerationConfig` parses every `watermarking_config` dict as a green-list one and
fails), so a SynthID teacher keeps its config under `synthid_watermarking_config` (SYNTHID_KEY) in the same file,
and `attach` re-applies it to the loaded model; the teacher-side track reads it from there.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerFast, SynthIDTextWatermarkingConfig, WatermarkingConfig

from distillbench.rng import derive_seed
from distillbench.zoo.spec import SynthIDSpec, WatermarkSpec
from distillbench.zoo.watermark_cost import COST_FILE, WatermarkCost, WatermarkCosts

SYNTHID_KEY = "synthid_watermarking_config"


def synthid_config(spec: SynthIDSpec) -> SynthIDTextWatermarkingConfig:
    """The per-layer keys are derived from the one secret, so a split that redraws `key` redraws them all."""
    keys = [derive_seed("synthid", spec.key, d) % 2**31 for d in range(spec.depth)]
    return SynthIDTextWatermarkingConfig(ngram_len=spec.ngram_len, keys=keys)


def transformers_config(spec: WatermarkSpec | SynthIDSpec):  # noqa: ANN201 (a transformers watermarking config)
    if isinstance(spec, SynthIDSpec):
        return synthid_config(spec)
    return WatermarkingConfig(bias=spec.bias, greenlist_ratio=spec.greenlist_ratio, hashing_key=spec.key,
                              seeding_scheme=spec.seeding_scheme, context_width=spec.context_width)


def mark(model: PreTrainedModel, spec: WatermarkSpec | SynthIDSpec | None) -> None:
    """Set the watermark a model is saved with (see the module docstring for where each scheme is kept)."""
    if spec is None:
        return
    if isinstance(spec, SynthIDSpec):
        setattr(model.generation_config, SYNTHID_KEY, synthid_config(spec).to_dict())
    else:
        model.generation_config.watermarking_config = transformers_config(spec)


def attach(model: PreTrainedModel, model_dir: Path) -> PreTrainedModel:
    """A loaded model, with the SynthID watermark its directory names applied to its generations (green lists are
    applied by transformers itself)."""
    gen = model_dir / "generation_config.json"
    saved = json.loads(gen.read_text()).get(SYNTHID_KEY) if gen.is_file() else None
    if saved is not None:
        model.generation_config.watermarking_config = SynthIDTextWatermarkingConfig(**saved)
    return model


def perplexity(model: PreTrainedModel, tok: PreTrainedTokenizerFast, prompts: list[str], answers: list[str]) -> float:
    """exp(mean NLL per answer token) of `answers` given `prompts` under `model`, which generates nothing here."""
    total, count = 0.0, 0
    room = getattr(model.config, "n_positions", None) or getattr(model.config, "max_position_embeddings", None)
    with torch.no_grad():
        for p, a in zip(prompts, answers):
            p_ids, a_ids = tok(p)["input_ids"], tok(a)["input_ids"]
            if not a_ids:
                continue
            ids = (p_ids + a_ids)[-room:] if room else p_ids + a_ids
            n = min(len(a_ids), len(ids) - 1)
            logits = model(input_ids=torch.tensor([ids])).logits[0, :-1]
            nll = torch.nn.functional.cross_entropy(logits[-n:], torch.tensor(ids[-n:]), reduction="sum")
            total, count = total + float(nll), count + n
    return math.exp(total / max(count, 1))


def costs_current(suite_dir: Path, key: str) -> bool:
    """Whether the suite's cost file was measured on exactly these teachers and prompts (`WatermarkCosts.key`)."""
    path = suite_dir / COST_FILE
    try:
        return path.is_file() and WatermarkCosts.model_validate_json(path.read_text()).key == key
    except ValueError:  # an older or damaged file: measure again
        return False


def measure_costs(builder, key: str) -> WatermarkCosts | None:  # noqa: ANN001 (zoo.build.SuiteBuilder)
    """Each watermarked teacher samples the pool prompts twice with the same seeds, with and without its mark; the
    teacher without the mark scores both. None for a suite whose teachers serve unmarked text."""
    spec, pool = builder.spec, builder.spec.pool
    marked = [m for m in spec.by_role("teacher") if m.watermark is not None]
    if not marked:
        return None
    from distillbench.zoo.sample import sample_completions

    prompt_at = builder._slice_prompt(pool.prompts)
    prompts = [prompt_at(i) for i in range(pool.prompts.start, pool.prompts.stop)]
    rows = []
    for m in marked:
        model, tok = builder._load(m.name), builder._tok(m.name)
        served = model.generation_config.watermarking_config
        answers = {}
        try:
            for label, config in (("watermarked", served), ("unwatermarked", None)):
                model.generation_config.watermarking_config = config
                answers[label] = sample_completions(model, tok, prompts, pool.temperature, pool.max_new_tokens,
                                                    seed_label=("watermark-cost", builder.model_key(m)),
                                                    batch_size=len(prompts))
        finally:
            model.generation_config.watermarking_config = served
        with_mark, without = (perplexity(model, tok, prompts, answers[k]) for k in ("watermarked", "unwatermarked"))
        rows.append(WatermarkCost(teacher=m.name, scheme="synthid" if isinstance(m.watermark, SynthIDSpec) else "greenlist",
                                  n_texts=len(prompts), perplexity_watermarked=round(with_mark, 4),
                                  perplexity_unwatermarked=round(without, 4), ratio=round(with_mark / without, 4)))
    return WatermarkCosts(suite=spec.name, key=key, prompts=len(prompts), temperature=pool.temperature,
                          max_new_tokens=pool.max_new_tokens, teachers=rows)
