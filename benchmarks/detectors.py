"""Detect + score time of every registered detector on a suite's existing evidence, and its queries per pair.

    python benchmarks/detectors.py [--suite mini] [--home .distillbench]

Needs the suite built and probed (`distillbench run --suite mini`). Prints one row per detector: seconds to score
all pairs, seconds to compute its metrics (jackknife intervals included), and the queries each pair cost (measured
by the harness: evidence read + requests, every model; query-based detectors need the suite's models).
"""

from __future__ import annotations

import argparse
import time

from distillbench.detect.registry import available, get_detector
from distillbench.detect.runner import run_detector
from distillbench.evidence.view import open_suite_view
from distillbench.paths import Workspace
from distillbench.score.results import score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", default="mini")
    parser.add_argument("--home", default=None)
    args = parser.parse_args()
    ws = Workspace.resolve(args.home)
    start = time.perf_counter()
    view = open_suite_view(ws, args.suite)
    manifest = view.manifest
    n_prompts = len(view.prompts())
    t_load = time.perf_counter() - start
    rows, total = [], t_load
    for name in available():
        det = get_detector(name)
        t0 = time.perf_counter()
        vf = run_detector(name, view)
        t1 = time.perf_counter()
        score(manifest, ws.manifest_path(args.suite), [vf])
        t2 = time.perf_counter()
        total += t2 - t0
        rows.append((name, det.access.value, t1 - t0, t2 - t1, vf.queries_per_pair or 0))
    print(f"\n== detectors benchmark: suite {args.suite}, {len(manifest.pairs)} pairs, {n_prompts} probe prompts, "
          f"{manifest.pool.n_texts} pool texts ==")
    print(f"{'detector':26s} {'track':13s} {'detect s':>9s} {'score s':>8s} {'queries/pair':>13s}")
    for name, track, td, ts, q in rows:
        print(f"{name:26s} {track:13s} {td:9.2f} {ts:8.2f} {q:13d}")
    print(f"evidence load {t_load:.2f} s; all detectors, detect + score: {total:.1f} s")


if __name__ == "__main__":
    main()
