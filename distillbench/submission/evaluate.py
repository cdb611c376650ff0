"""One submission on one split, end to end: contained run, scoring with the manifest's labels, results record.

Takes a `Submission`, an `EvidenceView`, a split, limits and a sandbox; produces the `RunOutcome` and an unsigned
`SubmissionResults` (sign and write it with `results.write_results`). Labels enter only here, in the benchmark's
process, after the detector has finished: through `distillbench.score.results.score`.
"""

from __future__ import annotations

from distillbench.evidence.view import EvidenceView
from distillbench.fingerprint import versions
from distillbench.score.results import score
from distillbench.submission import BENCHMARK_VERSION
from distillbench.submission.execute import RunOutcome, run_split
from distillbench.submission.folder import Submission
from distillbench.submission.results import PairFailure, SubmissionResults, code_commit, now, status_for
from distillbench.submission.sandbox import Bubblewrap, Limits


def build_record(submission: Submission, view: EvidenceView, manifest_path, outcome: RunOutcome, limits: Limits,
                 benchmark_version: str = BENCHMARK_VERSION) -> SubmissionResults:
    """Score a finished run against the labels and assemble its (unsigned) results record."""
    split = outcome.verdicts.split
    metrics = score(view.manifest, manifest_path, [outcome.verdicts], split=split)
    if split == "test":
        metrics = metrics.model_copy(update={"pairs": []})  # per-pair rows would publish the hidden labels
    return SubmissionResults(
        benchmark_version=benchmark_version, code_commit=code_commit(), created=now(), status=status_for(split),
        submission=submission.meta, submission_sha256=submission.sha256, suite=view.manifest.suite, split=split,
        manifest_sha256=metrics.manifest_sha256, evidence_sha256=outcome.verdicts.evidence_sha256,
        versions=versions(), isolation=outcome.isolation, limits=limits, seconds=round(outcome.verdicts.seconds, 3),
        n_pairs=len(outcome.verdicts.verdicts), n_failed=outcome.n_failed,
        failures=[PairFailure(pair_id=k, error=v) for k, v in outcome.failures.items()],
        metrics=metrics, salt_id="", hmac="",
    )


def evaluate(submission: Submission, view: EvidenceView, manifest_path, split: str, limits: Limits,
             sandbox: Bubblewrap | None, benchmark_version: str = BENCHMARK_VERSION) -> tuple[RunOutcome, SubmissionResults]:
    outcome = run_split(submission, view, split, limits, sandbox)
    return outcome, build_record(submission, view, manifest_path, outcome, limits, benchmark_version)
