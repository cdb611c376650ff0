"""A fetch: download a pushed suite or evidence bundle, verify every byte, then install it in one rename.

Takes a Hub repo (through `huggingface_hub.snapshot_download`, or any function with its keyword signature: the
tests pass one that copies from a local folder) or a folder already laid out like the repo (`--snapshot`). Only
the files the push index lists are kept; each must match the index's size and sha256, and a models push must also
agree with its own manifest (weights sha256, model fingerprints, pool, tokenizer). Only then does the staged folder
replace the destination, so a failed or tampered fetch leaves the workspace exactly as it was.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from distillbench.errors import DistillBenchError
from distillbench.files import read_model
from distillbench.fingerprint import model_fingerprint
from distillbench.hub.index import PushIndex, verify_folder
from distillbench.hub.layout import Target, check_relpath, check_suite_name
from distillbench.hub.online import hub_errors, one_line
from distillbench.zoo.manifest import Manifest

# huggingface_hub.snapshot_download's keyword signature: repo_id, repo_type, revision, local_dir, allow_patterns, token.
Download = Callable[..., object]


@dataclass(frozen=True)
class FetchReport:
    dest: Path
    files: int
    bytes: int
    distillbench_version: str  # the version that pushed it
    replaced: bool


def _snapshot_download() -> Download:
    from huggingface_hub import snapshot_download

    return snapshot_download


def _download(download: Download, target: Target, repo_id: str, revision: str | None, token: str | None,
              local_dir: Path, patterns: list[str]) -> None:
    try:
        download(repo_id=repo_id, repo_type=target.repo_type, revision=revision, local_dir=str(local_dir),
                 allow_patterns=patterns, token=token)
    except hub_errors() as exc:
        raise DistillBenchError(f"could not download from {target.repo_type} repo {repo_id} (revision "
                                f"{revision or 'main'}): {one_line(exc)}") from exc


def read_index(snapshot: Path, target: Target, suite: str, where: str) -> PushIndex:
    path = snapshot / target.index_path(suite)
    if not path.is_file():
        raise DistillBenchError(f"no push index {target.index_path(suite)} in {where}: the {target.kind} of suite "
                                f"{suite!r} were never pushed there with `distillbench hub push {target.kind}`")
    index = read_model(path, PushIndex, "push index")
    if index.kind != target.kind or index.suite != suite:
        raise DistillBenchError(f"{target.index_path(suite)} describes the {index.kind} of suite {index.suite!r}, "
                                f"not the {target.kind} of {suite!r}")
    return index


def _stage(index: PushIndex, source: Path, staged: Path, move: bool) -> None:
    """Only the listed files go into `staged`; a missing one is reported by the verification that follows."""
    for entry in index.files:
        src = source / check_relpath(entry.path, "push index")
        if not src.is_file() or src.is_symlink():
            continue
        dst = staged / entry.path
        dst.parent.mkdir(parents=True, exist_ok=True)
        if move:
            os.replace(src, dst)
        else:
            shutil.copyfile(src, dst)
    staged.mkdir(parents=True, exist_ok=True)


def verify_models(staged: Path, suite: str, index: PushIndex) -> Manifest:
    """The index proves the files are what was pushed; this proves what was pushed is the suite its manifest names."""
    shas = {f.path: f.sha256 for f in index.files}
    if "manifest.json" not in shas:
        raise DistillBenchError(f"the push of suite {suite!r} has no manifest.json")
    manifest = read_model(staged / "manifest.json", Manifest, "downloaded manifest")
    if manifest.suite != suite:
        raise DistillBenchError(f"the downloaded manifest is for suite {manifest.suite!r}, not {suite!r}")

    def expect(rel: str, sha: str, what: str) -> None:
        got = shas.get(check_relpath(rel, "manifest"))
        if got is None:
            raise DistillBenchError(f"suite {suite}: {what} ({rel}) is in the manifest but not in the push")
        if got != sha:
            raise DistillBenchError(f"suite {suite}: {what} ({rel}) has sha256 {got[:12]}… but the manifest says "
                                    f"{sha[:12]}…; refusing to install")

    expect(manifest.pool.path, manifest.pool.sha256, "the pool")
    expect("tokenizer/tokenizer.json", manifest.tokenizer_sha256, "the suite tokenizer")
    for name, sha in sorted(manifest.tokenizers.items()):
        expect(f"tokenizers/{name}/tokenizer.json", sha, f"tokenizer {name!r}")
    for record in manifest.models:
        expect(f"{record.path}/model.safetensors", record.sha256, f"model {record.name}'s weights")
        if model_fingerprint(staged / record.path) != record.fingerprint:
            raise DistillBenchError(f"suite {suite}: model {record.name}'s files do not match its fingerprint in the "
                                    "manifest; refusing to install")
    return manifest


def _occupied(dest: Path) -> bool:
    return dest.is_symlink() or (dest.exists() and (not dest.is_dir() or any(dest.iterdir())))


def _install(staged: Path, dest: Path, replace: bool, work: Path) -> bool:
    """One rename into place (two with --replace: the old folder steps aside first, and comes back on failure)."""
    if not _occupied(dest):
        if dest.is_dir():
            dest.rmdir()
        os.rename(staged, dest)
        return False
    if not replace:
        raise DistillBenchError(f"{dest} already exists; pass --replace to replace it and everything in it")
    previous = work / "previous"
    os.rename(dest, previous)
    try:
        os.rename(staged, dest)
    except BaseException:
        os.rename(previous, dest)
        raise
    return True


def fetch(target: Target, suite: str, dest: Path, *, replace: bool = False, snapshot: Path | None = None,
          repo_id: str | None = None, revision: str | None = None, token: str | None = None,
          download: Download | None = None) -> FetchReport:
    """Install the `target.kind` of `suite` into `dest`, from `snapshot` (a local folder) or from Hub `repo_id`.

    The download goes to a temporary folder beside `dest` (same filesystem, so the final rename is atomic) and is
    removed afterwards whatever happens.
    """
    check_suite_name(suite)
    dest = dest.resolve()
    if _occupied(dest) and not replace:
        raise DistillBenchError(f"{dest} already exists; pass --replace to replace it and everything in it")
    if snapshot is None and repo_id is None:
        raise DistillBenchError("fetch needs a Hub repo id or a --snapshot folder")
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.hub-"))
    try:
        if snapshot is None:
            source = work / "download"
            download = download or _snapshot_download()
            # The index first, then exactly the files it lists: leftovers of older pushes are never downloaded.
            _download(download, target, repo_id, revision, token, source, [target.index_path(suite)])
            index = read_index(source, target, suite, f"{target.repo_type} repo {repo_id}")
            _download(download, target, repo_id, revision, token, source,
                      [target.in_repo(suite, f.path) for f in index.files])
        else:
            if not snapshot.is_dir():
                raise DistillBenchError(f"--snapshot {snapshot} is not a folder")
            source = snapshot
            index = read_index(source, target, suite, str(snapshot))
        staged = work / "staged"
        _stage(index, source / target.suite_root(suite), staged, move=snapshot is None)
        where = f"{target.kind} of suite {suite} from {repo_id or snapshot}"
        verify_folder(index, staged, where)
        if target.kind == "models":
            verify_models(staged, suite, index)
        replaced = _install(staged, dest, replace, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return FetchReport(dest=dest, files=len(index.files), bytes=sum(f.size for f in index.files),
                       distillbench_version=index.distillbench_version, replaced=replaced)
