"""Laundering that works: the distiller's model-based paraphraser.

Takes a `ParaphraserSpec` and the teacher answers a distiller harvested; produces those answers rewritten by a small
causal LM trained here on paraphrase pairs (`corpus.paraphrase_pair`: the same content in the corpus's wording and
in another register). Why a model and not `corpus.paraphrase`: swapping single words keeps every sentence's shape,
so the teacher's choices survive almost whole and a similarity test still finds them (the lexical condition is
solved). A trained rewriter restates content in *its own* wording and word order, and its sampling adds its own
noise: what a student then learns is the paraphraser's style plus whatever content the rewriter carried over.

The paraphraser is a tool of the distiller, not a model of the benchmark: it is trained once per build directory
(`paraphrasers/<key>/`, keyed by its spec, the default tokenizer and the corpus seed), never probed or paired, and
its spec is part of every student stage that uses it, so the student's build key covers it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, PreTrainedModel, PreTrainedTokenizerFast

from distillbench.corpus import PARAPHRASE_SEPARATOR, paraphrase_pair
from distillbench.fingerprint import sha256_json
from distillbench.zoo.sample import sample_completions
from distillbench.zoo.spec import ParaphraserSpec
from distillbench.zoo.train import new_model, pack, train_lm

# Bump when a change here alters the paraphraser a spec produces.
LAUNDER_VERSION = 1


def training_texts(spec: ParaphraserSpec, corpus_seed: int) -> list[str]:
    """"original => rewrite" documents, one per pair, the format the paraphraser is prompted in."""
    return [f"{o}{PARAPHRASE_SEPARATOR} {r}" for o, r in (paraphrase_pair(corpus_seed, i) for i in range(spec.pairs))]


def paraphraser_key(spec: ParaphraserSpec, tokenizer_sha: str, corpus_seed: int, threads: int) -> str:
    return sha256_json({"spec": spec.model_dump(mode="json"), "tokenizer": tokenizer_sha, "corpus_seed": corpus_seed,
                        "threads": threads, "version": LAUNDER_VERSION})


def ensure_paraphraser(root: Path, spec: ParaphraserSpec, tok: PreTrainedTokenizerFast, tokenizer_sha: str,
                       corpus_seed: int, threads: int) -> PreTrainedModel:
    """The trained paraphraser under `root/paraphrasers/`, trained first if it is not there. Training forks torch's
    RNG, so whether a student's stage had to train it (or found it on disk) cannot change how the student trains."""
    key = paraphraser_key(spec, tokenizer_sha, corpus_seed, threads)
    out = root / "paraphrasers" / key[:20]
    if not (out / "model.safetensors").is_file():
        with torch.random.fork_rng(devices=[]):
            model = new_model(spec.arch, len(tok), tok.eos_token_id, spec.seed)
            blocks = pack(tok(training_texts(spec, corpus_seed))["input_ids"], tok.eos_token_id, spec.arch.context)
            train_lm(model, blocks, spec.steps, spec.lr, spec.batch_size, ("paraphraser", key))
        # Written whole or not at all: parallel builders may train the same paraphraser (same bytes) at once.
        tmp = out.with_name(f".{out.name}.partial-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        model.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
        try:
            tmp.rename(out)
        except OSError:  # another builder got there first: its copy has the same bytes
            shutil.rmtree(tmp, ignore_errors=True)
    return AutoModelForCausalLM.from_pretrained(out).eval()


def launder(model: PreTrainedModel, tok: PreTrainedTokenizerFast, spec: ParaphraserSpec, answers: list[str],
            seed_label: tuple) -> list[str]:
    """Each answer rewritten by the paraphraser (seeded sampling: the same answers and label give the same text)."""
    prompts = [a.strip() + PARAPHRASE_SEPARATOR for a in answers]
    rewritten = sample_completions(model, tok, prompts, spec.temperature, spec.max_new_tokens,
                                   seed_label=("launder", *seed_label), batch_size=64)
    # Answers continue a prompt after a space; keep that shape so "prompt + answer" still reads as one document.
    return [" " + r.strip() for r in rewritten]
