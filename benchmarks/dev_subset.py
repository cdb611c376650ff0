"""Dev-subset figures: the cold build + probe time of `dev-small`, and optionally one contained submission run on it.

    python benchmarks/dev_subset.py [--home DIR] [--suite dev-small] [--detector SLUG]

Builds the interactive dev subset (`distillbench/suites/dev-small.yaml`: the standard design cut to 4 teachers) in
the given workspace (a temporary folder unless --home is given; a workspace that already holds finished models and
evidence reuses them, so pass a fresh one for a cold figure), probes every model, and prints the build, probe and
build + probe seconds (the goal: within 10 minutes on 2 cores). With --detector, then runs that submission
(`submissions/<slug>`, contained: `distillbench submission run`) on the subset's dev split and prints its seconds.
Every stage runs as its own `distillbench` process, as an author would run it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from distillbench.paths import Workspace
from distillbench.zoo.build import load_manifest

REPO = Path(__file__).resolve().parents[1]


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    if subprocess.run([sys.executable, "-m", "distillbench.cli", *argv], cwd=REPO).returncode != 0:
        raise SystemExit(f"failed: distillbench {' '.join(argv)}")
    return time.perf_counter() - start


def submission_folder(name: str) -> Path:
    """`submissions/<slug>`; a registered detector's name (cross_likelihood) is accepted for its slug."""
    for slug in (name, name.replace("_", "-")):
        folder = REPO / "submissions" / slug
        if (folder / "submission.yaml").is_file():
            return folder
    known = sorted(p.name for p in (REPO / "submissions").iterdir() if (p / "submission.yaml").is_file())
    raise SystemExit(f"no submission {name!r} in {REPO / 'submissions'}; known: {', '.join(known)}")


def run(home: str, suite: str, detector: str | None) -> None:
    folder = submission_folder(detector) if detector else None
    common = ["--suite", suite, "--home", home, "--no-progress"]
    build = timed(["zoo", "build", *common])
    probe = timed(["probe", *common])
    manifest = load_manifest(Workspace.resolve(home), suite)
    teachers = sum(m.role == "teacher" for m in manifest.models)
    print(f"{suite} build: {build:.0f} s ({build / 60:.1f} min) for {len(manifest.models)} models, {teachers} teachers, "
          f"{len(manifest.pairs)} pairs")
    print(f"{suite} probe: {probe:.0f} s for {sum(m.role != 'base' for m in manifest.models)} models")
    print(f"{suite} build + probe: {build + probe:.0f} s ({(build + probe) / 60:.1f} min; goal <= 10 min on 2 cores)")
    if folder is not None:
        seconds = timed(["submission", "run", str(folder), *common])
        print(f"{suite} contained run of {folder.name}: {seconds:.0f} s for {len(manifest.pairs)} pairs")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--home", help="workspace (default: a new temporary folder, i.e. a cold build)")
    ap.add_argument("--suite", default="dev-small")
    ap.add_argument("--detector", metavar="SLUG",
                    help="also time one contained `distillbench submission run submissions/SLUG` on the suite")
    args = ap.parse_args()
    if args.home:
        run(args.home, args.suite, args.detector)
    else:
        with tempfile.TemporaryDirectory(prefix="distillbench-dev-small-") as home:
            run(home, args.suite, args.detector)
