"""`distillbench submission validate`: is this folder a submission the benchmark can accept?

Takes a submission folder and a built, probed suite; produces a `ValidationReport` or raises `SubmissionInvalid`
listing every problem (field or file, what was expected, what arrived). Checks, in order: the folder rules and
schema (`folder.load_submission`), then, contained, that the entry point loads, satisfies the detector interface
and declares the same track as submission.yaml, and that it returns a finite score for every pair of the public
dev split within the limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from distillbench.evidence.view import EvidenceView
from distillbench.submission.evaluate import build_record
from distillbench.submission.execute import RunOutcome, run_split
from distillbench.submission.folder import Submission, SubmissionInvalid, load_submission
from distillbench.submission.results import SubmissionResults, headline
from distillbench.submission.sandbox import Bubblewrap, Limits

SHOWN_FAILURES = 3


@dataclass
class ValidationReport:
    submission: Submission
    outcome: RunOutcome | None = None
    record: SubmissionResults | None = None

    def summary(self) -> str:
        sub = self.submission
        head = f"valid: {sub.path.name} ({sub.meta.name} {sub.meta.version}, {sub.meta.track.value})"
        if self.outcome is None or self.record is None:
            return head + ": schema and files checked (detector not run: --no-run)"
        vf = self.outcome.verdicts
        return (f"{head}: {len(vf.verdicts)}/{len(vf.verdicts)} {vf.split} pairs of suite {vf.suite} scored in "
                f"{vf.seconds:.1f}s; {headline(self.record.metrics)}")


def validate(folder: Path, view: EvidenceView | None, manifest_path: Path | None, limits: Limits,
             sandbox: Bubblewrap | None) -> ValidationReport:
    submission = load_submission(folder)
    if view is None:
        return ValidationReport(submission)
    outcome = run_split(submission, view, "dev", limits, sandbox)
    if outcome.load_error:
        raise SubmissionInvalid(folder, [outcome.load_error])
    if outcome.failures:
        shown = "; ".join(f"pair {pid}: {err}" for pid, err in list(outcome.failures.items())[:SHOWN_FAILURES])
        more = len(outcome.failures) - SHOWN_FAILURES
        raise SubmissionInvalid(folder, [
            f"the detector failed on {len(outcome.failures)} of {len(outcome.verdicts.verdicts)} dev pairs (expected a "
            f"finite score for every pair): {shown}" + (f"; and {more} more" if more > 0 else "")])
    return ValidationReport(submission, outcome, build_record(submission, view, manifest_path, outcome, limits))
