"""`distillbench site build`: the leaderboard site from the results files, added to the `distillbench` parser by
`add_commands` (one hook in distillbench.cli).

    distillbench site build [--suite NAME ...] [--home DIR] [--out DIR] [--repo DIR] [--repo-url URL]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def cmd_site_build(args) -> None:
    from distillbench.publish.build import render_site, write_site
    from distillbench.publish.collect import collect

    start = time.perf_counter()
    inputs = collect(args.ws.home, Path(args.repo), args.suite, args.repo_url)
    for line in inputs.skipped:
        print(f"site: {line}")
    files = render_site(inputs)
    out = Path(args.out) if args.out else args.ws.home / "site"
    write_site(files, out)
    pages = sum(p.endswith(".html") for p in files)
    print(f"site: {len(inputs.entries)} results of {len({e.slug for e in inputs.entries})} methods on "
          f"{len(inputs.suites)} suite(s), {pages} pages, {time.perf_counter() - start:.1f}s -> {out.resolve()}/index.html")


def add_commands(sub, common: argparse.ArgumentParser) -> None:
    """Adds `site build` to the `distillbench` parser."""
    group = sub.add_parser("site", help="the static leaderboard site")
    cmds = group.add_subparsers(dest="site_command", required=True)
    p = cmds.add_parser("build", parents=[common], help="build the static leaderboard site from the results files",
                        description="Build the leaderboard site from <home>/suites/<suite>/results.json and "
                        "the results files in leaderboard/results/ whose signature checks out under "
                        "$DISTILLBENCH_RESULTS_SALT (others are left out, each with a line). Open <out>/index.html in a browser, or serve "
                        "<out> from any static host (every link is relative).")
    p.add_argument("--suite", action="append",
                   help="suite to show (repeatable; the first one's leaderboard is the front page; default: every suite "
                        "with results, standard first)")
    p.add_argument("--out", help="output folder, replaced on every build (default: <home>/site)")
    p.add_argument("--repo", default=".", help="repository checkout holding CONTRIBUTING.md, submissions/, leaderboard/ "
                                               "and docs/ (default: the current folder)")
    p.add_argument("--repo-url", help="web address of the repository's files (e.g. https://github.com/OWNER/REPO/blob/main): "
                                      "relative links in CONTRIBUTING.md and READMEs point there; without it they show "
                                      "as plain text")
    p.set_defaults(func=cmd_site_build)
