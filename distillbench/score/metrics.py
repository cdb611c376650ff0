"""Detection metrics: AUROC, TPR at a fixed FPR, the 5%-FPR threshold, the realised FPR at p < alpha.

AUROC is the Mann-Whitney statistic computed from ranks (ties count 1/2, exactly as scikit-learn's `roc_auc_score`,
which a test checks), and TPR at a fixed FPR reads the negatives' order statistics (exactly as a scan of
scikit-learn's `roc_curve`, also checked by a test): both are vectorised because the jackknife recomputes them once
per left-out teacher, for every detector and condition row. Names follow scikit-learn's rule: `*_score` is
higher-is-better. Errors say what was expected and what arrived.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

from distillbench.errors import DistillBenchError

# sklearn's scan keeps thresholds with fpr <= max_fpr + 1e-12; the order-statistic form uses the same slack.
_FPR_SLACK = 1e-12


def _check(y: np.ndarray, s: np.ndarray) -> None:
    if y.shape != s.shape:
        raise DistillBenchError(f"expected one score per label, got {s.shape[0]} scores for {y.shape[0]} labels")
    if len(np.unique(y)) != 2:
        raise DistillBenchError(f"expected both labels (0 and 1) among the scored pairs, got only {np.unique(y).tolist()}")


def auroc_score(y: np.ndarray, s: np.ndarray) -> float:
    """Area under the ROC curve: the share of (positive, negative) pairs ordered correctly, ties counting 1/2."""
    y, s = np.asarray(y), np.asarray(s, dtype=float)
    _check(y, s)
    pos = y == 1
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    ranks = rankdata(s)  # average ranks: a tie between a positive and a negative adds 1/2
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def allowed_false_positives(n_neg: int | np.ndarray, max_fpr: float) -> np.ndarray:
    """How many negatives may score above the threshold while the FPR stays at most `max_fpr`."""
    return np.floor(np.asarray(n_neg) * (max_fpr + _FPR_SLACK)).astype(int)


def threshold_at_fpr(neg_scores: np.ndarray, max_fpr: float) -> float:
    """The score above which at most `max_fpr` of the negatives lie: pairs scoring strictly above it are flagged.

    It is the (k+1)-th highest negative score, k = floor(max_fpr * n); with k >= n every pair is flagged (-inf).
    """
    neg = np.sort(np.asarray(neg_scores, dtype=float))[::-1]
    if neg.size == 0:
        raise DistillBenchError("expected at least one negative pair to set a false-positive threshold, got none")
    k = int(allowed_false_positives(neg.size, max_fpr))
    return float(neg[k]) if k < neg.size else float("-inf")


def tpr_at_fpr_score(y: np.ndarray, s: np.ndarray, max_fpr: float) -> float:
    """Highest true-positive rate among thresholds whose false-positive rate is at most `max_fpr`."""
    y, s = np.asarray(y), np.asarray(s, dtype=float)
    _check(y, s)
    thr = threshold_at_fpr(s[y == 0], max_fpr)
    return float(np.mean(s[y == 1] > thr))


def false_positive_rate_at(y: np.ndarray, p: np.ndarray, alpha: float = 0.05) -> float:
    """Share of negatives a detector calls significant at p < alpha: a calibrated detector stays near alpha.

    `p` may hold NaN where a detector gave no p-value (an abstention, a failure, a score without a test): those
    negatives are left out, not counted as "not significant", which would flatter the detector.
    """
    p = np.asarray(p, dtype=float)
    neg = p[(np.asarray(y) == 0) & np.isfinite(p)]
    if neg.size == 0:
        raise DistillBenchError("expected at least one negative pair with a p-value to measure a false-positive rate, got none")
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
