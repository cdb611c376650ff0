"""Which pool texts each model scores: the whole pool, or (linear suites) only the texts its pairs need.

Takes a manifest and the suite's `pool.jsonl`; produces `pools/<model>.jsonl`, each a subset of the pool in pool
order, with the pool's ids. A student scores the texts of the teachers it is paired with, of every reference and
the corpus; a teacher its own, the references' and the corpus; a reference every text (references are every pair's
calibration null).

Why: with 48 teachers the whole pool is ~5,600 texts, and every model scoring all of them would make the probe grow
with teachers × models; cut to the pairs it grows linearly. It also keeps a pair's evidence to what the pair's own
investigation could have asked the student. The subsets are a pure function of the manifest, so an installed
evidence bundle rebuilds them byte for byte.
"""

from __future__ import annotations

from pathlib import Path

from distillbench.files import read_jsonl, write_jsonl
from distillbench.zoo.manifest import Manifest

POOLS_DIR = "pools"


def sources(manifest: Manifest, name: str) -> set[str] | None:
    """The pool sources `name` scores; None: every text."""
    record = manifest.model(name)
    if not manifest.pool.per_model or record.role == "reference":
        return None
    refs = {m.name for m in manifest.models if m.role == "reference"}
    own = {name} if record.role == "teacher" else {p.teacher for p in manifest.pairs if p.student == name}
    return own | refs | {"corpus"}


def model_pool_path(suite_dir: Path, manifest: Manifest, name: str) -> Path:
    return suite_dir / POOLS_DIR / f"{name}.jsonl" if sources(manifest, name) is not None else suite_dir / manifest.pool.path


def write_model_pools(suite_dir: Path, manifest: Manifest) -> None:
    """Write every model's pool subset (no-op for suites where every model scores the whole pool)."""
    if not manifest.pool.per_model:
        return
    rows = read_jsonl(suite_dir / manifest.pool.path)
    for m in manifest.models:
        keep = sources(manifest, m.name) if m.role != "base" else None
        if keep is None:
            continue
        target = suite_dir / POOLS_DIR / f"{m.name}.jsonl"
        write_jsonl(target, [r for r in rows if r["source"] in keep])
