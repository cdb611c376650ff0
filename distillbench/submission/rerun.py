"""`distillbench rerun` (maintainers): re-score submissions and write their signed results files.

Takes the submissions folder, a built and probed suite, and a split; produces
`<results dir>/<slug>/<version>-<split>.json` for every submission whose file is missing or stale. A file is stale
when it was written under another `BENCHMARK_VERSION` (bumping the version re-scores everything), for other
evidence or another manifest, or when its hash no longer matches (a hand edit). A submission whose code changed
without a new `version` is refused: one entry per method version.

The test split is the hidden one: re-running it needs the maintainers' secret and draws (`zoo.splits`), and earns
the "verified" status. It is also rationed (`Ledger`, docs/disclosure.md): at most one verified run per submitter
(anyone sharing the contact address or an author name) per benchmark version per `PERIOD_DAYS`, recorded in the
committed `leaderboard/verified-ledger.json`; a submission over its ration is refused with one line and the others
are scored.

In one process (`rerun`) everything happens on one machine. For CI the same work splits into three stages that talk
through folders, so that submitted code never runs where the secret or the salt is (`.github/workflows/rerun-hidden.yml`):
- `export_blinded` (secret and draws; runs no submitted code): the built, probed test split's evidence as a
  workspace whose manifest has no labels, conditions or provenance (`blind`);
- `detect_stage` (no secret, no salt, no labels): every submission run contained on that workspace, one
  `StageRun` file each (verdicts; on the test split no failure text and no timing);
- `score_stage` (secret, draws and salt; runs no submitted code): the labels recomputed from the secret and the
  draws (`zoo.manifest.derive_pairs`, checked against the exported pairs), scored, signed and written.

A broken submission never stops the others: each is validated, run and written on its own; problems are reported
together at the end, one line each.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from distillbench.detect.runner import VerdictFile
from distillbench.errors import DistillBenchError
from distillbench.evidence.view import EvidenceView
from distillbench.files import read_model, write_model
from distillbench.fingerprint import sha256_file
from distillbench.submission import BENCHMARK_VERSION
from distillbench.submission.evaluate import build_record
from distillbench.submission.execute import RunOutcome, run_split, split_pairs
from distillbench.submission.folder import Submission, SubmissionInvalid, load_submission
from distillbench.submission.results import SubmissionResults, headline, load_results, results_path, write_results
from distillbench.submission.sandbox import Bubblewrap, Limits
from distillbench.zoo.manifest import Manifest
from distillbench.zoo.splits import read_secret

PERIOD_DAYS = 30
LEDGER_FILE = "leaderboard/verified-ledger.json"
STAGE_SCHEMA_VERSION = 1


@dataclass
class RerunEntry:
    folder: Path
    action: Literal["scored", "up to date", "invalid", "refused"]
    message: str
    path: Path | None = None
    record: SubmissionResults | None = None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- the resubmission ledger ------------------------------------------------------------------------------------

class LedgerRun(_Strict):
    slug: str
    version: str
    benchmark_version: str
    date: str  # YYYY-MM-DD of the verified run
    submitter: list[str]  # the contact address and author names, case-folded


class Ledger(_Strict):
    """Every verified run, committed with the results: what the ration is counted against."""

    schema_version: int = 1
    period_days: int = PERIOD_DAYS
    runs: list[LedgerRun] = []

    @staticmethod
    def submitter(sub: Submission) -> list[str]:
        names = {a.name.strip().casefold() for a in sub.meta.authors}
        return sorted(names | ({sub.meta.contact.strip().casefold()} if sub.meta.contact else set()))

    def refusal(self, sub: Submission, benchmark_version: str, today: dt.date) -> str | None:
        """Why `sub` may not have a verified run today, or None. Re-scoring a version already run is not a new run."""
        me = set(self.submitter(sub))
        for run in self.runs:
            if run.benchmark_version != benchmark_version or not me & set(run.submitter):
                continue
            if (run.slug, run.version) == (sub.slug, sub.meta.version):
                return None
            when = dt.date.fromisoformat(run.date)
            if (today - when).days < self.period_days:
                nxt = when + dt.timedelta(days=self.period_days)
                return (f"submission {sub.slug} {sub.meta.version}: refused: its submitter ({', '.join(sorted(me & set(run.submitter)))}) "
                        f"had a verified run of {run.slug} {run.version} on {run.date} under benchmark "
                        f"{benchmark_version}; one verified run per submitter per {self.period_days} days per "
                        f"benchmark version (docs/disclosure.md), next from {nxt.isoformat()}")
        return None

    def record(self, sub: Submission, benchmark_version: str, today: dt.date) -> None:
        key = (sub.slug, sub.meta.version, benchmark_version)
        if not any((r.slug, r.version, r.benchmark_version) == key for r in self.runs):
            self.runs.append(LedgerRun(slug=sub.slug, version=sub.meta.version, benchmark_version=benchmark_version,
                                       date=today.isoformat(), submitter=self.submitter(sub)))


def read_ledger(path: Path) -> Ledger:
    return read_model(path, Ledger, "verified-run ledger") if Path(path).is_file() else Ledger()


# -- shared pieces --------------------------------------------------------------------------------------------

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


def stale_reason(old: SubmissionResults, suite: str, evidence_sha256: str, manifest_sha256: str,
                 benchmark_version: str) -> str | None:
    if old.benchmark_version != benchmark_version:
        return f"benchmark version {old.benchmark_version} -> {benchmark_version}"
    if old.suite != suite:
        return f"suite {old.suite} -> {suite}"
    if old.evidence_sha256 != evidence_sha256:
        return "evidence changed"
    if old.manifest_sha256 != manifest_sha256:
        return "manifest changed"
    return None


def _load(folder: Path) -> Submission | str:
    """The submission, or one line saying why it is refused (never a traceback: one bad folder costs nobody else)."""
    try:
        return load_submission(folder)
    except SubmissionInvalid as exc:
        return f"submission {folder.name}: invalid: {'; '.join(exc.problems)}"
    except (DistillBenchError, ValueError, TypeError, RecursionError, OSError, UnicodeError) as exc:
        first = (str(exc).splitlines() or [""])[0][:300]
        return f"submission {folder.name}: invalid: {type(exc).__name__}: {first}"


def _loaded(submissions_dir: Path, slugs: list[str] | None, entries: list[RerunEntry], progress):  # noqa: ANN001
    """(folder, submission) for every submission that loads; each that does not becomes one "invalid" entry."""
    for folder in discover(submissions_dir, slugs):
        sub = _load(folder)
        if isinstance(sub, str):
            entries.append(RerunEntry(folder, "invalid", sub))
            progress(f"rerun: {sub}")
            continue
        yield folder, sub


def _plan(sub: Submission, path: Path, suite: str, evidence_sha: str, manifest_sha: str, benchmark_version: str,
          force: bool) -> tuple[str, str | None]:
    """("run", reason) | ("up to date", None) | ("invalid", message) for one loaded submission."""
    if not path.exists():
        return "run", "new"
    try:
        old = load_results(path)
    except DistillBenchError as exc:
        return "run", f"re-scoring: {exc}"
    # Checked before --force: changed code under an old version would otherwise get a run the ledger never charges.
    if old.submission_sha256 != sub.sha256:
        return "invalid", (f"submission {sub.slug} changed since version {sub.meta.version} was scored ({path}); a "
                           "changed method is a new entry: bump `version` in submission.yaml")
    if force:
        return "run", "forced"
    reason = stale_reason(old, suite, evidence_sha, manifest_sha, benchmark_version)
    return ("up to date", None) if reason is None else ("run", f"re-scoring: {reason}")


def _finish(entries: list[RerunEntry]) -> list[RerunEntry]:
    bad = [e for e in entries if e.action in ("invalid", "refused")]
    if bad:
        raise DistillBenchError(f"rerun finished; {len(entries) - len(bad)} of {len(entries)} submissions are up to "
                                f"date or re-scored, {len(bad)} refused:\n" + "\n".join(e.message for e in bad))
    return entries


def _today(today: dt.date | None) -> dt.date:
    return today or dt.datetime.now(dt.timezone.utc).date()


# -- one process ------------------------------------------------------------------------------------------------

def rerun(view: EvidenceView, manifest_path: Path, split: str, submissions_dir: Path, results_dir: Path,
          slugs: list[str] | None, limits: Limits, sandbox: Bubblewrap, force: bool = False,
          benchmark_version: str | None = None, progress=print, ledger_path: Path | None = None,  # noqa: ANN001
          today: dt.date | None = None) -> list[RerunEntry]:
    """Validate, run contained, score and write every named submission (None: all); see the module docstring.
    `ledger_path`: the verified-run ledger (test split only; default `LEDGER_FILE` beside `results_dir`'s parent)."""
    benchmark_version = benchmark_version or BENCHMARK_VERSION
    if split == "test":
        read_secret()  # only its presence: the test suite was built from it; it never reaches a sandbox
    split_pairs(view, split)
    sandbox.check()
    today = _today(today)
    ledger_path = Path(ledger_path) if ledger_path else Path(results_dir).parent / Path(LEDGER_FILE).name
    ledger = read_ledger(ledger_path) if split == "test" else None
    evidence_sha, manifest_sha = view.digest(), sha256_file(manifest_path)
    entries: list[RerunEntry] = []
    for folder, sub in _loaded(submissions_dir, slugs, entries, progress):
        path = results_path(results_dir, sub.slug, sub.meta.version, split)
        action, reason = _plan(sub, path, view.manifest.suite, evidence_sha, manifest_sha, benchmark_version, force)
        if action == "up to date":
            entries.append(RerunEntry(folder, "up to date", "up to date", path, load_results(path)))
            progress(f"rerun: {sub.slug} {sub.meta.version} ({split}): up to date ({path})")
            continue
        if action == "invalid":
            entries.append(RerunEntry(folder, "invalid", reason, path))
            progress(f"rerun: {reason}")
            continue
        refusal = ledger.refusal(sub, benchmark_version, today) if ledger is not None else None
        if refusal:
            entries.append(RerunEntry(folder, "refused", refusal, path))
            progress(f"rerun: {refusal}")
            continue
        try:
            outcome = run_split(sub, view, split, limits, sandbox)
            record = write_results(path, build_record(sub, view, manifest_path, outcome, limits, benchmark_version))
        except Exception as exc:  # noqa: BLE001 (one submission's failure, of any kind, costs nobody else)
            why = str(exc) if isinstance(exc, DistillBenchError) else f"{type(exc).__name__}: {str(exc)[:300]}"
            entries.append(RerunEntry(folder, "invalid", f"submission {sub.slug}: not scored: {why}", path))
            progress(f"rerun: {entries[-1].message}")
            continue
        if ledger is not None:
            ledger.record(sub, benchmark_version, today)
            write_model(ledger_path, ledger)
        took = f" in {record.seconds:.1f}s" if record.seconds is not None else ""
        msg = (f"{reason}; {record.n_pairs} pairs{took}, {record.n_failed} failed, {headline(record.metrics)}, "
               f"{record.status}")
        entries.append(RerunEntry(folder, "scored", msg, path, record))
        progress(f"rerun: {sub.slug} {sub.meta.version} ({split}): {msg} -> {path}")
    return _finish(entries)


# -- three stages (CI) -------------------------------------------------------------------------------------------

class ExportIndex(_Strict):
    """What the score stage needs to know about the exported split without seeing the real manifest."""

    schema_version: int = STAGE_SCHEMA_VERSION
    suite: str
    split: str
    manifest_sha256: str  # of the maintainers' manifest, labels included
    evidence_sha256: str


class StageRun(_Strict):
    """One submission's contained run, as the detect stage hands it to the score stage (no labels anywhere)."""

    schema_version: int = STAGE_SCHEMA_VERSION
    slug: str
    version: str
    submission_sha256: str
    isolation: str
    limits: Limits
    load_error: str | None  # dev only; on the test split a bare "failed to load"
    failures: dict[str, str]  # dev only; on the test split every reason is "failed"
    verdicts: VerdictFile


EXPORT_INDEX = "export.json"
WITHHELD = "failed"  # what a failure says in a test-split stage file: the detector wrote the real text


@dataclass
class _Labelled:
    """What `build_record` reads of an evidence view: the manifest with its labels."""

    manifest: Manifest


def blind(manifest: Manifest) -> Manifest:
    """The manifest with everything that says which pair is which removed: labels, conditions, weight sharing,
    provenance, seeds, personas, lineage; what the evidence view reads (names, roles, fingerprints, pairs' members,
    pool) is kept, so the evidence digest is unchanged."""
    return manifest.model_copy(update={
        "suite_spec_sha256": "", "corpus_seed": 0, "teacher_distinctness": None,
        "models": [m.model_copy(update={"spec_sha256": "", "seed": 0, "persona": None, "init": None, "provenance": [],
                                        "arch": {}, "n_params": 0, "sha256": ""}) for m in manifest.models],
        "pairs": [p.model_copy(update={"label": -1, "conditions": [], "shares_weights_with_teacher": False})
                  for p in manifest.pairs],
    })


def export_blinded(view: EvidenceView, manifest_path: Path, split: str, out_home: Path,
                   with_models: bool = False) -> ExportIndex:
    """A workspace at `out_home` holding the split's evidence and a blinded manifest (`blind`): what the detect
    stage runs on. The secret, the draws and the labels stay behind; so do the model weights unless `with_models`
    (needed when a submission queries models itself, `distillbench.query`: the harness answers from them, outside
    the sandbox, which never sees the export)."""
    from distillbench.paths import Workspace

    split_pairs(view, split)
    manifest, ws = view.manifest, Workspace(Path(out_home))
    src_dir, dst_dir = view.suite_dir, ws.suite_dir(manifest.suite)
    if ws.home.exists():
        raise DistillBenchError(f"{ws.home} exists; the export goes into a new folder")
    dst_dir.mkdir(parents=True)
    shutil.copyfile(src_dir / manifest.pool.path, dst_dir / manifest.pool.path)
    if (src_dir / "pools").is_dir():
        shutil.copytree(src_dir / "pools", dst_dir / "pools")
    for m in manifest.models:
        if m.role == "base":
            continue
        if with_models:
            shutil.copytree(src_dir / m.path, dst_dir / m.path)
        for task, fp in view.fps(m.name).items():
            if view.store.has(m.fingerprint, task, fp):
                src = view.store.path(m.fingerprint, task, fp)
                dst = ws.evidence_dir / src.relative_to(view.store.root)
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, dst)
        if m.role == "teacher":
            for fname in ("generation_config.json", "tokenizer.json"):
                for folder in (src_dir / m.path, src_dir / "teachers" / m.name):
                    if (folder / fname).is_file():
                        (dst_dir / "teachers" / m.name).mkdir(parents=True, exist_ok=True)
                        shutil.copyfile(folder / fname, dst_dir / "teachers" / m.name / fname)
                        break
    write_model(ws.manifest_path(manifest.suite), blind(manifest))
    index = ExportIndex(suite=manifest.suite, split=split, manifest_sha256=sha256_file(manifest_path),
                        evidence_sha256=view.digest())
    write_model(ws.home / EXPORT_INDEX, index)
    return index


def stage_path(runs_dir: Path, slug: str, version: str, split: str) -> Path:
    return Path(runs_dir) / slug / f"{version}-{split}.run.json"


def detect_stage(view: EvidenceView, split: str, submissions_dir: Path, runs_dir: Path, slugs: list[str] | None,
                 limits: Limits, sandbox: Bubblewrap, progress=print) -> list[RerunEntry]:  # noqa: ANN001
    """Run every submission contained on `view` (a blinded export: no labels in this process) and write one
    `StageRun` each. Decides nothing about staleness or rations: the score stage does, with the results at hand."""
    split_pairs(view, split)
    sandbox.check()
    if any(p.label != -1 for p in view.manifest.pairs if p.split == split) and split == "test":
        raise DistillBenchError("the detect stage runs on a blinded export (`rerun --stage export`), never on a "
                                "workspace that holds the test labels")
    entries: list[RerunEntry] = []
    for folder, sub in _loaded(submissions_dir, slugs, entries, progress):
        try:
            outcome = run_split(sub, view, split, limits, sandbox)
        except Exception as exc:  # noqa: BLE001 (one submission's failure, of any kind, costs nobody else)
            why = str(exc) if isinstance(exc, DistillBenchError) else f"{type(exc).__name__}: {str(exc)[:300]}"
            entries.append(RerunEntry(folder, "invalid", f"submission {sub.slug}: not run: {why}"))
            progress(f"rerun: {entries[-1].message}")
            continue
        hidden = split == "test"
        vf = outcome.verdicts
        if hidden:  # no detector-written text, no timing and no per-pair cost (the detector's requests, chosen
            # after seeing hidden evidence, are a channel) leave this stage on the hidden split; the means stay
            vf = vf.model_copy(update={"seconds": 0.0, "verdicts": [
                v.model_copy(update={"cost": None, **({"error": WITHHELD} if v.error is not None else {})})
                for v in vf.verdicts]})
        run = StageRun(slug=sub.slug, version=sub.meta.version, submission_sha256=sub.sha256,
                       isolation=outcome.isolation, limits=limits,
                       load_error=(WITHHELD if hidden else outcome.load_error) if outcome.load_error else None,
                       failures={k: WITHHELD if hidden else v for k, v in outcome.failures.items()}, verdicts=vf)
        path = stage_path(runs_dir, sub.slug, sub.meta.version, split)
        write_model(path, run)
        entries.append(RerunEntry(folder, "scored", f"{len(vf.verdicts)} pairs run, {outcome.n_failed} failed", path))
        progress(f"rerun: {sub.slug} {sub.meta.version} ({split}): detect stage: {entries[-1].message} -> {path}")
    return _finish(entries)


def restore_labels(blinded: Manifest, dev_suite_ref: str) -> Manifest:
    """The blinded test manifest with its pairs recomputed from the secret and the draws (no model is trained: the
    pairs are a function of the spec), refused unless they are exactly the exported ones."""
    from distillbench.zoo.manifest import derive_pairs
    from distillbench.zoo.spec import load_suite
    from distillbench.zoo.splits import draw_test_spec

    spec = draw_test_spec(load_suite(dev_suite_ref), read_secret())
    if spec.name != blinded.suite:
        raise DistillBenchError(f"the secret draws suite {spec.name}, the export holds {blinded.suite}")
    pairs = derive_pairs(spec)
    ids = lambda ps: [(p.pair_id, p.teacher, p.student, p.split) for p in ps]  # noqa: E731
    if ids(pairs) != ids(blinded.pairs):
        raise DistillBenchError(f"the pairs drawn from the secret and draws do not match the exported {blinded.suite}: "
                                "another secret, other draws or another benchmark version than the build")
    return blinded.model_copy(update={"pairs": pairs})


def score_stage(export_home: Path, dev_suite_ref: str, split: str, submissions_dir: Path, runs_dir: Path,
                results_dir: Path, slugs: list[str] | None, force: bool = False,
                benchmark_version: str | None = None, progress=print, ledger_path: Path | None = None,  # noqa: ANN001
                today: dt.date | None = None, manifest_path: Path | None = None) -> list[RerunEntry]:
    """Score the detect stage's runs against the labels, sign and write them; runs no submitted code.

    The labels come from `manifest_path` (the maintainers' manifest, where this machine has the build) or, on a
    machine that only has the export, are recomputed from the secret and the draws (`restore_labels`)."""
    import tempfile

    from distillbench.paths import Workspace

    benchmark_version = benchmark_version or BENCHMARK_VERSION
    today = _today(today)
    index = read_model(Path(export_home) / EXPORT_INDEX, ExportIndex, "export index")
    if index.split != split:
        raise DistillBenchError(f"the export holds the {index.split} split, not {split}")
    blinded = read_model(Workspace(Path(export_home)).manifest_path(index.suite), Manifest, "exported manifest")
    if manifest_path is not None:
        manifest = read_model(Path(manifest_path), Manifest, "manifest")
        if sha256_file(manifest_path) != index.manifest_sha256:
            raise DistillBenchError(f"{manifest_path} is not the manifest the export was made from")
    elif split == "test":
        manifest = restore_labels(blinded, dev_suite_ref)
    else:
        raise DistillBenchError("scoring the dev split needs its manifest (--manifest)")
    ledger_path = Path(ledger_path) if ledger_path else Path(results_dir).parent / Path(LEDGER_FILE).name
    ledger = read_ledger(ledger_path) if split == "test" else None
    entries: list[RerunEntry] = []
    with tempfile.TemporaryDirectory(prefix="distillbench-score-") as tmp:
        labelled = Path(tmp) / "manifest.json"
        write_model(labelled, manifest)

        view = _Labelled(manifest)
        for folder, sub in _loaded(submissions_dir, slugs, entries, progress):
            run_file = stage_path(runs_dir, sub.slug, sub.meta.version, split)
            path = results_path(results_dir, sub.slug, sub.meta.version, split)
            action, reason = _plan(sub, path, index.suite, index.evidence_sha256, index.manifest_sha256,
                                   benchmark_version, force)
            if action == "up to date":
                entries.append(RerunEntry(folder, "up to date", "up to date", path, load_results(path)))
                progress(f"rerun: {sub.slug} {sub.meta.version} ({split}): up to date ({path})")
                continue
            refusal = reason if action == "invalid" else (ledger.refusal(sub, benchmark_version, today) if ledger else None)
            if refusal is None and not run_file.is_file():
                refusal = f"submission {sub.slug} {sub.meta.version}: not scored: the detect stage left no {run_file}"
            if refusal is None:
                try:
                    run = read_model(run_file, StageRun, "detect-stage run")
                except DistillBenchError as exc:
                    run, refusal = None, f"submission {sub.slug} {sub.meta.version}: not scored: {exc}"
                if run is not None and run.submission_sha256 != sub.sha256:
                    refusal = (f"submission {sub.slug} {sub.meta.version}: not scored: the detect stage ran other code "
                               "than this folder holds")
                if run is not None and run.verdicts.evidence_sha256 != index.evidence_sha256:
                    refusal = f"submission {sub.slug} {sub.meta.version}: not scored: the detect stage ran on other evidence"
                # The record's disclosure follows the split it claims: everything it claims must be this run's.
                if run is not None and (run.verdicts.split, run.verdicts.suite, run.verdicts.access) != (
                        split, index.suite, sub.meta.track.value):
                    refusal = (f"submission {sub.slug} {sub.meta.version}: not scored: the detect stage's run is of "
                               f"split {run.verdicts.split}, suite {run.verdicts.suite}, track {run.verdicts.access}")
            if refusal:
                entries.append(RerunEntry(folder, "invalid" if action == "invalid" else "refused", refusal, path))
                progress(f"rerun: {refusal}")
                continue
            outcome = RunOutcome(verdicts=run.verdicts, isolation=run.isolation, load_error=run.load_error,
                                 failures=run.failures)
            record = build_record(sub, view, labelled, outcome, run.limits, benchmark_version)
            record = write_results(path, record.model_copy(update={"manifest_sha256": index.manifest_sha256,
                                                                   "metrics": record.metrics.model_copy(
                                                                       update={"manifest_sha256": index.manifest_sha256})}))
            if ledger is not None:
                ledger.record(sub, benchmark_version, today)
                write_model(ledger_path, ledger)
            msg = f"{reason}; {record.n_pairs} pairs, {record.n_failed} failed, {headline(record.metrics)}, {record.status}"
            entries.append(RerunEntry(folder, "scored", msg, path, record))
            progress(f"rerun: {sub.slug} {sub.meta.version} ({split}): {msg} -> {path}")
    return _finish(entries)
