"""Containment overhead: contained (bubblewrap, one worker process per detector) versus in-process scoring.

    python benchmarks/containment.py [--home DIR] [--suite micro] [--repeats 3]

For each submission in `submissions/` (the built-in baselines), scores the suite's dev split three ways and prints the median
wall time of each: the detect stage's in-process runner on the registered detector (`detect.runner`), the
submission path in-process (`--unsafe-in-process`: same code, no sandbox), and the submission path contained.
Also prints the cost of starting one sandboxed worker (bwrap + Python + imports, until it reports ready), which is
most of the overhead on small suites. Without --home, builds and probes the suite in a temporary workspace first
(minutes on 2 cores).
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
from distillbench.submission.sandbox import Bubblewrap, Limits
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
            line = worker.exchange(None, limits.startup_seconds, "startup timed out")
            worker.kill()
            assert isinstance(line, bytes) and b'"ready"' in line, line

    return median_time(once, repeats)


def run(home: Path, suite: str, repeats: int) -> None:
    ws = Workspace(home)
    view = open_view(ws, suite)
    sandbox = Bubblewrap(forbidden=[home])
    sandbox.check()
    limits = Limits()
    n_pairs = sum(p.split == "dev" for p in view.manifest.pairs)
    print(f"suite {view.manifest.suite}, dev split: {n_pairs} pairs; median of {repeats} runs; {os.cpu_count()} CPUs")
    print(f"sandbox: {sandbox.describe()}")
    print(f"one contained worker start (bwrap + python + imports, until ready): "
          f"{startup_seconds(sandbox, REPO / 'submissions' / 'random', limits, repeats):.2f}s")
    header = f"{'submission':24s} {'detect stage':>12s} {'in-process':>11s} {'contained':>10s} {'ratio':>7s} {'overhead':>9s}"
    print(header)
    print("-" * len(header))
    totals = [0.0, 0.0]
    for folder in sorted(p for p in (REPO / "submissions").iterdir() if p.is_dir() and not p.name.startswith("_")):
        slug = folder.name
        sub = load_submission(folder)
        registered = slug.replace("-", "_")  # the built-in detector each baseline submission re-exports
        # Warm the evidence cache and imports once so neither side pays first-load costs the other does not.
        run_split(sub, view, "dev", limits, None)
        stage = median_time(lambda name=registered: run_detector(name, view, "dev"), repeats)
        inproc = median_time(lambda s=sub: run_split(s, view, "dev", limits, None), repeats)
        contained = median_time(lambda s=sub: run_split(s, view, "dev", limits, sandbox), repeats)
        totals[0] += inproc
        totals[1] += contained
        print(f"{slug:24s} {stage:11.2f}s {inproc:10.2f}s {contained:9.2f}s {contained / inproc:6.1f}x "
              f"{contained - inproc:8.2f}s")
    print(f"{'all':24s} {'':12s} {totals[0]:10.2f}s {totals[1]:9.2f}s {totals[1] / totals[0]:6.1f}x "
          f"{totals[1] - totals[0]:8.2f}s")


def cli() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", help="a workspace where the suite is already built and probed")
    ap.add_argument("--suite", default="micro")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    if args.home:
        run(Path(args.home).resolve(), args.suite, args.repeats)
        return
    with tempfile.TemporaryDirectory(prefix="distillbench-containment-") as tmp:
        start = time.perf_counter()
        if main(["run", "--suite", args.suite, "--home", tmp, "--no-progress"]) != 0:
            raise SystemExit(f"distillbench run --suite {args.suite} failed")
        print(f"(built and probed suite {args.suite} in {time.perf_counter() - start:.0f}s)")
        run(Path(tmp), args.suite, args.repeats)


if __name__ == "__main__":
    cli()
