"""Which methods on one leaderboard can be told apart: paired comparisons across results files.

Takes the entries of one suite split (one per method); produces `BoardStats`: per method its rank range and tie
group within its track, the paired-difference matrix, and the split's minimum detectable difference.

Every method is scored on the same pairs, so whether two methods differ is a paired question. Entries come from
separate results files (each submission has its own), so the site joins their per-pair scores on `pair_id` and runs
the scorer's own `distillbench.score.paired.paired_analysis` over them: Holm-corrected, teacher-clustered paired
tests of AUROC differences within a track, methods not separated sharing ranks. Only entries scored on the same
build of the suite (one manifest hash) are joined; the largest such group is compared.

The hidden test split publishes no per-pair rows (they would reveal its labels). An entry without them keeps the
rank range and tie group its own results file gives it (computed by the scorer among the detectors of that file),
and `BoardStats` says so: ranks from different files are not comparable with each other.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from distillbench.errors import DistillBenchError
from distillbench.publish.entries import Entry
from distillbench.score.results import Comparison, Resolution

Source = Literal["paired", "file"]


@dataclass(frozen=True)
class Standing:
    rank: tuple[int, int]  # (best, worst) within the track
    tie: str | None  # tie-group label within the track ("A", "B", ...) when the group holds two or more methods
    source: Source  # "paired": from the tests run here; "file": from the entry's own results file
    # (best, worst) among the methods of the same track and budget tier, by the same rule from the same tests
    tier_rank: tuple[int, int] = (1, 1)


@dataclass(frozen=True)
class BoardStats:
    standings: dict[str, Standing]  # method slug -> its standing
    comparisons: list[Comparison]  # `a` and `b` are method slugs
    resolution: Resolution | None  # None when no paired comparison holds for this split
    compared: tuple[str, ...]  # slugs compared pair by pair here
    n_pairs: int  # pairs joined across the compared entries
    n_teachers: int  # clusters among them (the G of t(G-1))
    resolution_source: str  # where the resolution comes from, for the page ("" when there is none)
    not_compared: dict[str, str] = field(default_factory=dict)  # slug -> why it was not compared here

    def cell(self, a: str, b: str, track: str | None = None) -> Comparison | None:
        """The comparison of `a` with `b` (in `track`, when given), oriented so that `diff` is AUROC(a) - AUROC(b)."""
        for c in self.comparisons:
            if track is not None and c.track != track:
                continue
            if (c.a, c.b) == (a, b):
                return c
            if (c.a, c.b) == (b, a):
                return c.model_copy(update={"a": a, "b": b, "diff": -c.diff})
        return None

    def tracks_compared(self) -> list[str]:
        return sorted({c.track for c in self.comparisons}, key=lambda t: (t == "cross-track", t))


def _join(entries: list[Entry]) -> tuple[list[str], np.ndarray, list[str]]:
    """The pairs every entry scored or abstained on, in pair-id order: (pair ids, labels, teachers)."""
    common = set.intersection(*({p.pair_id for p in e.pairs} for e in entries))
    first = {p.pair_id: p for p in entries[0].pairs}
    for e in entries[1:]:
        for p in e.pairs:
            q = first.get(p.pair_id)
            if q is not None and (p.label, p.teacher) != (q.label, q.teacher):
                raise DistillBenchError(f"{e.source_file}: pair {p.pair_id} has label {p.label}, teacher {p.teacher}; "
                                        f"{entries[0].source_file} says label {q.label}, teacher {q.teacher}: the "
                                        "results files disagree about the suite, re-run them on one build")
    ids = sorted(common)
    return ids, np.array([first[i].label for i in ids]), [first[i].teacher for i in ids]


def _paired(entries: list[Entry]) -> tuple[dict[str, tuple[int, int]], dict[str, int], list[Comparison],
                                            Resolution | None, int, int]:
    from distillbench.score.metrics import failures_ranked_last
    from distillbench.score.paired import paired_analysis

    ids, y, teachers = _join(entries)
    scores, scored = {}, {}
    for e in entries:
        by_id = {p.pair_id: p for p in e.pairs}
        abstained = np.array([by_id[i].abstained for i in ids], dtype=bool)
        raw = np.array([np.nan if by_id[i].score is None or by_id[i].abstained else by_id[i].score for i in ids],
                       dtype=float)
        # As the scorer counts them: a failure ranks below every scored pair, an abstention is no score at all.
        scores[e.slug] = failures_ranked_last(raw)
        scored[e.slug] = ~abstained
    out = paired_analysis(y, teachers, scores, {e.slug: e.track for e in entries}, scored=scored)
    return (dict(out.rank_ranges), dict(out.tie_groups), list(out.comparisons), out.resolution, len(ids),
            len(set(teachers)))


def _file_comparisons(entries: list[Entry]) -> list[Comparison]:
    """Comparisons a results file holds between detectors that are all on this board from that same file."""
    out = []
    by_file: dict[str, dict[str, str]] = {}
    for e in entries:
        by_file.setdefault(e.source_file, {})[e.result.detector] = e.slug
    seen = set()
    for e in entries:
        names = by_file[e.source_file]
        for c in e.file_comparisons:
            key = (e.source_file, c.a, c.b)
            if c.a in names and c.b in names and key not in seen:
                seen.add(key)
                out.append(c.model_copy(update={"a": names[c.a], "b": names[c.b]}))
    return out


def _tie_labels(entries: list[Entry], groups: dict[str, tuple], ranks: dict[str, tuple[int, int]]) -> dict[str, str | None]:
    """A letter per tie group of two or more methods within a track, in rank order; None for a method alone."""
    labels: dict[str, str | None] = {}
    for track in sorted({e.track for e in entries}):
        members = [e for e in entries if e.track == track]
        sizes = Counter(groups[e.slug] for e in members)
        best = {}
        for e in members:
            best[groups[e.slug]] = min(best.get(groups[e.slug], ranks[e.slug]), ranks[e.slug])
        order = sorted((g for g in best if sizes[g] > 1), key=lambda g: (best[g], g))
        letter = {g: chr(ord("A") + i) if i < 26 else f"G{i + 1}" for i, g in enumerate(order)}
        for e in members:
            labels[e.slug] = letter.get(groups[e.slug])
    return labels


def _tier_ranks(entries: list[Entry], comparisons: list[Comparison]) -> dict[str, tuple[int, int]]:
    """Each method's rank range among the methods of its track and budget tier: the track ranks' rule
    (`score.paired._ranks`: 1 + methods significantly better, to those not significantly worse) applied to the same
    comparisons, restricted to the tier. Significance stays Holm-corrected over the whole track, so a rank in the tier
    never separates two methods the track's ranks do not."""
    tier = {e.slug: (e.track, e.budget) for e in entries}
    better: dict[str, set[str]] = {e.slug: set() for e in entries}
    for c in comparisons:
        if c.significant and c.a in tier and c.b in tier and tier[c.a] == tier[c.b]:
            hi, lo = (c.a, c.b) if c.diff > 0 else (c.b, c.a)
            better[lo].add(hi)
    out = {}
    for e in entries:
        members = [o.slug for o in entries if tier[o.slug] == tier[e.slug]]
        worse = sum(e.slug in better[o] for o in members)
        out[e.slug] = (1 + len(better[e.slug]), len(members) - worse)
    return out


def board_stats(entries: list[Entry]) -> BoardStats:
    """Standings, comparisons and resolution for the entries of one suite split (one entry per method)."""
    with_pairs = [e for e in entries if e.pairs]
    builds = Counter(e.manifest_sha256 for e in with_pairs)
    # The largest group on one build is compared; ties between builds go to the lexically first hash (determinism).
    main = min(builds, key=lambda h: (-builds[h], h)) if builds else None
    compared = sorted((e for e in with_pairs if e.manifest_sha256 == main), key=lambda e: e.slug)
    not_compared: dict[str, str] = {}
    for e in with_pairs:
        if e.manifest_sha256 != main:
            not_compared[e.slug] = (f"scored on another build of the suite (manifest {e.manifest_sha256[:12]}, the "
                                    f"others {str(main)[:12]}): rank from its own results file")
    for e in entries:
        if not e.pairs:
            not_compared[e.slug] = "no per-pair scores published for this split: rank from its own results file"

    ranks: dict[str, tuple[int, int]] = {}
    groups: dict[str, tuple] = {}
    sources: dict[str, Source] = {}
    comparisons: list[Comparison] = []
    resolution, n_pairs, n_teachers, resolution_source = None, 0, 0, ""
    if len(compared) >= 2:
        try:
            rr, tg, comparisons, resolution, n_pairs, n_teachers = _paired(compared)
        except DistillBenchError as exc:
            for e in compared:
                not_compared[e.slug] = f"paired comparison not possible here ({exc}): rank from its own results file"
            compared = []
        else:
            for e in compared:
                ranks[e.slug], groups[e.slug], sources[e.slug] = tuple(rr[e.slug]), ("paired", tg[e.slug]), "paired"
            resolution_source = (f"computed here from the per-pair scores of {len(compared)} methods on "
                                 f"{n_pairs} pairs and {n_teachers} teachers")
    elif len(compared) == 1:
        e = compared[0]
        ids = {p.teacher for p in e.pairs}
        ranks[e.slug], groups[e.slug], sources[e.slug] = (1, 1), ("paired", e.slug), "paired"
        n_pairs, n_teachers = len(e.pairs), len(ids)

    rest = [e for e in entries if e.slug not in ranks]
    for e in rest:
        # A rank from the entry's own file: meaningful among the detectors of that file only.
        ranks[e.slug] = tuple(e.result.rank_range)
        groups[e.slug] = ("file", e.source_file, e.result.tie_group)
        sources[e.slug] = "file"
    comparisons = comparisons + _file_comparisons(rest)
    if resolution is None and rest:
        files = {e.source_file for e in rest}
        # A file's resolution speaks for this board only when that one file holds every method left to rank here
        # (and more than one: a submission's own file compares nothing).
        if len(files) == 1 and len(rest) >= 2 and rest[0].file_resolution is not None:
            resolution = rest[0].file_resolution
            resolution_source = f"from {rest[0].source_file}, the results file all these methods were scored in"
    ties = _tie_labels(entries, groups, ranks)
    in_tier = _tier_ranks(entries, comparisons)
    standings = {e.slug: Standing(rank=ranks[e.slug], tie=ties[e.slug], source=sources[e.slug],
                                 tier_rank=in_tier[e.slug]) for e in entries}
    return BoardStats(standings=standings, comparisons=comparisons, resolution=resolution,
                      compared=tuple(e.slug for e in compared), n_pairs=n_pairs, n_teachers=n_teachers,
                      resolution_source=resolution_source, not_compared=not_compared)
