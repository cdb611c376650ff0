"""Containment overhead: contained (bubblewrap, a trusted zygote forking one process per pair) versus in-process.

    python benchmarks/containment.py [--home DIR] [--suite micro] [--repeats 3] [--detector SLUG ...]

For each submission in `submissions/` (the built-in baselines; `--detector` picks some), scores the suite's dev split
three ways and prints the median wall time of each: the detect stage's in-process runner on the registered detector
(`detect.runner`), the submission path in-process (`--unsafe-in-process`: same code, no sandbox), and the
submission path contained, with their ratio (the goal: contained within 2x of in-process) and the contained
overhead per pair. Also prints the cost of starting one sandbox (bwrap + Python + the zygote's preloaded imports +
loading the entry point in a first child, until it reports ready), which is paid once per run, and the evidence
bytes sent to the zygote against one JSON document per pair. Without --home, builds and probes the suite in a
temporary workspace first (minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from distillbench.cli import main
from distillbench.detect.runner import run_detector
from distillbench.paths import Workspace
from distillbench.submission.execute import run_split
from distillbench.submission.folder import Snapshot, load_submission
from distillbench.submission.protocol import Encoder
from distillbench.submission.sandbox import ZYGOTE_START_SECONDS, Bubblewrap, Limits
from distillbench.submission.suite import open_view

REPO = Path(__file__).resolve().parents[1]


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def startup_seconds(sandbox: Bubblewrap, folder: Path, limits: Limits, repeats: int) -> float:
    sub = load_submission(folder)

    def once() -> None:
        with Snapshot(sub) as snap:
            worker = sandbox.start(snap, sub.meta.entry_point, limits)
            line = worker.exchange(None, limits.startup_seconds + ZYGOTE_START_SECONDS, "startup timed out")
            worker.kill()
            assert isinstance(line, bytes) and b'"ready"' in line, line

    return median_time(once, repeats)


def transfer_bytes(view, track, pairs) -> tuple[int, int]:
    """(bytes the encoder sends, bytes of one JSON document per pair) for these pairs."""
    enc, whole = Encoder(), 0
    for pair in sorted(pairs, key=lambda p: p.teacher):  # the order run_split runs them in, contained
        evidence = view.pair(pair, track)
        enc.encode(evidence, 60.0, "")
        whole += len(evidence.model_dump_json()) + 1
    return enc.sent_bytes, whole


def run(home: Path, suite: str, repeats: int, detectors: list[str]) -> None:
    ws = Workspace(home)
    view = open_view(ws, suite)
    sandbox = Bubblewrap(forbidden=[home])
    limits = Limits()
    sandbox.check(limits)
    pairs = [p for p in view.manifest.pairs if p.split == "dev"]
    n_pairs = len(pairs)
    print(f"suite {view.manifest.suite}, dev split: {n_pairs} pairs; median of {repeats} runs; {os.cpu_count()} CPUs")
    print(f"sandbox: {sandbox.describe(limits)}")
    print(f"one sandbox start (bwrap + python + preloaded imports + entry point in a first child, until ready): "
          f"{startup_seconds(sandbox, REPO / 'submissions' / 'random', limits, repeats):.2f}s")
    header = (f"{'submission':24s} {'detect stage':>12s} {'in-process':>11s} {'contained':>10s} {'ratio':>7s} "
              f"{'overhead':>9s} {'per pair':>9s} {'sent':>9s} {'as JSON':>9s}")
    print(header)
    print("-" * len(header))
    totals = [0.0, 0.0]
    folders = sorted(p for p in (REPO / "submissions").iterdir() if p.is_dir() and not p.name.startswith("_"))
    for folder in folders:
        slug = folder.name
        if detectors and slug not in detectors:
            continue
        sub = load_submission(folder)
        registered = slug.replace("-", "_")  # the built-in detector each baseline submission re-exports
        # Warm the evidence cache and imports once so neither side pays first-load costs the other does not.
        run_split(sub, view, "dev", limits, None)
        stage = median_time(lambda name=registered: run_detector(name, view, "dev"), repeats)
        inproc = median_time(lambda s=sub: run_split(s, view, "dev", limits, None), repeats)
        contained = median_time(lambda s=sub: run_split(s, view, "dev", limits, sandbox), repeats)
        sent, whole = transfer_bytes(view, sub.meta.track, pairs)
        totals[0] += inproc
        totals[1] += contained
        print(f"{slug:24s} {stage:11.2f}s {inproc:10.2f}s {contained:9.2f}s {contained / inproc:6.2f}x "
              f"{contained - inproc:8.2f}s {(contained - inproc) / n_pairs * 1e3:7.1f}ms {sent / 1e6:7.1f}MB "
              f"{whole / 1e6:7.1f}MB", flush=True)
    if totals[0]:
        print(f"{'all':24s} {'':12s} {totals[0]:10.2f}s {totals[1]:9.2f}s {totals[1] / totals[0]:6.2f}x "
              f"{totals[1] - totals[0]:8.2f}s")


def cli() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", help="a workspace where the suite is already built and probed")
    ap.add_argument("--suite", default="micro")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--detector", action="append", default=[], metavar="SLUG",
                    help="only this submission (a folder name in submissions/); repeatable")
    args = ap.parse_args()
    if args.home:
        run(Path(args.home).resolve(), args.suite, args.repeats, args.detector)
        return
    with tempfile.TemporaryDirectory(prefix="distillbench-containment-") as tmp:
        start = time.perf_counter()
        if main(["run", "--suite", args.suite, "--home", tmp, "--no-progress"]) != 0:
            raise SystemExit(f"distillbench run --suite {args.suite} failed")
        print(f"(built and probed suite {args.suite} in {time.perf_counter() - start:.0f}s)")
        run(Path(tmp), args.suite, args.repeats, args.detector)


if __name__ == "__main__":
    cli()
