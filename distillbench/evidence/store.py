"""The evidence store: one JSON file per (model fingerprint, task fingerprint), written atomically.

Keyed by content, not by name: the same weights probed with the same task config are never probed twice, whatever
suite or run asks. A corrupted file is reported, never silently overwritten or deleted.
"""

from __future__ import annotations

from pathlib import Path

from distillbench.evidence.schema import EvidenceRecord
from distillbench.files import read_model, write_model
from distillbench.fingerprint import sha256_file


class EvidenceStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, model_fp: str, task: str, task_fp: str) -> Path:
        return self.root / model_fp[:2] / model_fp / f"{task}-{task_fp[:16]}.json"

    def has(self, model_fp: str, task: str, task_fp: str) -> bool:
        return self.path(model_fp, task, task_fp).is_file()

    def get(self, model_fp: str, task: str, task_fp: str) -> EvidenceRecord:
        record = read_model(self.path(model_fp, task, task_fp), EvidenceRecord, "evidence file")
        if record.model_fingerprint != model_fp or record.task_fingerprint != task_fp:
            from distillbench.errors import DistillBenchError

            raise DistillBenchError(f"evidence file {self.path(model_fp, task, task_fp)} holds another key; delete it to re-probe")
        return record

    def put(self, record: EvidenceRecord) -> Path:
        path = self.path(record.model_fingerprint, record.task, record.task_fingerprint)
        write_model(path, record)
        return path

    def file_hash(self, model_fp: str, task: str, task_fp: str) -> str:
        return sha256_file(self.path(model_fp, task, task_fp))
