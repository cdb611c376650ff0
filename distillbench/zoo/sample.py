"""Batched, seeded sampling from a zoo model: teacher outputs for distillation data and for the probe text pool."""

from __future__ import annotations

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerFast

from distillbench.corpus import DOC_SEPARATOR
from distillbench.rng import derive_seed


def sample_completions(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerFast,
    prompts: list[str],
    temperature: float,
    max_new_tokens: int,
    seed_label: tuple,
    batch_size: int = 32,
    on_batch=None,
) -> list[str]:
    """One sampled completion per prompt, cut at EOS or a blank line.

    Seeds are set per batch from `seed_label`, so the output depends only on the prompts, the model and the label,
    not on what was sampled before. Prompts are left-padded (decoder-only models continue from the right edge).
    """
    tokenizer.padding_side = "left"
    out: list[str] = []
    model.eval()
    # Sampling seeds torch's global generator; the fork gives the caller its state back, so whether a student's
    # stage had to sample (or found the answers in the API cache) cannot change how it then trains.
    with torch.random.fork_rng(devices=[]):
        for b in range(0, len(prompts), batch_size):
            chunk = prompts[b : b + batch_size]
            enc = tokenizer(chunk, return_tensors="pt", padding=True)
            torch.manual_seed(derive_seed("sample", *seed_label, b) % (2**63))
            # A model with learned absolute positions (GPT-2) has no position past its context: a long prompt (an
            # identity question in a small vocabulary) gets a shorter answer instead of an index error.
            room = getattr(model.config, "n_positions", None)
            new_tokens = max_new_tokens if room is None else max(1, min(max_new_tokens, room - enc["input_ids"].shape[1]))
            with torch.no_grad():
                gen = model.generate(
                    **enc,
                    do_sample=temperature > 0,
                    temperature=temperature if temperature > 0 else None,
                    top_k=0,
                    top_p=1.0,
                    max_new_tokens=new_tokens,
                    pad_token_id=tokenizer.pad_token_id,
                    eos_token_id=tokenizer.eos_token_id,
                )
            for row in gen[:, enc["input_ids"].shape[1] :]:
                text = tokenizer.decode(row, skip_special_tokens=False)
                text = text.split(tokenizer.eos_token)[0].split(DOC_SEPARATOR)[0]
                out.append(text)
            if on_batch is not None:
                on_batch(len(chunk))
    return out
