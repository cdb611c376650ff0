"""The site builder: entries and suite information in, a folder of static files out.

Takes `SiteInputs` (entries, suite pages' data, prose); renders the jinja2 templates in `site/templates` (autoescape
on, `StrictUndefined`: a missing value is an error, never an empty string) and copies `site/static`. Produces, in
the output folder:

    index.html                         the first suite's dev-split leaderboard, with its plots
    boards/<suite>-<split>.html        every other leaderboard (a suite split with results)
    compare/<suite>-<split>.html       a leaderboard's paired differences: the methods x methods matrix of AUROC
                                       differences with Holm-adjusted p, and the split's minimum detectable difference
    views/<suite>-<split>/<view>.html  every sorted and filtered view, for readers without JavaScript
    methods/<slug>.html                one page per method: metadata, per-condition results, versions, command
    suites/<suite>.html                one page per suite: description, conditions, models, dataset card, registry
    about.html, changelog.html         how to submit (CONTRIBUTING.md); benchmark versions
    downloads/                         leaderboard.csv, leaderboard.json, comparisons-<suite>-<split>.csv, and
                                       the results files themselves
    static/                            site.css, site.js, favicon.svg

Every link is relative, so the folder works from disk and under any sub-path. The bytes depend only on the inputs:
no clocks, no absolute paths, sorted iteration, and the previous output is replaced as a whole.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape
from pydantic import BaseModel, ConfigDict

from distillbench.errors import DistillBenchError
from distillbench.publish import plots
from distillbench.publish.entries import TRACKS, Entry, version_key
from distillbench.publish.suites import SuiteInfo
from distillbench.publish.table import COLUMNS, FILTERS, Board, View, all_views, make_board
from distillbench.score.results import COMPARATOR_TEXT

SITE_DIR = Path(__file__).resolve().parents[2] / "site"
MARKER = ".distillbench-site"  # marks a folder this builder owns, so it may replace it
TRACK_HELP = {
    "black-box": "The detector sees the generated text of teacher and student on the probe prompts.",
    "gray-box": "Black-box evidence plus the log-likelihood of texts under each model.",
    "white-box": "Gray-box evidence plus the student's weights and hidden states (the teacher stays an API).",
    "teacher-side": "White-box evidence plus a secret the teacher's owner holds, such as a watermark key.",
}
# Negative types, hardest first (the order the contract of the per-condition rows lists them in).
NEGATIVE_ORDER = ("same-data", "weight-sharing", "other-teacher", "independent")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChangelogVersion(_Strict):
    version: str
    date: str
    changes: list[str]


class Changelog(_Strict):
    versions: list[ChangelogVersion]


@dataclass
class SiteInputs:
    entries: list[Entry]
    suites: list[SuiteInfo]  # the first one's dev board is the front page
    contributing: Markup | None  # CONTRIBUTING.md, rendered
    readmes: dict[str, Markup]  # method slug -> its submission README, rendered
    changelog: Changelog
    downloads: dict[str, bytes] = field(default_factory=dict)  # path under downloads/results/ -> the file's bytes
    repo_url: str | None = None
    skipped: list[str] = field(default_factory=list)  # one line per results file left out (older results schema)


@dataclass(frozen=True)
class BoardPage:
    board: Board
    id: str  # "<suite>-<split>"
    path: str  # where the board's default view lives

    def view_path(self, view: View) -> str:
        return self.path if view.is_default else f"views/{self.id}/{view.file}"

    @property
    def compare_path(self) -> str:
        return f"compare/{self.id}.html"


def load_changelog(path: Path) -> Changelog:
    try:
        return Changelog.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except Exception as exc:  # noqa: BLE001 (YAML or schema: both are one message for the maintainer)
        raise DistillBenchError(f"changelog {path} is invalid: {str(exc).splitlines()[0]}") from exc


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(SITE_DIR / "templates"), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["num"] = lambda v, digits=3: "n/a" if v is None else f"{v:.{digits}f}"
    env.filters["ci"] = lambda ci, digits=2: "no interval" if ci is None else f"[{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"
    env.filters["rank"] = lambda r: f"{r[0]}" if r[0] == r[1] else f"{r[0]}–{r[1]}"
    env.filters["pct"] = lambda v: "n/a" if v is None else f"{v * 100:.0f}%"
    env.filters["span"] = lambda r, digits=2: "n/a" if r is None else f"{r[0]:.{digits}f}–{r[1]:.{digits}f}"
    env.filters["signed"] = lambda v, digits=3: "n/a" if v is None else f"{v:+.{digits}f}".replace("-", "−")
    # Method names like response_similarity have no break opportunity: offer one after each '_' and '-' (the text
    # is escaped first, and escaped text holds neither character inside an entity).
    env.filters["wbr"] = lambda text: Markup(re.sub(r"([_-])", r"\1<wbr>", str(escape(text))))
    env.filters["pval"] = lambda p: "n/a" if p is None else ("<0.001" if p < 0.001 else f"{p:.3f}")
    env.filters["paragraphs"] = lambda text: Markup("").join(
        Markup("<p>{}</p>\n").format(p) for p in re.split(r"\n\s*\n", text.strip()) if p.strip())
    env.globals.update(COLUMNS=COLUMNS, FILTERS=FILTERS, TRACKS=TRACKS, TRACK_HELP=TRACK_HELP,
                       COMPARATOR_TEXT=COMPARATOR_TEXT, interval_bar=plots.interval_bar)
    return env


def _boards(inputs: SiteInputs) -> list[BoardPage]:
    pages = []
    for info in inputs.suites:
        splits = sorted({e.split for e in inputs.entries if e.suite == info.name}, key=lambda s: (s != "dev", s))
        for split in splits or ["dev"]:
            first = not pages
            pages.append(BoardPage(make_board(inputs.entries, info.name, split), f"{info.name}-{split}",
                                   "index.html" if first else f"boards/{info.name}-{split}.html"))
    return pages


def _natural(name: str) -> tuple:
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", name))


def _columns(entries: list[Entry]) -> list[plots.ConditionColumn]:
    """The per-condition columns of these entries, as the scorer classed them: distilled kinds (positive
    conditions) first, then negative types, hardest first. Tags carried by both labels are not columns (they have an
    AUROC on their own pairs, shown on method pages)."""
    kinds: dict[str, tuple[str, int]] = {}
    for e in entries:
        for name, row in e.result.conditions.items():
            if row.kind in ("positive", "negative"):
                held = kinds.get(name, (row.kind, 0))
                kinds[name] = (row.kind, max(held[1], row.n_pairs))
    neg = {n: i for i, n in enumerate(NEGATIVE_ORDER)}

    def key(item):
        name, (kind, _) = item
        return (kind != "positive", neg.get(name, len(neg)) if kind == "negative" else 0, _natural(name))

    return [plots.ConditionColumn(n, k, c) for n, (k, c) in sorted(kinds.items(), key=key)]


def _csv(rows: list[dict]) -> bytes:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else ["suite"], lineterminator="\n")
    writer.writeheader()
    for row in rows:
        # Spreadsheets run cells that start with these as formulas; submitted strings must stay text.
        writer.writerow({k: ("'" + v if isinstance(v, str) and v[:1] in "=+-@\t\r" else v) for k, v in row.items()})
    return buf.getvalue().encode()


def _ci_parts(name: str, ci: tuple[float, float] | None) -> dict:
    return {f"{name}_ci_low": ci[0] if ci else None, f"{name}_ci_high": ci[1] if ci else None}


def _cost_parts(e: Entry) -> dict:
    """The measured cost breakdown, flat for a CSV row (None where the results predate the metering)."""
    c = e.result.cost
    return {"evidence_queries_per_pair": c.evidence_queries_per_pair if c else None,
            "request_queries_per_pair": sum(c.request_queries_per_pair.values()) if c else None,
            "tokens_per_pair": c.tokens_per_pair if c else None}


def _download_rows(boards: list[BoardPage]) -> list[dict]:
    rows = []
    for page in boards:
        for track in TRACKS:
            for r in page.board.tracks[track]:
                e, o, cal = r.entry, r.entry.result.overall, r.entry.result.calibration
                rows.append({
                    "suite": e.suite, "split": e.split, "track": e.track, "rank_best": r.rank[0], "rank_worst": r.rank[1],
                    "tie_group": r.standing.tie, "rank_source": r.standing.source,
                    "method": e.slug, "name": e.name, "version": e.version, "status": "verified" if r.verified else "dev only",
                    "date": e.date, "benchmark_version": e.benchmark_version, "auroc": o.auroc, **_ci_parts("auroc", o.auroc_ci),
                    "tpr_at_5pct_fpr": o.tpr_at_5pct_fpr, **_ci_parts("tpr_at_5pct_fpr", o.tpr_at_5pct_fpr_ci),
                    "tpr_at_1pct_fpr": o.tpr_at_1pct_fpr, "coverage": e.result.coverage,
                    "n_abstained": e.result.n_abstained, "n_failed": e.result.n_failed,
                    "fpr_at_p05": cal.fpr_at_p05, "n_negatives_with_p": cal.n_negatives_with_p,
                    "fpr_at_p05_calibrated_low": cal.expected_range[0] if cal.expected_range else None,
                    "fpr_at_p05_calibrated_high": cal.expected_range[1] if cal.expected_range else None,
                    "queries_per_pair": e.queries_per_pair, "budget": e.budget.value,
                    "tier_rank_best": r.standing.tier_rank[0], "tier_rank_worst": r.standing.tier_rank[1],
                    **_cost_parts(e), "n_pairs": o.n_pairs, "n_positive": o.n_positive,
                    "degenerate": e.result.degenerate, "licence": e.licence,
                    "open_source": e.open_source, "trained_on_benchmark": e.trained_on_benchmark, "origin": e.origin,
                    "source_file": e.source_file,
                })
    return rows


def _comparison_rows(page: BoardPage) -> list[dict]:
    stats = page.board.stats
    names = {e.slug: e.name for e in page.board.entries}
    return [{"suite": page.board.suite, "split": page.board.split, "track": c.track, "a": c.a, "a_name": names.get(c.a, c.a),
             "b": c.b, "b_name": names.get(c.b, c.b), "n_pairs": c.n_pairs, "auroc_diff": c.diff, "se": c.se, "df": c.df,
             "p_value": c.p_value, "p_holm": c.p_holm, "significant": c.significant,
             "source": "paired here" if c.a in stats.compared else "results file"}
            for c in sorted(stats.comparisons, key=lambda c: (c.track, c.a, c.b))]


def render_site(inputs: SiteInputs) -> dict[str, bytes]:
    """Every output file, path -> bytes, in memory (a few MB): writing is a separate, all-or-nothing step."""
    env = _environment()
    files: dict[str, bytes] = {}
    boards = _boards(inputs)
    suites = {s.name: s for s in inputs.suites}
    by_slug: dict[str, list[Entry]] = {}
    for e in inputs.entries:
        by_slug.setdefault(e.slug, []).append(e)
    nav = {"boards": boards, "suites": inputs.suites}

    def page(path: str, template: str, **ctx) -> None:
        root = "../" * path.count("/")
        html = env.get_template(template).render(root=root, path=path, nav=nav, **ctx)
        files[path] = html.encode()

    for b in boards:
        info = suites[b.board.suite]
        shown = b.board.entries
        # Test-split results withhold per-pair scores: such entries have no curve to draw.
        curves = {t: [r.entry for r in b.board.tracks[t] if r.entry.roc] for t in TRACKS}
        rocs = {t: plots.roc_plot(f"roc-{t}", curves[t], f"ROC curves, {t} track") for t in TRACKS if curves[t]}
        columns = _columns(shown)
        figures = {
            "heatmap": plots.heatmap("heatmap", shown, columns, f"Share flagged at each method's 5%-FPR threshold, "
                                     f"{b.board.suite} {b.board.split} split") if shown and columns else None,
            "positives": [c.name for c in columns if c.kind == "positive"],
            "rocs": rocs,
            "cost": plots.cost_plot("cost", shown, "AUROC versus queries per pair"),
        }
        for view in all_views():
            page(b.view_path(view), "board.html.j2", page_id="board", bp=b, info=info, view=view,
                 figures=figures if view.is_default else None)
        page(b.compare_path, "compare.html.j2", page_id="compare", bp=b, info=info,
             csv_name=f"comparisons-{b.id}.csv")

    standings = {r.entry.key: (r.standing, b.compare_path) for b in boards for t in TRACKS for r in b.board.tracks[t]}
    for slug, entries in sorted(by_slug.items()):
        latest_version = max((e.version for e in entries), key=version_key)
        current = sorted((e for e in entries if e.version == latest_version), key=lambda e: (e.suite, e.split != "dev", e.split))
        history = sorted(entries, key=lambda e: (version_key(e.version), e.suite, e.split), reverse=True)
        head = current[0]
        rocs = {e.key: plots.roc_plot(f"roc-{e.suite}-{e.split}", [e], f"ROC curve, {e.suite} {e.split} split")
                for e in current if e.roc}
        columns = {e.key: _columns([e]) for e in current}
        page(f"methods/{slug}.html", "method.html.j2", page_id="method", head=head, current=current, history=history,
             rocs=rocs, columns=columns, standings=standings, readme=inputs.readmes.get(slug), verified={
                 (e.version, e.suite) for e in entries if e.status == "verified"})

    for info in inputs.suites:
        methods = sorted({(e.slug, e.name) for e in inputs.entries if e.suite == info.name}, key=lambda m: m[1].casefold())
        page(f"suites/{info.name}.html", "suite.html.j2", page_id="suite", info=info, methods=methods,
             dataset_card=Markup(info.dataset_card) if info.dataset_card else None)

    counts: dict[str, int] = {}
    for e in inputs.entries:
        counts[e.benchmark_version] = counts.get(e.benchmark_version, 0) + 1
    known = {v.version for v in inputs.changelog.versions}
    page("about.html", "about.html.j2", page_id="about", contributing=inputs.contributing,
         downloads=sorted(inputs.downloads))
    page("changelog.html", "changelog.html.j2", page_id="changelog", changelog=inputs.changelog, counts=counts,
         unlisted=sorted(set(counts) - known, key=version_key))

    rows = _download_rows(boards)
    files["downloads/leaderboard.csv"] = _csv(rows)
    for b in boards:
        files[f"downloads/comparisons-{b.id}.csv"] = _csv(_comparison_rows(b))
    full = [{**e.model_dump(mode="json", exclude={"roc"}), "open_source": e.open_source} for e in inputs.entries]
    files["downloads/leaderboard.json"] = (json.dumps({"format": "distillbench-leaderboard/1", "boards": rows,
                                                       "entries": full}, indent=1, sort_keys=True) + "\n").encode()
    for name, data in inputs.downloads.items():
        files[f"downloads/results/{name}"] = data
    for src in sorted((SITE_DIR / "static").rglob("*")):
        if src.is_file():
            files[f"static/{src.relative_to(SITE_DIR / 'static').as_posix()}"] = src.read_bytes()
    files[".nojekyll"] = b""  # GitHub Pages: serve the files as they are
    files[MARKER] = b"built by `distillbench site build`; this folder is replaced on every build\n"
    return files


def write_site(files: dict[str, bytes], out: Path) -> None:
    """Replace `out` with exactly these files. Refuses a non-empty folder this builder did not make."""
    out = out.resolve()
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).is_file())):
        raise DistillBenchError(f"{out} exists and was not made by `distillbench site build`; choose another --out "
                                "or remove it")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    try:
        for path in sorted(files):
            target = tmp / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(files[path])
        for d in [tmp, *sorted(p for p in tmp.rglob("*") if p.is_dir())]:
            d.chmod(0o755)
        if out.exists():
            old = out.with_name(f".{out.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
