"""A submission folder on disk: the rules its files must follow, and a read-only snapshot to run.

Takes `submissions/<slug>/`; produces a `Submission` (validated metadata, the list of files and their hashes) or
a list of problems, each naming the file or field and what was expected. Nothing here imports or executes the
submission's code: loading the entry point happens only inside the sandbox (`worker.py`).

Rules, and why:
- regular files only, no symbolic links, devices or sockets: a link is a path outside the folder;
- no compiled code (.so, .pyc outside __pycache__, ...): reviewers must be able to read what runs;
- size limits, so a pull request cannot smuggle data sets or exhaust the runner's disk;
- the entry point's module is a file inside the folder and does not shadow an installed module (a submission
  called `json` would otherwise replace the standard library inside its own worker).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import stat
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from distillbench.errors import DistillBenchError
from distillbench.fingerprint import sha256_file, sha256_json
from distillbench.submission.schema import SUBMISSION_FILE, SubmissionMeta, parse_meta

MAX_FILES = 100
MAX_FILE_BYTES = 1 << 20
MAX_TOTAL_BYTES = 5 << 20
MAX_YAML_BYTES = 64 << 10
MAX_DEPTH = 4
NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")
COMPILED = {".so", ".pyd", ".dll", ".dylib", ".pyc", ".pyo", ".exe", ".bin", ".o", ".a"}
IGNORED_DIRS = {"__pycache__"}  # made by a local `python` run; never copied, never hashed


@dataclass(frozen=True)
class Submission:
    path: Path
    meta: SubmissionMeta
    files: dict[str, str]  # relative posix path -> sha256

    @property
    def slug(self) -> str:
        return self.meta.slug

    @property
    def sha256(self) -> str:
        """Content hash of the whole submission: its metadata and every file."""
        return sha256_json(self.files)

    @property
    def module(self) -> str:
        return self.meta.entry_point.split(":")[0]

    @property
    def class_name(self) -> str:
        return self.meta.entry_point.split(":")[1]


class SubmissionInvalid(DistillBenchError):
    """One or more problems with a submission; the message lists them all, separated by '; '."""

    def __init__(self, folder: Path | str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"submission {folder} is invalid: " + "; ".join(problems))


def _walk(root: Path) -> tuple[dict[str, Path], list[str]]:
    files: dict[str, Path] = {}
    problems: list[str] = []
    total = 0
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        rel_dir = Path(dirpath).relative_to(root)
        dirnames[:] = sorted(d for d in dirnames if d not in IGNORED_DIRS)
        for name in sorted(dirnames) + sorted(filenames):
            full = Path(dirpath) / name
            rel = (rel_dir / name).as_posix()
            st = full.lstat()
            if stat.S_ISLNK(st.st_mode):
                problems.append(f"{rel}: is a symbolic link (to {os.readlink(full)!r}); a submission may contain only "
                                "regular files inside its folder")
                continue
            if not NAME_RE.match(name):
                problems.append(f"{rel}: file names may use only letters, digits, '_', '-' and '.' (and not start "
                                "with '.' or '-')")
                continue
            if stat.S_ISDIR(st.st_mode):
                if len(PurePosixPath(rel).parts) > MAX_DEPTH - 1:
                    problems.append(f"{rel}: folders may nest at most {MAX_DEPTH - 1} deep")
                continue
            if not stat.S_ISREG(st.st_mode):
                problems.append(f"{rel}: is not a regular file (a device, socket or pipe)")
                continue
            if Path(name).suffix.lower() in COMPILED:
                problems.append(f"{rel}: compiled or binary code ({Path(name).suffix}) is not accepted; submit source")
                continue
            if st.st_size > MAX_FILE_BYTES:
                problems.append(f"{rel}: {st.st_size} bytes, over the {MAX_FILE_BYTES} byte limit per file")
                continue
            total += st.st_size
            files[rel] = full
    if len(files) > MAX_FILES:
        problems.append(f"{len(files)} files, over the limit of {MAX_FILES}")
    if total > MAX_TOTAL_BYTES:
        problems.append(f"{total} bytes in all, over the limit of {MAX_TOTAL_BYTES}")
    return files, problems


def _module_file(files: dict[str, Path], module: str) -> str | None:
    base = module.replace(".", "/")
    for candidate in (f"{base}.py", f"{base}/__init__.py"):
        if candidate in files:
            return candidate
    return None


def _shadows_installed(top: str) -> bool:
    if top in sys.stdlib_module_names or top in sys.builtin_module_names or top == "distillbench":
        return True
    try:
        # find_spec on a top-level name only searches sys.path; it executes nothing.
        return importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):
        return False


def load_submission(folder: Path | str) -> Submission:
    """Check a submission folder statically; raises `SubmissionInvalid` listing every problem found."""
    folder = Path(folder)
    shown = folder
    if not folder.is_dir() or folder.is_symlink():
        raise SubmissionInvalid(shown, [f"{folder} is not a folder (expected submissions/<slug>/ holding {SUBMISSION_FILE})"])
    root = folder.resolve()
    yaml_path = root / SUBMISSION_FILE
    if yaml_path.is_symlink() or not yaml_path.is_file():
        raise SubmissionInvalid(shown, [f"{SUBMISSION_FILE}: missing (expected the metadata file at {folder / SUBMISSION_FILE})"])
    if yaml_path.stat().st_size > MAX_YAML_BYTES:
        raise SubmissionInvalid(shown, [f"{SUBMISSION_FILE}: over the {MAX_YAML_BYTES} byte limit"])
    try:
        text = yaml_path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise SubmissionInvalid(shown, [f"{SUBMISSION_FILE}: not UTF-8 text ({exc.reason} at byte {exc.start})"]) from exc
    meta, problems = parse_meta(text)
    files, file_problems = _walk(root)
    problems += file_problems
    if meta is not None:
        if meta.slug != root.name:
            problems.append(f"{SUBMISSION_FILE}: field `slug` is {meta.slug!r} but the folder is named {root.name!r}; "
                            "they must be equal")
        module = meta.entry_point.split(":")[0]
        if _module_file(files, module) is None:
            base = module.replace(".", "/")
            problems.append(f"{SUBMISSION_FILE}: field `entry_point`: module {module!r} is not in the submission folder "
                            f"(expected {base}.py or {base}/__init__.py)")
        elif _shadows_installed(module.split(".")[0]):
            problems.append(f"{SUBMISSION_FILE}: field `entry_point`: module name {module.split('.')[0]!r} shadows an "
                            "installed or standard-library module; rename it (e.g. `detector`)")
        if meta.readme is not None:
            rel = PurePosixPath(meta.readme)
            if rel.is_absolute() or ".." in rel.parts or str(rel) not in files:
                problems.append(f"{SUBMISSION_FILE}: field `readme`: expected a file inside the submission folder, "
                                f"got {meta.readme!r}")
    if problems:
        raise SubmissionInvalid(shown, problems)
    return Submission(path=root, meta=meta, files={rel: sha256_file(p) for rel, p in files.items()})


class Snapshot:
    """A private read-only copy of the validated files, for the sandbox to mount.

    Copying (rather than mounting the folder itself) means the code that runs is exactly the code that was hashed,
    even if the folder changes meanwhile, and that the sandbox's uid can read it whatever the folder's permissions.
    """

    def __init__(self, submission: Submission) -> None:
        self.submission = submission
        self.path: Path | None = None

    def __enter__(self) -> Path:
        self.path = Path(tempfile.mkdtemp(prefix="distillbench-submission-"))
        os.chmod(self.path, 0o755)
        for rel, digest in self.submission.files.items():
            src, dst = self.submission.path / rel, self.path / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(dst.parent, 0o755)
            shutil.copyfile(src, dst, follow_symlinks=False)
            os.chmod(dst, 0o444)
            if sha256_file(dst) != digest:
                raise DistillBenchError(f"submission file {rel} changed while it was being copied; run again")
        return self.path

    def __exit__(self, *exc: object) -> None:
        if self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)
