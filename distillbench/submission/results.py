"""Submission results files: what was run, on what, with what outcome, and a salted HMAC over all of it.

Takes a run's verdicts, the scorer's `Results` and the provenance of the run; produces
`<results dir>/<slug>/<version>-<split>.json`, schema `SubmissionResults`. Only the benchmark writes these files.

The `hmac` field is HMAC-SHA256 over the canonical JSON of every other field, keyed by the salt in
$DISTILLBENCH_RESULTS_SALT (default: the public `DEFAULT_SALT`, for development). Any edit to a results file
changes its content but not its hash, so `load_results` refuses it. With the public default salt this catches hand
edits and accidents, not forgery (anyone can recompute it); maintainers set a secret salt in CI, and then a valid
hash proves the benchmark wrote the file. `salt_id` (a hash of the salt) says which salt signed a file.

On the hidden test split, the per-pair rows of the metrics (teacher, student, label, conditions) are withheld:
publishing them would publish the hidden labels.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import subprocess
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from distillbench.errors import DistillBenchError
from distillbench.files import read_model, write_model
from distillbench.score.results import Results
from distillbench.submission.sandbox import Limits
from distillbench.submission.schema import SubmissionMeta

RESULTS_FILE_SCHEMA_VERSION = 1
SALT_ENV = "DISTILLBENCH_RESULTS_SALT"
DEFAULT_SALT = "distillbench-public-development-salt"

Status = Literal["verified", "dev only"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PairFailure(_Strict):
    pair_id: str  # opaque, as the detector saw it
    error: str


class SubmissionResults(_Strict):
    schema_version: int = RESULTS_FILE_SCHEMA_VERSION
    benchmark_version: str
    code_commit: str
    created: str
    status: Status  # "verified": re-run by the maintainers on the hidden test split
    submission: SubmissionMeta
    submission_sha256: str
    suite: str
    split: Literal["dev", "test"]
    manifest_sha256: str
    evidence_sha256: str
    versions: dict[str, str]
    isolation: str
    limits: Limits
    seconds: float
    n_pairs: int
    n_failed: int
    failures: list[PairFailure]
    metrics: Results
    salt_id: str
    hmac: str


def status_for(split: str) -> Status:
    return "verified" if split == "test" else "dev only"


def results_path(results_dir: Path, slug: str, version: str, split: str) -> Path:
    return Path(results_dir) / slug / f"{version}-{split}.json"


def _salt() -> bytes:
    return (os.environ.get(SALT_ENV) or DEFAULT_SALT).encode()


def salt_id(salt: bytes | None = None) -> str:
    return hashlib.sha256(b"distillbench-salt-id:" + (salt or _salt())).hexdigest()[:12]


def _digest(obj: SubmissionResults, salt: bytes) -> str:
    body = json.dumps(obj.model_dump(mode="json", exclude={"hmac"}), sort_keys=True, separators=(",", ":"))
    return hmac.new(salt, body.encode(), hashlib.sha256).hexdigest()


def sign(obj: SubmissionResults) -> SubmissionResults:
    salt = _salt()
    unsigned = obj.model_copy(update={"salt_id": salt_id(salt), "hmac": ""})
    # Hash what a reader will parse back, so floats and tuples compare as they will after the round trip.
    unsigned = SubmissionResults.model_validate_json(unsigned.model_dump_json())
    return unsigned.model_copy(update={"hmac": _digest(unsigned, salt)})


def check_signature(obj: SubmissionResults, path: Path | str) -> None:
    salt = _salt()
    if obj.salt_id != salt_id(salt):
        raise DistillBenchError(f"results file {path} was signed with another salt (salt id {obj.salt_id}; the current "
                                f"${SALT_ENV} has id {salt_id(salt)}); set the salt it was written with, or re-run "
                                "`distillbench rerun`")
    if not hmac.compare_digest(obj.hmac, _digest(obj, salt)):
        raise DistillBenchError(f"results file {path} does not match its hash: it was edited after the benchmark wrote "
                                "it; regenerate it with `distillbench rerun` (results are never edited by hand)")


def write_results(path: Path, obj: SubmissionResults) -> SubmissionResults:
    signed = sign(obj)
    write_model(path, signed)
    return signed


def load_results(path: Path) -> SubmissionResults:
    """Read a results file and verify its hash; a hand-edited or corrupted file is one clear error."""
    obj = read_model(Path(path), SubmissionResults, "results file")
    check_signature(obj, path)
    return obj


def code_commit() -> str:
    """The git commit of the benchmark code, '+dirty' when tracked files differ from it, or 'unknown'."""
    repo = Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("+dirty" if dirty else "") if head else "unknown"


def headline(metrics: Results) -> str:
    """'AUROC 0.714 [0.67, 1.00]' for the (single) detector of a submission's metrics."""
    det = metrics.detectors[0]
    m = getattr(det, "overall", det)  # the scorer nests its headline metrics under `overall`
    ci = m.auroc_ci
    return f"AUROC {m.auroc:.3f}" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def all_results(results_dir: Path) -> list[Path]:
    return sorted(Path(results_dir).glob("*/*.json"))
