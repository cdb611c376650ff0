"""What a push sends, read from local folders: an allow-list, so caches, verdicts and results never travel.

Models: the manifest, the pool, the suite's tokenizers and every model directory the manifest names, each checked
against the manifest's hashes first (a workspace that disagrees with its own manifest is not published). Evidence:
every file of the bundle folder, which is treated as opaque.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from distillbench.errors import DistillBenchError
from distillbench.files import read_model
from distillbench.fingerprint import sha256_file
from distillbench.hub.layout import INDEX_NAME, check_relpath, check_suite_name, refuse_hidden_split
from distillbench.paths import Workspace
from distillbench.zoo.manifest import Manifest


@dataclass(frozen=True)
class LocalFile:
    rel: str  # POSIX path relative to the suite folder (workspace suite dir, or the evidence bundle)
    source: Path
    size: int
    sha256: str


def _file(root: Path, path: Path) -> LocalFile:
    rel = check_relpath(path.relative_to(root).as_posix(), f"file under {root}")
    return LocalFile(rel=rel, source=path, size=path.stat().st_size, sha256=sha256_file(path))


def _tree(root: Path, folder: Path) -> list[LocalFile]:
    """Regular files below `folder`, sorted; hidden entries (interrupted atomic writes, `.partial` dirs) are skipped.

    A symlink is refused rather than followed: it could publish a file from outside the folder.
    """
    if not folder.is_dir():
        raise DistillBenchError(f"{folder} does not exist or is not a folder")
    out = []
    for path in sorted(folder.rglob("*")):
        rel_parts = path.relative_to(root).parts
        if any(part.startswith(".") for part in rel_parts):
            continue
        if path.is_symlink():
            raise DistillBenchError(f"{path} is a symlink; a push sends regular files only")
        if path.is_file():
            out.append(_file(root, path))
    return out


def _check(got: LocalFile | None, expected: str, what: str, suite: str) -> None:
    if got is None:
        raise DistillBenchError(f"suite {suite}: {what} is missing; rebuild with `distillbench zoo build --suite {suite}`")
    if got.sha256 != expected:
        raise DistillBenchError(f"suite {suite}: {what} ({got.rel}) differs from the manifest; rebuild with "
                                f"`distillbench zoo build --suite {suite}` before pushing")


def collect_models(ws: Workspace, suite: str) -> tuple[Manifest, list[LocalFile]]:
    refuse_hidden_split(check_suite_name(suite))
    root = ws.suite_dir(suite)
    path = ws.manifest_path(suite)
    if not path.is_file():
        raise DistillBenchError(f"suite {suite!r} has no manifest at {path}; build it with `distillbench zoo build "
                                f"--suite {suite}` (or fetch it with `distillbench hub fetch models`)")
    manifest = read_model(path, Manifest, "manifest")
    if manifest.suite != suite:
        raise DistillBenchError(f"{path} belongs to suite {manifest.suite!r}, not {suite!r}")
    refuse_hidden_split(suite, sum(p.split == "test" for p in manifest.pairs))

    files = [_file(root, path)]
    pool = root / check_relpath(manifest.pool.path, "manifest pool path")
    pool_file = _file(root, pool) if pool.is_file() else None
    _check(pool_file, manifest.pool.sha256, "the pool", suite)
    files.append(pool_file)
    # The suite's default tokenizer, then any further named ones (models trained with a different tokenizer).
    tokenizers = [("tokenizer", manifest.tokenizer_sha256, "the suite tokenizer")]
    tokenizers += [(f"tokenizers/{name}", sha, f"tokenizer {name!r}") for name, sha in sorted(manifest.tokenizers.items())]
    for rel, sha, what in tokenizers:
        folder = root / check_relpath(rel, f"manifest: {what}")
        tree = _tree(root, folder) if folder.is_dir() else []
        _check(next((f for f in tree if f.rel == f"{rel}/tokenizer.json"), None), sha, what, suite)
        files += tree
    for record in manifest.models:
        model_dir = root / check_relpath(record.path, f"manifest path of model {record.name}")
        if not model_dir.is_dir():
            raise DistillBenchError(f"suite {suite}: model directory {model_dir} does not exist; rebuild with "
                                    f"`distillbench zoo build --suite {suite}`")
        tree = _tree(root, model_dir)
        _check(next((f for f in tree if f.rel == f"{record.path}/model.safetensors"), None), record.sha256,
               f"model {record.name}'s weights", suite)
        files += tree
    return manifest, files


def collect_evidence(bundle: Path, suite: str) -> list[LocalFile]:
    refuse_hidden_split(check_suite_name(suite))
    if not bundle.is_dir():
        raise DistillBenchError(f"no evidence bundle for suite {suite!r} at {bundle}; write it first, or point "
                                "--bundle at it")
    files = _tree(bundle, bundle)
    if not files:
        raise DistillBenchError(f"the evidence bundle {bundle} holds no files")
    if any(f.rel == INDEX_NAME for f in files):
        raise DistillBenchError(f"{bundle / INDEX_NAME}: that name is reserved for the push index; rename the file")
    return files
