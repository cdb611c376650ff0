"""The submission subcommands, added to `distillbench`'s parser by `add_commands` (one hook in distillbench.cli).

    distillbench submission new SLUG             scaffold submissions/SLUG/ from the template
    distillbench submission validate FOLDER      static checks, then one contained run on the dev split, scored;
                                                 every pair must score (what CI runs); local results file
    distillbench submission run FOLDER           the same pass, accepting failed pairs; prints per-condition results
                                                 and the same track's baselines
    distillbench submission clean [SLUG]         remove local results files from the workspace
    distillbench submission schema               print the JSON Schema of submission.yaml
    distillbench submission verify-results       check every results file's hash
    distillbench rerun --all --split dev|test    maintainers: re-score submissions into leaderboard/results/
"""

from __future__ import annotations

import argparse
from pathlib import Path

from distillbench.errors import DistillBenchError

DEFAULT_SUBMISSIONS = "submissions"
DEFAULT_RESULTS = "leaderboard/results"


def _limits(args):
    from distillbench.submission.sandbox import Limits

    values = {"pair_seconds": args.pair_timeout, "total_seconds": args.total_timeout, "memory_mb": args.memory_mb}
    try:
        return Limits(**{k: v for k, v in values.items() if v is not None})
    except ValueError as exc:
        raise DistillBenchError(f"invalid limit: {str(exc).splitlines()[-1].strip()}") from exc


def _sandbox(args, extra_forbidden: list[Path] = ()):
    """The bubblewrap sandbox, or None for --unsafe-in-process; the workspace and secrets are never mountable."""
    if getattr(args, "unsafe_in_process", False):
        return None
    from distillbench.zoo.splits import secret_paths
    from distillbench.submission.sandbox import Bubblewrap

    return Bubblewrap(forbidden=[args.ws.home, Path(DEFAULT_RESULTS).resolve(), *secret_paths(), *extra_forbidden])


def _open(args, split: str = "dev"):
    from distillbench.evidence.bundle import published_fallback
    from distillbench.submission.suite import open_view, suite_name
    from distillbench.zoo.splits import test_suite_name

    name = suite_name(args.suite)
    # Installs the published dev evidence on first use; here rather than before the command, so that static
    # problems are reported before any evidence is touched.
    published_fallback(args.ws, name)
    # The hidden split of a suite is its own build (`zoo build --split test`), under the suite's name + "-test".
    if split == "test" and args.ws.manifest_path(test_suite_name(name)).is_file():
        name = test_suite_name(name)
    return open_view(args.ws, name), args.ws.manifest_path(name)


def cmd_new(args) -> None:
    from distillbench.submission.scaffold import new_submission

    target = new_submission(args.slug, Path(args.dir), name=args.name)
    print(f"created {target}/: edit submission.yaml and detector.py, then run\n"
          f"  distillbench submission validate {target}")


def _static(args):
    """Every static problem of the folder, in one error, before the suite is opened."""
    from distillbench.submission.folder import load_submission

    return load_submission(Path(args.folder))


def _pass(args, strict: bool):
    from distillbench.submission.validate import validate

    sub = _static(args)
    view, manifest_path = _open(args)
    return validate(sub, view, manifest_path, _limits(args), _sandbox(args), strict=strict,
                    results_dir=args.ws.home / "submissions")


def _written(report) -> str:
    return (f"results: {report.results_path} (local: never published; the leaderboard's files are written by the "
            "maintainers' `distillbench rerun`)")


def cmd_validate(args) -> None:
    from distillbench.submission.validate import ValidationReport

    if args.no_run:
        print(ValidationReport(_static(args)).summary())
        return
    report = _pass(args, strict=True)
    print(report.summary())
    print(f"isolation: {report.outcome.isolation}")
    print(_written(report))


def cmd_run(args) -> None:
    from distillbench.submission.validate import _failure_lines, comparison_text, track_baselines

    report = _pass(args, strict=False)
    record, outcome = report.record, report.outcome
    print(report.summary())
    baselines, source = track_baselines(args.ws, record.suite, record.submission.track.value, exclude=record.submission.slug)
    print()
    print(comparison_text(record, baselines, source))
    if outcome.failures:
        print(f"\nfailed on {outcome.n_failed} of {len(outcome.verdicts.verdicts)} pairs (ranked below every other "
              f"pair): {_failure_lines(outcome, None if args.all_failures else 10)}")
    if outcome.verdicts.cost is not None:
        from distillbench.query.meter import describe

        print(f"\n{describe(outcome.verdicts.cost)}")
    print(f"\nisolation: {outcome.isolation}")
    print(_written(report))


def cmd_clean(args) -> None:
    from distillbench.submission.results import remove_local

    removed = remove_local(args.ws.home / "submissions", args.slug)
    which = f"of {args.slug} " if args.slug else ""
    print(f"clean: removed {len(removed)} local results file(s) {which}from {args.ws.home / 'submissions'}"
          + "".join(f"\n  {p}" for p in removed))


def cmd_schema(args) -> None:
    from distillbench.submission.schema import json_schema_text

    print(json_schema_text(), end="")


def cmd_verify_results(args) -> None:
    from distillbench.submission.results import all_results, load_results

    files = all_results(Path(args.results_dir))
    bad = []
    for path in files:
        try:
            load_results(path)
        except DistillBenchError as exc:
            bad.append(str(exc))
    if bad:
        raise DistillBenchError(f"{len(bad)} of {len(files)} results files failed verification: " + "; ".join(bad))
    print(f"verify-results: {len(files)} results files in {args.results_dir}, all hashes match")


def cmd_rerun(args) -> None:
    from distillbench.submission import rerun as rr

    if not args.all and not args.submission and args.stage != "export":
        raise DistillBenchError("say which submissions to re-run: --all, or --submission SLUG (repeatable)")
    if args.split == "test" and args.stage != "detect":
        from distillbench.zoo.splits import read_secret

        read_secret()
    slugs = None if args.all else args.submission
    results_dir = Path(args.results_dir)
    ledger = Path(args.ledger) if args.ledger else None
    if args.stage == "score":  # no sandbox and no evidence: reads the detect stage's files, runs no submitted code
        if not args.export_dir or not args.runs_dir:
            raise DistillBenchError("--stage score needs --export-dir (the export stage's folder) and --runs-dir (the "
                                    "detect stage's)")
        labels = _open(args, "dev")[1] if args.split == "dev" else None  # the test split's come from the secret
        entries = rr.score_stage(Path(args.export_dir), args.suite, args.split, Path(args.submissions_dir),
                                 Path(args.runs_dir), results_dir, slugs, force=args.force, ledger_path=ledger,
                                 manifest_path=labels)
        scored = sum(e.action == "scored" for e in entries)
        print(f"rerun: {scored} re-scored, {len(entries) - scored} up to date ({args.split} split, score stage)")
        return
    view, manifest_path = _open(args, args.split)
    if args.stage == "export":
        if not args.export_dir:
            raise DistillBenchError("--stage export needs --export-dir (a new folder)")
        index = rr.export_blinded(view, manifest_path, args.split, Path(args.export_dir), with_models=args.with_models)
        print(f"rerun: exported the {args.split} split of {index.suite} without labels -> {args.export_dir}")
        return
    if args.stage == "detect":
        if not args.runs_dir:
            raise DistillBenchError("--stage detect needs --runs-dir (where each submission's run is written)")
        runs_dir = Path(args.runs_dir)
        entries = rr.detect_stage(view, args.split, Path(args.submissions_dir), runs_dir, slugs, _limits(args),
                                  _sandbox(args, [runs_dir.resolve(), results_dir.resolve()]))
        print(f"rerun: {len(entries)} submissions run ({args.split} split, detect stage) -> {runs_dir}")
        return
    entries = rr.rerun(view, manifest_path, args.split, Path(args.submissions_dir), results_dir, slugs, _limits(args),
                       _sandbox(args, [results_dir.resolve()]), force=args.force, ledger_path=ledger)
    scored = sum(e.action == "scored" for e in entries)
    print(f"rerun: {scored} re-scored, {len(entries) - scored} up to date ({args.split} split, suite {view.manifest.suite})")


def add_commands(sub, common: argparse.ArgumentParser, suite: argparse.ArgumentParser) -> None:
    """Adds `submission ...` and `rerun` to the `distillbench` parser."""
    limits = argparse.ArgumentParser(add_help=False)
    limits.add_argument("--pair-timeout", type=float, help="wall-clock seconds allowed per pair (default 60)")
    limits.add_argument("--total-timeout", type=float, help="wall-clock seconds allowed for the whole split (default 1800)")
    limits.add_argument("--memory-mb", type=int, help="memory (address space) limit of the detector process (default 2048)")
    unsafe = argparse.ArgumentParser(add_help=False)
    unsafe.add_argument("--unsafe-in-process", action="store_true",
                        help="DEBUGGING ONLY: run the detector in this process with no sandbox and no limits; never "
                             "for code you did not write")

    group = sub.add_parser("submission", help="write, validate and run detector submissions (see CONTRIBUTING.md)")
    cmds = group.add_subparsers(dest="submission_command", required=True)
    p = cmds.add_parser("new", parents=[common], help="scaffold submissions/SLUG/ from the template")
    p.add_argument("slug", help="folder name: lowercase letters, digits, hyphens (e.g. my-detector)")
    p.add_argument("--name", help="display name of the method")
    p.add_argument("--dir", default=DEFAULT_SUBMISSIONS, help="submissions folder (default: submissions)")
    p.set_defaults(func=cmd_new)
    p = cmds.add_parser("validate", parents=[common, suite, limits, unsafe],
                        help="check schema, files and code, then run the detector contained on the public dev split (a "
                             "score for every pair), and write a local results file")
    p.add_argument("folder", help="the submission folder, e.g. submissions/my-detector")
    p.add_argument("--no-run", action="store_true",
                   help="static checks only: schema, files, imports, entry point (fast; CI always runs)")
    p.set_defaults(func=cmd_validate)
    p = cmds.add_parser("run", parents=[common, suite, limits, unsafe],
                        help="the same pass as validate, accepting failed pairs: prints per-condition results and the "
                             "same track's baselines next to the submission; writes a local results file")
    p.add_argument("folder", help="the submission folder, e.g. submissions/my-detector")
    p.add_argument("--all-failures", action="store_true", help="list every failed pair (default: the first 10)")
    p.set_defaults(func=cmd_run)
    p = cmds.add_parser("clean", parents=[common],
                        help="remove local results files (written by validate/run) from the workspace")
    p.add_argument("slug", nargs="?", help="only this submission's (default: every local results file)")
    p.set_defaults(func=cmd_clean)
    p = cmds.add_parser("schema", help="print the JSON Schema of submission.yaml")
    p.set_defaults(func=cmd_schema)
    p = cmds.add_parser("verify-results", parents=[common], help="check the hash of every results file")
    p.add_argument("--results-dir", default=DEFAULT_RESULTS, help="default: leaderboard/results")
    p.set_defaults(func=cmd_verify_results)

    p = sub.add_parser("rerun", parents=[common, suite, limits],
                       help="maintainers: re-score submissions (contained) and write signed results files")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--all", action="store_true", help="every submission in --submissions-dir")
    which.add_argument("--submission", action="append", metavar="SLUG", help="one submission (repeatable)")
    p.add_argument("--split", choices=["dev", "test"], required=True,
                   help="dev: public split ('dev only'); test: the hidden split built by `zoo build --split test` (suite "
                        "<suite>-test), needs the maintainers' secret and draws ('verified'; one verified run per "
                        "submitter per benchmark version per 30 days, docs/disclosure.md)")
    p.add_argument("--submissions-dir", default=DEFAULT_SUBMISSIONS, help="default: submissions")
    p.add_argument("--results-dir", default=DEFAULT_RESULTS, help="default: leaderboard/results")
    p.add_argument("--force", action="store_true", help="re-score even up-to-date results")
    p.add_argument("--ledger", help="the verified-run ledger the test split's ration is counted in (default: "
                                    "verified-ledger.json beside the results folder)")
    p.add_argument("--stage", choices=["all", "export", "detect", "score"], default="all",
                   help="all (default): everything here; or one of three stages for machines that must not hold "
                        "everything: export (secret: the split's evidence without labels -> --export-dir), detect "
                        "(no secrets: run the submissions on --home=<export> -> --runs-dir), score (secret and salt, "
                        "no submitted code: --export-dir + --runs-dir -> signed results)")
    p.add_argument("--export-dir", help="--stage export/score: the folder of the label-free export")
    p.add_argument("--with-models", action="store_true",
                   help="--stage export: include the model weights, for submissions that query models themselves")
    p.add_argument("--runs-dir", help="--stage detect/score: the folder of the detect stage's runs")
    p.set_defaults(func=cmd_rerun)
