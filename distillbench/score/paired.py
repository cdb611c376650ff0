"""Paired, teacher-clustered comparisons of methods scored on the same pairs: the matrix, ranks, ties, resolution.

Takes the labels, the teacher (cluster) of every pair, each method's per-pair scores and track, and which pairs
each method scored (the rest it abstained on); produces `PairedAnalysis`: for every two methods the AUROC difference
on the pairs both scored with a leave-one-teacher-out jackknife standard error (of the difference itself, so what
the two methods share cancels), a t test with G-1 degrees of freedom, and Holm's correction within each track
(comparisons across tracks form their own family, "cross-track"). Rank ranges and tie groups within a track come
from these tests, never from overlapping intervals; the resolution says how large a difference the split can
detect at all. The scorer uses this for `Results.comparisons`; the site for entries from separate results files.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict
from scipy import stats

from distillbench.score.jackknife import MIN_CLUSTERS, auroc_leave_one_out, cluster_codes, present, t_quantile

CROSS_TRACK = "cross-track"
POWER = 0.8
TOP = 4  # the resolution reports the closest pair among a track's top four methods
RESOLUTION_METHOD = ("minimum detectable AUROC difference, 80% power, alpha 0.05 two-sided, t(G-1), from the "
                     "paired jackknife SE")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Comparison(_Strict):
    """AUROC(a) - AUROC(b) on the pairs both scored. `se`, `p_value` and `p_holm` are None with fewer than three
    teachers among those pairs (no test is made, and the pair counts as not separated)."""

    a: str
    b: str
    track: str  # the track both methods belong to, or "cross-track"
    n_pairs: int
    diff: float
    se: float | None
    df: int | None
    p_value: float | None
    p_holm: float | None
    significant: bool  # p_holm < alpha


class Resolution(_Strict):
    """The smallest AUROC difference the split detects with 80% power: (t_{1-alpha/2, G-1} + t_{0.8, G-1}) * SE."""

    method: str = RESOLUTION_METHOD
    mdd_median: float | None
    mdd_closest_top4: dict[str, float | None]  # per track: the MDD of the closest pair (smallest |diff|) of its top four
    mdd_by_pair: dict[str, float]  # "a|b" -> MDD of that comparison


class PairedAnalysis(_Strict):
    comparisons: list[Comparison]
    rank_ranges: dict[str, tuple[int, int]]  # within the method's track: (1 + significantly better, not significantly worse)
    tie_groups: dict[str, int]  # 1-based within the track
    resolution: Resolution


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error control), in the input order."""
    p = np.asarray(p_values, dtype=float)
    m = p.size
    if m == 0:
        return []
    order = np.argsort(p, kind="stable")
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adjusted
    return out.tolist()


def mdd(se: float, df: int, alpha: float = 0.05, power: float = POWER) -> float:
    """Minimum detectable difference of a two-sided t test with `df` degrees of freedom at the given power."""
    return float((t_quantile(1 - alpha / 2, df) + t_quantile(power, df)) * se)


class _LeaveOneOut:
    """Each method's AUROC and leave-one-teacher-out AUROCs on a set of pairs, computed once per (method, pairs)."""

    def __init__(self, y: np.ndarray, g: np.ndarray, n_clusters: int, scores: dict[str, np.ndarray]):
        self.y, self.g, self.G, self.scores = y, g, n_clusters, scores
        self.cache: dict[tuple[str, bytes], tuple[float, np.ndarray]] = {}

    def __call__(self, method: str, mask: np.ndarray) -> tuple[float, np.ndarray]:
        key = (method, np.packbits(mask).tobytes())
        if key not in self.cache:
            self.cache[key] = auroc_leave_one_out(self.y[mask], self.scores[method][mask], self.g[mask], self.G)
        return self.cache[key]


def _both_labels(y: np.ndarray) -> bool:
    return bool((y == 1).any() and (y == 0).any())


def _compare(a: str, b: str, track: str, mask: np.ndarray, y: np.ndarray, g: np.ndarray, n_clusters: int,
             loo: _LeaveOneOut) -> Comparison | None:
    if not _both_labels(y[mask]):
        return None
    auc_a, loo_a = loo(a, mask)
    auc_b, loo_b = loo(b, mask)
    diff = auc_a - auc_b
    keep = present(g[mask], n_clusters)
    d = (loo_a - loo_b)[keep]
    G = int(keep.sum())
    se = df = p = None
    if G >= MIN_CLUSTERS and np.isfinite(d).all():
        se = float(np.sqrt((G - 1) / G * np.sum((d - d.mean()) ** 2)))
        df = G - 1
        if se > 0:
            p = float(2 * stats.t.sf(abs(diff) / se, df))
        else:  # every leave-one-out gives the same difference: it is either exactly zero or present everywhere
            p = 1.0 if diff == 0 else 0.0
    return Comparison(a=a, b=b, track=track, n_pairs=int(mask.sum()), diff=float(diff), se=se, df=df, p_value=p,
                      p_holm=None, significant=False)


def paired_analysis(y: np.ndarray, clusters: Sequence[str], scores: dict[str, np.ndarray], tracks: dict[str, str],
                    scored: dict[str, np.ndarray] | None = None, alpha: float = 0.05) -> PairedAnalysis:
    """Compare every two methods on the pairs both scored; ranks and tie groups within each track.

    `scores[m]` holds one score per pair (failures already ranked last); `scored[m]` is False where m abstained
    (default: every pair scored). A method's own AUROC (on all the pairs it scored) orders it within its track.
    """
    y = np.asarray(y)
    g, names = cluster_codes(clusters)
    G = len(names)
    methods = sorted(scores)
    masks = {m: np.ones(y.size, bool) if scored is None or m not in scored else np.asarray(scored[m], bool)
             for m in methods}
    loo = _LeaveOneOut(y, g, G, {m: np.asarray(scores[m], dtype=float) for m in methods})
    own = {m: loo(m, masks[m])[0] if _both_labels(y[masks[m]]) else 0.5 for m in methods}
    order = sorted(methods, key=lambda m: (-own[m], m))

    comparisons: list[Comparison] = []
    for i, a in enumerate(order):
        for b in order[i + 1:]:
            track = tracks[a] if tracks[a] == tracks[b] else CROSS_TRACK
            c = _compare(a, b, track, masks[a] & masks[b], y, g, G, loo)
            if c is not None:
                comparisons.append(c)
    for family in sorted({c.track for c in comparisons}):
        members = [i for i, c in enumerate(comparisons) if c.track == family and c.p_value is not None]
        for i, ph in zip(members, holm([comparisons[i].p_value for i in members])):
            comparisons[i] = comparisons[i].model_copy(update={"p_holm": ph, "significant": ph < alpha})

    rank_ranges, tie_groups = _ranks(order, tracks, comparisons)
    return PairedAnalysis(comparisons=comparisons, rank_ranges=rank_ranges, tie_groups=tie_groups,
                          resolution=_resolution(order, tracks, comparisons, alpha))


def _ranks(order: list[str], tracks: dict[str, str], comparisons: list[Comparison]
           ) -> tuple[dict[str, tuple[int, int]], dict[str, int]]:
    """Rank ranges and tie groups within each track, from the significant comparisons only.

    Best rank = 1 + methods significantly better; worst = methods of the track not significantly worse. Tie groups
    walk the track in AUROC order: a group opens at the best method not yet grouped and takes each following method
    until one is significantly different from the group's first. Chaining neighbours instead would let a run of
    small steps merge methods the tests do separate; this way no member is separated from its group's head, and
    groups stay contiguous in the ranking.
    """
    better: dict[str, set[str]] = {m: set() for m in order}  # m -> methods significantly better than m
    for c in comparisons:
        if c.significant and c.track != CROSS_TRACK:
            hi, lo = (c.a, c.b) if c.diff > 0 else (c.b, c.a)
            better[lo].add(hi)
    ranges, groups = {}, {}
    for track in sorted(set(tracks[m] for m in order)):
        members = [m for m in order if tracks[m] == track]
        for m in members:
            worse = sum(m in better[o] for o in members)
            ranges[m] = (1 + len(better[m]), len(members) - worse)
        group, head = 0, None
        for m in members:
            if head is None or head in better[m] or m in better[head]:
                group, head = group + 1, m
            groups[m] = group
    return ranges, groups


def _resolution(order: list[str], tracks: dict[str, str], comparisons: list[Comparison], alpha: float) -> Resolution:
    by_pair = {f"{c.a}|{c.b}": mdd(c.se, c.df, alpha) for c in comparisons if c.se is not None}
    closest: dict[str, float | None] = {}
    for track in sorted(set(tracks[m] for m in order)):
        top = [m for m in order if tracks[m] == track][:TOP]
        inside = [c for c in comparisons if c.a in top and c.b in top and c.se is not None]
        best = min(inside, key=lambda c: (abs(c.diff), c.a, c.b), default=None)
        closest[track] = None if best is None else by_pair[f"{best.a}|{best.b}"]
    return Resolution(mdd_median=float(np.median(list(by_pair.values()))) if by_pair else None,
                      mdd_closest_top4=closest, mdd_by_pair=by_pair)
