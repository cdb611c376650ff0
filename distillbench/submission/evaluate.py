"""One submission on one split, end to end: contained run, scoring with the manifest's labels, results record.

Takes a `Submission`, an `EvidenceView`, a split, limits and a sandbox; produces the `RunOutcome` and an unsigned
`SubmissionResults` (sign and write it with `results.write_results`). Labels enter only here, in the benchmark's
process, after the detector has finished: through `distillbench.score.results.score`. On the hidden test split the
record is cut to what the disclosure policy publishes (`results.disclose`, docs/disclosure.md): no per-pair or
per-teacher rows, no failure text, no run time, rounded headline numbers, banded per-condition numbers.
"""

from __future__ import annotations

from distillbench.evidence.view import EvidenceView
from distillbench.fingerprint import versions
from distillbench.score.results import score
from distillbench.submission import BENCHMARK_VERSION
from distillbench.submission.execute import RunOutcome, run_split
from distillbench.submission.folder import Submission
from distillbench.submission.results import PairFailure, SubmissionResults, code_commit, disclose, now, status_for
from distillbench.submission.sandbox import Bubblewrap, Limits


def build_record(submission: Submission, view: EvidenceView, manifest_path, outcome: RunOutcome, limits: Limits,
                 benchmark_version: str = BENCHMARK_VERSION, local: bool = False) -> SubmissionResults:
    """Score a finished run against the labels and assemble its (unsigned) results record; `local=True` marks a
    contributor's own run (`submission run`), which the site never publishes."""
    split = outcome.verdicts.split
    metrics = score(view.manifest, manifest_path, [outcome.verdicts], split=split)
    hidden = split == "test"
    if hidden:
        metrics = disclose(metrics, [p for p in view.manifest.pairs if p.split == split])
    return SubmissionResults(
        # On the hidden split only the day: consecutive records' times would give away each run's duration.
        benchmark_version=benchmark_version, code_commit=code_commit(), created=now()[:10] if hidden else now(),
        status=status_for(split, local), submission=submission.meta, submission_sha256=submission.sha256,
        suite=view.manifest.suite, split=split, manifest_sha256=metrics.manifest_sha256,
        evidence_sha256=outcome.verdicts.evidence_sha256, versions=versions(), isolation=outcome.isolation,
        limits=limits, seconds=None if hidden else round(outcome.verdicts.seconds, 3),
        n_pairs=len(outcome.verdicts.verdicts), n_failed=outcome.n_failed,
        failures=[] if hidden else [PairFailure(pair_id=k, error=v) for k, v in outcome.failures.items()],
        metrics=metrics, salt_id="", hmac="",
    )


def evaluate(submission: Submission, view: EvidenceView, manifest_path, split: str, limits: Limits,
             sandbox: Bubblewrap | None, benchmark_version: str = BENCHMARK_VERSION,
             local: bool = False) -> tuple[RunOutcome, SubmissionResults]:
    outcome = run_split(submission, view, split, limits, sandbox)
    return outcome, build_record(submission, view, manifest_path, outcome, limits, benchmark_version, local)
