"""`distillbench rerun` (maintainers): re-score submissions and write their signed results files.

Takes the submissions folder, a built and probed suite, and a split; produces
`<results dir>/<slug>/<version>-<split>.json` for every submission whose file is missing or stale. A file is stale
when it was written under another `BENCHMARK_VERSION` (bumping the version re-scores everything), for other
evidence or another manifest, or when its hash no longer matches (a hand edit). A submission whose code changed
without a new `version` is refused: one entry per method version.

The test split is the hidden one: re-running it needs the maintainers' secret in $DISTILLBENCH_TEST_SECRET (or a
file named by $DISTILLBENCH_TEST_SECRET_FILE), and earns the "verified" status. The secret is only checked for
here; it never reaches a sandbox (which gets an empty environment and no view of the secret file).

A broken submission never stops the others: each is validated, run and written on its own; problems are reported
together at the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from distillbench.errors import DistillBenchError
from distillbench.evidence.view import EvidenceView
from distillbench.submission import BENCHMARK_VERSION
from distillbench.submission.evaluate import evaluate
from distillbench.submission.execute import split_pairs
from distillbench.submission.folder import SubmissionInvalid, load_submission
from distillbench.submission.results import SubmissionResults, headline, load_results, results_path, write_results
from distillbench.submission.sandbox import Bubblewrap, Limits
from distillbench.zoo.splits import read_secret

@dataclass
class RerunEntry:
    folder: Path
    action: Literal["scored", "up to date", "invalid"]
    message: str
    path: Path | None = None
    record: SubmissionResults | None = None


def discover(submissions_dir: Path, slugs: list[str] | None) -> list[Path]:
    """Submission folders; names starting with '_' or '.' (the template) are not entries."""
    submissions_dir = Path(submissions_dir)
    if not submissions_dir.is_dir():
        raise DistillBenchError(f"submissions folder {submissions_dir} does not exist")
    found = {p.name: p for p in sorted(submissions_dir.iterdir()) if p.is_dir() and not p.name.startswith(("_", "."))}
    if slugs is None:
        return list(found.values())
    unknown = [s for s in slugs if s not in found]
    if unknown:
        raise DistillBenchError(f"no submission {', '.join(map(repr, unknown))} in {submissions_dir}; present: "
                                f"{', '.join(found) or 'none'}")
    return [found[s] for s in slugs]


def stale_reason(old: SubmissionResults, view: EvidenceView, evidence_sha256: str, manifest_sha256: str,
                 benchmark_version: str) -> str | None:
    if old.benchmark_version != benchmark_version:
        return f"benchmark version {old.benchmark_version} -> {benchmark_version}"
    if old.suite != view.manifest.suite:
        return f"suite {old.suite} -> {view.manifest.suite}"
    if old.evidence_sha256 != evidence_sha256:
        return "evidence changed"
    if old.manifest_sha256 != manifest_sha256:
        return "manifest changed"
    return None


def rerun(view: EvidenceView, manifest_path: Path, split: str, submissions_dir: Path, results_dir: Path,
          slugs: list[str] | None, limits: Limits, sandbox: Bubblewrap, force: bool = False,
          benchmark_version: str | None = None, progress=print) -> list[RerunEntry]:  # noqa: ANN001
    benchmark_version = benchmark_version or BENCHMARK_VERSION
    if split == "test":
        read_secret()  # only its presence: the test suite was built from it; it never reaches a sandbox
    split_pairs(view, split)
    sandbox.check()
    from distillbench.fingerprint import sha256_file

    evidence_sha, manifest_sha = view.digest(), sha256_file(manifest_path)
    entries: list[RerunEntry] = []
    for folder in discover(submissions_dir, slugs):
        try:
            sub = load_submission(folder)
        except SubmissionInvalid as exc:
            entries.append(RerunEntry(folder, "invalid", str(exc)))
            progress(f"rerun: {folder.name}: invalid: {'; '.join(exc.problems)}")
            continue
        path = results_path(results_dir, sub.slug, sub.meta.version, split)
        if path.exists() and not force:
            try:
                old = load_results(path)
            except DistillBenchError as exc:
                reason: str | None = f"re-scoring: {exc}"
            else:
                if old.submission_sha256 != sub.sha256:
                    msg = (f"submission {sub.slug} changed since version {sub.meta.version} was scored ({path}); a "
                           "changed method is a new entry: bump `version` in submission.yaml (or pass --force)")
                    entries.append(RerunEntry(folder, "invalid", msg, path))
                    progress(f"rerun: {sub.slug}: {msg}")
                    continue
                reason = stale_reason(old, view, evidence_sha, manifest_sha, benchmark_version)
                if reason is None:
                    entries.append(RerunEntry(folder, "up to date", "up to date", path, old))
                    progress(f"rerun: {sub.slug} {sub.meta.version} ({split}): up to date ({path})")
                    continue
                reason = f"re-scoring: {reason}"
        else:
            reason = "forced" if path.exists() else "new"
        outcome, record = evaluate(sub, view, manifest_path, split, limits, sandbox, benchmark_version)
        record = write_results(path, record)
        msg = (f"{reason}; {record.n_pairs} pairs in {record.seconds:.1f}s, {record.n_failed} failed, "
               f"{headline(record.metrics)}, {record.status}")
        entries.append(RerunEntry(folder, "scored", msg, path, record))
        progress(f"rerun: {sub.slug} {sub.meta.version} ({split}): {msg} -> {path}")
    bad = [e for e in entries if e.action == "invalid"]
    if bad:
        raise DistillBenchError(f"rerun finished; {len(entries) - len(bad)} of {len(entries)} submissions are up to "
                                f"date or re-scored, {len(bad)} refused: " + "; ".join(e.message for e in bad))
    return entries
