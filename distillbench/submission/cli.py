"""The submission subcommands, added to `distillbench`'s parser by `add_commands` (one hook in distillbench.cli).

    distillbench submission new SLUG             scaffold submissions/SLUG/ from the template
    distillbench submission validate FOLDER      schema, files, entry point, contained run on the dev split
    distillbench submission run FOLDER           contained run on the dev split; results into the workspace
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
    from distillbench.submission.suite import open_view, suite_name
    from distillbench.zoo.splits import test_suite_name

    name = suite_name(args.suite)
    # The hidden split of a suite is its own build (`zoo build --split test`), under the suite's name + "-test".
    if split == "test" and args.ws.manifest_path(test_suite_name(name)).is_file():
        name = test_suite_name(name)
    return open_view(args.ws, name), args.ws.manifest_path(name)


def cmd_new(args) -> None:
    from distillbench.submission.scaffold import new_submission

    target = new_submission(args.slug, Path(args.dir), name=args.name)
    print(f"created {target}/: edit submission.yaml and detector.py, then run\n"
          f"  distillbench submission validate {target}")


def cmd_validate(args) -> None:
    from distillbench.submission.validate import validate

    if args.no_run:
        view, manifest_path = None, None
    else:
        view, manifest_path = _open(args)
    report = validate(Path(args.folder), view, manifest_path, _limits(args), _sandbox(args))
    print(report.summary())
    if report.outcome is not None:
        print(f"isolation: {report.outcome.isolation}")


def cmd_run(args) -> None:
    from distillbench.score.results import ranked_table
    from distillbench.submission.evaluate import evaluate
    from distillbench.submission.folder import load_submission
    from distillbench.submission.results import results_path, write_results

    sub = load_submission(Path(args.folder))
    view, manifest_path = _open(args)
    outcome, record = evaluate(sub, view, manifest_path, "dev", _limits(args), _sandbox(args))
    path = results_path(args.ws.home / "submissions", sub.slug, sub.meta.version, "dev")
    write_results(path, record)
    print(ranked_table(record.metrics))
    if outcome.load_error:
        print(f"failed to load: {outcome.load_error}")
    for pid, err in outcome.failures.items():
        if not outcome.load_error:
            print(f"failed: pair {pid}: {err}")
    print(f"isolation: {outcome.isolation}")
    print(f"results: {path} (local, status {record.status}; the leaderboard's files are written by the maintainers' "
          "`distillbench rerun`)")


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
    from distillbench.submission.rerun import rerun

    if not args.all and not args.submission:
        raise DistillBenchError("say which submissions to re-run: --all, or --submission SLUG (repeatable)")
    if args.split == "test":
        from distillbench.zoo.splits import read_secret

        read_secret()
    view, manifest_path = _open(args, args.split)
    results_dir = Path(args.results_dir)
    entries = rerun(view, manifest_path, args.split, Path(args.submissions_dir), results_dir,
                    None if args.all else args.submission, _limits(args),
                    _sandbox(args, [results_dir.resolve()]), force=args.force)
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
                        help="check schema and files, then run the detector contained on the public dev split")
    p.add_argument("folder", help="the submission folder, e.g. submissions/my-detector")
    p.add_argument("--no-run", action="store_true", help="check schema and files only (fast; CI always runs)")
    p.set_defaults(func=cmd_validate)
    p = cmds.add_parser("run", parents=[common, suite, limits, unsafe],
                        help="run the detector contained on the dev split, score it, write a local results file")
    p.add_argument("folder", help="the submission folder, e.g. submissions/my-detector")
    p.set_defaults(func=cmd_run)
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
                        "<suite>-test), needs $DISTILLBENCH_TEST_SECRET ('verified')")
    p.add_argument("--submissions-dir", default=DEFAULT_SUBMISSIONS, help="default: submissions")
    p.add_argument("--results-dir", default=DEFAULT_RESULTS, help="default: leaderboard/results")
    p.add_argument("--force", action="store_true", help="re-score even up-to-date results")
    p.set_defaults(func=cmd_rerun)
