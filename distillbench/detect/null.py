"""Model-level nulls: turn a student's statistic into a z-score and p-value against the reference pool.

Why model-level: a per-sequence test treats thousands of texts as independent evidence, so any two models that
differ at all look "significant" (p < 1e-14 on independent controls in our trials). The unit of evidence for
"did this model learn from that teacher" is the model, so the null is the same statistic computed for independent
reference models, and the p-value is a one-sided prediction-interval test with k - 1 degrees of freedom.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats


def z_against_null(value: float, null: list[float], min_sd: float = 0.0) -> tuple[float, float | None]:
    """(z, one-sided p) of `value` against the null sample; p is None when the null has fewer than 2 models.

    `min_sd` floors the null's spread for statistics with a natural resolution (a rate over 8 prompts cannot
    resolve differences below 1/8): four references that happen to agree exactly must not make any deviation
    infinitely significant.
    """
    arr = np.asarray([v for v in null if np.isfinite(v)], dtype=float)
    if not np.isfinite(value):
        return 0.0, None
    if arr.size < 2:
        return float(value - (arr.mean() if arr.size else 0.0)), None
    mean, sd = float(arr.mean()), float(arr.std(ddof=1))
    sd = max(sd, min_sd, 1e-9 + 1e-6 * abs(mean))
    z = (value - mean) / sd
    k = arr.size
    # A new draw from the null lies at (x - mean) / (sd * sqrt(1 + 1/k)) ~ t(k-1).
    p = float(stats.t.sf(z / math.sqrt(1 + 1 / k), df=k - 1))
    return float(z), p
