"""Per-condition rows under one comparator definition (`results.COMPARATOR_TEXT`), with leave-one-teacher-out intervals.

Takes one detector's scores on the pairs it scored, their labels, teachers and conditions; produces a
`ConditionRow` per condition. A positive condition is never compared with a hand-picked set of negatives (which let
a detector look strong on a hard condition by meeting only easy negatives): its positives are measured against the
detector's single global threshold, the score that gives 5% FPR over all negatives of the split, and against the
same teacher's matched hard negatives (same data; shared weights). A negative type is measured at that same
threshold. Only tags that both labels carry get an AUROC, on their own pairs.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from distillbench.score.jackknife import (
    MIN_CLUSTERS,
    auroc_leave_one_out,
    jackknife_ci,
    mann_whitney_by_cluster,
    present,
    threshold_leave_one_out,
)
from distillbench.score.metrics import threshold_at_fpr

THRESHOLD_FPR = 0.05
ALPHA = 0.05
MATCHED = {"same-data": "matched_auroc_same_data", "weight-sharing": "matched_auroc_weight_sharing"}

Kind = Literal["positive", "negative", "tag"]


class ConditionRow(BaseModel):
    model_config = ConfigDict(extra="forbid")
    condition: str
    kind: Kind
    n_pairs: int  # pairs of this condition the detector scored (abstentions left out)
    n_teachers: int
    detected_at_threshold: float | None = None  # positive: share above the global 5%-FPR threshold
    detected_at_p05: float | None = None  # positive: share with p < 0.05 among those with a p-value
    fpr_at_threshold: float | None = None  # negative: share above the global 5%-FPR threshold
    fpr_at_p05: float | None = None  # negative: share with p < 0.05 among those with a p-value
    matched_auroc_same_data: float | None = None  # positive: vs the same teacher's same-data negatives, pooled
    matched_auroc_weight_sharing: float | None = None  # positive: vs the same teacher's weight-sharing negatives
    matched_auroc_same_data_ci: tuple[float, float] | None = None
    matched_auroc_weight_sharing_ci: tuple[float, float] | None = None
    auroc: float | None = None  # tag: AUROC on the tag's own pairs
    ci: tuple[float, float] | None = None  # jackknife interval of the row's main number (the first of the above)


def condition_kinds(labels: list[int], teachers: list[str], conditions: list[list[str]]) -> dict[str, Kind]:
    """What each condition is, from the pairs that carry it.

    tag: a property of the teacher (every pair of a teacher carries it or none does, e.g. "teacher-gpt2"); both
    labels carry it, so it gets an AUROC on its own pairs. positive: any other condition a distilled pair carries
    (methods, doses, laundering); its row reads its positive pairs only, since a student's tags also ride on its
    pairs with other teachers (those are other-teacher negatives, already among all the negatives). negative:
    carried only by negatives (the negative types, and sub-tags such as "clean-finetune").
    """
    carried: dict[str, set[int]] = {}
    by_teacher: dict[str, dict[str, set[bool]]] = {}
    for label, teacher, conds in zip(labels, teachers, conditions):
        for c in conds:
            carried.setdefault(c, set()).add(int(label))
    for label, teacher, conds in zip(labels, teachers, conditions):
        for c in carried:
            by_teacher.setdefault(c, {}).setdefault(teacher, set()).add(c in conds)
    kinds: dict[str, Kind] = {}
    for c, ls in sorted(carried.items()):
        if all(len(v) == 1 for v in by_teacher[c].values()) and ls == {0, 1}:
            kinds[c] = "tag"
        else:
            kinds[c] = "positive" if 1 in ls else "negative"
    return kinds


def negative_type(label: int, conditions: list[str]) -> str | None:
    """A negative's type is its first condition (same-data, weight-sharing, other-teacher, independent)."""
    return conditions[0] if label == 0 and conditions else None


def _share_ci(g: np.ndarray, thr_loo: np.ndarray, s: np.ndarray, keep: np.ndarray, full: float
              ) -> tuple[float, float] | None:
    """Jackknife interval of the share of pairs (scores `s`, clusters `g`) above the threshold, the threshold itself
    recomputed without each teacher; `keep` marks the clusters of the split that the jackknife leaves out."""
    ks = np.flatnonzero(keep)
    if ks.size < MIN_CLUSTERS or len(np.unique(g)) < 2:
        return None
    inside = g[None, :] != ks[:, None]
    above = (s[None, :] > thr_loo[ks][:, None]) & inside
    n = inside.sum(axis=1)
    if (n == 0).any():
        return None
    return jackknife_ci(full, above.sum(axis=1) / n)


def _matched(s_pos: np.ndarray, g_pos: np.ndarray, s_neg: np.ndarray, g_neg: np.ndarray, n_clusters: int
             ) -> tuple[float | None, tuple[float, float] | None]:
    """Within-teacher AUROC pooled over teachers: correctly ordered (positive, same-teacher negative) pairs over all
    such pairs, ties 1/2 (the diagonal of the cluster Mann-Whitney matrix); jackknife over the teachers that hold
    such pairs (leaving out any other teacher changes nothing)."""
    if not s_pos.size or not s_neg.size:
        return None, None
    u, n_pos, n_neg = mann_whitney_by_cluster(np.r_[np.ones(s_pos.size), np.zeros(s_neg.size)], np.r_[s_pos, s_neg],
                                              np.r_[g_pos, g_neg], n_clusters)
    total = (n_pos * n_neg).astype(float)
    held = total > 0
    if not held.any():
        return None, None
    right, total = np.diag(u)[held], total[held]
    full = float(right.sum() / total.sum())
    if held.sum() < MIN_CLUSTERS:
        return full, None
    return full, jackknife_ci(full, (right.sum() - right) / (total.sum() - total))


def condition_rows(y: np.ndarray, s: np.ndarray, p: np.ndarray, g: np.ndarray, n_clusters: int,
                   conditions: list[list[str]], kinds: dict[str, Kind]) -> tuple[dict[str, ConditionRow], float]:
    """Rows for every condition in `kinds`, and the global 5%-FPR threshold.

    Arguments hold only the pairs the detector scored (failures included, ranked last; abstentions left out). `p`
    is NaN where the detector gave no p-value; `g` the teacher codes (0..n_clusters-1).
    """
    y, s, p, g = np.asarray(y), np.asarray(s, dtype=float), np.asarray(p, dtype=float), np.asarray(g, dtype=int)
    neg = y == 0
    has_neg = bool(neg.any())
    thr = threshold_at_fpr(s[neg], THRESHOLD_FPR) if has_neg else float("inf")
    thr_loo = threshold_leave_one_out(s[neg], g[neg], n_clusters, THRESHOLD_FPR) if has_neg else None
    keep = present(g, n_clusters)
    carries = {c: np.array([c in conds for conds in conditions], dtype=bool) for c in kinds}
    neg_types = np.array([negative_type(int(lab), conds) or "" for lab, conds in zip(y, conditions)], dtype=object)
    rows: dict[str, ConditionRow] = {}
    for c, kind in kinds.items():
        m = carries[c] & (y == 1) if kind == "positive" else carries[c] & neg if kind == "negative" else carries[c]
        base = dict(condition=c, kind=kind, n_pairs=int(m.sum()), n_teachers=int(len(np.unique(g[m]))))
        if kind == "tag" or not m.any():
            if kind == "tag" and (y[m] == 1).any() and (y[m] == 0).any():
                full, loo = auroc_leave_one_out(y[m], s[m], g[m], n_clusters)
                loo = loo[present(g[m], n_clusters)]
                base.update(auroc=full, ci=jackknife_ci(full, loo))
            rows[c] = ConditionRow(**base)
            continue
        share = float(np.mean(s[m] > thr)) if has_neg else None
        ci = _share_ci(g[m], thr_loo, s[m], keep, share) if has_neg else None
        with_p = m & np.isfinite(p)
        at_p = float(np.mean(p[with_p] < ALPHA)) if with_p.any() else None
        if kind == "positive":
            base.update(detected_at_threshold=share, detected_at_p05=at_p, ci=ci)
            for t, field in MATCHED.items():
                nm = neg & (neg_types == t)
                value, value_ci = _matched(s[m], g[m], s[nm], g[nm], n_clusters)
                base.update({field: value, f"{field}_ci": value_ci})
        else:
            base.update(fpr_at_threshold=share, fpr_at_p05=at_p, ci=ci)
        rows[c] = ConditionRow(**base)
    return rows, thr
