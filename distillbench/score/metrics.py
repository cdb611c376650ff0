"""Detection metrics on scikit-learn, bootstrap intervals clustered by teacher, and rank ranges.

Names follow scikit-learn's rule: `*_score` is higher-is-better. Errors say what was expected and what arrived.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

from distillbench.errors import DistillBenchError

Metric = Callable[[np.ndarray, np.ndarray], float]


def _check(y: np.ndarray, s: np.ndarray) -> None:
    if y.shape != s.shape:
        raise DistillBenchError(f"expected one score per label, got {s.shape[0]} scores for {y.shape[0]} labels")
    if len(np.unique(y)) != 2:
        raise DistillBenchError(f"expected both labels (0 and 1) among the scored pairs, got only {np.unique(y).tolist()}")


def auroc_score(y: np.ndarray, s: np.ndarray) -> float:
    _check(y, s)
    return float(roc_auc_score(y, s))


def tpr_at_fpr_score(y: np.ndarray, s: np.ndarray, max_fpr: float) -> float:
    """Highest true-positive rate among thresholds whose false-positive rate is at most `max_fpr`."""
    _check(y, s)
    fpr, tpr, _ = roc_curve(y, s)
    return float(tpr[fpr <= max_fpr + 1e-12].max())


def false_positive_rate_at(y: np.ndarray, p: np.ndarray, alpha: float = 0.05) -> float:
    """Share of negatives a detector calls significant at p < alpha: a calibrated detector stays near alpha."""
    neg = p[y == 0]
    if neg.size == 0:
        raise DistillBenchError("expected at least one negative pair to measure a false-positive rate, got none")
    return float(np.mean(neg < alpha))


def failures_ranked_last(raw: np.ndarray) -> np.ndarray:
    """Scores where a failed pair (NaN) ranks below every scored pair: failing must never help a detector."""
    floor = np.nanmin(raw) - 1 if np.isfinite(raw).any() else 0.0
    return np.where(np.isfinite(raw), raw, floor)


def degeneracy(s: np.ndarray) -> str | None:
    """Why a score vector cannot rank anything, or None when it can."""
    if not np.isfinite(s).all():
        return "non-finite scores"
    if np.ptp(s) == 0:
        return "constant scores"
    return None


def bootstrap_ci(
    y: np.ndarray,
    s: np.ndarray,
    metric: Metric,
    n: int,
    seed: int,
    clusters: Sequence[str] | None = None,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile interval of `metric` under resampling.

    With `clusters` (the teacher of each pair), whole clusters are resampled: pairs that share a teacher are not
    independent, and pretending they are makes intervals too narrow. Resamples that lack one of the two labels
    are redrawn. Without clusters, positives and negatives are resampled separately.
    """
    rng = np.random.default_rng(seed)
    vals: list[float] = []
    if clusters is not None:
        groups = [np.flatnonzero(np.asarray(clusters) == c) for c in sorted(set(clusters))]
        # A resample is fixed by the multiset of clusters drawn, and with few teachers there are few multisets:
        # computing each once gives exactly the same interval, orders of magnitude faster.
        memo: dict[tuple[int, ...], float | None] = {}
        tries = 0
        while len(vals) < n and tries < 20 * n:
            tries += 1
            draw = tuple(sorted(rng.integers(0, len(groups), len(groups)).tolist()))
            if draw not in memo:
                idx = np.concatenate([groups[g] for g in draw])
                memo[draw] = metric(y[idx], s[idx]) if len(np.unique(y[idx])) == 2 else None
            if memo[draw] is not None:
                vals.append(memo[draw])
    else:
        pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
        for _ in range(n):
            idx = np.concatenate([rng.choice(pos, pos.size), rng.choice(neg, neg.size)])
            vals.append(metric(y[idx], s[idx]))
    if not vals:
        raise DistillBenchError("bootstrap drew no resample holding both labels; every teacher needs positive and negative pairs")
    lo, hi = np.quantile(vals, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(lo), float(hi)


def rank_ranges(intervals: Sequence[tuple[float, float]]) -> list[tuple[int, int]]:
    """(best, worst) rank of each method from its confidence interval on a higher-is-better metric.

    Best rank = 1 + the number of methods whose lower bound is above this one's upper bound (they are surely
    better); worst rank = the number of methods not surely worse. Methods whose intervals overlap share ranks.
    """
    out = []
    for lo, hi in intervals:
        better = sum(o_lo > hi for o_lo, _ in intervals)
        worse = sum(o_hi < lo for _, o_hi in intervals)
        out.append((1 + better, len(intervals) - worse))
    return out
