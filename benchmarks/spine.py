"""Spine timings: suite build, probe time per model, detect+score time, and what lm-eval costs over bare torch.

    python benchmarks/spine.py [--suite mini] [--home DIR]

Builds the suite in a fresh workspace (a temporary folder unless --home is given), so the build time is a cold
build. The lm-eval overhead ratio is measured on one teacher: the probe through lm-eval (both tasks) against a
bare `model.generate` over the same prompts (same greedy settings and batch size) plus one forward pass per batch
of pool texts; both in this process, one after the other, so machine noise hits both alike.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from distillbench.cli import main
from distillbench.evidence.store import EvidenceStore
from distillbench.files import read_jsonl
from distillbench.paths import Workspace
from distillbench.probe.runner import ProbeTarget, probe_models
from distillbench.probe.tasks import TaskSet, tasks_dir
from distillbench.zoo.build import load_manifest

BATCH = 16


def bare_pass(model_dir: Path, prompts: list[str], pool: list[dict]) -> float:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    start = time.perf_counter()
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    tok.padding_side = "left"
    with torch.no_grad():
        for b in range(0, len(prompts), BATCH):
            enc = tok(prompts[b : b + BATCH], return_tensors="pt", padding=True)
            model.generate(**enc, do_sample=False, max_new_tokens=32, pad_token_id=tok.pad_token_id)
        tok.padding_side = "right"
        for b in range(0, len(pool), BATCH):
            rows = pool[b : b + BATCH]
            enc = tok([r["context"] + r["continuation"] for r in rows], return_tensors="pt", padding=True)
            logits = model(**enc).logits
            torch.log_softmax(logits[:, :-1], -1).gather(-1, enc["input_ids"][:, 1:, None])
    return time.perf_counter() - start


def timed(*argv: str) -> float:
    start = time.perf_counter()
    if main([*argv, "--no-progress"]) != 0:
        raise SystemExit(f"distillbench {' '.join(argv)} failed")
    return time.perf_counter() - start


def run(suite: str, home: Path) -> None:
    t_build = timed("zoo", "build", "--suite", suite, "--home", str(home))
    manifest = load_manifest(Workspace(home), suite)
    n_probed = sum(m.role != "base" for m in manifest.models)
    t_probe = timed("probe", "--suite", suite, "--home", str(home))
    t_detect = timed("detect", "--suite", suite, "--home", str(home))
    t_score = timed("score", "--suite", suite, "--home", str(home))

    teacher = next(m for m in manifest.models if m.role == "teacher")
    model_dir = home / "suites" / suite / teacher.path
    pool_path = home / "suites" / suite / manifest.pool.path
    taskset = TaskSet(root=tasks_dir(), pool_path=pool_path)
    with tempfile.TemporaryDirectory() as scratch:
        start = time.perf_counter()
        probe_models([ProbeTarget.local(teacher.name, model_dir)], taskset, EvidenceStore(Path(scratch)), progress=False)
        t_lm_eval = time.perf_counter() - start
    prompts = [r["prompt"] for r in read_jsonl(tasks_dir() / "data" / "prompts.jsonl")]
    t_bare = bare_pass(model_dir, prompts, read_jsonl(pool_path))

    print(f"\n== spine benchmark: suite {suite}, {torch.get_num_threads()} torch threads ==")
    print(f"suite build (cold)            {t_build:8.1f} s  ({len(manifest.models)} models)")
    print(f"probe, all models             {t_probe:8.1f} s  ({t_probe / n_probed:.2f} s per model, {n_probed} models)")
    print(f"detect + score                {t_detect + t_score:8.1f} s  ({len(manifest.pairs)} pairs)")
    print(f"one model via lm-eval         {t_lm_eval:8.2f} s")
    print(f"same work, bare transformers  {t_bare:8.2f} s")
    print(f"lm-eval / bare ratio          {t_lm_eval / t_bare:8.2f} x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", default="mini")
    parser.add_argument("--home", type=Path, help="workspace to build in (default: a fresh temporary folder)")
    args = parser.parse_args()
    if args.home:
        run(args.suite, args.home)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            run(args.suite, Path(tmp))
