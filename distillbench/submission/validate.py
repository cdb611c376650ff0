"""`distillbench submission validate` and `submission run`: one pass that checks a folder, runs it contained on the
public dev split, scores it, and writes a local results file.

Takes a submission folder and a built, probed suite; produces a `ValidationReport` (the run, its local results
record and where it was written) or raises `SubmissionInvalid` listing every problem (field or file, what was
expected, what arrived). In order:

1. static checks, all at once and before any evidence is opened (`folder.load_submission`: schema, folder rules,
   opaque files, imports, the entry point's class and its `uses`);
2. contained, that the entry point loads, satisfies the detector interface and declares the same track as
   submission.yaml, and that it returns a score for the pairs of the public dev split within the limits;
3. scoring against the dev labels, as a record marked local (never published by the site).

`validate` and `run` differ only in what they accept and print: `validate` (what CI runs) requires a finite score
for every pair; `run` accepts a run where some pairs failed, lists them, and prints the per-condition results and
the same track's baselines next to the submission. A run in which no pair was scored is refused by both, and
writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from distillbench.errors import DistillBenchError
from distillbench.submission.folder import Submission, SubmissionInvalid, load_submission

SHOWN_FAILURES = 3


@dataclass
class ValidationReport:
    submission: Submission
    outcome: object | None = None  # execute.RunOutcome
    record: object | None = None  # results.SubmissionResults, status "local"
    results_path: Path | None = None

    def summary(self) -> str:
        from distillbench.submission.results import headline

        sub = self.submission
        head = f"valid: {sub.path.name} ({sub.meta.name} {sub.meta.version}, {sub.meta.track.value})"
        if self.outcome is None or self.record is None:
            return head + ": schema, files and code checked (detector not run: --no-run)"
        vf = self.outcome.verdicts
        n, failed = len(vf.verdicts), self.outcome.n_failed
        return (f"{head}: {n - failed}/{n} {vf.split} pairs of suite {vf.suite} scored in {vf.seconds:.1f}s; "
                f"{headline(self.record.metrics)}")


def local_results_path(results_dir: Path, slug: str, version: str) -> Path:
    """`<workspace>/submissions/<slug>/<version>-dev.json`: the layout of `leaderboard/results/`, in the workspace."""
    return Path(results_dir) / slug / f"{version}-dev.json"


def _failure_lines(outcome, limit: int | None = SHOWN_FAILURES) -> str:  # noqa: ANN001
    items = list(outcome.failures.items())
    shown = "; ".join(f"pair {pid}: {err}" for pid, err in items[:limit])
    more = len(items) - (limit or len(items))
    return shown + (f"; and {more} more" if more > 0 else "")


def validate(folder: Path | Submission, view, manifest_path: Path | None, limits, sandbox,  # noqa: ANN001
             strict: bool = True, results_dir: Path | None = None, review: bool = True) -> ValidationReport:
    """Static checks, then (with a `view`) one contained run on the dev split, scored as a local record.

    `strict` (validate): every pair must get a score. Otherwise (run) only a run in which no pair was scored is
    refused. With `results_dir`, the local results file is written there (`<slug>/<version>-dev.json`) once the
    run is accepted; a refused run writes nothing.
    """
    submission = folder if isinstance(folder, Submission) else load_submission(folder, review=review)
    if view is None:
        return ValidationReport(submission)
    # Imported here: the static checks above must not wait for the scorer and the sandbox to load.
    from distillbench.submission.evaluate import build_record
    from distillbench.submission.execute import run_split
    from distillbench.submission.results import write_results

    outcome = run_split(submission, view, "dev", limits, sandbox, published=False)  # its results stay local
    shown = submission.path if isinstance(folder, Submission) else folder
    if outcome.load_error:
        raise SubmissionInvalid(shown, [outcome.load_error])
    n = len(outcome.verdicts.verdicts)
    if outcome.failures and (strict or outcome.n_failed == n):
        what = "every one" if outcome.n_failed == n else f"{outcome.n_failed}"
        raise SubmissionInvalid(shown, [
            f"the detector failed on {what} of {n} dev pairs (expected a finite score for every pair): "
            f"{_failure_lines(outcome)}" + ("; nothing was written" if outcome.n_failed == n else "")])
    record = build_record(submission, view, manifest_path, outcome, limits, local=True)
    path = None
    if results_dir is not None:
        path = local_results_path(results_dir, submission.slug, submission.meta.version)
        record = write_results(path, record)
    return ValidationReport(submission, outcome, record, path)


# ---- the same track's baselines, for `submission run` ---------------------------------------------------------

def leaderboard_results_dir() -> Path:
    """`leaderboard/results/` of the checkout the package runs from (an editable install)."""
    return Path(__file__).resolve().parents[2] / "leaderboard" / "results"


def track_baselines(workspace, suite: str, track: str, exclude: str = "") -> tuple[list, str]:  # noqa: ANN001
    """Scored detectors of `track` on the suite's dev split, and where they come from: the workspace's results.json
    (after `distillbench evaluate`), else the committed `leaderboard/results/*/<version>-dev.json` files."""
    from distillbench.files import read_model
    from distillbench.score.results import Results

    path = workspace.results_path(suite)
    if path.is_file():
        try:
            results = read_model(path, Results, "results file")
        except DistillBenchError:
            results = None
        if results is not None and results.split == "dev":
            rows = [r for r in results.detectors if r.access == track and r.detector != exclude]
            if rows:
                return rows, str(path)
    from distillbench.submission.results import all_results, load_results

    rows, unverified = [], 0
    folder = leaderboard_results_dir()
    for file in all_results(folder):
        try:
            rec = load_results(file)
        except DistillBenchError:
            unverified += 1  # a file whose hash does not check is no baseline
            continue
        if rec.suite == suite and rec.split == "dev" and rec.submission.track.value == track \
                and rec.submission.slug != exclude and rec.metrics.detectors:
            rows.append(rec.metrics.detectors[0])
    return rows, str(folder) + (f"; {unverified} file(s) there failed verification and were left out" if unverified else "")


def comparison_text(record, baselines: list, source: str) -> str:  # noqa: ANN001
    """The submission's row above the same track's baselines, then the per-condition tables of all of them."""
    import pandas as pd

    from distillbench.score.results import comparator_table

    def ci(c) -> str:  # noqa: ANN001
        return f"[{c[0]:.2f}, {c[1]:.2f}]" if c else "n/a"

    rows = []
    for i, r in enumerate([*record.metrics.detectors, *sorted(baselines, key=lambda b: -b.overall.auroc)]):
        o = r.overall
        rows.append({"": "this submission" if i == 0 else "baseline", "detector": r.detector,
                     "AUROC": f"{o.auroc:.3f}", "95% CI": ci(o.auroc_ci), "TPR@1%": f"{o.tpr_at_1pct_fpr:.2f}",
                     "TPR@5%": f"{o.tpr_at_5pct_fpr:.2f}",
                     "FPR@p<.05": "n/a" if o.fpr_at_p05 is None else f"{o.fpr_at_p05:.3f}",
                     "coverage": f"{r.coverage:.2f}", "failed": r.n_failed, "note": r.degenerate or ""})
    track = record.submission.track.value
    head = (f"{record.suite} dev split, {track} track: this submission and the track's baselines (from {source})"
            if baselines else f"{record.suite} dev split, {track} track (no baselines of this track found in {source})")
    both = record.metrics.model_copy(update={"detectors": [*record.metrics.detectors, *baselines]})
    return head + "\n" + pd.DataFrame(rows).to_string(index=False) + "\n\n" + comparator_table(both)
