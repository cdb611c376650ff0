"""Does a detector's p < 0.05 mean what it says? Its realised FPR on the negatives, and where a calibrated one lands.

Takes one detector's p-values on the negatives it returned one for, their teachers and negative types; produces
`Calibration`: the share with p < 0.05 overall, per negative type and per teacher, and `expected_range`, the 95%
range of that share for a perfectly calibrated detector on these same negatives. Negatives without a p-value
(abstentions, failures) are left out, never counted as "not significant", which would flatter the detector.

The range is simulated, not the binomial one: a teacher's negatives share that teacher, so their p-values move
together, and n correlated negatives carry less information than n independent ones. The simulation draws uniform
p-values with the within-teacher correlation the detector's own p-values show (intraclass correlation of their
normal scores, one-way ANOVA estimator), teacher by teacher with the observed counts, from a fixed seed.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict
from scipy import special, stats

ALPHA = 0.05
LEVEL = 0.95
N_SIMULATIONS = 5000
SEED = 0
MAX_CORRELATION = 0.95


class Calibration(BaseModel):
    model_config = ConfigDict(extra="forbid")
    fpr_at_p05: float | None  # over negatives that returned a p-value; None when none did
    n_negatives_with_p: int
    expected_range: tuple[float, float] | None  # 95% range of a calibrated detector's FPR on these negatives
    within_teacher_correlation: float | None = None  # the correlation the expected range was simulated with
    by_negative_type: dict[str, tuple[float, int]]  # type -> (fpr, n with a p-value)
    by_teacher: dict[str, tuple[float, int]]  # teacher -> (fpr, n with a p-value)


def intraclass_correlation(values: np.ndarray, groups: np.ndarray) -> float:
    """One-way ANOVA estimate of the share of variance between groups, clipped to [0, MAX_CORRELATION]."""
    values, groups = np.asarray(values, dtype=float), np.asarray(groups)
    labels, inv = np.unique(groups, return_inverse=True)
    k, n = labels.size, values.size
    if k < 2 or n <= k:
        return 0.0
    sizes = np.bincount(inv)
    means = np.bincount(inv, weights=values) / sizes
    msb = np.sum(sizes * (means - values.mean()) ** 2) / (k - 1)
    msw = np.sum((values - means[inv]) ** 2) / (n - k)
    n0 = (n - np.sum(sizes ** 2) / n) / (k - 1)
    denom = msb + (n0 - 1) * msw
    icc = (msb - msw) / denom if denom > 0 else 0.0
    return float(min(MAX_CORRELATION, max(0.0, icc)))


def calibrated_fpr_range(cluster_sizes: np.ndarray, correlation: float, alpha: float = ALPHA, level: float = LEVEL,
                         n_sim: int = N_SIMULATIONS, seed: int = SEED) -> tuple[float, float]:
    """Quantiles of the share of p < alpha among calibrated p-values drawn in clusters of the given sizes.

    Each p-value is Phi(-z) with z = sqrt(rho) * u_teacher + sqrt(1 - rho) * e: uniform alone, correlated rho (on
    the normal scale) within a teacher. Given u, a teacher's count is binomial, so only G normals and G binomials are
    drawn per replicate.
    """
    sizes = np.asarray(cluster_sizes, dtype=int)
    rng = np.random.default_rng(seed)
    u = rng.standard_normal((n_sim, sizes.size))
    z = stats.norm.isf(alpha)
    rho = float(correlation)
    q = special.ndtr((np.sqrt(rho) * u - z) / np.sqrt(1 - rho)) if rho > 0 else np.full(u.shape, alpha)
    share = rng.binomial(sizes[None, :], q).sum(axis=1) / sizes.sum()
    lo, hi = np.quantile(share, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(lo), float(hi)


def _rate(sig: np.ndarray, keys: np.ndarray) -> dict[str, tuple[float, int]]:
    out = {}
    for k in sorted(set(keys.tolist())):
        m = keys == k
        out[str(k)] = (float(sig[m].mean()), int(m.sum()))
    return out


def calibration(p_neg: np.ndarray, teachers: np.ndarray, types: np.ndarray, alpha: float = ALPHA) -> Calibration:
    """Calibration from the p-values of negatives (NaN where none was given), with their teachers and types."""
    p_neg, teachers, types = np.asarray(p_neg, dtype=float), np.asarray(teachers), np.asarray(types)
    has = np.isfinite(p_neg)
    if not has.any():
        return Calibration(fpr_at_p05=None, n_negatives_with_p=0, expected_range=None, by_negative_type={},
                           by_teacher={})
    p, t, ty = p_neg[has], teachers[has], types[has]
    sig = p < alpha
    # Normal scores of the p-values; clipping keeps p = 0 or 1 from becoming infinite.
    scores = stats.norm.isf(np.clip(p, 1e-12, 1 - 1e-12))
    rho = intraclass_correlation(scores, t)
    _, sizes = np.unique(t, return_counts=True)
    return Calibration(
        fpr_at_p05=float(sig.mean()), n_negatives_with_p=int(has.sum()),
        expected_range=calibrated_fpr_range(sizes, rho, alpha), within_teacher_correlation=rho,
        by_negative_type=_rate(sig, ty), by_teacher=_rate(sig, t),
    )
