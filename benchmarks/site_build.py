"""Site build timing and determinism, on the dev results of a built workspace.

    python benchmarks/site_build.py [--suite mini] [--home DIR] [--repo DIR]

Builds the site twice into two temporary folders and prints the time of each build (reading the results, rendering
every page and plot, writing the files; module imports excluded, they are paid once per process), the number of
files and bytes, and whether the two folders are byte-identical. Needs `distillbench run --suite SUITE` first.
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
from pathlib import Path

from distillbench.paths import Workspace
from distillbench.publish.build import render_site, write_site
from distillbench.publish.collect import collect


def tree_digest(root: Path) -> tuple[str, int, int]:
    h = hashlib.sha256()
    files = total = 0
    for p in sorted(root.rglob("*")):
        if p.is_file():
            data = p.read_bytes()
            h.update(p.relative_to(root).as_posix().encode() + b"\0" + hashlib.sha256(data).digest())
            files, total = files + 1, total + len(data)
    return h.hexdigest(), files, total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", action="append", help="suite to show (repeatable; default: mini)")
    ap.add_argument("--home", help="workspace (default: $DISTILLBENCH_HOME or ./.distillbench)")
    ap.add_argument("--repo", default=".", help="repository checkout (default: .)")
    args = ap.parse_args()
    ws = Workspace.resolve(args.home)
    suites = args.suite or ["mini"]
    digests, times = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(2):
            start = time.perf_counter()
            inputs = collect(ws.home, Path(args.repo), suites)
            files = render_site(inputs)
            write_site(files, Path(tmp) / f"site{i}")
            times.append(time.perf_counter() - start)
            digests.append(tree_digest(Path(tmp) / f"site{i}"))
    (digest, n_files, n_bytes) = digests[0]
    pages = sum(name.endswith(".html") for name in files)
    print(f"site build ({', '.join(suites)}; {len(inputs.entries)} results): {times[0]:.2f}s first, {times[1]:.2f}s second")
    print(f"output: {n_files} files ({pages} pages), {n_bytes / 1e6:.1f} MB")
    print(f"deterministic: {'yes, byte-identical' if digests[0] == digests[1] else 'NO: the two builds differ'} "
          f"(sha256 of the tree {digest[:16]})")


if __name__ == "__main__":
    main()
