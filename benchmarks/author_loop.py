"""A method author's loop, timed: the figures issue 11 asks for, in one run.

    python benchmarks/author_loop.py [--home DIR] [--suite standard] [--fresh] [--skip-validate]

Prints, in seconds:
- `distillbench submission validate` of a folder with a schema error, as a fresh process (what the author waits
  for), in a workspace where the suite is installed; with --fresh also in an empty workspace (a fresh clone);
- full `distillbench submission validate` (contained, every dev pair) of a folder made by `submission new`, i.e.
  the template's detector;
- the notebook path (`distillbench.dev`): `load`, then `evaluate` of a cheap detector object, of the template's
  detector, and of the cheap one with intervals, each twice in the same process.

Without --home it uses $DISTILLBENCH_HOME or ./.distillbench, installing the published dev evidence there if the
suite is not built yet (the first run is then slower).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "distillbench.cli"]


def timed_cli(*argv: str) -> tuple[float, int, str]:
    start = time.perf_counter()
    proc = subprocess.run([*CLI, *argv], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")})
    return time.perf_counter() - start, proc.returncode, (proc.stdout + proc.stderr).strip()


def last_line(text: str) -> str:
    line = text.splitlines()[-1] if text else ""
    return line if len(line) <= 140 else line[:137] + "..."


class LengthGap:
    """Cheap: answer lengths of student and teacher."""

    name = "length_gap"
    access = "black-box"
    summary = "answer-length gap"
    uses = frozenset({"generations"})

    def score(self, pair):  # noqa: ANN001, ANN201
        from distillbench.detect.base import Verdict

        def mean(m):  # noqa: ANN001, ANN202
            return sum(map(len, m.generations.values())) / max(1, len(m.generations))

        return Verdict(score=-abs(mean(pair.student) - mean(pair.teacher)))


def template_detector():  # noqa: ANN201
    spec = importlib.util.spec_from_file_location("template_detector", REPO / "submissions" / "_template" / "detector.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ExampleDetector()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--home", help="workspace (default: $DISTILLBENCH_HOME or ./.distillbench)")
    ap.add_argument("--suite", default="standard")
    ap.add_argument("--fresh", action="store_true", help="also time the schema error in an empty workspace")
    ap.add_argument("--skip-validate", action="store_true", help="skip the full contained validate (the slow one)")
    args = ap.parse_args()
    home = str(Path(args.home or os.environ.get("DISTILLBENCH_HOME") or REPO / ".distillbench").resolve())
    rows: list[tuple[str, float, str]] = []

    from distillbench import dev  # loads the suite (and installs it if needed) before any timing below

    start = time.perf_counter()
    pairs = dev.load(args.suite, home=home, log=None)
    first_load = time.perf_counter() - start

    with tempfile.TemporaryDirectory(prefix="distillbench-author-loop-") as tmp:
        tmp = Path(tmp)
        seconds, rc, out = timed_cli("submission", "new", "bench-template", "--dir", str(tmp))
        assert rc == 0, out
        bad = tmp / "bench-bad"
        shutil.copytree(tmp / "bench-template", bad)
        text = (bad / "submission.yaml").read_text().replace("slug: bench-template", "slug: bench-bad")
        (bad / "submission.yaml").write_text(text.replace("version: 1.0.0", "version: one"))

        seconds, rc, out = timed_cli("submission", "validate", str(bad), "--home", home, "--suite", args.suite)
        rows.append(("validate, schema error (installed workspace)", seconds, f"exit {rc}: {last_line(out)}"))
        if args.fresh:
            empty = tmp / "empty-home"
            seconds, rc, out = timed_cli("submission", "validate", str(bad), "--home", str(empty), "--suite", args.suite)
            rows.append(("validate, schema error (empty workspace)", seconds, f"exit {rc}: {last_line(out)}"))
            shutil.rmtree(empty, ignore_errors=True)
        if not args.skip_validate:
            seconds, rc, out = timed_cli("submission", "validate", str(tmp / "bench-template"), "--home", home,
                                         "--suite", args.suite)
            valid = next((ln for ln in out.splitlines() if ln.startswith(("valid:", "error:"))), last_line(out))
            rows.append(("validate, template detector, contained, all dev pairs", seconds, f"exit {rc}: {valid[:140]}"))

    rows.append((f"notebook: dev.load({args.suite!r}) (first in this process)", first_load, repr(pairs)))
    start = time.perf_counter()
    pairs = dev.load(args.suite, home=home, log=None)
    rows.append(("notebook: dev.load again", time.perf_counter() - start, ""))
    cases = [("cheap detector", LengthGap(), False), ("cheap detector, intervals=True", LengthGap(), True),
             ("template detector", template_detector(), False)]
    for label, detector, intervals in cases:
        for attempt in ("", ", again"):
            start = time.perf_counter()
            result = dev.evaluate(detector, pairs, intervals=intervals)
            ci = f" [{result.auroc_ci[0]:.2f}, {result.auroc_ci[1]:.2f}]" if result.auroc_ci else ""
            rows.append((f"notebook: evaluate, {label}{attempt}", time.perf_counter() - start,
                         f"{result.n_pairs} pairs, AUROC {result.auroc:.3f}{ci}"))

    width = max(len(r[0]) for r in rows)
    print(f"author loop on suite {args.suite} ({home}; {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f})")
    for label, seconds, note in rows:
        print(f"  {label:<{width}}  {seconds:6.1f}s  {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
