"""The zoo trainer, old and new, measured in one run: models per minute on the same slice of the standard design.

    python benchmarks/zoo_trainer.py [--teachers 3]

Builds the standard recipe cut to `--teachers` teachers (same architectures, steps and data; every condition and
hard negative of each teacher, the shared bases, references and clean fine-tunes) twice, into fresh workspaces:

- old: one process, models one at a time with two torch threads (how the six-teacher suite was built);
- new: `zoo.schedule` units on two single-threaded worker processes (how the standard suite is built now).

Prints wall-clock time, models per minute and the ratio. Same machine, same run: compare the ratio, not the
absolute figures (a busy machine slows both, the old one more). The two builds differ in bytes (the thread count is
part of a model's key) but each is deterministic.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from importlib import resources

import yaml

from distillbench.cli import _quiet_libraries
from distillbench.paths import Workspace
from distillbench.zoo.build import build_suite
from distillbench.zoo.design import expand
from distillbench.zoo.spec import SuiteSpec


def sliced_standard(teachers: int, threads: int) -> SuiteSpec:
    data = yaml.safe_load(resources.files("distillbench.suites").joinpath("standard.yaml").read_text())
    data["design"]["teachers"] = teachers
    data["name"] = f"trainer-bench-{threads}t"
    return SuiteSpec.model_validate(expand(data) | {"threads": threads})


def timed_build(spec: SuiteSpec, workers: int) -> tuple[float, int]:
    with tempfile.TemporaryDirectory(prefix="distillbench-trainer-") as home:
        start = time.perf_counter()
        manifest, _ = build_suite(spec, Workspace.resolve(home), progress=False, workers=workers)
        return time.perf_counter() - start, len(manifest.models)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--teachers", type=int, default=3)
    args = ap.parse_args()
    _quiet_libraries()
    old_s, n = timed_build(sliced_standard(args.teachers, threads=2), workers=1)
    new_s, _ = timed_build(sliced_standard(args.teachers, threads=1), workers=2)
    old_rate, new_rate = n / old_s * 60, n / new_s * 60
    print(f"old trainer (1 process x 2 threads): {n} models in {old_s:.0f} s = {old_rate:.1f} models/min")
    print(f"new trainer (2 workers x 1 thread):  {n} models in {new_s:.0f} s = {new_rate:.1f} models/min")
    print(f"new / old: {new_rate / old_rate:.2f}x")
