"""Atomic file writes and schema-checked reads: every file boundary between stages goes through here."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from distillbench.errors import DistillBenchError

M = TypeVar("M", bound=BaseModel)


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write to a temporary file in the same folder, then rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode() if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_model(path: Path, obj: BaseModel) -> None:
    write_atomic(path, obj.model_dump_json(indent=1) + "\n")


def read_model(path: Path, schema: type[M], what: str) -> M:
    """Read and validate a JSON file; a missing or corrupted file is one clear error, never a traceback."""
    if not path.is_file():
        raise DistillBenchError(f"{what} {path} does not exist")
    try:
        return schema.model_validate_json(path.read_bytes())
    except (ValidationError, ValueError, UnicodeDecodeError) as exc:
        reason = str(exc).splitlines()[0]
        raise DistillBenchError(f"{what} {path} is corrupted ({reason}); delete it to recompute it") from exc


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def write_jsonl(path: Path, rows: list[dict]) -> None:
    write_atomic(path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
