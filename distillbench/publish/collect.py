"""Finds a site build's inputs: which suites, which results files, which prose.

Takes the workspace, the repository folder and optionally the suites to show; produces `SiteInputs`. Reads
- `<workspace>/suites/<suite>/results.json` (built-in detectors, from `distillbench run`);
- `<repo>/leaderboard/results/**.json` (the maintainers' signed submission results; only those whose signature this
  build can check are published, see `entries.read_submission_results`; local `distillbench submission run`
  results in the workspace are never read);
- `<repo>/CONTRIBUTING.md`, `<repo>/submissions/<slug>/<readme>`, the suites' dataset cards and registries
  (see `suites.py`), and `site/changelog.yaml`.
Results files under an older results schema, or that the site cannot vouch for, are left out, each with one line
in `SiteInputs.skipped`.
"""

from __future__ import annotations

from pathlib import Path

from markupsafe import Markup

from distillbench.errors import DistillBenchError
from distillbench.publish.build import SITE_DIR, SiteInputs, load_changelog
from distillbench.publish.entries import merge, submission_entries, workspace_entries
from distillbench.publish.markdown import render_markdown
from distillbench.publish.suites import suite_info

DEFAULT_SUITE = "standard"  # the benchmark leads when no order is given


def _suites_with_results(home: Path) -> list[str]:
    root = home / "suites"
    return sorted(p.parent.name for p in root.glob("*/results.json")) if root.is_dir() else []


def collect(home: Path, repo: Path, suites: list[str] | None = None, repo_url: str | None = None,
            salt: bytes | None = None) -> SiteInputs:
    """`salt`: the results salt signatures are checked with (default $DISTILLBENCH_RESULTS_SALT)."""
    home, repo = Path(home), Path(repo)
    submitted, skipped = submission_entries([(repo / "leaderboard" / "results", "leaderboard/results")], salt)
    if suites is None:
        found = sorted(set(_suites_with_results(home)) | {e.suite for e in submitted})
        if not found:
            raise DistillBenchError(f"no results to publish: no {home}/suites/<suite>/results.json and no results in "
                                    f"{repo / 'leaderboard' / 'results'}; run `distillbench run --suite {DEFAULT_SUITE}` "
                                    "first, or name a suite with --suite"
                                    + "".join(f"; {line}" for line in skipped))
        suites = sorted(found, key=lambda s: (s != DEFAULT_SUITE, s))
    if len(set(suites)) != len(suites):
        raise DistillBenchError(f"--suite names a suite twice: {', '.join(suites)}")
    builtin, by_suite, skipped_builtin = workspace_entries(home, suites)
    skipped = skipped_builtin + skipped
    entries = merge([e for e in submitted if e.suite in suites], builtin)

    downloads: dict[str, bytes] = {}
    for e in entries:
        ws_rel = e.source_file.removeprefix("workspace/")
        downloads[e.source_file] = (home / ws_rel if ws_rel != e.source_file else repo / e.source_file).read_bytes()

    readmes: dict[str, Markup] = {}
    for e in entries:
        if e.readme is None or e.slug in readmes:
            continue
        folder = (repo / "submissions" / e.slug).resolve()
        path = (folder / e.readme).resolve()
        # The README path comes from submitted metadata: read nothing outside the submission's folder.
        if path.is_file() and folder in path.parents:
            readmes[e.slug] = render_markdown(path.read_text(encoding="utf-8"), repo_url, shift=2)

    contributing = repo / "CONTRIBUTING.md"
    return SiteInputs(
        entries=entries,
        suites=[suite_info(s, repo, home, by_suite.get(s), repo_url) for s in suites],
        contributing=render_markdown(contributing.read_text(encoding="utf-8"), repo_url, shift=2) if contributing.is_file() else None,
        readmes=readmes,
        changelog=load_changelog(SITE_DIR / "changelog.yaml"),
        downloads=downloads,
        repo_url=repo_url,
        skipped=skipped,
    )
