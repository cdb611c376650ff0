"""`distillbench_push.json`: the sha256 and size of every file a push sent, written beside them in the repo.

`fetch` trusts nothing it downloads until each file matches this index; only the files it lists are installed,
so leftovers of an older push in the same repo folder never reach the workspace.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from distillbench.errors import DistillBenchError
from distillbench.fingerprint import sha256_file
from distillbench.hub.layout import check_relpath

INDEX_SCHEMA_VERSION = 1


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IndexedFile(_Strict):
    path: str  # relative to the suite folder in the repo, which is also the install destination
    size: int
    sha256: str


class PushIndex(_Strict):
    schema_version: int = INDEX_SCHEMA_VERSION
    kind: Literal["models", "evidence"]
    suite: str
    distillbench_version: str
    files: list[IndexedFile]


def distillbench_version() -> str:
    try:
        return metadata.version("distillbench")
    except metadata.PackageNotFoundError:
        return "unknown"


def verify_folder(index: PushIndex, folder: Path, where: str) -> None:
    """Every indexed file is present in `folder` with its size and sha256; the first mismatch is one clear error."""
    if index.schema_version != INDEX_SCHEMA_VERSION:
        raise DistillBenchError(f"{where}: push index schema {index.schema_version} is not the supported "
                                f"{INDEX_SCHEMA_VERSION}; upgrade distillbench")
    if len({f.path for f in index.files}) != len(index.files):
        raise DistillBenchError(f"{where}: the push index lists a file twice")
    for entry in index.files:
        path = folder / check_relpath(entry.path, f"{where}: push index")
        if not path.is_file() or path.is_symlink():
            raise DistillBenchError(f"{where}: {entry.path} is listed in the push index but missing")
        size = path.stat().st_size
        digest = sha256_file(path)
        if size != entry.size or digest != entry.sha256:
            raise DistillBenchError(f"{where}: {entry.path} has sha256 {digest[:12]}… ({size} bytes) but the push index "
                                    f"says {entry.sha256[:12]}… ({entry.size} bytes): the download is corrupted or the "
                                    "repo was changed after the push")
