"""A submission folder on disk: the rules its files must follow, and a read-only snapshot to run.

Takes `submissions/<slug>/`; produces a `Submission` (validated metadata, the list of files and their hashes) or
a list of problems, each naming the file or field and what was expected. Nothing here imports or executes the
submission's code: loading the entry point happens only inside the sandbox (`worker.py`).

Rules, and why:
- regular files only, no symbolic links, devices or sockets: a link is a path outside the folder;
- no compiled code (.so, .pyc outside __pycache__, ...): reviewers must be able to read what runs;
- size limits, so a pull request cannot smuggle data sets or exhaust the runner's disk;
- no opaque files: archives and pickles never, other binary files (non-UTF-8, or .npz, .safetensors, .pt, ...)
  only when `data_files` in submission.yaml lists them with a reason and a .py file of the folder names them (the
  code that loads them), so the whole folder is something a reviewer can read;
- every .py file parses, and imports only what `imports.allowed` permits (checked with `ast`, see imports.py);
- the entry point's module is a file inside the folder and does not shadow an installed module (a submission
  called `json` would otherwise replace the standard library inside its own worker), and its class is defined
  there (or imported from the folder or `distillbench`), with literal `access` and `uses` checked against the
  track and `distillbench.detect.base.EVIDENCE_KINDS`.

Every problem is collected before any is reported, so one run lists them all.
"""

from __future__ import annotations

import ast
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
from distillbench.submission.imports import review_source
from distillbench.submission.schema import SUBMISSION_FILE, SubmissionMeta, parse_meta

MAX_FILES = 100
MAX_FILE_BYTES = 1 << 20
MAX_TOTAL_BYTES = 5 << 20
MAX_YAML_BYTES = 64 << 10
MAX_DEPTH = 4
NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")
COMPILED = {".so", ".pyd", ".dll", ".dylib", ".pyc", ".pyo", ".exe", ".bin", ".o", ".a"}
IGNORED_DIRS = {"__pycache__"}  # made by a local `python` run; never copied, never hashed
# Never accepted, even when declared: an archive hides files from review (commit its files instead), and loading a
# pickle runs code stored in it (store arrays as .npz or .safetensors).
ARCHIVES = {".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar", ".zst", ".whl", ".egg", ".jar"}
PICKLES = {".pkl", ".pickle", ".joblib", ".dill"}
# Accepted only when listed in `data_files` (and named by the code that loads them); so is any non-UTF-8 file.
OPAQUE = {".pt", ".pth", ".ckpt", ".npy", ".npz", ".safetensors", ".onnx", ".h5", ".hdf5", ".pb", ".tflite",
          ".parquet", ".arrow", ".feather", ".msgpack", ".model", ".db", ".sqlite"}
DETECTOR_ATTRS = ("name", "access", "summary", "uses", "score")


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


def _read_texts(files: dict[str, Path]) -> dict[str, str | None]:
    """Each file's text, or None for a file that is not UTF-8 text (or holds NUL bytes, which no text file does)."""
    out: dict[str, str | None] = {}
    for rel, path in files.items():
        try:
            text = path.read_bytes().decode("utf-8")
        except (UnicodeDecodeError, OSError):
            text = None
        out[rel] = None if text is None or "\x00" in text else text
    return out


def _opaque_problems(files: dict[str, Path], texts: dict[str, str | None], meta: SubmissionMeta | None) -> list[str]:
    declared = {d.path for d in meta.data_files} if meta is not None else set()
    problems = []
    for rel in files:
        ext = PurePosixPath(rel).suffix.lower()
        if ext in ARCHIVES:
            problems.append(f"{rel}: archives ({ext}) are not accepted, even under `data_files`: a reviewer cannot read "
                            "what they hold; commit the files themselves")
        elif ext in PICKLES:
            problems.append(f"{rel}: pickles ({ext}) are not accepted, even under `data_files`: loading one runs code "
                            "stored in it; save arrays as .npz or .safetensors")
        elif ext == ".py" and texts[rel] is None:
            problems.append(f"{rel}: Python source must be UTF-8 text without NUL bytes")
        elif (ext in OPAQUE or texts[rel] is None) and rel not in declared:
            why = f"{ext} file" if ext in OPAQUE else "not UTF-8 text"
            problems.append(f"{rel}: a binary or opaque file ({why}) is accepted only when `data_files` in "
                            f"{SUBMISSION_FILE} lists it with a reason, and code in the folder loads it")
    return problems


def _declared_problems(meta: SubmissionMeta, files: dict[str, Path], trees: dict[str, ast.Module]) -> list[str]:
    """Each `data_files` entry is a non-Python file of the folder that some .py file names (the code loading it)."""
    named = {node.value for tree in trees.values() for node in ast.walk(tree)
             if isinstance(node, ast.Constant) and isinstance(node.value, str)}
    problems = []
    for entry in meta.data_files:
        where = f"{SUBMISSION_FILE}: field `data_files`: {entry.path!r}"
        if entry.path not in files:
            problems.append(f"{where} is not a file in the submission folder")
        elif entry.path.endswith(".py"):
            problems.append(f"{where} is Python source; list only data files")
        elif not any(entry.path in text or PurePosixPath(entry.path).name in text for text in named):
            problems.append(f"{where} is not named in any .py file of the folder; the code that loads a data file must "
                            "name it (e.g. `Path(__file__).parent / \"weights.npz\"`), so a reviewer sees what reads it")
    return problems


def _own_modules(files: dict[str, Path]) -> set[str]:
    """Top-level module names the folder provides: `x.py` gives `x`, `pkg/...py` gives `pkg`."""
    parts = [PurePosixPath(rel).parts for rel in files if rel.endswith(".py")]
    return {p[0].removesuffix(".py") for p in parts}


def _distillbench_source(module: str) -> ast.Module | None:
    """The parsed source of a `distillbench` module, read from disk (benchmark code is read, never imported here)."""
    base = Path(__file__).resolve().parents[1].joinpath(*module.split(".")[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            try:
                return ast.parse(candidate.read_text(encoding="utf-8"))
            except (SyntaxError, ValueError, UnicodeDecodeError):
                return None
    return None


def _top_statements(body: list[ast.stmt]):
    for node in body:
        if isinstance(node, (ast.If, ast.Try)):
            yield from _top_statements(node.body + node.orelse + getattr(node, "finalbody", [])
                                       + [s for h in getattr(node, "handlers", []) for s in h.body])
        else:
            yield node


def _find_class(module: str, name: str, files: dict[str, Path], trees: dict[str, ast.Module], own: set[str],
                depth: int = 0) -> tuple[ast.ClassDef | None, str | None]:
    """Where `module:name` is defined, by reading source: (the class, None); (None, None) when it is bound in a way
    reading cannot follow (an assignment, a star import), left to the contained load; (None, why) when absent."""
    top = module.split(".")[0]
    if top == "distillbench":
        tree = _distillbench_source(module)
    else:
        rel = _module_file(files, module)
        tree = trees.get(rel) if rel else None
    if tree is None or depth > 5:
        return None, None
    for node in _top_statements(tree.body):
        if isinstance(node, ast.ClassDef) and node.name == name:
            return node, None
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            return None, f"module {module!r} defines {name!r} as a function; expected a class"
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.name == "*":
                    return None, None
                if (alias.asname or alias.name) != name:
                    continue
                if node.level:  # relative: from the module's own package
                    package = module.split(".")[: len(module.split(".")) - node.level]
                    source = ".".join(package + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                if source.split(".")[0] in own or source.split(".")[0] == "distillbench":
                    return _find_class(source, alias.name, files, trees, own, depth + 1)
                return None, f"{name!r} is imported from {source!r}; expected a class defined in the submission folder"
        if isinstance(node, ast.Import) and any((a.asname or a.name) == name for a in node.names):
            return None, None
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, (ast.AnnAssign, ast.AugAssign)) else []
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            return None, None
        if isinstance(node, ast.FunctionDef) and node.name == "__getattr__":
            return None, None
    return None, f"module {module!r} has no class {name!r}"


def _class_value(cls: ast.ClassDef, attr: str) -> ast.expr | None | bool:
    """The expression assigned to `attr` in the class body; True when defined otherwise (a method); None when absent."""
    for node in cls.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == attr for t in node.targets):
            return node.value
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == attr:
            return node.value if node.value is not None else None
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == attr:
            return True
    return None


def _literal_strings(expr: ast.expr) -> set[str] | None:
    """{"a", "b"} from `frozenset({"a", "b"})`, `{"a"}`, `set(["a"])`, `("a",)`...; None when not such a literal."""
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.func.id in ("frozenset", "set") \
            and not expr.keywords and len(expr.args) <= 1:
        return _literal_strings(expr.args[0]) if expr.args else set()
    if isinstance(expr, (ast.Set, ast.List, ast.Tuple)) and all(
            isinstance(e, ast.Constant) and isinstance(e.value, str) for e in expr.elts):
        return {e.value for e in expr.elts}
    return None


def _entry_point_problems(meta: SubmissionMeta, files: dict[str, Path], trees: dict[str, ast.Module],
                          own: set[str]) -> list[str]:
    from distillbench.detect.base import EVIDENCE_KINDS
    from distillbench.evidence.view import AccessLevel

    module, name = meta.entry_point.split(":")
    where = f"entry_point `{meta.entry_point}`"
    cls, why = _find_class(module, name, files, trees, own)
    if cls is None:
        return [f"{where}: {why}"] if why else []
    problems = []
    values = {attr: _class_value(cls, attr) for attr in DETECTOR_ATTRS}
    inherits = any(not (isinstance(b, ast.Name) and b.id == "object") for b in cls.bases)
    missing = [a for a, v in values.items() if v is None]
    if missing and not inherits:
        problems.append(f"{where}: {name} does not satisfy the detector interface: no `{'`, `'.join(missing)}` (see "
                        "distillbench.detect.base.Detector)")
    access = values["access"]
    level = None
    if isinstance(access, ast.Attribute) and isinstance(access.value, ast.Name) and access.value.id == "AccessLevel":
        level = AccessLevel[access.attr].value if access.attr in AccessLevel.__members__ else access.attr
    elif isinstance(access, ast.Constant) and isinstance(access.value, str):
        level = access.value
    if level is not None and level not in {a.value for a in AccessLevel}:
        problems.append(f"{where}: {name}.access must be one of {', '.join(a.value for a in AccessLevel)}; got "
                        f"{level!r}")
    elif level is not None and level != meta.track.value:
        problems.append(f"{where}: the class declares access {level!r} but submission.yaml declares track "
                        f"{meta.track.value!r}; they must match")
    uses = values["uses"]
    kinds = _literal_strings(uses) if isinstance(uses, ast.expr) else None
    if kinds is not None and not kinds <= EVIDENCE_KINDS:
        problems.append(f"{where}: {cls.name}.uses holds {', '.join(map(repr, sorted(kinds - EVIDENCE_KINDS)))}; expected "
                        f"a set of evidence kinds from {', '.join(sorted(EVIDENCE_KINDS))}")
    return problems


def _code_problems(files: dict[str, Path], texts: dict[str, str | None]) -> tuple[dict[str, ast.Module], list[str]]:
    own = _own_modules(files)
    trees: dict[str, ast.Module] = {}
    problems: list[str] = []
    for rel in files:
        if rel.endswith(".py") and texts[rel] is not None:
            tree, found = review_source(rel, texts[rel], own)
            problems += found
            if tree is not None:
                trees[rel] = tree
    return trees, problems


def load_submission(folder: Path | str, review: bool = True) -> Submission:
    """Check a submission folder statically; raises `SubmissionInvalid` listing every problem found.

    `review=False` skips reading the code (imports, refused builtins, the entry point's class): only for tests of the
    sandbox, which must hold against code that a reading of the source would have refused.
    """
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
    texts = _read_texts(files)
    problems += _opaque_problems(files, texts, meta)
    trees, code_problems = _code_problems(files, texts) if review else ({}, [])
    if meta is not None:
        if meta.slug != root.name:
            problems.append(f"{SUBMISSION_FILE}: field `slug` is {meta.slug!r} but the folder is named {root.name!r}; "
                            "they must be equal")
        module = meta.entry_point.split(":")[0]
        entry_ok = False
        if _module_file(files, module) is None:
            base = module.replace(".", "/")
            problems.append(f"{SUBMISSION_FILE}: field `entry_point`: module {module!r} is not in the submission folder "
                            f"(expected {base}.py or {base}/__init__.py)")
        elif _shadows_installed(module.split(".")[0]):
            problems.append(f"{SUBMISSION_FILE}: field `entry_point`: module name {module.split('.')[0]!r} shadows an "
                            "installed or standard-library module; rename it (e.g. `detector`)")
        else:
            entry_ok = True
        if meta.readme is not None:
            rel = PurePosixPath(meta.readme)
            if rel.is_absolute() or ".." in rel.parts or str(rel) not in files:
                problems.append(f"{SUBMISSION_FILE}: field `readme`: expected a file inside the submission folder, "
                                f"got {meta.readme!r}")
        if review:
            problems += _declared_problems(meta, files, trees)
        if review and entry_ok:
            code_problems += _entry_point_problems(meta, files, trees, _own_modules(files))
    problems += code_problems
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
