"""A query-based submission run contained twice on a built suite: seconds, model calls and measured cost of each run,
and whether the second run's scores are identical.

    python benchmarks/query_rerun.py --suite dev-small --home DIR [--submission provenance-test] [--cold]

Needs the suite built and probed in DIR (the models answer the queries). `--cold` starts from an empty answer cache
(a temporary one; the workspace's cache is left alone), so the first run makes every model call and the second none.
Prints one line per run and the verdict: identical scores or not.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from distillbench.evidence.view import open_suite_view
from distillbench.paths import Workspace
from distillbench.query.harness import QueryHarness
from distillbench.query.meter import describe
from distillbench.submission.execute import run_split
from distillbench.submission.folder import load_submission
from distillbench.submission.sandbox import Bubblewrap, Limits

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", default="dev-small")
    parser.add_argument("--home", required=True)
    parser.add_argument("--submission", default="provenance-test")
    parser.add_argument("--cold", action="store_true", help="start from an empty answer cache")
    args = parser.parse_args()
    ws = Workspace.resolve(args.home)
    view = open_suite_view(ws, args.suite)
    sub = load_submission(REPO / "submissions" / args.submission)
    sandbox = Bubblewrap(forbidden=[ws.home])
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "answers.sqlite" if args.cold else None
        runs = []
        for i in (1, 2):
            harness = QueryHarness(view, cache) if cache else QueryHarness.for_view(view)
            start = time.perf_counter()
            out = run_split(sub, view, "dev", Limits(total_seconds=7200), sandbox, harness=harness)
            took = time.perf_counter() - start
            runs.append([v.score for v in out.verdicts.verdicts])
            print(f"run {i}: {args.submission} on {args.suite} dev, {len(out.verdicts.verdicts)} pairs contained in "
                  f"{took:.1f} s, {out.n_failed} failed; {describe(out.verdicts.cost)}")
    print("second run's scores identical to the first:", runs[0] == runs[1])


if __name__ == "__main__":
    main()
