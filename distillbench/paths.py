"""Where every stage reads and writes. One workspace (default `./.distillbench`, or $DISTILLBENCH_HOME / --home):

    suites/<suite>/models/<name>/      Hugging Face model directories (zoo)
    suites/<suite>/tokenizer/          the suite's shared tokenizer (zoo)
    suites/<suite>/cache/              teacher generations reused across students (zoo)
    suites/<suite>/manifest.json       models, hashes, provenance, labelled pairs (zoo)
    suites/<suite>/pool.jsonl          the probe text pool (zoo)
    evidence/                          probe outputs keyed by model and task fingerprints (probe)
    query-cache/answers.sqlite         answers to detectors' own queries, by model fingerprint and request (query)
    suites/<suite>/verdicts/<det>.json detector outputs per pair (detect)
    suites/<suite>/results.json        metrics (score)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Workspace:
    home: Path

    @classmethod
    def resolve(cls, home: str | Path | None = None) -> Workspace:
        return cls(Path(home or os.environ.get("DISTILLBENCH_HOME") or ".distillbench").resolve())

    def suite_dir(self, suite: str) -> Path:
        return self.home / "suites" / suite

    def models_dir(self, suite: str) -> Path:
        return self.suite_dir(suite) / "models"

    def manifest_path(self, suite: str) -> Path:
        return self.suite_dir(suite) / "manifest.json"

    def pool_path(self, suite: str) -> Path:
        return self.suite_dir(suite) / "pool.jsonl"

    def verdicts_dir(self, suite: str) -> Path:
        return self.suite_dir(suite) / "verdicts"

    def results_path(self, suite: str) -> Path:
        return self.suite_dir(suite) / "results.json"

    @property
    def evidence_dir(self) -> Path:
        return self.home / "evidence"
