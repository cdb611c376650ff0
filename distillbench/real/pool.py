"""A real suite's text pool: what the teachers and references say to the pool prompts, plus human-written text.

Takes the pool prompts (`tasks/data/real_pool_prompts.jsonl`: a context and, for topical prompts, a continuation
written for this repository) and each source model's answers; produces the suite's `pool.jsonl` in the format
`distillbench.zoo.build.SuiteBuilder.ensure_pool` writes for synthetic suites. The answers come from lm-eval
(`distillbench_pool_generate`, greedy), stored in the evidence store like any probe record, so a second run or
another suite with the same teacher reuses them. Phase 2 (every model scoring the pool) is the ordinary
`distillbench_pool` probe.

Synthetic pools also quote a teacher's API log and fresh samples (kinds "logged", "fresh") for the membership test;
no real vendor's log is public, so real pools have samples and corpus text only.
"""

from __future__ import annotations

from pathlib import Path

from distillbench.evidence.schema import EvidenceRecord
from distillbench.files import read_jsonl, write_jsonl
from distillbench.fingerprint import sha256_file
from distillbench.zoo.manifest import PoolRecord

POOL_PROMPTS = "real_pool_prompts.jsonl"  # in the tasks' data folder


def default_prompts_path() -> Path:
    from distillbench.probe.tasks import tasks_dir

    return tasks_dir() / "data" / POOL_PROMPTS


def write_pool(answers: list[tuple[str, EvidenceRecord]], prompts_path: Path, out: Path) -> PoolRecord:
    """Pool rows: every source's answers in the order given (teachers first, then references), then the prompts'
    human continuations as "corpus". Ids are positions, never names: a text's id must not say who wrote it."""
    rows: list[dict] = []
    for source, record in answers:
        rows += [{"source": source, "kind": "sample", "context": g.prompt, "continuation": g.response}
                 for g in record.generations]
    rows += [{"source": "corpus", "kind": "corpus", "context": p["context"], "continuation": p["continuation"]}
             for p in read_jsonl(prompts_path)]
    # An empty answer (a model that stopped at once) scores nothing and would divide by zero bytes downstream.
    rows = [r for r in rows if r["continuation"].strip()]
    write_jsonl(out, [{"id": f"pool-{n:05d}", **row} for n, row in enumerate(rows)])
    return PoolRecord(path=out.name, sha256=sha256_file(out), n_texts=len(rows))
