"""Leaderboard entries: the one shape the site renders, adapted from the results files that exist.

Takes
- submission results (`distillbench.submission.results.SubmissionResults`, which embed the submission's metadata):
  the leaderboard's, `leaderboard/results/<slug>/<version>-<split>.json`, written by the maintainers' `distillbench
  rerun`. Only files whose signature this build can check are published (`read_submission_results`): a file
  signed with a salt the build does not hold, a "verified" file signed with the public development salt (anyone
  can write one) and a local file (`distillbench submission run`, status "local") are each left out with one line;
- suite results, `<workspace>/suites/<suite>/results.json` (`distillbench.score.results.Results`): every registered
  detector run by `distillbench run`, described by the detector registry. The repository's baselines are also
  submitted, as `submissions/<name with '-' for '_'>/`; where such a submission has results on the same suite
  split, its entry (with the submission's metadata and version) replaces the built-in one.
and produces `Entry` objects: one method version scored on one suite split, with the metadata the tables, filters
and method pages need, and (on splits that publish them) its per-pair scores, so entries from separate files can be
compared pair by pair (`compare.py`). This module is the only part of the site that knows those file formats;
templates, plots and tables see only `Entry`.

Why left out rather than marked: a mark is one word on a page next to numbers that look like everyone else's; an
entry nobody can check has no place on a leaderboard. A results file written under an older results schema (`schema_version` below `RESULTS_SCHEMA_VERSION`) cannot be
shown next to current ones (its intervals, ranks and per-condition rows mean something else): it is skipped with
one line saying so, never half-read, and the build goes on; so is a submission results file from before the harness
measured cost (its metadata declares `cost.queries_per_pair`).

Every string that came from a submission stays a plain string here; the templates escape it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from distillbench.errors import DistillBenchError
from distillbench.files import read_model
from distillbench.query.meter import Budget
from distillbench.score.results import RESULTS_SCHEMA_VERSION, Comparison, DetectorResult, Resolution, Results
from distillbench.submission.results import PUBLIC_SALT_ID, SubmissionResults, all_results, check_signature, salt_id

TRACKS = ("black-box", "gray-box", "white-box", "teacher-side")
# Method slugs become file names (methods/<slug>.html): keep them to characters that are safe in any path and URL.
SLUG_RE = r"^[a-z0-9][a-z0-9_-]{0,63}$"
# SPDX identifiers of common OSI-approved licences: an entry whose licence expression offers one of them is "open
# source" for the filter. Submitted code is always readable in the repository; the licence decides reuse.
OPEN_LICENCES = frozenset({
    "0BSD", "AFL-3.0", "AGPL-3.0", "AGPL-3.0-only", "AGPL-3.0-or-later", "Apache-2.0", "Artistic-2.0", "BSD-2-Clause",
    "BSD-3-Clause", "BSL-1.0", "CC0-1.0", "ECL-2.0", "EPL-2.0", "EUPL-1.2", "GPL-2.0", "GPL-2.0-only",
    "GPL-2.0-or-later", "GPL-3.0", "GPL-3.0-only", "GPL-3.0-or-later", "ISC", "LGPL-2.1", "LGPL-2.1-only",
    "LGPL-2.1-or-later", "LGPL-3.0", "LGPL-3.0-only", "LGPL-3.0-or-later", "MIT", "MIT-0", "MPL-2.0", "NCSA",
    "OSL-3.0", "PostgreSQL", "Python-2.0", "UPL-1.0", "Unlicense", "Zlib",
})
# The licence of this repository, which the built-in detectors share.
REPOSITORY_LICENCE = "Apache-2.0"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Link(_Strict):
    label: str
    url: str = Field(pattern=r"^https?://")  # never javascript:, data: or relative: these end up in href


class PairPoint(_Strict):
    """One pair as one method scored it: what the site needs to compare methods pair by pair."""

    pair_id: str
    teacher: str  # the cluster
    label: int
    score: float | None  # None: the detector failed on this pair
    abstained: bool


class OldSchema(DistillBenchError):
    """A results file from an older results schema: skipped (with this message), not an error that stops the build."""


class Unpublishable(DistillBenchError):
    """A results file the site cannot vouch for (unchecked signature, public salt on a verified file, local): skipped
    with this message."""


class Entry(_Strict):
    """One method version scored on one suite split."""

    slug: str = Field(pattern=SLUG_RE)
    name: str
    version: str
    suite: str
    split: str
    track: Literal["black-box", "gray-box", "white-box", "teacher-side"]
    status: Literal["verified", "dev only"]
    date: str  # YYYY-MM-DD, when the results were computed
    benchmark_version: str
    origin: Literal["built-in", "submission"]
    summary: str
    description: str
    authors: list[str]
    contact: str | None
    links: list[Link]
    licence: str
    trained_on_benchmark: bool
    trained_details: str
    # Queries one pair cost, measured by the harness for every entry (built-in or submitted): evidence read +
    # requests, all models of the pair, the mean per pair; None when its results file predates measurement. 0 only
    # for a method that reads no evidence and asks nothing.
    queries_per_pair: int | None
    # The budget tier the site ranks within: what the run was metered under, else what the submission declares.
    budget: Budget = Budget.EVIDENCE_ONLY
    reproduce: str  # the commands that recompute this entry
    source_file: str  # where the results were read: `workspace/...` in the workspace, else in the repository
    code_commit: str | None  # the benchmark's git commit that computed the results, when recorded
    # "checked": HMAC verified with this build's secret salt; "public salt": verified, but with the public development
    # salt (catches edits, not forgery; never on a verified entry); "none": a built-in detector's suite results.
    hash_check: Literal["checked", "public salt", "none"]
    readme: str | None  # the submission's README, relative to submissions/<slug>/
    manifest_sha256: str  # which build of the suite: only entries on the same build are compared pair by pair
    result: DetectorResult
    roc: list[tuple[float, float]]  # (false-positive rate, true-positive rate) points of the overall ROC curve
    # Per-pair scores (empty on the hidden test split, whose files withhold them) and what the entry's own results
    # file says about it next to the other detectors of that file. Not part of the downloads: the results files are.
    pairs: list[PairPoint] = Field(default_factory=list, exclude=True, repr=False)
    file_comparisons: list[Comparison] = Field(default_factory=list, exclude=True, repr=False)
    file_resolution: Resolution | None = Field(default=None, exclude=True, repr=False)

    @property
    def open_source(self) -> bool:
        return is_open_licence(self.licence)

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.slug, self.version, self.suite, self.split)


def is_open_licence(expression: str) -> bool:
    ids = re.split(r"\s+(?:AND|OR|WITH)\s+|[()]", expression)
    return any(i.strip() in OPEN_LICENCES for i in ids)


def version_key(version: str) -> tuple:
    """Numeric-aware order for versions like 0.10.2 (every part compared as a number where it is one)."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"[.+-]", version))


def pair_points(results: Results, detector: str) -> list[PairPoint]:
    return [PairPoint(pair_id=p.pair_id, teacher=p.teacher, label=p.label, score=p.scores.get(detector),
                      abstained=bool(p.abstained.get(detector, False))) for p in results.pairs]


def roc_points(points: list[PairPoint]) -> list[tuple[float, float]]:
    """A detector's ROC curve on its pairs, counted as the scorer counts them, so the curve agrees with the
    published AUROC: abstentions are left out (an abstention is not a score), failed pairs rank below every scored
    pair (failing never helps)."""
    from sklearn.metrics import roc_curve

    from distillbench.score.metrics import failures_ranked_last

    kept = [p for p in points if not p.abstained]
    y = np.array([p.label for p in kept])
    raw = np.array([np.nan if p.score is None else p.score for p in kept], dtype=float)
    if len(set(y.tolist())) != 2:
        return []
    fpr, tpr, _ = roc_curve(y, failures_ranked_last(raw))
    return [(round(float(f), 6), round(float(t), 6)) for f, t in zip(fpr, tpr)]


def _own_comparisons(results: Results, detector: str) -> list[Comparison]:
    return [c for c in results.comparisons if detector in (c.a, c.b)]


def check_schema(path: Path, shown: str, what: str, nested: str | None = None) -> None:
    """Raise `OldSchema` for a results file written under an older results schema (before reading it whole: an old
    file does not validate against the current schema, and its numbers mean something else)."""
    try:
        raw = json.loads(path.read_bytes())
        version = (raw[nested] if nested else raw).get("schema_version")
    except (ValueError, AttributeError, KeyError, TypeError, UnicodeDecodeError):
        return  # not even JSON of the expected shape: the schema-checked read says what is wrong
    if isinstance(version, int) and version < RESULTS_SCHEMA_VERSION:
        raise OldSchema(f"skipped {shown}: a {what} with results schema {version}, this site shows schema "
                        f"{RESULTS_SCHEMA_VERSION}; regenerate it with the current benchmark")


def check_declared_cost(path: Path, shown: str) -> None:
    """Raise `OldSchema` for a submission results file whose metadata declares `cost.queries_per_pair`: written before
    the harness measured cost, it holds no measured cost and its metadata no budget tier (the current schema refuses
    the field, and its signature covers it)."""
    try:
        cost = json.loads(path.read_bytes())["submission"]["cost"]
    except (ValueError, AttributeError, KeyError, TypeError, UnicodeDecodeError):
        return
    if isinstance(cost, dict) and "queries_per_pair" in cost:
        raise OldSchema(f"skipped {shown}: a submission results file from before cost was measured (its metadata "
                        "declares `cost.queries_per_pair`, which the harness now measures); regenerate it with the "
                        "current benchmark")


def _registry_text(detector: str) -> tuple[str, str]:
    """(summary, description) of a registered detector; empty when it is no longer registered."""
    import inspect

    from distillbench.detect.registry import available, get_detector

    if detector not in available():
        return "", ""
    d = get_detector(detector)
    doc = inspect.getdoc(type(d)) or ""
    return d.summary, doc


def builtin_entries(results: Results, source_file: str) -> list[Entry]:
    """Entries for the detectors in a suite's own results file (the benchmark's run, never a maintainer re-run)."""
    out = []
    for r in results.detectors:
        points = pair_points(results, r.detector)
        summary, description = _registry_text(r.detector)
        slug = r.detector.lower()
        if not re.match(SLUG_RE, slug):
            raise DistillBenchError(f"{source_file}: detector name {r.detector!r} cannot be a page name; expected "
                                    f"lowercase letters, digits, '-' and '_' ({SLUG_RE})")
        slug = slug.replace("_", "-")  # the spelling submission slugs use, so both sources share one method page
        version = results.versions.get("distillbench", "unknown")
        out.append(Entry(
            slug=slug, name=r.detector, version=version, suite=results.suite, split=results.split,
            track=r.access, status="dev only", date=results.created[:10], benchmark_version=version,
            origin="built-in", summary=summary, description=description,
            authors=["DistillBench maintainers"], contact=None, links=[], licence=REPOSITORY_LICENCE,
            trained_on_benchmark=False, trained_details="",
            queries_per_pair=r.queries_per_pair, budget=r.cost.budget if r.cost is not None else Budget.EVIDENCE_ONLY,
            reproduce=f"distillbench run --suite {results.suite} --detector {r.detector}",
            source_file=source_file, code_commit=None, hash_check="none", readme=None,
            manifest_sha256=results.manifest_sha256, result=r, roc=roc_points(points), pairs=points,
            file_comparisons=_own_comparisons(results, r.detector), file_resolution=results.resolution,
        ))
    return out


def workspace_entries(home: Path, suites: list[str]) -> tuple[list[Entry], dict[str, Results], list[str]]:
    """Entries from `<home>/suites/<suite>/results.json` for each suite that has one, the results by suite, and a
    line for each file skipped for its old schema."""
    entries, by_suite, skipped = [], {}, []
    for suite in suites:
        path = home / "suites" / suite / "results.json"
        if not path.is_file():
            continue
        shown = f"workspace/suites/{suite}/results.json"
        try:
            check_schema(path, shown, "suite results file")
        except OldSchema as exc:
            skipped.append(f"{exc} (`distillbench evaluate --suite {suite} --all`)")
            continue
        results = read_model(path, Results, "results file")
        by_suite[suite] = results
        entries += builtin_entries(results, shown)
    return entries, by_suite, skipped


def submission_entry(record: SubmissionResults, source_file: str, hash_check: str) -> Entry:
    meta = record.submission
    if len(record.metrics.detectors) != 1:
        raise DistillBenchError(f"results file {source_file}: expected the metrics of one detector, got "
                                f"{len(record.metrics.detectors)}")
    links = [Link(label=label, url=str(url)) for label, url in (("paper", meta.links.paper), ("code", meta.links.code))
             if url is not None]
    suite = record.suite
    if record.split == "test":
        reproduce = (f"# maintainers only: the test split is hidden (needs $DISTILLBENCH_TEST_SECRET)\n"
                     f"distillbench rerun --suite {suite} --split test --submission {meta.slug}")
    else:
        reproduce = (f"distillbench run --suite {suite}\n"
                     f"distillbench submission run submissions/{meta.slug} --suite {suite}")
    commit = record.code_commit if record.code_commit != "unknown" else None
    if commit:
        reproduce = f"git checkout {commit.removesuffix('+dirty')}\n" + reproduce
    result = record.metrics.detectors[0]
    # Test-split files withhold their per-pair rows (they would publish hidden labels): no curve, no pairs to compare.
    points = pair_points(record.metrics, result.detector) if record.metrics.pairs else []
    return Entry(
        slug=meta.slug, name=meta.name, version=meta.version, suite=suite, split=record.split,
        track=meta.track.value, status=record.status, date=record.created[:10],
        benchmark_version=record.benchmark_version, origin="submission", summary=meta.description,
        description=meta.description, authors=[f"{a.name} ({a.affiliation})" for a in meta.authors],
        contact=meta.contact, links=links, licence=meta.license,
        trained_on_benchmark=meta.benchmark_data.trained_or_tuned, trained_details=meta.benchmark_data.details,
        queries_per_pair=result.queries_per_pair,
        budget=result.cost.budget if result.cost is not None else meta.cost.budget, reproduce=reproduce,
        source_file=source_file,
        code_commit=commit, hash_check=hash_check, readme=meta.readme, manifest_sha256=record.manifest_sha256,
        result=result, roc=roc_points(points) if points else [], pairs=points,
        file_comparisons=_own_comparisons(record.metrics, result.detector), file_resolution=record.metrics.resolution,
    )


def read_submission_results(path: Path, shown: str, salt: bytes | None = None) -> Entry:
    """One results file, published only if its signature checks out under this build's salt (`salt`, default
    $DISTILLBENCH_RESULTS_SALT): a file signed with another salt, a verified file signed with the public development
    salt and a local file raise `Unpublishable` (skipped with its line); a file whose hash does not match under the
    right salt was edited by hand and stops the build: the site never publishes numbers the benchmark did not write.
    """
    check_schema(path, shown, "submission results file", nested="metrics")
    check_declared_cost(path, shown)
    record = read_model(path, SubmissionResults, "results file")
    if record.status == "local":
        raise Unpublishable(f"not published: {shown} is a local result (`distillbench submission run`); only the "
                            "maintainers' re-runs are published")
    if record.salt_id != salt_id(salt):
        raise Unpublishable(f"not published: {shown} is signed with salt id {record.salt_id}, which this build does "
                            f"not hold (its salt has id {salt_id(salt)}): its hash cannot be checked; set "
                            "$DISTILLBENCH_RESULTS_SALT to the maintainers' salt")
    check_signature(record, shown, salt)
    public = record.salt_id == PUBLIC_SALT_ID
    if public and record.status == "verified":
        raise Unpublishable(f"not published: {shown} says verified but is signed with the public development salt, "
                            "which anyone can sign with; verified results are signed with the maintainers' salt")
    return submission_entry(record, shown, "public salt" if public else "checked")


def submission_entries(results_dirs: list[tuple[Path, str]],
                       salt: bytes | None = None) -> tuple[list[Entry], list[str]]:
    """Entries from results folders given as (folder, label for messages), earlier folders winning on the same
    (slug, version, suite, split), and a line for each file skipped (old schema, or not publishable)."""
    seen: dict[tuple, Entry] = {}
    skipped = []
    for folder, label in results_dirs:
        if not folder.is_dir():
            continue
        for path in all_results(folder):
            try:
                entry = read_submission_results(path, f"{label}/{path.relative_to(folder).as_posix()}", salt)
            except Unpublishable as exc:
                skipped.append(str(exc))
                continue
            except OldSchema as exc:
                skipped.append(f"{exc} (`distillbench rerun`)")
                continue
            seen.setdefault(entry.key, entry)
    return list(seen.values()), skipped


def merge(submitted: list[Entry], builtin: list[Entry]) -> list[Entry]:
    """All entries, the built-in ones left out where a submission of the same method has results on that suite
    split; in a fixed order."""
    covered = {(e.slug, e.suite, e.split) for e in submitted}
    kept = submitted + [e for e in builtin if (e.slug, e.suite, e.split) not in covered]
    return sorted(kept, key=lambda e: (e.suite, e.split, e.slug, version_key(e.version), e.origin))
