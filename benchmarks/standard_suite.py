"""Standard-suite figures: the cold build time of the dev split and the full dev-split probe time.

    python benchmarks/standard_suite.py [--home DIR] [--suite standard] [--device cpu|cuda] [--probe-only] [--shards N]

Builds the suite in the given workspace (a temporary folder unless --home is given; a workspace that already holds
finished models reuses them, so pass a fresh one for a cold figure), then probes every model through lm-eval and
the hidden-state pass, and prints both times with models per minute. With --probe-only it probes an existing build
(e.g. on a GPU machine, with --device cuda, into a fresh evidence folder so nothing is cached). `--shards N` probes
in N processes at once (`distillbench probe --shard K/N`, one torch thread each: the way to use every core of a CPU
machine; keep 1 on a GPU).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

from distillbench.cli import main
from distillbench.paths import Workspace
from distillbench.zoo.build import load_manifest


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    if main(argv) != 0:
        raise SystemExit(f"failed: distillbench {' '.join(argv)}")
    return time.perf_counter() - start


def sharded_probe(common: list[str], device: str, shards: int) -> float:
    start = time.perf_counter()
    env = os.environ | {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, "-m", "distillbench.cli", "probe", *common, "--device", device,
                               "--shard", f"{k}/{shards}"], env=env) for k in range(1, shards + 1)]
    if any(p.wait() != 0 for p in procs):
        raise SystemExit("a probe shard failed")
    return time.perf_counter() - start


def run(home: str, suite: str, device: str, probe_only: bool, shards: int) -> None:
    common = ["--suite", suite, "--home", home, "--no-progress"]
    build = None if probe_only else timed(["zoo", "build", *common])
    manifest = load_manifest(Workspace.resolve(home), suite)
    probe = timed(["probe", *common, "--device", device]) if shards <= 1 else sharded_probe(common, device, shards)
    probed = [m for m in manifest.models if m.role != "base"]
    if build is not None:
        print(f"standard build: {build:.0f} s ({build / 60:.1f} min) for {len(manifest.models)} models, "
              f"{len(manifest.pairs)} pairs")
    print(f"dev-split probe on {device} ({shards} process{'es' if shards > 1 else ''}): {probe:.0f} s for {len(probed)} models ({len(probed) / probe * 60:.1f} models/min, "
          f"{probe / len(probed):.2f} s per model; pool of {manifest.pool.n_texts} texts)")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--home", help="workspace (default: a new temporary folder, i.e. a cold build)")
    ap.add_argument("--suite", default="standard")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--probe-only", action="store_true", help="probe an existing build (needs --home)")
    ap.add_argument("--shards", type=int, default=1, help="probe processes at once (default 1)")
    args = ap.parse_args()
    if args.home:
        run(args.home, args.suite, args.device, args.probe_only, args.shards)
    else:
        with tempfile.TemporaryDirectory(prefix="distillbench-standard-") as home:
            run(home, args.suite, args.device, args.probe_only, args.shards)
