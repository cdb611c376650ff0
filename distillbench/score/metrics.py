"""Detection metrics on scikit-learn, with stratified bootstrap confidence intervals over pairs."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

from distillbench.errors import DistillBenchError


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


def bootstrap_ci(
    y: np.ndarray, s: np.ndarray, metric: Callable[[np.ndarray, np.ndarray], float], n: int, seed: int, level: float = 0.95
) -> tuple[float, float]:
    """Percentile interval from resampling positives and negatives separately (so both classes are always present)."""
    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    vals = np.empty(n)
    for b in range(n):
        idx = np.concatenate([rng.choice(pos, pos.size), rng.choice(neg, neg.size)])
        vals[b] = metric(y[idx], s[idx])
    lo, hi = np.quantile(vals, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(lo), float(hi)
