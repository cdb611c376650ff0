"""Leaderboard tables: which entries a board shows, their rank ranges, and every sorted and filtered view of them.

Takes `Entry` objects; produces a `Board` per suite split: per track, rows in the default (ranked) order, each row
carrying its position in every column's sort order. Rank ranges and tie groups come from `compare.board_stats`
(paired tests across the board's entries), never from overlapping intervals. The same numbers drive both ways of changing the view:
- without JavaScript, every view (track x filters x column x direction) is a pre-rendered page (`View.file`);
- with JavaScript, `site/static/site.js` reorders the rows in place from the `data-o-*` positions and keeps the
  view in the query string.
Because both sort by these integers with the same tie-break (the default order), they cannot disagree.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from distillbench.publish.compare import BoardStats, Standing, board_stats
from distillbench.publish.entries import TRACKS, Entry, version_key

Direction = Literal["asc", "desc"]


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    natural: Direction  # the direction a first click sorts in: best first
    help: str


COLUMNS: tuple[Column, ...] = (
    Column("rank", "Rank", "asc", "rank range within the track from Holm-corrected paired, teacher-clustered tests "
                                  "of AUROC differences: methods the tests do not separate share ranks and a tie group"),
    Column("method", "Method", "asc", "method name; the mark says whether it trained or tuned on benchmark data"),
    Column("auroc", "AUROC", "desc", "area under the ROC curve over the pairs the method scored, with its 95% "
                                     "interval (teacher jackknife, t(G−1)); the primary metric (0.5 is chance)"),
    Column("tpr5", "TPR at 5% FPR", "desc", "share of distilled pairs caught at the method's global threshold (the "
                                            "score that flags 5% of all non-distilled pairs), with its 95% interval"),
    Column("coverage", "Coverage", "desc", "share of the split's pairs the method scored: the rest it abstained on "
                                           "or failed; abstentions are left out of every metric, never counted as scores"),
    Column("calib", "FPR at p<0.05", "asc", "calibration: share of non-distilled pairs the method's own p-values call "
                                            "significant at 0.05, among those it gave a p-value for, and the range a "
                                            "calibrated method would show with this many (clustered) negatives"),
    Column("queries", "Queries per pair", "asc", "what one pair cost, measured by the harness: queries to every "
                                                 "model of the pair, the probe evidence the method reads plus the "
                                                 "requests it sends, mean per pair (0: it reads nothing and asks "
                                                 "nothing)"),
    Column("tier", "Budget tier", "asc", "the query budget the method ran under (evidence-only: it asks no model "
                                         "anything; 1k, 10k, 100k: the most queries a pair may cost), and its rank "
                                         "among the methods of its track in that tier, by the rule and the paired "
                                         "tests of the track's ranks: compare methods within a tier"),
    Column("status", "Status", "asc", "verified: maintainers re-ran this version on the hidden test split; dev only: "
                                      "scored on the public dev split"),
    Column("date", "Date", "desc", "when the results were computed"),
    Column("version", "Version", "desc", "method version and the benchmark version it was scored with"),
)
COLUMN_KEYS = tuple(c.key for c in COLUMNS)


@dataclass(frozen=True)
class Filter:
    key: str
    label: str
    keep: Callable[[Entry, bool], bool]  # (entry, verified) -> shown when the filter is on


FILTERS: tuple[Filter, ...] = (
    Filter("verified", "verified only", lambda e, verified: verified),
    Filter("open", "open source only", lambda e, verified: e.open_source),
    Filter("untrained", "not trained on benchmark data", lambda e, verified: not e.trained_on_benchmark),
)


@dataclass(frozen=True)
class View:
    """What a reader chose: a track (or all), the filters that are on, the sort column and direction."""

    track: str = "all"
    filters: tuple[str, ...] = ()  # in FILTERS order
    sort: str = "rank"
    dir: Direction = "asc"

    @property
    def is_default(self) -> bool:
        return self == View()

    @property
    def file(self) -> str:
        """Name of the pre-rendered page for this view (inside `views/<suite>/`)."""
        return f"{self.track}_{'-'.join(self.filters) or 'none'}_{self.sort}_{self.dir}.html"

    def with_track(self, track: str) -> View:
        return View(track, self.filters, self.sort, self.dir)

    def toggled(self, key: str) -> View:
        on = set(self.filters) ^ {key}
        return View(self.track, tuple(f.key for f in FILTERS if f.key in on), self.sort, self.dir)

    def sorted_by(self, column: Column) -> View:
        """Clicking a column: its natural direction first, the other direction when it is already sorted so."""
        if self.sort == column.key:
            return View(self.track, self.filters, self.sort, "desc" if self.dir == "asc" else "asc")
        return View(self.track, self.filters, column.key, column.natural)


def all_views() -> list[View]:
    flag_sets = [tuple(f.key for f in FILTERS if f.key in combo)
                 for n in range(len(FILTERS) + 1) for combo in itertools.combinations([f.key for f in FILTERS], n)]
    return [View(t, fs, c, d) for t in ("all", *TRACKS) for fs in flag_sets for c in COLUMN_KEYS for d in ("asc", "desc")]


@dataclass(frozen=True)
class Row:
    entry: Entry
    verified: bool  # some result of this method version on this suite is verified
    standing: Standing  # rank range (best, worst) within the track, tie group, where they come from
    default: int  # position in the default order
    order: dict[str, int | None] = field(hash=False)  # column -> position in that column's ascending order

    @property
    def rank(self) -> tuple[int, int]:
        return self.standing.rank

    def shown(self, view: View) -> bool:
        return all(f.keep(self.entry, self.verified) for f in FILTERS if f.key in view.filters)


@dataclass(frozen=True)
class Board:
    suite: str
    split: str
    tracks: dict[str, list[Row]]  # every track, in TRACKS order, rows in the default order
    stats: BoardStats = field(hash=False)

    def rows(self, track: str, view: View) -> list[Row]:
        """The rows a view shows for one track, in the view's order (unknown values last, ties in default order)."""
        shown = [r for r in self.tracks[track] if r.shown(view)]
        sign = 1 if view.dir == "asc" else -1

        def key(r: Row) -> tuple:
            pos = r.order[view.sort]
            return (1, 0, r.default) if pos is None else (0, sign * pos, r.default)

        return sorted(shown, key=key)

    @property
    def entries(self) -> list[Entry]:
        return [r.entry for t in TRACKS for r in self.tracks[t]]


def _positions(values: list) -> list[int | None]:
    """Each value's position among the distinct values in ascending order; equal values share a position."""
    distinct = sorted({v for v in values if v is not None})
    index = {v: i for i, v in enumerate(distinct)}
    return [None if v is None else index[v] for v in values]


def _sort_values(e: Entry, verified: bool, standing: Standing) -> dict[str, object]:
    o = e.result.overall
    return {
        "method": (e.name.casefold(), e.slug),
        "auroc": o.auroc,
        "tpr5": o.tpr_at_5pct_fpr,
        "coverage": e.result.coverage,
        "calib": e.result.calibration.fpr_at_p05,
        "queries": e.queries_per_pair,
        "tier": (e.budget.rank, standing.tier_rank, -o.auroc),
        "status": 0 if verified else 1,
        "date": e.date,
        "version": (version_key(e.version), version_key(e.benchmark_version)),
    }


def board_entries(entries: list[Entry], suite: str, split: str) -> list[tuple[Entry, bool]]:
    """One entry per method on a suite split: its latest version; verified when any result of that version on this
    suite (on any split) is verified."""
    verified = {(e.slug, e.version, e.suite) for e in entries if e.status == "verified"}
    latest: dict[str, Entry] = {}
    for e in entries:
        if e.suite != suite or e.split != split:
            continue
        held = latest.get(e.slug)
        if held is None or (version_key(e.version), e.date) > (version_key(held.version), held.date):
            latest[e.slug] = e
    return [(e, (e.slug, e.version, e.suite) in verified) for e in latest.values()]


def make_board(entries: list[Entry], suite: str, split: str) -> Board:
    tracks: dict[str, list[Row]] = {}
    chosen = board_entries(entries, suite, split)
    stats = board_stats([e for e, _ in chosen])
    for track in TRACKS:
        members = [(e, v, stats.standings[e.slug]) for e, v in chosen if e.track == track]
        # Within a shared rank range the order is by AUROC, for reading only: the rank column says they are tied.
        ranked = sorted(members, key=lambda m: (m[2].rank, -m[0].result.overall.auroc, m[0].name.casefold(), m[0].slug))
        values = [_sort_values(e, v, s) for e, v, s in ranked]
        orders: dict[str, list[int | None]] = {"rank": list(range(len(ranked)))}
        for col in COLUMN_KEYS[1:]:
            orders[col] = _positions([v[col] for v in values])
        tracks[track] = [
            Row(entry=e, verified=v, standing=s, default=i, order={c: orders[c][i] for c in COLUMN_KEYS})
            for i, (e, v, s) in enumerate(ranked)
        ]
    return Board(suite=suite, split=split, tracks=tracks, stats=stats)
