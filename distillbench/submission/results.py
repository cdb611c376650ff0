"""Submission results files: what was run, on what, with what outcome, and a salted HMAC over all of it.

Takes a run's verdicts, the scorer's `Results` and the provenance of the run; produces
`<results dir>/<slug>/<version>-<split>.json`, schema `SubmissionResults`. Only the benchmark writes these files.

The `hmac` field is HMAC-SHA256 over the canonical JSON of every other field, keyed by the salt in
$DISTILLBENCH_RESULTS_SALT (default: the public `DEFAULT_SALT`, for development). Any edit to a results file
changes its content but not its hash, so `load_results` refuses it. With the public default salt this catches hand
edits and accidents, not forgery (anyone can recompute it); maintainers set a secret salt in CI, and then a valid
hash proves the benchmark wrote the file. `salt_id` (a hash of the salt) says which salt signed a file.

What a results file publishes depends on its split (docs/disclosure.md). On the public dev split: everything. On
the hidden test split, `disclose` cuts the metrics to what the disclosure policy allows, so that a detector's
verified results can carry little about the hidden labels or evidence out (`disclosed_bits` bounds how much): no
per-pair rows, no per-teacher rows, no detector-written text (`failures` is empty, only `n_failed` is counted), no
run time (`seconds` is None), no score threshold and no hash of the detector's verdicts; headline numbers to two
decimals, intervals rounded outward to two decimals, one number per condition rounded to a quarter, and the
per-condition counts of the design rather than of the pairs the detector chose to score.

Status: "verified" (re-run by the maintainers on the hidden test split), "dev only" (re-run by the maintainers on
the public dev split) or "local" (written by `distillbench submission run` into a contributor's workspace,
`<workspace>/submissions/<slug>/`: never published; `remove_local` deletes them, as does removing that folder).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import math
import os
import subprocess
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from distillbench.errors import DistillBenchError
from distillbench.files import read_model, write_model
from distillbench.query.meter import MAX_CALLS, Budget, CostSummary
from distillbench.score.paired import Resolution
from distillbench.score.results import Results
from distillbench.submission.sandbox import Limits
from distillbench.submission.schema import SubmissionMeta

RESULTS_FILE_SCHEMA_VERSION = 1
SALT_ENV = "DISTILLBENCH_RESULTS_SALT"
DEFAULT_SALT = "distillbench-public-development-salt"

Status = Literal["verified", "dev only", "local"]
DISCLOSURE_DECIMALS = 2  # headline metrics and intervals on the test split
CONDITION_BAND = 0.25  # per-condition numbers on the test split: the nearest multiple of this
MAIN_CONDITION_FIELD = {"positive": "detected_at_threshold", "negative": "fpr_at_threshold", "tag": "auroc"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PairFailure(_Strict):
    pair_id: str  # the stable opaque pair id the scorer joins on (not the per-run id the detector saw)
    error: str


class SubmissionResults(_Strict):
    schema_version: int = RESULTS_FILE_SCHEMA_VERSION
    benchmark_version: str
    code_commit: str
    created: str
    status: Status  # "verified": maintainers, hidden test split; "dev only": maintainers, dev; "local": a workspace
    submission: SubmissionMeta
    submission_sha256: str
    suite: str
    split: Literal["dev", "test"]
    manifest_sha256: str
    evidence_sha256: str
    versions: dict[str, str]
    isolation: str
    limits: Limits
    seconds: float | None  # None on the test split: run time is a channel out of the sandbox
    n_pairs: int
    n_failed: int
    failures: list[PairFailure]  # empty on the test split: failure text is written by the detector
    metrics: Results
    salt_id: str
    hmac: str


def status_for(split: str, local: bool = False) -> Status:
    if local:
        return "local"
    return "verified" if split == "test" else "dev only"


def _down(x: float) -> float:
    return math.floor(x * 10**DISCLOSURE_DECIMALS + 1e-9) / 10**DISCLOSURE_DECIMALS


def _up(x: float) -> float:
    return math.ceil(x * 10**DISCLOSURE_DECIMALS - 1e-9) / 10**DISCLOSURE_DECIMALS


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, DISCLOSURE_DECIMALS)


def _ci(ci: tuple[float, float] | None) -> tuple[float, float] | None:
    """An interval rounded outward, so the published one still covers the computed one."""
    return None if ci is None else (_down(ci[0]), _up(ci[1]))


def _band(x: float | None) -> float | None:
    return None if x is None else round(round(x / CONDITION_BAND) * CONDITION_BAND, 4)


def _sig(x: float) -> float:
    """One significant figure (0.0034 -> 0.003, 487 -> 500): a cost a detector's own requests drive, coarsened."""
    if x <= 0:
        return 0.0
    step = 10 ** math.floor(math.log10(x))
    return float(f"{round(x / step) * step:.6g}")


def disclose_cost(cost: CostSummary | None) -> CostSummary | None:
    """A run's measured cost as the test split publishes it. Cost says nothing about labels, but the requests a
    detector sends are its own choice on the hidden evidence, so what they drive (requests by role, tokens, calls, the
    largest pair) is published to one significant figure; the tier is declared and the evidence read is fixed by
    the split's design and the detector's `uses`; how many answers came from the cache says nothing about the
    method and is withheld."""
    if cost is None:
        return None
    requests = {role: _sig(q) for role, q in cost.request_queries_per_pair.items()}
    evidence = float(round(cost.evidence_queries_per_pair))
    return cost.model_copy(update={
        "evidence_queries_per_pair": evidence, "request_queries_per_pair": requests,
        "queries_per_pair": round(evidence + sum(requests.values()), 6),
        "max_queries_per_pair": int(_sig(cost.max_queries_per_pair)), "tokens_per_pair": _sig(cost.tokens_per_pair),
        "calls_per_pair": _sig(cost.calls_per_pair), "model_calls": None})


def disclose(metrics: Results, pairs: list) -> Results:  # noqa: ANN001 (manifest PairRecords of the split)
    """The test split's metrics as the disclosure policy publishes them (module docstring, docs/disclosure.md).

    `pairs` are the split's manifest pairs: the per-condition counts published are the design's (how many pairs
    and teachers carry the condition), never the count of the pairs the detector chose to score, which it could
    use to ask which pairs carry a condition."""
    def design_counts(condition: str, kind: str) -> tuple[int, int]:
        want = {"positive": (1,), "negative": (0,)}.get(kind, (0, 1))
        hit = [p for p in pairs if condition in p.conditions and p.label in want]
        return len(hit), len({p.teacher for p in hit})

    detectors = []
    for r in metrics.detectors:
        o = r.overall
        overall = o.model_copy(update={
            "auroc": _r(o.auroc), "auroc_ci": _ci(o.auroc_ci), "tpr_at_1pct_fpr": _r(o.tpr_at_1pct_fpr),
            "tpr_at_5pct_fpr": _r(o.tpr_at_5pct_fpr), "tpr_at_5pct_fpr_ci": _ci(o.tpr_at_5pct_fpr_ci),
            "fpr_at_p05": _r(o.fpr_at_p05)})
        conditions = {}
        for name, row in r.conditions.items():
            main = MAIN_CONDITION_FIELD.get(row.kind)
            n, g = design_counts(name, row.kind)
            conditions[name] = type(row)(condition=row.condition, kind=row.kind, n_pairs=n, n_teachers=g,
                                         **({main: _band(getattr(row, main))} if main else {}))
        cal = r.calibration
        calibration = cal.model_copy(update={
            "fpr_at_p05": _r(cal.fpr_at_p05), "expected_range": _ci(cal.expected_range),
            "within_teacher_correlation": _r(cal.within_teacher_correlation), "by_negative_type": {},
            "by_teacher": {}})
        cost = disclose_cost(r.cost)
        detectors.append(r.model_copy(update={
            "overall": overall, "conditions": conditions, "calibration": calibration, "cost": cost,
            "queries_per_pair": round(cost.queries_per_pair) if cost is not None else r.queries_per_pair,
            "threshold_5pct_fpr": 0.0,  # withheld: a score the detector chose could name the pair at the threshold
            "verdicts_sha256": "",  # withheld: a hash of detector-written scores can be brute-forced from few choices
        }))
    return metrics.model_copy(update={
        "detectors": detectors, "pairs": [], "comparisons": [],
        "resolution": Resolution(mdd_median=None, mdd_closest_top4={}, mdd_by_pair={})})


def disclosed_bits(record: SubmissionResults) -> float:
    """An upper bound, in bits, on what one published test-split record can say about the hidden split: the log2 of
    the number of distinct records `disclose` can publish for one submission on one split (every field that can
    vary with the labels or the evidence, counted with all the values it can take; fields fixed by the design, the
    submission or the maintainers count zero). Whatever a detector does, one verified run carries at most this."""
    return sum(disclosed_bits_for(record.n_pairs, len(r.conditions), r.cost.budget if r.cost else Budget.EVIDENCE_ONLY)
               for r in record.metrics.detectors)


def disclosed_bits_for(n_pairs: int, n_conditions: int, budget: Budget = Budget.EVIDENCE_ONLY) -> float:
    """`disclosed_bits` of one detector's record on a split of `n_pairs` pairs and `n_conditions` conditions, for a
    detector of budget tier `budget`."""
    grid = math.log2(10**DISCLOSURE_DECIMALS + 1)  # a number in [0, 1] to two decimals
    interval = math.log2((10**DISCLOSURE_DECIMALS + 1) ** 2 + 1)  # two of them, or None
    band = math.log2(1 / CONDITION_BAND + 2)  # a quarter, or None
    count = math.log2(n_pairs + 1)
    return (3 * count  # n_failed, n_abstained, overall.n_pairs (coverage follows from them)
            + 2 * count  # overall.n_positive, n_negatives_with_p: sizes of subsets of the split
            + 4 * grid + math.log2(10**DISCLOSURE_DECIMALS + 2)  # auroc, tpr at 1% and 5%, correlation; fpr or None
            + 3 * interval  # auroc_ci, tpr_at_5pct_fpr_ci, calibration.expected_range
            + math.log2(6)  # degenerate: None or one of its five reasons
            + band * n_conditions  # one banded number per condition
            + _cost_bits(n_pairs, budget))


def _cost_bits(n_pairs: int, budget: Budget) -> float:
    """What `disclose_cost` can say: nothing at `evidence-only` (no requests: the evidence read is fixed by the
    design and the detector's `uses`), else which roles were asked and six numbers at one significant figure
    (requests of each of three roles, tokens, calls, the largest pair), each a mean of at most the tier's limit over
    at least one pair, so on a grid of nine values per decade from 1/n_pairs up."""
    if budget.queries is None:
        return 0.0
    top = max(budget.tokens, budget.queries, MAX_CALLS)
    decades = math.ceil(math.log10(top * max(1, n_pairs))) + 1
    return 3 + 6 * math.log2(9 * decades + 1)


def results_path(results_dir: Path, slug: str, version: str, split: str) -> Path:
    return Path(results_dir) / slug / f"{version}-{split}.json"


def _salt(salt: bytes | None = None) -> bytes:
    return salt or (os.environ.get(SALT_ENV) or DEFAULT_SALT).encode()


def salt_id(salt: bytes | None = None) -> str:
    return hashlib.sha256(b"distillbench-salt-id:" + _salt(salt)).hexdigest()[:12]


PUBLIC_SALT_ID = salt_id(DEFAULT_SALT.encode())  # files signed with it prove nothing about who wrote them


def _digest(obj: SubmissionResults, salt: bytes) -> str:
    body = json.dumps(obj.model_dump(mode="json", exclude={"hmac"}), sort_keys=True, separators=(",", ":"))
    return hmac.new(salt, body.encode(), hashlib.sha256).hexdigest()


def sign(obj: SubmissionResults, salt: bytes | None = None) -> SubmissionResults:
    salt = _salt(salt)
    unsigned = obj.model_copy(update={"salt_id": salt_id(salt), "hmac": ""})
    # Hash what a reader will parse back, so floats and tuples compare as they will after the round trip.
    unsigned = SubmissionResults.model_validate_json(unsigned.model_dump_json())
    return unsigned.model_copy(update={"hmac": _digest(unsigned, salt)})


def check_signature(obj: SubmissionResults, path: Path | str, salt: bytes | None = None) -> None:
    salt = _salt(salt)
    if obj.salt_id != salt_id(salt):
        raise DistillBenchError(f"results file {path} was signed with another salt (salt id {obj.salt_id}; the current "
                                f"${SALT_ENV} has id {salt_id(salt)}); set the salt it was written with, or re-run "
                                "`distillbench rerun`")
    if not hmac.compare_digest(obj.hmac, _digest(obj, salt)):
        raise DistillBenchError(f"results file {path} does not match its hash: it was edited after the benchmark wrote "
                                "it; regenerate it with `distillbench rerun` (results are never edited by hand)")


def write_results(path: Path, obj: SubmissionResults, salt: bytes | None = None) -> SubmissionResults:
    signed = sign(obj, salt)
    write_model(path, signed)
    return signed


def load_results(path: Path) -> SubmissionResults:
    """Read a results file and verify its hash; a hand-edited or corrupted file is one clear error."""
    obj = read_model(Path(path), SubmissionResults, "results file")
    check_signature(obj, path)
    return obj


def code_commit() -> str:
    """The git commit of the benchmark code, '+dirty' when tracked files differ from it, or 'unknown'. The
    published outputs (`leaderboard/`) are not code: a re-run that has already written some results files is not
    running on a dirty tree."""
    repo = Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no", "--", ".",
                                ":(exclude)leaderboard"],
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


def remove_local(results_dir: Path, slug: str | None = None) -> list[Path]:
    """Delete the local results files (status "local", or unreadable) under `results_dir` (a workspace's
    `submissions/`), of one slug or all; returns what was removed. Files of any other status are left alone."""
    removed = []
    for path in all_results(results_dir):
        if slug is not None and path.parent.name != slug:
            continue
        try:
            local = json.loads(path.read_text()).get("status") == "local"
        except (OSError, ValueError, AttributeError):
            local = True  # not a results file the site could show either
        if local:
            path.unlink()
            removed.append(path)
            if not any(path.parent.iterdir()):
                path.parent.rmdir()
    return removed


def all_results(results_dir: Path) -> list[Path]:
    return sorted(Path(results_dir).glob("*/*.json"))
