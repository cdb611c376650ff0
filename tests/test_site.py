"""The leaderboard site: built from the micro suite's results plus submission results made from them (one with a
hostile name, one verified, one tuned on benchmark data), checked as files and in headless Chromium."""

from __future__ import annotations

import csv
import functools
import http.server
import io
import json
import os
import re
import shutil
import threading
import time
from pathlib import Path

import pytest

from distillbench.errors import DistillBenchError
from distillbench.publish.build import MARKER, render_site, write_site
from distillbench.publish.collect import collect
from distillbench.publish.entries import Entry, is_open_licence
from distillbench.publish.markdown import render_markdown
from distillbench.publish.plots import heatmap, pareto_front
from distillbench.publish.table import COLUMNS, View, all_views, make_board
from distillbench.score.results import Results
from distillbench.submission.results import SubmissionResults, write_results
from distillbench.submission.sandbox import Limits
from distillbench.submission.schema import SubmissionMeta
from conftest import run_cli

HOSTILE = '<script>alert("pwned")</script><img src=x onerror=alert(1)>'
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _meta(**over) -> SubmissionMeta:
    base = dict(
        schema_version=1, name="Example", slug="example", version="1.0.0", description="A test entry.",
        authors=[{"name": "A. Author", "affiliation": "Somewhere"}], contact="a@example.org",
        links={"paper": "https://example.org/paper", "code": None}, license="MIT", track="black-box",
        entry_point="detector:Example", cost={"queries_per_pair": 0, "cpu_seconds_per_pair": 0.1},
        benchmark_data={"trained_or_tuned": False, "details": ""}, seeds=[], readme="README.md",
    )
    return SubmissionMeta.model_validate({**base, **over})


def _submission_results(results: Results, detector: str, meta: SubmissionMeta, split: str, created: str) -> SubmissionResults:
    metrics = results.model_copy(update={"detectors": [d for d in results.detectors if d.detector == detector],
                                         "split": split, "pairs": [] if split == "test" else results.pairs})
    return SubmissionResults(
        benchmark_version="0.1.0", code_commit="0123456789abcdef0123456789abcdef01234567", created=created,
        status="verified" if split == "test" else "dev only", submission=meta, submission_sha256="0" * 64,
        suite=results.suite, split=split, manifest_sha256=results.manifest_sha256,
        evidence_sha256=results.evidence_sha256, versions=results.versions, isolation="test", limits=Limits(),
        seconds=1.0, n_pairs=len(results.pairs), n_failed=0, failures=[], metrics=metrics, salt_id="", hmac="",
    )


def make_repo(results_path: Path, repo: Path) -> Path:
    """A repository folder with signed submission results made from a suite's results, a README with hostile
    markdown, a CONTRIBUTING.md and a dataset card."""
    results = Results.model_validate_json(results_path.read_text())
    out = repo / "leaderboard" / "results"
    hostile = _meta(name=HOSTILE, slug="hostile", description=f"Description {HOSTILE}", track="black-box",
                    links={"paper": "https://example.org/p?a=1&b=<2>", "code": None})
    old = _meta(name="Steady method", slug="steady", version="1.0.0", track="gray-box", license="LicenseRef-Proprietary",
                cost={"queries_per_pair": 400, "cpu_seconds_per_pair": 1.0})
    new = _meta(name="Steady method", slug="steady", version="1.1.0", track="gray-box", license="LicenseRef-Proprietary",
                cost={"queries_per_pair": 400, "cpu_seconds_per_pair": 1.0})
    tuned = _meta(name="=Tuned method", slug="tuned", track="black-box", license="Apache-2.0",
                  cost={"queries_per_pair": 5000, "cpu_seconds_per_pair": 1.0},
                  benchmark_data={"trained_or_tuned": True, "details": "thresholds fitted on micro dev"})
    for meta, detector, split, created in [
        (hostile, "response_similarity", "dev", "2026-01-02T00:00:00+00:00"),
        (hostile, "response_similarity", "test", "2026-01-03T00:00:00+00:00"),
        (old, "cross_likelihood", "dev", "2025-12-01T00:00:00+00:00"),
        (new, "cross_likelihood", "dev", "2026-01-05T00:00:00+00:00"),
        (tuned, "random", "dev", "2026-01-04T00:00:00+00:00"),
    ]:
        write_results(out / meta.slug / f"{meta.version}-{split}.json",
                      _submission_results(results, detector, meta, split, created))
    (repo / "submissions" / "hostile").mkdir(parents=True)
    (repo / "submissions" / "hostile" / "README.md").write_text(
        f"# Hostile\n\n{HOSTILE}\n\n[click](javascript:alert(1)) ![pixel](https://tracker.example/p.gif)\n")
    (repo / "CONTRIBUTING.md").write_text("# Contributing\n\nOpen a pull request. <script>alert(2)</script>\n\n"
                                          "See [the template](submissions/_template/README.md).\n")
    (repo / "docs").mkdir()
    (repo / "docs" / "dataset_card.md").write_text("# Dataset card\n\nSynthetic models, no third-party text.\n")
    return repo


@pytest.fixture(scope="session")
def site_repo(micro_home, tmp_path_factory) -> Path:
    return make_repo(micro_home / "suites/micro/results.json", tmp_path_factory.mktemp("site-repo"))


@pytest.fixture(scope="session")
def site_inputs(micro_home, site_repo):
    return collect(micro_home, site_repo)


@pytest.fixture(scope="session")
def site_dir(site_inputs, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site") / "site"
    write_site(render_site(site_inputs), out)
    return out


def _rows(html: str) -> list[str]:
    return re.findall(r'<tr data-slug="([^"]+)"', html)


# -- files ---------------------------------------------------------------------------------------------------------

def test_build_is_fast_and_byte_identical(site_inputs, micro_home, site_repo, tmp_path):
    start = time.perf_counter()
    first = render_site(collect(micro_home, site_repo))
    seconds = time.perf_counter() - start
    assert seconds < 20, f"site build took {seconds:.1f}s"
    assert first == render_site(site_inputs)
    files = lambda d: {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}  # noqa: E731
    write_site({"stale.html": b"old", MARKER: b""}, tmp_path / "site")
    write_site(first, tmp_path / "site")  # replaces its own earlier output as a whole
    assert files(tmp_path / "site") == first
    assert {"index.html", "about.html", "changelog.html", "suites/micro.html", "methods/hostile.html",
            "methods/steady.html", "methods/random.html", "downloads/leaderboard.csv", "downloads/leaderboard.json",
            "static/site.js", "static/site.css"} <= set(first)
    assert len([p for p in first if p.startswith("views/micro-dev/")]) == len(all_views()) - 1


def test_entries_merge_submissions_over_builtins_and_keep_history(site_inputs):
    by = {(e.slug, e.version, e.split): e for e in site_inputs.entries}
    assert ("steady", "1.0.0", "dev") in by and ("steady", "1.1.0", "dev") in by
    assert by[("hostile", "1.0.0", "test")].status == "verified" and by[("hostile", "1.0.0", "test")].roc == []
    assert all(e.hash_check == "checked" for e in site_inputs.entries if e.origin == "submission")
    builtin = {e.slug for e in site_inputs.entries if e.origin == "built-in"}
    assert {"random", "cross-likelihood", "response-similarity"} <= builtin
    board = make_board(site_inputs.entries, "micro", "dev")
    steady = [r for r in board.tracks["gray-box"] if r.entry.slug == "steady"]
    assert [r.entry.version for r in steady] == ["1.1.0"]  # one row per method: its latest version
    assert next(r for r in board.tracks["black-box"] if r.entry.slug == "hostile").verified


def test_pages_are_valid_html_with_relative_links_only(site_dir):
    import html5lib

    pages = sorted(site_dir.rglob("*.html"))
    checked = [p for p in pages if "views" not in p.parts or p.name.startswith("all_none_auroc")]
    for page in checked:
        text = page.read_text()
        parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)
        try:
            parser.parse(text)
        except html5lib.html5parser.ParseError as exc:
            pytest.fail(f"{page.relative_to(site_dir)}: invalid HTML: {exc}")
        ids = re.findall(r'\sid="([^"]+)"', text)
        assert len(ids) == len(set(ids)), f"{page.relative_to(site_dir)}: duplicate ids"
        assert text.count("<h1") == 1
    for page in pages:
        text = page.read_text()
        # Resources (scripts, styles, images, icons) only from the site itself: no external requests.
        for ref in re.findall(r'<(?:script|img|link|iframe|source)\b[^>]*?\s(?:src|href)="([^"]*)"', text):
            assert not re.match(r"^(?:[a-z]+:)?//", ref, re.I), f"{page.name}: external resource {ref}"
        for ref in re.findall(r'\s(?:href|src)="([^"#?]+)', text):
            if re.match(r"^(?:https?|mailto):", ref):
                continue
            assert not ref.startswith("/"), f"{page.name}: absolute link {ref}"
            assert (page.parent / ref).resolve().is_file(), f"{page.relative_to(site_dir)}: broken link {ref}"


def test_submitted_strings_are_text_never_markup(site_dir):
    escaped = "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"
    for name in ("index.html", "methods/hostile.html"):
        text = (site_dir / name).read_text()
        assert escaped in text
        assert "<script>alert" not in text and "<img src=x" not in text
    method = (site_dir / "methods/hostile.html").read_text()
    # markdown-it refuses the javascript: link (it stays as words); the tracking pixel becomes a link, not a load.
    assert 'href="javascript:' not in method and 'href="https://tracker.example/p.gif"' in method and "<img" not in method
    assert 'href="https://example.org/p?a=1&amp;b=%3C2%3E"' in method
    about = (site_dir / "about.html").read_text()
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in about and "<script>alert" not in about
    # A relative link in CONTRIBUTING.md has no target on the site: kept as words, not a broken link.
    assert '<span class="dead-link">the template</span>' in about


def test_views_without_javascript_filter_and_sort(site_dir, site_inputs):
    board = make_board(site_inputs.entries, "micro", "dev")
    for view in [View(sort="auroc", dir="desc"), View("black-box", ("verified",), "date", "asc"),
                 View("all", ("open", "untrained"), "queries", "asc")]:
        html = (site_dir / "views/micro-dev" / view.file).read_text()
        expected = [r.entry.slug for t in ("black-box", "gray-box", "white-box", "teacher-side")
                    if view.track in ("all", t) for r in board.rows(t, view)]
        assert _rows(html) == expected
    verified = (site_dir / "views/micro-dev" / View(filters=("verified",)).file).read_text()
    assert _rows(verified) == ["hostile"]
    by_auroc = [r.entry for r in board.rows("black-box", View(sort="auroc", dir="desc"))]
    assert [e.result.overall.auroc for e in by_auroc] == sorted((e.result.overall.auroc for e in by_auroc), reverse=True)


def test_downloads_are_parseable_and_formula_safe(site_dir):
    rows = list(csv.DictReader(io.StringIO((site_dir / "downloads/leaderboard.csv").read_text())))
    assert {r["method"] for r in rows} >= {"hostile", "steady", "tuned", "random"}
    assert next(r for r in rows if r["method"] == "tuned")["name"] == "'=Tuned method"
    data = json.loads((site_dir / "downloads/leaderboard.json").read_text())
    assert len(data["entries"]) >= 7 and data["boards"]
    signed = site_dir / "downloads/results/leaderboard/results/hostile/1.0.0-test.json"
    assert SubmissionResults.model_validate_json(signed.read_text()).status == "verified"


def test_hand_edited_results_file_stops_the_build(micro_home, site_repo, tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(site_repo, repo)
    path = repo / "leaderboard/results/tuned/1.0.0-dev.json"
    path.write_text(path.read_text().replace('"=Tuned method"', '"Tuned method"'))
    with pytest.raises(DistillBenchError, match="edited"):
        collect(micro_home, repo)


def test_cli_builds_into_workspace_and_refuses_foreign_folders(micro_home, site_repo, tmp_path, capsys):
    out = tmp_path / "out"
    assert run_cli("site", "build", "--home", str(micro_home), "--repo", str(site_repo), "--out", str(out)) == 0
    assert (out / "index.html").is_file() and (out / MARKER).is_file()
    assert "site:" in capsys.readouterr().out
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine")
    assert run_cli("site", "build", "--home", str(micro_home), "--repo", str(site_repo), "--out", str(foreign)) == 2
    assert (foreign / "keep.txt").read_text() == "mine"
    assert run_cli("site", "build", "--home", str(tmp_path / "empty"), "--repo", str(tmp_path)) == 2


def test_view_links_and_sort_positions():
    assert View().is_default and View().file == "all_none_rank_asc.html"
    v = View().sorted_by(next(c for c in COLUMNS if c.key == "auroc"))
    assert (v.sort, v.dir) == ("auroc", "desc")
    assert v.sorted_by(next(c for c in COLUMNS if c.key == "auroc")).dir == "asc"
    assert View().toggled("untrained").toggled("verified").filters == ("verified", "untrained")
    assert len(all_views()) == 5 * 8 * len(COLUMNS) * 2
    assert is_open_licence("MIT OR LicenseRef-Mine") and not is_open_licence("LicenseRef-Proprietary")


def test_plots_escape_text_and_find_the_pareto_front(site_inputs):
    assert pareto_front([(0, 0.6), (10, 0.9), (100, 0.8), (5, 0.6)]) == [0, 1]
    entry: Entry = next(e for e in site_inputs.entries if e.slug == "hostile")
    svg = str(heatmap("h", [entry], [], "t <b>"))
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "t &lt;b&gt;" in svg


def test_markdown_drops_raw_html_and_external_images():
    html = str(render_markdown("# T\n\n<b>x</b> ![i](https://e.org/i.png) [r](docs/a.md)", repo_url="https://g.example/r/blob/main"))
    assert "&lt;b&gt;" in html and "<img" not in html and 'href="https://g.example/r/blob/main/docs/a.md"' in html
    assert '<h2 id="doc-t">' in html


# -- in a browser --------------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).is_file():
        if os.environ.get("DISTILLBENCH_REQUIRE_BROWSER"):
            pytest.fail(f"no Chromium at {CHROMIUM}: `apt-get install chromium` (or set $CHROMIUM)")
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium); .ci/run installs it and requires it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def server(site_dir):
    """The site served over HTTP from 127.0.0.1 under a sub-path, as a static host would."""
    root = site_dir.parent
    handler = functools.partial(_QuietHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/{site_dir.name}/"
    httpd.shutdown()
    httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def page(browser, server):
    """A page that records console messages, page errors, dialogs and every request it makes."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.problems, pg.requests = [], []
    pg.on("console", lambda m: pg.problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None)
    pg.on("pageerror", lambda e: pg.problems.append(f"page error: {e}"))
    pg.on("dialog", lambda d: (pg.problems.append(f"dialog: {d.message}"), d.dismiss()))
    pg.on("request", lambda r: pg.requests.append(r.url))
    pg.on("requestfailed", lambda r: pg.problems.append(f"request failed: {r.url}"))
    yield pg
    context.close()


def _visible_rows(pg, track: str) -> list[str]:
    return pg.eval_on_selector_all(f"#track-{track} tbody tr[data-slug]:not([hidden])", "rs => rs.map(r => r.dataset.slug)")


def test_index_loads_cleanly_and_makes_no_outside_requests(page, server):
    page.goto(server + "index.html")
    page.wait_for_load_state("networkidle")
    assert page.title().startswith("Leaderboard: micro suite")
    assert page.locator("#track-black-box tbody tr[data-slug]").count() >= 3
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "site-index.png"), full_page=True)
    for other in ("about.html", "changelog.html", "suites/micro.html", "boards/micro-test.html",
                  "views/micro-dev/gray-box_verified_date_desc.html", "methods/steady.html"):
        page.goto(server + other)
        assert page.locator("h1").count() == 1
    assert page.problems == []
    assert page.requests and all(u.startswith(server) for u in page.requests), page.requests


def test_sorting_and_filtering_change_rows_and_url(page, server, site_inputs):
    board = make_board(site_inputs.entries, "micro", "dev")
    page.goto(server + "index.html")
    default = [r.entry.slug for r in board.rows("black-box", View())]
    assert _visible_rows(page, "black-box") == default

    page.click("#track-black-box th[data-col=auroc] a")
    expected = [r.entry.slug for r in board.rows("black-box", View(sort="auroc", dir="desc"))]
    page.wait_for_url(re.compile(r"sort=auroc&dir=desc"))
    assert _visible_rows(page, "black-box") == expected
    assert page.get_attribute("#track-black-box th[data-col=auroc]", "aria-sort") == "descending"
    page.click("#track-black-box th[data-col=auroc] a")
    page.wait_for_url(re.compile(r"dir=asc"))
    assert _visible_rows(page, "black-box") == [r.entry.slug for r in board.rows("black-box", View(sort="auroc", dir="asc"))]

    page.click("[data-toggle=verified]")
    page.wait_for_url(re.compile(r"filters=verified"))
    assert _visible_rows(page, "black-box") == ["hostile"]
    assert _visible_rows(page, "gray-box") == []
    assert page.is_visible("#track-gray-box tr.empty")
    page.click("[data-set-track=black-box]")
    page.wait_for_url(re.compile(r"track=black-box"))
    assert page.is_hidden("#track-gray-box") and page.is_visible("#track-black-box")

    # The state lives in the URL: a reload (or a shared link) shows the same view; Back undoes a step.
    page.reload()
    assert _visible_rows(page, "black-box") == ["hostile"] and page.is_hidden("#track-gray-box")
    assert "Showing 1 of" in page.inner_text("#view-status")
    page.go_back()
    page.wait_for_url(re.compile(r"^(?!.*track=)"))
    assert page.is_visible("#track-gray-box")
    # A control's href always names the pre-rendered page of the view it leads to.
    href = page.get_attribute("[data-toggle=open]", "href")
    assert href == "views/micro-dev/all_verified-open_auroc_asc.html"


def test_without_javascript_links_lead_to_prerendered_views(browser, server, site_inputs):
    board = make_board(site_inputs.entries, "micro", "dev")
    context = browser.new_context(java_script_enabled=False)
    pg = context.new_page()
    pg.goto(server + "index.html")
    pg.click("#track-black-box th[data-col=auroc] a")
    pg.wait_for_url(re.compile(r"views/micro-dev/all_none_auroc_desc\.html$"))
    assert _visible_rows(pg, "black-box") == [r.entry.slug for r in board.rows("black-box", View(sort="auroc", dir="desc"))]
    pg.click("[data-toggle=untrained]")
    pg.wait_for_url(re.compile(r"all_untrained_auroc_desc\.html$"))
    assert "tuned" not in _visible_rows(pg, "black-box")
    pg.click("[data-set-track=gray-box]")
    pg.wait_for_url(re.compile(r"gray-box_untrained_auroc_desc\.html$"))
    assert pg.locator("#track-black-box").count() == 0 and _visible_rows(pg, "gray-box")
    context.close()


def test_method_page_opens_from_table_and_shows_markup_as_text(page, server):
    page.goto(server + "index.html")
    page.click("#track-black-box a[href='methods/hostile.html']")
    page.wait_for_url(re.compile(r"methods/hostile\.html$"))
    assert page.inner_text("h1") == HOSTILE
    assert HOSTILE in page.inner_text(".description")
    assert page.evaluate("document.scripts.length") == 1  # site.js only
    assert page.locator("img").count() == 0
    assert page.locator("svg.plot").count() >= 1  # the dev split's ROC curve
    assert "distillbench submission run submissions/hostile --suite micro" in page.inner_text("pre.command >> nth=0")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "site-method.png"), full_page=True)
    assert page.problems == []


def test_site_works_from_disk_and_on_a_phone(browser, site_dir):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    pg = context.new_page()
    problems = []
    pg.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
    pg.on("pageerror", lambda e: problems.append(str(e)))
    pg.goto((site_dir / "index.html").as_uri())
    pg.click("[data-toggle=verified]")
    assert _visible_rows(pg, "black-box") == ["hostile"]
    # Wide tables scroll inside their frames; the page itself never scrolls sideways.
    assert pg.evaluate("document.documentElement.scrollWidth") <= 390
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / "site-phone.png"), full_page=True)
    pg.goto((site_dir / "methods/steady.html").as_uri())
    assert pg.evaluate("document.documentElement.scrollWidth") <= 390
    assert problems == []
    context.close()
