"""Standard-suite figures: the cold build time of the dev split and the full dev-split probe time.

    python benchmarks/standard_suite.py [--home DIR] [--suite standard] [--device cpu|cuda] [--probe-only]

Builds the suite in the given workspace (a temporary folder unless --home is given; a workspace that already holds
finished models reuses them, so pass a fresh one for a cold figure), then probes every model through lm-eval and
the hidden-state pass, and prints both times with models per minute. With --probe-only it probes an existing build
(e.g. on a GPU machine, with --device cuda, into a fresh evidence folder so nothing is cached).
"""

from __future__ import annotations

import argparse
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


def run(home: str, suite: str, device: str, probe_only: bool) -> None:
    common = ["--suite", suite, "--home", home, "--no-progress"]
    build = None if probe_only else timed(["zoo", "build", *common])
    manifest = load_manifest(Workspace.resolve(home), suite)
    probe = timed(["probe", *common, "--device", device])
    probed = [m for m in manifest.models if m.role != "base"]
    if build is not None:
        print(f"standard build: {build:.0f} s ({build / 60:.1f} min) for {len(manifest.models)} models, "
              f"{len(manifest.pairs)} pairs")
    print(f"dev-split probe on {device}: {probe:.0f} s for {len(probed)} models ({len(probed) / probe * 60:.1f} models/min, "
          f"{probe / len(probed):.2f} s per model; pool of {manifest.pool.n_texts} texts)")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--home", help="workspace (default: a new temporary folder, i.e. a cold build)")
    ap.add_argument("--suite", default="standard")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--probe-only", action="store_true", help="probe an existing build (needs --home)")
    args = ap.parse_args()
    if args.home:
        run(args.home, args.suite, args.device, args.probe_only)
    else:
        with tempfile.TemporaryDirectory(prefix="distillbench-standard-") as home:
            run(home, args.suite, args.device, args.probe_only)
