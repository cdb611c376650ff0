"""`distillbench`: build the zoo, probe it with lm-eval, run detectors, score them; or all at once with `run`.

Every stage reads and writes files in the workspace (see `distillbench.paths`), so each can be re-run alone.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from distillbench.errors import DistillBenchError
from distillbench.paths import Workspace


def _quiet_libraries() -> None:
    """Only for the stages that load models: importing transformers costs seconds every other command can skip."""
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    import datasets

    datasets.utils.logging.set_verbosity_error()
    datasets.disable_progress_bars()


def _build_spec(args):
    """The suite to build: the bundled/YAML suite, or with `--split test` its hidden split drawn from the secret."""
    from distillbench.zoo.spec import load_suite

    spec = load_suite(args.suite_ref)
    if getattr(args, "split", "dev") == "test":
        from distillbench.zoo.splits import draw_test_spec, read_secret

        spec = draw_test_spec(spec, read_secret())
    return spec


def cmd_zoo_build(args) -> None:
    from distillbench.zoo.build import build_suite

    _quiet_libraries()
    start = time.perf_counter()
    spec = _build_spec(args)
    workers = getattr(args, "workers", 0) or max(1, (os.cpu_count() or 1) // spec.threads)
    manifest, builder = build_suite(spec, args.ws, progress=not args.no_progress, workers=workers)
    args.suite = manifest.suite  # `run --split test` goes on with the test suite
    print(f"zoo: suite {manifest.suite}: {len(builder.built)} models built, {len(builder.reused)} reused, "
          f"{len(manifest.pairs)} pairs, {time.perf_counter() - start:.1f}s -> {args.ws.manifest_path(manifest.suite)}")


def cmd_zoo_verify(args) -> None:
    """Rebuild models from their specs in a scratch folder and compare their weights' sha256 with the manifest."""
    import tempfile
    from pathlib import Path

    from distillbench.fingerprint import sha256_file
    from distillbench.zoo.build import SuiteBuilder, load_manifest

    _quiet_libraries()
    spec = _build_spec(args)
    manifest = load_manifest(args.ws, spec.name)
    names = [m.name for m in spec.models] if args.all else (args.model or [])
    if not names:
        raise DistillBenchError("say which models to rebuild: --model NAME (repeatable) or --all")
    builder = SuiteBuilder(spec, args.ws, progress=not args.no_progress)
    mismatched = []
    checked: dict[str, bool] = {}  # dependency -> its weights match the manifest (hashed once, however many use it)
    for name in names:
        m = spec.model(name)  # an unknown name fails here, before any work
        for dep in sorted(m.teachers_distilled() | ({m.init} - {None})):
            on_disk = args.ws.suite_dir(spec.name) / manifest.model(dep).path / "model.safetensors"
            if dep not in checked:
                checked[dep] = on_disk.is_file() and sha256_file(on_disk) == manifest.model(dep).sha256
            if not checked[dep]:
                raise DistillBenchError(f"{name} depends on {dep}, whose weights in {on_disk.parent} are missing or "
                                        f"differ from the manifest; verify or rebuild {dep} first")
        start = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="distillbench-verify-") as scratch:
            got = builder.rebuild(name, Path(scratch))
        want = manifest.model(name).sha256
        verdict = "identical" if got == want else "DIFFERS"
        print(f"zoo verify: {name}: rebuilt in {time.perf_counter() - start:.1f}s, sha256 {got[:16]} vs manifest "
              f"{want[:16]}: {verdict}")
        if got != want:
            mismatched.append(name)
    if mismatched:
        raise DistillBenchError(f"{len(mismatched)} of {len(names)} rebuilt models differ from the manifest: "
                                f"{', '.join(mismatched)} (different library versions or thread count? see manifest "
                                "`versions`)")


def _taskset(args, manifest):
    from distillbench.probe.tasks import TaskSet, tasks_dir

    return TaskSet(root=tasks_dir(), pool_path=args.ws.suite_dir(manifest.suite) / manifest.pool.path)


def cmd_probe(args) -> None:
    from distillbench.evidence.store import EvidenceStore
    from distillbench.probe.runner import ProbeTarget, probe_hidden_states, probe_models
    from distillbench.zoo.build import load_manifest
    from distillbench.zoo.pools import model_pool_path

    _quiet_libraries()
    manifest = load_manifest(args.ws, args.suite)
    targets = []
    suite_dir = args.ws.suite_dir(manifest.suite)
    for record in manifest.models:
        if record.role == "base":
            continue
        target = ProbeTarget.local(record.name, suite_dir / record.path,
                                   pool_path=model_pool_path(suite_dir, manifest, record.name))
        if target.fingerprint != record.fingerprint:
            raise DistillBenchError(f"model {record.name} on disk differs from the manifest; rebuild with `distillbench zoo build --suite {args.suite}`")
        targets.append(target)
    shard = getattr(args, "shard", None)
    if shard:
        try:
            k, n = (int(x) for x in shard.split("/"))
        except ValueError:
            k = n = 0
        if not 1 <= k <= n:
            raise DistillBenchError(f"--shard takes K/N with 1 <= K <= N, e.g. 1/2; got {shard!r}")
        targets = targets[k - 1 :: n]
    taskset = _taskset(args, manifest)
    store = EvidenceStore(args.ws.evidence_dir)
    report = probe_models(targets, taskset, store, device=args.device, batch_size=args.batch_size,
                          progress=not args.no_progress)
    roles = {m.name: m.role for m in manifest.models}
    open_models = [t for t in targets if roles[t.name] != "teacher"]
    hidden = probe_hidden_states(open_models, taskset.pool_path, store, device=args.device, progress=not args.no_progress)
    calls = report.model_calls + hidden.model_calls
    if calls == 0:
        print(f"probe: all {report.records_cached + hidden.records_cached} evidence records cached; 0 model calls")
    else:
        per = sum(report.seconds_per_model.values()) / max(1, report.model_calls)
        print(f"probe: {calls} model calls ({report.model_calls} lm-eval runs, {per:.1f}s each; "
              f"{hidden.model_calls} hidden-state passes), {report.records_written + hidden.records_written} records "
              f"written, {report.records_cached + hidden.records_cached} cached")


def _query_harness(view, specs: list[str]):  # noqa: ANN001, ANN202
    """The harness that answers detectors' own queries: the suite's model directories, except the models that
    `--query-model NAME=SPEC` points elsewhere (`query.remote.backend_from_spec`)."""
    from distillbench.errors import DistillBenchError
    from distillbench.query.harness import QueryHarness

    known = {m.name for m in view.manifest.models}
    routes = {}
    for item in specs:
        name, sep, spec = item.partition("=")
        if not sep or not spec:
            raise DistillBenchError(f"--query-model {item!r}: expected NAME=SPEC (e.g. teacher-1=openai:http://host:8000/v1#model)")
        if name not in known:
            raise DistillBenchError(f"--query-model {item!r}: suite {view.manifest.suite} has no model {name!r}")
        routes[name] = spec
    return QueryHarness.for_view(view, routes=routes)


def cmd_detect(args) -> None:
    from distillbench.detect.registry import available, get_detector
    from distillbench.detect.runner import detect
    from distillbench.evidence.view import open_suite_view

    from distillbench.detect.base import budget_of
    from distillbench.errors import DistillBenchError
    from distillbench.query.harness import QueryHarness
    from distillbench.query.meter import Budget, describe

    names = args.detector or available()
    for name in names:
        get_detector(name)  # unknown names fail before any work
    fresh = getattr(args, "no_cache", False)
    view = open_suite_view(args.ws, args.suite, memo=not fresh)
    querying = [n for n in names if budget_of(get_detector(n)) is not Budget.EVIDENCE_ONLY]
    harness = _query_harness(view, getattr(args, "query_model", [])) if querying else None
    if querying:
        try:
            harness.check_models([p for p in view.manifest.pairs if p.split == "dev"])
        except DistillBenchError as exc:
            if args.detector:  # asked for by name: say why it cannot run
                raise
            # The default set on a suite installed from published evidence (no weights): run the rest.
            names = [n for n in names if n not in querying]
            print(f"detect: skipping {', '.join(querying)}: {exc}")
    for run in detect(names, view, args.ws, use_cache=not fresh, harness=harness,
                      progress=not getattr(args, "no_progress", False)):
        vf = run.verdicts
        failed = sum(v.error is not None for v in vf.verdicts)
        took = f"cached (detected in {vf.seconds:.2f}s)" if run.cached else f"in {vf.seconds:.2f}s"
        print(f"detect: {vf.detector}: {len(vf.verdicts)} pairs {took}" + (f", {failed} failed" if failed else ""))
        if vf.cost is not None and budget_of(get_detector(vf.detector)) is not Budget.EVIDENCE_ONLY:
            print(f"  {describe(vf.cost)}" + (" [cached verdicts]" if run.cached else ""))


def cmd_score(args, only: list[str] | None = None) -> None:
    """Score every verdicts file present; print the ranked table, the paired matrix, resolution and comparator rows."""
    from distillbench.detect.runner import VerdictFile
    from distillbench.files import read_model, write_model
    from distillbench.score.results import (
        COMPARATOR_TEXT,
        comparator_table,
        comparison_matrix,
        ranked_table,
        resolution_lines,
        score,
    )
    from distillbench.evidence.view import load_suite_manifest

    manifest = load_suite_manifest(args.ws, args.suite)
    vdir = args.ws.verdicts_dir(args.suite)
    # Always every verdicts file present, so results.json stays whole when one detector is re-evaluated.
    files = sorted(vdir.glob("*.json")) if vdir.is_dir() else []
    if not files:
        raise DistillBenchError(f"no verdicts in {vdir}; run `distillbench detect --suite {args.suite}` first")
    verdicts = [read_model(f, VerdictFile, "verdicts file") for f in files]
    start = time.perf_counter()
    results = score(manifest, args.ws.manifest_path(args.suite), verdicts)
    seconds = time.perf_counter() - start
    write_model(args.ws.results_path(args.suite), results)
    print(ranked_table(results, only=only))
    print("\nPaired differences (pairs both scored; teacher-clustered jackknife SE, t(G-1)):")
    print(comparison_matrix(results, only=only))
    print()
    print(resolution_lines(results))
    print("\nComparator:", COMPARATOR_TEXT)
    print()
    print(comparator_table(results, only=only))
    print(f"\nresults: {args.ws.results_path(args.suite)} (scored in {seconds:.1f}s)")


def cmd_evaluate(args) -> None:
    """Detect + score on a suite whose evidence exists (no model is built or probed)."""
    if args.all and args.detector:
        raise DistillBenchError("give either --all or --detector NAME, not both")
    cmd_detect(args)
    cmd_score(args, only=args.detector)


def cmd_evidence_export(args) -> None:
    from pathlib import Path

    from distillbench.evidence.bundle import bundles_dir, export_bundle
    from distillbench.evidence.view import open_suite_view

    out = Path(args.out) if args.out else bundles_dir() / args.suite
    view = open_suite_view(args.ws, args.suite)
    bundle = export_bundle(args.ws, args.suite, out, view)
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f"evidence export: suite {bundle.suite}: {len(bundle.records)} records of "
          f"{len({r.model_fingerprint for r in bundle.records})} models, {size / 1e6:.1f} MB -> {out}")


def cmd_run(args) -> None:
    cmd_zoo_build(args)
    cmd_probe(args)
    cmd_detect(args)
    cmd_score(args)


def cmd_detectors(args) -> None:
    from distillbench.detect.registry import available, get_detector

    from distillbench.detect.base import budget_of

    for name in available():
        d = get_detector(name)
        print(f"{name:26s} {d.access.value:13s} {budget_of(d).value:13s} {d.summary}")


def build_parser() -> argparse.ArgumentParser:
    from distillbench.zoo.spec import available_suites

    suites = ", ".join(available_suites())
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--home", help="workspace folder (default: $DISTILLBENCH_HOME or ./.distillbench)")
    common.add_argument("--no-progress", action="store_true", help="hide progress bars (logs stay)")
    suite = argparse.ArgumentParser(add_help=False)
    suite.add_argument("--suite", default="standard",
                       help=f"bundled suite name ({suites}) or path to a suite YAML (default: standard, whose dev "
                            "evidence ships with the repository: detect/evaluate need no build)")
    probe = argparse.ArgumentParser(add_help=False)
    probe.add_argument("--device", default="cpu", help="torch device for lm-eval's hf backend (default: cpu)")
    probe.add_argument("--batch-size", default="16", help="lm-eval batch size, or 'auto' (default: 16)")
    workers = argparse.ArgumentParser(add_help=False)
    workers.add_argument("--workers", type=int, default=0,
                         help="training processes (default: cores / the suite's thread count). Does not change any "
                              "model's bytes: each model trains with the suite's fixed thread count wherever it runs")
    detect = argparse.ArgumentParser(add_help=False)
    detect.add_argument("--detector", action="append", help="detector to run (repeatable; default: all registered)")
    detect.add_argument("--query-model", action="append", default=[], metavar="NAME=SPEC",
                        help="where a detector's own queries to model NAME go (repeatable): hf:DIR, "
                             "lm-eval:MODEL:ARGS (any lm-eval backend, e.g. lm-eval:vllm:pretrained=ID), or "
                             "openai:URL#MODEL (an OpenAI-compatible server such as `vllm serve`); default: the suite's "
                             "own model directory (docs/queries.md)")
    detect.add_argument("--no-cache", action="store_true",
                        help="run every detector even where verdicts for the same detector code, evidence and run key "
                             "are cached, and re-hash every evidence file; the results refresh the cache (in the "
                             "suite's detect-cache/)")

    parser = argparse.ArgumentParser(
        prog="distillbench",
        description="DistillBench: a benchmark for detecting whether a student model was distilled from a teacher. "
        "Stages: zoo build -> probe (lm-eval) -> detect -> score. `run` does all four.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", parents=[common, suite, workers, probe, detect], help="build, probe, detect and score a suite; print the ranked table")
    p.set_defaults(func=cmd_run)
    zoo = sub.add_parser("zoo", help="model zoo commands").add_subparsers(dest="zoo_command", required=True)
    split = argparse.ArgumentParser(add_help=False)
    split.add_argument("--split", choices=["dev", "test"], default="dev",
                       help="dev: the suite as bundled (default); test: its hidden split, drawn from the secret in "
                            "$DISTILLBENCH_TEST_SECRET or the file $DISTILLBENCH_TEST_SECRET_FILE, built as suite "
                            "<suite>-test (maintainers only; see docs/test_split.md)")
    p = zoo.add_parser("build", parents=[common, suite, workers, split], help="train the suite's models (reusing finished ones) and write its manifest")
    p.set_defaults(func=cmd_zoo_build)
    p = zoo.add_parser("verify", parents=[common, suite, split],
                       help="rebuild models from their specs (teacher answers re-sampled) and compare weight hashes "
                            "with the manifest")
    p.add_argument("--model", action="append", metavar="NAME", help="model to rebuild (repeatable)")
    p.add_argument("--all", action="store_true", help="rebuild every model (as long as a full build)")
    p.set_defaults(func=cmd_zoo_verify)
    p = sub.add_parser("probe", parents=[common, suite, probe], help="run every model once through the lm-eval probe tasks; cached evidence is reused")
    p.add_argument("--shard", metavar="K/N",
                   help="probe only every N-th model starting at the K-th (e.g. 1/2 and 2/2 in two processes, or on two "
                        "machines sharing the workspace); records are per model, so shards never collide")
    p.set_defaults(func=cmd_probe)
    p = sub.add_parser("detect", parents=[common, suite, detect], help="run detectors on every pair's evidence (no labels) and write verdicts")
    p.set_defaults(func=cmd_detect)
    p = sub.add_parser("score", parents=[common, suite], help="join verdicts with labels; write results.json and print the ranked table")
    p.set_defaults(func=cmd_score)
    p = sub.add_parser("evaluate", parents=[common, suite, detect],
                       help="run detectors on a suite's existing evidence and print metrics overall and per condition")
    p.add_argument("--all", action="store_true", help="every registered detector (the default when no --detector)")
    p.set_defaults(func=cmd_evaluate)
    p = sub.add_parser("evidence", help="published evidence commands").add_subparsers(dest="evidence_command", required=True)
    p = p.add_parser("export", parents=[common, suite],
                     help="write a built, probed dev suite's evidence as the compact bundle that ships in the repository "
                          "(leaderboard/evidence/<suite>/), which detect/evaluate/rerun install when the suite is not built")
    p.add_argument("--out", help="bundle folder (default: leaderboard/evidence/<suite> in this checkout)")
    p.set_defaults(func=cmd_evidence_export)
    p = sub.add_parser("detectors", help="list registered detectors")
    p.set_defaults(func=cmd_detectors)
    from distillbench.submission.cli import add_commands  # `submission ...` and `rerun` (see CONTRIBUTING.md)

    add_commands(sub, common, suite)
    from distillbench.publish.cli import add_commands as add_site_commands  # `site build` (see README)

    add_site_commands(sub, common)
    from distillbench.real.cli import add_commands as add_real_commands  # `real list|probe` (docs/real_suites.md)
    add_real_commands(sub, common)
    from distillbench.hub.cli import add_commands as add_hub_commands
    add_hub_commands(sub, common, suite)
    return parser


# `submission validate/run` install the evidence themselves, after the static checks (a schema error answers fast).
USES_EVIDENCE = {"detect", "score", "evaluate", "rerun"}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.ws = Workspace.resolve(getattr(args, "home", None))
    if hasattr(args, "batch_size") and args.batch_size != "auto":
        args.batch_size = int(args.batch_size)
    try:
        if isinstance(getattr(args, "suite", None), str):
            # --suite takes a bundled name or a YAML path; every stage after the build works with the suite's name.
            from distillbench.zoo.spec import suite_name

            args.suite_ref = args.suite
            args.suite = suite_name(args.suite)
            if args.command in USES_EVIDENCE:
                # A suite that is not built here but published with the repository (its dev evidence) is installed,
                # so detectors are evaluated in seconds on a fresh clone.
                from distillbench.evidence.bundle import published_fallback

                published_fallback(args.ws, args.suite)
        args.func(args)
    except DistillBenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished models and evidence are kept; run the same command again to resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
