"""Leave-one-teacher-out jackknife: standard errors and t(G-1) intervals for metrics of clustered pairs.

Pairs that share a teacher are not independent (one teacher's students are easier or harder for a detector than
another's), so every interval treats the teacher as the unit. With G teachers, the jackknife recomputes a metric G
times, each time without one teacher's pairs; the spread of those G values gives the standard error, and the
interval uses Student's t with G-1 degrees of freedom. Simulated on this benchmark's cluster structure (see
tests/test_score_coverage.py) it holds its 95% level, where intervals that treat pairs as independent do not.

The leave-one-out AUROCs come from one G x G matrix of Mann-Whitney counts between the positives of teacher a and
the negatives of teacher b: leaving teacher k out removes row k and column k, so all G values cost one pass.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
from scipy import stats

from distillbench.score.metrics import allowed_false_positives

LEVEL = 0.95
MIN_CLUSTERS = 3  # with fewer teachers, t(G-1) has at most one degree of freedom: no interval is stated


def cluster_codes(clusters: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Integer code of each pair's cluster (0..G-1, in sorted name order) and the names."""
    names, codes = np.unique(np.asarray(clusters, dtype=object).astype(str), return_inverse=True)
    return codes.astype(int), names.tolist()


@functools.lru_cache(maxsize=1024)
def t_quantile(q: float, df: int) -> float:
    return float(stats.t.ppf(q, df))


def mann_whitney_by_cluster(y: np.ndarray, s: np.ndarray, g: np.ndarray, n_clusters: int
                            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(U, n_pos, n_neg): U[a, b] = correctly ordered (positive of cluster a, negative of cluster b) pairs, ties 1/2.

    Vectorised over all positives and clusters at once: scores become dense ranks, negatives are sorted by
    (cluster, rank), and one `searchsorted` counts, for every positive and cluster, the negatives below and tied.
    """
    y, s, g = np.asarray(y), np.asarray(s, dtype=float), np.asarray(g, dtype=int)
    pos = y == 1
    n_pos = np.bincount(g[pos], minlength=n_clusters)
    n_neg = np.bincount(g[~pos], minlength=n_clusters)
    u = np.zeros((n_clusters, n_clusters))
    if not pos.any() or pos.all():
        return u, n_pos, n_neg
    r = rankdata_dense(s)
    width = int(r.max()) + 2
    keys = np.sort(g[~pos] * width + r[~pos])
    cl = np.arange(n_clusters)
    starts = np.searchsorted(keys, cl * width, "left")
    q = cl[None, :] * width + r[pos][:, None]  # (n_pos, G): this positive's rank placed inside cluster b's block
    below = np.searchsorted(keys, q, "left") - starts[None, :]
    up_to = np.searchsorted(keys, q, "right") - starts[None, :]
    np.add.at(u, g[pos], (below + up_to) / 2.0)
    return u, n_pos, n_neg


def rankdata_dense(s: np.ndarray) -> np.ndarray:
    """Dense integer ranks 1..R (equal scores share a rank)."""
    _, inv = np.unique(s, return_inverse=True)
    return inv.reshape(-1).astype(np.int64) + 1


def auroc_leave_one_out(y: np.ndarray, s: np.ndarray, g: np.ndarray, n_clusters: int) -> tuple[float, np.ndarray]:
    """The AUROC of all pairs and, per cluster k, the AUROC without cluster k (NaN where a label would vanish)."""
    u, n_pos, n_neg = mann_whitney_by_cluster(y, s, g, n_clusters)
    P, N = n_pos.sum(), n_neg.sum()
    full = float(u.sum() / (P * N)) if P and N else float("nan")
    num = u.sum() - u.sum(axis=1) - u.sum(axis=0) + np.diag(u)
    den = (P - n_pos) * (N - n_neg)
    with np.errstate(invalid="ignore", divide="ignore"):
        loo = np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)
    return full, loo


def threshold_leave_one_out(neg_scores: np.ndarray, neg_g: np.ndarray, n_clusters: int, max_fpr: float) -> np.ndarray:
    """Per cluster k, the `threshold_at_fpr` of the negatives outside cluster k (-inf where that leaves <= k)."""
    order = np.argsort(-np.asarray(neg_scores, dtype=float), kind="stable")
    sn, gn = np.asarray(neg_scores, dtype=float)[order], np.asarray(neg_g, dtype=int)[order]
    n = sn.size
    onehot = np.zeros((n_clusters, n), dtype=np.int32)
    onehot[gn, np.arange(n)] = 1
    outside = np.arange(1, n + 1)[None, :] - np.cumsum(onehot, axis=1)  # negatives seen so far not in cluster k
    n_out = n - onehot.sum(axis=1)
    need = allowed_false_positives(n_out, max_fpr) + 1  # the (k+1)-th highest negative outside cluster k
    reach = outside >= need[:, None]
    idx = reach.argmax(axis=1)
    return np.where(reach.any(axis=1), sn[idx], -np.inf)


def jackknife_se(full: float, loo: np.ndarray) -> float | None:
    """Jackknife standard error from the G leave-one-out values; None below MIN_CLUSTERS or with any NaN."""
    loo = np.asarray(loo, dtype=float)
    G = loo.size
    if G < MIN_CLUSTERS or not np.isfinite(loo).all() or not np.isfinite(full):
        return None
    return float(np.sqrt((G - 1) / G * np.sum((loo - loo.mean()) ** 2)))


def jackknife_ci(full: float, loo: np.ndarray, level: float = LEVEL, bounds: tuple[float, float] = (0.0, 1.0)
                 ) -> tuple[float, float] | None:
    """estimate +- t_{(1+level)/2, G-1} * SE, clipped to `bounds`; None when the SE is not defined."""
    se = jackknife_se(full, loo)
    if se is None:
        return None
    half = t_quantile((1 + level) / 2, len(loo) - 1) * se
    return float(max(bounds[0], full - half)), float(min(bounds[1], full + half))


def present(g: np.ndarray, n_clusters: int) -> np.ndarray:
    """Boolean mask of the clusters that hold at least one of the pairs."""
    return np.bincount(np.asarray(g, dtype=int), minlength=n_clusters) > 0
