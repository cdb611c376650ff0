"""The score stage: joins verdicts with the manifest's labels and writes `results.json`.

Takes the verdict files and the manifest; produces a schema-checked results file with, per detector: coverage (the
pairs it scored rather than abstained on), AUROC and TPR at 1% and 5% FPR on the pairs it scored, the realised FPR
at p < 0.05 with the range a calibrated detector would show (`calibration`), one row per condition under the single
comparator definition `COMPARATOR_TEXT` (`comparator`), and its rank range and tie group within its track from
Holm-corrected paired tests (`paired`); plus the paired-difference matrix, the split's minimum detectable
difference, the versions of everything involved and the hashes of the inputs. Intervals are leave-one-teacher-out
jackknife intervals with t(G-1) quantiles (`jackknife`), None with fewer than three teachers.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, model_serializer

from distillbench.detect.runner import VerdictFile
from distillbench.errors import DistillBenchError
from distillbench.evidence.view import opaque_pair_id
from distillbench.fingerprint import sha256_file, sha256_json, versions
from distillbench.query.meter import CostSummary
from distillbench.score.calibration import Calibration, calibration
from distillbench.score.comparator import ConditionRow, condition_kinds, condition_rows, negative_type
from distillbench.score.jackknife import LEVEL, auroc_leave_one_out, cluster_codes, jackknife_ci, present
from distillbench.score.jackknife import threshold_leave_one_out
from distillbench.score.metrics import degeneracy, failures_ranked_last, tpr_at_fpr_score
from distillbench.score.paired import Comparison, PairedAnalysis, Resolution, paired_analysis
from distillbench.zoo.manifest import Manifest

__all__ = ["COMPARATOR_TEXT", "RESULTS_SCHEMA_VERSION", "Calibration", "Comparison", "ConditionRow", "DetectorResult",
           "Metrics", "PairScore", "PairedAnalysis", "Resolution", "Results", "score", "ranked_table",
           "comparison_matrix", "resolution_lines", "comparator_table"]

RESULTS_SCHEMA_VERSION = 3
ALPHA = 0.05
COMPARATOR_TEXT = (
    "For each positive condition: the share of its pairs a detector flags at its global threshold (the score that "
    "gives 5% FPR over all negatives of the split) and at p < 0.05 where it gives p-values. For each negative type: "
    "the share flagged at that same threshold (its false-positive rate). For each positive condition: the "
    "within-teacher matched AUROC against the same teacher's same-data and weight-sharing negatives. Tags carried "
    "by both labels: AUROC on their own pairs. Intervals: leave-one-teacher-out jackknife with t(G-1) quantiles. "
    "Ranks: Holm-corrected paired, teacher-clustered tests of AUROC differences within a track; methods not "
    "separated share a rank."
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Metrics(_Strict):
    """Metrics on the pairs a detector scored. Intervals: 95% leave-one-teacher-out jackknife, t(G-1); None when
    fewer than three teachers hold the pairs."""

    n_pairs: int
    n_positive: int
    auroc: float
    auroc_ci: tuple[float, float] | None
    tpr_at_1pct_fpr: float
    tpr_at_5pct_fpr: float
    tpr_at_5pct_fpr_ci: tuple[float, float] | None
    fpr_at_p05: float | None  # share of negatives with p < 0.05 among those that returned a p-value
    n_negatives_with_p: int


class DetectorResult(_Strict):
    detector: str
    access: str
    n_failed: int  # errors: scored below every other pair
    n_abstained: int  # Verdict.abstain(): left out of every metric
    coverage: float  # share of the split's pairs scored (neither failed nor abstained)
    degenerate: str | None  # "constant scores", ...: the detector ranks nothing
    overall: Metrics
    threshold_5pct_fpr: float  # pairs scoring above it are flagged; 5% FPR over all negatives it scored
    rank_range: tuple[int, int]  # (best, worst) within its track, from Holm-corrected paired tests
    tie_group: int  # 1-based within its track; detectors the tests do not separate share a group
    conditions: dict[str, ConditionRow]
    calibration: Calibration
    # Queries one pair cost, measured by the harness (`query.meter`): evidence read + requests, all models of the
    # pair, the mean per pair, rounded; None when not measured. `cost` breaks it down, with the budget tier.
    queries_per_pair: int | None = None
    cost: CostSummary | None = None
    verdicts_sha256: str

    @model_serializer(mode="wrap")
    def _omit_unmeasured_cost(self, handler):  # noqa: ANN001, ANN202
        # Results signed before `cost` existed hash the metrics without it: a missing summary is left out so their
        # signatures still verify.
        out = handler(self)
        if self.cost is None:
            out.pop("cost", None)
        return out


class PairScore(_Strict):
    pair_id: str
    teacher: str
    student: str
    label: int
    conditions: list[str]
    scores: dict[str, float | None]
    p_values: dict[str, float | None]
    abstained: dict[str, bool]


class Results(_Strict):
    schema_version: int = RESULTS_SCHEMA_VERSION
    suite: str
    split: str
    created: str
    versions: dict[str, str]
    manifest_sha256: str
    evidence_sha256: str
    intervals: dict[str, str | float | int]  # {"method": "teacher-jackknife", "level": 0.95, "clusters": G}
    detectors: list[DetectorResult]
    comparisons: list[Comparison]
    resolution: Resolution
    pairs: list[PairScore]


def _overall(y: np.ndarray, s: np.ndarray, p: np.ndarray, g: np.ndarray, n_clusters: int) -> tuple[Metrics, str | None]:
    """Headline metrics on the scored pairs, and why nothing can be ranked (or None)."""
    neg = y == 0
    with_p = neg & np.isfinite(p)
    fpr_p = float(np.mean(p[with_p] < ALPHA)) if with_p.any() else None
    if not (y == 1).any() or not neg.any():
        return Metrics(n_pairs=int(y.size), n_positive=int(y.sum()), auroc=0.5, auroc_ci=None, tpr_at_1pct_fpr=0.0,
                       tpr_at_5pct_fpr=0.0, tpr_at_5pct_fpr_ci=None, fpr_at_p05=fpr_p,
                       n_negatives_with_p=int(with_p.sum())), \
            "abstained on every pair" if not y.size else "no scored positive pair" if not (y == 1).any() \
            else "no scored negative pair"
    auroc, loo = auroc_leave_one_out(y, s, g, n_clusters)
    tpr5 = tpr_at_fpr_score(y, s, 0.05)
    # TPR at 5% FPR without teacher k: the threshold moves with k's negatives, the share loses k's positives.
    ks = np.flatnonzero(present(g, n_clusters))
    thr_loo = threshold_leave_one_out(s[neg], g[neg], n_clusters, 0.05)[ks]
    inside = g[~neg][None, :] != ks[:, None]
    n_in = inside.sum(axis=1)
    tpr5_ci = None
    if (n_in > 0).all():
        tpr5_ci = jackknife_ci(tpr5, ((s[~neg][None, :] > thr_loo[:, None]) & inside).sum(axis=1) / n_in)
    return Metrics(n_pairs=int(y.size), n_positive=int(y.sum()), auroc=auroc, auroc_ci=jackknife_ci(auroc, loo[ks]),
                   tpr_at_1pct_fpr=tpr_at_fpr_score(y, s, 0.01), tpr_at_5pct_fpr=tpr5, tpr_at_5pct_fpr_ci=tpr5_ci,
                   fpr_at_p05=fpr_p, n_negatives_with_p=int(with_p.sum())), None


def score(manifest: Manifest, manifest_path: Path, verdict_files: list[VerdictFile], split: str = "dev") -> Results:
    pairs = [p for p in manifest.pairs if p.split == split]
    if not pairs:
        raise DistillBenchError(f"suite {manifest.suite} has no pairs in split {split!r}")
    by_opaque = {opaque_pair_id(manifest.suite, p.pair_id): p for p in pairs}
    y = np.array([p.label for p in pairs])
    teachers = np.array([p.teacher for p in pairs])
    g, names = cluster_codes(teachers.tolist())
    G = len(names)
    conds = [p.conditions for p in pairs]
    kinds = condition_kinds(y.tolist(), teachers.tolist(), conds)
    types = np.array([negative_type(p.label, p.conditions) or "" for p in pairs], dtype=object)
    evidence = {vf.evidence_sha256 for vf in verdict_files}
    if len(evidence) > 1:
        raise DistillBenchError("verdicts files were computed on different evidence; re-run `distillbench detect`")
    rows: list[dict] = []
    scores_for_tests, scored_for_tests, tracks = {}, {}, {}
    per_pair = {p.pair_id: ({}, {}, {}) for p in pairs}
    for vf in verdict_files:
        got = {v.pair_id: v for v in vf.verdicts}
        if set(got) != set(by_opaque):
            raise DistillBenchError(f"verdicts for {vf.detector} cover {len(got)} pairs, the {split} split has "
                                    f"{len(by_opaque)}; re-run detect")
        vs = [got[o] for o in by_opaque]
        raw = np.array([np.nan if v.score is None else v.score for v in vs], dtype=float)
        abstained = np.array([v.abstained for v in vs], dtype=bool)
        p = np.array([np.nan if v.p_value is None else v.p_value for v in vs], dtype=float)
        failed = ~np.isfinite(raw) & ~abstained
        # A failed pair ranks below every other pair and has no p-value: failing never helps. An abstention is no
        # score at all: it is left out of every metric and shows up as coverage.
        s = failures_ranked_last(np.where(abstained, np.nan, raw))
        used = ~abstained
        for pair, v in zip(pairs, vs):
            per_pair[pair.pair_id][0][vf.detector] = v.score
            per_pair[pair.pair_id][1][vf.detector] = v.p_value
            per_pair[pair.pair_id][2][vf.detector] = bool(v.abstained)
        overall, why = _overall(y[used], s[used], p[used], g[used], G)
        conditions, thr = condition_rows(y[used], s[used], p[used], g[used], G, [c for c, u in zip(conds, used) if u],
                                       kinds)
        neg = used & (y == 0)
        rows.append(dict(
            detector=vf.detector, access=vf.access, n_failed=int(failed.sum()), n_abstained=int(abstained.sum()),
            coverage=float(np.mean(used & ~failed)), degenerate=why or degeneracy(raw[used]), overall=overall,
            # With no scored negative there is no threshold to state; the largest score flags nothing.
            threshold_5pct_fpr=thr if np.isfinite(thr) else float(np.max(s[used], initial=0.0)), conditions=conditions,
            calibration=calibration(p[neg], teachers[neg], types[neg], ALPHA),
            queries_per_pair=vf.queries_per_pair, cost=vf.cost,
            verdicts_sha256=sha256_json(vf.model_dump(mode="json", exclude={"seconds"})),
        ))
        scores_for_tests[vf.detector], scored_for_tests[vf.detector], tracks[vf.detector] = s, used, vf.access
    analysis = paired_analysis(y, teachers.tolist(), scores_for_tests, tracks, scored=scored_for_tests, alpha=ALPHA)
    ranked = [DetectorResult(**r, rank_range=analysis.rank_ranges[r["detector"]],
                             tie_group=analysis.tie_groups[r["detector"]]) for r in rows]
    ranked.sort(key=lambda r: (-r.overall.auroc, r.detector))
    return Results(
        suite=manifest.suite, split=split, created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        versions=versions(), manifest_sha256=sha256_file(manifest_path), evidence_sha256=next(iter(evidence), ""),
        intervals={"method": "teacher-jackknife", "level": LEVEL, "clusters": G},
        detectors=ranked, comparisons=analysis.comparisons, resolution=analysis.resolution,
        pairs=[PairScore(pair_id=p.pair_id, teacher=p.teacher, student=p.student, label=p.label,
                         conditions=p.conditions, scores=per_pair[p.pair_id][0], p_values=per_pair[p.pair_id][1],
                         abstained=per_pair[p.pair_id][2]) for p in pairs],
    )


# ---- text output (the CLI's `score` and `evaluate`) ----

def _ci(ci: tuple[float, float] | None, digits: int = 2) -> str:
    return f"[{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]" if ci else "n/a"


def _num(v: float | None, digits: int = 2) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}"


def _track_order(track: str) -> tuple[int, str]:
    from distillbench.evidence.view import AccessLevel

    order = [a.value for a in AccessLevel]
    return (order.index(track) if track in order else len(order), track)


def _by_track(results: Results, only: list[str] | None) -> list[DetectorResult]:
    rows = [r for r in results.detectors if not only or r.detector in only]
    return sorted(rows, key=lambda r: (_track_order(r.access), r.rank_range, -r.overall.auroc, r.detector))


def ranked_table(results: Results, only: list[str] | None = None) -> str:
    """The leaderboard as text, track by track; `only` keeps those detectors' rows (ranks stay those among all)."""
    rows = []
    for r in _by_track(results, only):
        cal = r.calibration
        fpr = "n/a" if cal.fpr_at_p05 is None else f"{cal.fpr_at_p05:.3f}" + (
            f" ({cal.expected_range[0]:.3f}-{cal.expected_range[1]:.3f})" if cal.expected_range else "")
        rows.append({
            "track": r.access,
            "rank": f"{r.rank_range[0]}" if r.rank_range[0] == r.rank_range[1] else f"{r.rank_range[0]}-{r.rank_range[1]}",
            "tie": r.tie_group, "detector": r.detector,
            "AUROC": f"{r.overall.auroc:.3f}", "95% CI": _ci(r.overall.auroc_ci),
            "coverage": f"{r.coverage:.2f}",
            "TPR@1%": f"{r.overall.tpr_at_1pct_fpr:.2f}", "TPR@5%": f"{r.overall.tpr_at_5pct_fpr:.2f}",
            "FPR@p<.05 (calibrated range)": fpr,
            "budget": r.cost.budget.value if r.cost is not None else "n/a",
            "queries": "n/a" if r.queries_per_pair is None else r.queries_per_pair,
            "failed": r.n_failed, "note": r.degenerate or "",
        })
    first = results.detectors[0].overall if results.detectors else None
    G = results.intervals.get("clusters", 0)
    head = (f"suite {results.suite} ({results.split}): {len(results.pairs) or (first.n_pairs if first else 0)} pairs, "
            f"{sum(p.label for p in results.pairs) or (first.n_positive if first else 0)} positive, {G} teachers; "
            f"intervals: leave-one-teacher-out jackknife, t({int(G) - 1 if G else 0})"
            + ("" if int(G or 0) >= 3 else " (none: fewer than 3 teachers)")
            + "; rank and tie group within the track, from Holm-corrected paired tests")
    return head + "\n" + (pd.DataFrame(rows).to_string(index=False) if rows else "(no detectors)")


def comparison_matrix(results: Results, only: list[str] | None = None) -> str:
    """Per track: AUROC(row) - AUROC(column) on the pairs both scored, Holm p within the track, * significant."""
    cell: dict[tuple[str, str], Comparison] = {}
    for c in results.comparisons:
        cell[(c.a, c.b)] = c
        cell[(c.b, c.a)] = c.model_copy(update={"a": c.b, "b": c.a, "diff": -c.diff})
    out = []
    rows = _by_track(results, only)
    for track in sorted({r.access for r in rows}, key=_track_order):
        names = [r.detector for r in rows if r.access == track]
        if len(names) < 2:
            continue
        table = {}
        for a in names:
            table[a] = {}
            for b in names:
                c = cell.get((a, b))
                if a == b:
                    table[a][b] = "-"
                elif c is None:
                    table[a][b] = "n/a"
                else:
                    p = "n/a" if c.p_holm is None else f"{c.p_holm:.2f}" if c.p_holm >= 0.01 else f"{c.p_holm:.0e}"
                    table[a][b] = f"{c.diff:+.3f} (p={p})" + ("*" if c.significant else "")
        out.append(f"{track}: AUROC(row) - AUROC(column), Holm-adjusted p within the track, * = significant at 0.05\n"
                   + pd.DataFrame(table).T[names].to_string())
    return "\n\n".join(out) if out else "(no track holds two detectors: no paired comparison)"


def resolution_lines(results: Results) -> str:
    res = results.resolution
    lines = [f"resolution ({res.method}):",
             f"  median over {len(res.mdd_by_pair)} method pairs: MDD {_num(res.mdd_median, 3)}"]
    for track in sorted(res.mdd_closest_top4, key=_track_order):
        v = res.mdd_closest_top4[track]
        lines.append(f"  closest pair among top four of {track}: "
                     + (f"MDD {v:.3f}" if v is not None else "n/a (fewer than two methods, or fewer than 3 teachers)"))
    return "\n".join(lines)


def comparator_table(results: Results, only: list[str] | None = None) -> str:
    """Three tables: positives detected at the global threshold (p < 0.05), negative types' FPR, matched AUROCs."""
    rows = _by_track(results, only)
    kinds: dict[str, str] = {}
    for r in rows:
        for c, row in r.conditions.items():
            kinds.setdefault(c, row.kind)
    pos = [c for c, k in sorted(kinds.items()) if k == "positive"]
    neg = [c for c, k in sorted(kinds.items()) if k == "negative"]
    tags = [c for c, k in sorted(kinds.items()) if k == "tag"]

    def table(cols, fmt) -> str:
        data = {r.detector: {c: fmt(r.conditions.get(c)) for c in cols} for r in rows}
        return pd.DataFrame(data).T[cols].to_string() if data and cols else "(none)"

    def share(v, p05=None):
        return "n/a" if v is None else f"{v:.2f}" + ("" if p05 is None else f" ({p05:.2f})")

    def matched(row):
        if row is None:
            return "n/a"
        return f"{_num(row.matched_auroc_same_data)} / {_num(row.matched_auroc_weight_sharing)}"

    parts = [
        "Positives detected at the detector's global threshold (5% FPR over all negatives); in brackets at p < 0.05:\n"
        + table(pos, lambda m: "n/a" if m is None else share(m.detected_at_threshold, m.detected_at_p05)),
        "Negative types flagged at that same threshold (false-positive rate); in brackets at p < 0.05:\n"
        + table(neg, lambda m: "n/a" if m is None else share(m.fpr_at_threshold, m.fpr_at_p05)),
        "Within-teacher matched AUROC of each positive condition vs the same teacher's same-data / weight-sharing "
        "negatives:\n" + table(pos, matched),
    ]
    if tags:
        parts.append("AUROC on the pairs of each tag carried by both labels:\n"
                     + table(tags, lambda m: "n/a" if m is None else _num(m.auroc, 3)))
    return "\n\n".join(parts)
