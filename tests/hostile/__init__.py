"""Hostile submissions for the containment tests: write a real submission folder around misbehaving code.

`cases/` holds one misbehaviour per file (`misbehave(pair, config)`). `hostile_submission` writes a submission whose
detector applies a plan {opaque pair id: case} and scores every other pair normally, so one contained run shows
each misbehaviour recorded on its own pair and every other pair intact. `config` carries test-specific values
(paths the sandbox must hide, a port to probe).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

CASES = Path(__file__).parent / "cases"

BASE_META = {
    "schema_version": 1,
    "name": "Hostile test detector",
    "slug": "placeholder",
    "version": "1.0.0",
    "description": "A detector that misbehaves on purpose.",
    "authors": [{"name": "Test Author", "affiliation": "Test Lab"}],
    "contact": "test@example.org",
    "license": "MIT",
    "track": "black-box",
    "entry_point": "detector:Hostile",
    "cost": {"queries_per_pair": 0, "cpu_seconds_per_pair": 0.01},
    "benchmark_data": {"trained_or_tuned": False},
    "seeds": [],
}

DETECTOR = '''"""A detector that misbehaves on the pairs of PLAN and scores every other pair from its id."""

import importlib

from distillbench.detect.base import Verdict
from distillbench.evidence.view import AccessLevel

PLAN = __PLAN__
CONFIG = __CONFIG__


class Hostile:
    name = "hostile"
    access = AccessLevel.BLACK_BOX
    summary = "misbehaves on purpose"
    uses = frozenset({"generations"})

    def score(self, pair):
        if pair.pair_id in PLAN:
            return importlib.import_module("hostile_cases." + PLAN[pair.pair_id]).misbehave(pair, CONFIG)
        return Verdict(score=float(sum(map(ord, pair.pair_id)) % 97), p_value=None)
'''


def write_submission(root: Path, slug: str, source: str | None = None, meta: dict | None = None,
                     yaml_text: str | None = None) -> Path:
    folder = root / slug
    folder.mkdir(parents=True, exist_ok=True)
    data = {**BASE_META, "slug": slug, **(meta or {})}
    (folder / "submission.yaml").write_text(yaml_text if yaml_text is not None else yaml.safe_dump(data, sort_keys=False))
    if source is not None:
        (folder / "detector.py").write_text(source)
    return folder


def hostile_submission(root: Path, slug: str, plan: dict[str, str], meta: dict | None = None, **config: object) -> Path:
    source = DETECTOR.replace("__PLAN__", json.dumps(plan)).replace("__CONFIG__", json.dumps(config))
    folder = write_submission(root, slug, source, meta)
    shutil.copytree(CASES, folder / "hostile_cases", ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True)
    return folder
