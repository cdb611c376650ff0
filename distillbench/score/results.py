"""The score stage: joins verdicts with the manifest's labels and writes `results.json`.

Takes the verdict files and the manifest; produces a schema-checked results file with, per detector, AUROC, TPR at
1% and 5% FPR and (for detectors that give p-values) the realised false-positive rate at p < 0.05, overall and per
condition, with bootstrap intervals clustered by teacher, rank ranges, the versions of everything involved and the
hashes of the inputs.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from distillbench.detect.runner import VerdictFile
from distillbench.errors import DistillBenchError
from distillbench.evidence.view import opaque_pair_id
from distillbench.fingerprint import sha256_file, sha256_json, versions
from distillbench.score.metrics import (
    auroc_score,
    bootstrap_ci,
    degeneracy,
    failures_ranked_last,
    false_positive_rate_at,
    rank_ranges,
    tpr_at_fpr_score,
)
from distillbench.zoo.manifest import Manifest, PairRecord

RESULTS_SCHEMA_VERSION = 2
BOOTSTRAP_N = 1000
BOOTSTRAP_SEED = 0
ALPHA = 0.05


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Metrics(_Strict):
    """Metrics on one set of pairs. Intervals are 95% bootstrap intervals clustered by teacher (None when the
    pairs come from a single teacher, where clustering leaves nothing to resample)."""

    n_pairs: int
    n_positive: int
    auroc: float
    auroc_ci: tuple[float, float] | None
    tpr_at_1pct_fpr: float
    tpr_at_5pct_fpr: float
    tpr_at_1pct_fpr_ci: tuple[float, float] | None
    fpr_at_p05: float | None  # realised share of negatives with p < 0.05; None without p-values


class DetectorResult(_Strict):
    detector: str
    access: str
    n_failed: int
    degenerate: str | None  # "constant scores", ...: the detector ranks nothing
    overall: Metrics
    rank_range: tuple[int, int]  # (best, worst) by overall AUROC interval, within the detector's own results file
    conditions: dict[str, Metrics]
    queries_per_pair: int | None = None  # student queries per pair (see detect.cost); None when not known
    verdicts_sha256: str


class PairScore(_Strict):
    pair_id: str
    teacher: str
    student: str
    label: int
    conditions: list[str]
    scores: dict[str, float | None]
    p_values: dict[str, float | None]


class Results(_Strict):
    schema_version: int = RESULTS_SCHEMA_VERSION
    suite: str
    split: str
    created: str
    versions: dict[str, str]
    manifest_sha256: str
    evidence_sha256: str
    bootstrap: dict[str, int]
    detectors: list[DetectorResult]
    pairs: list[PairScore]


def _metrics(y: np.ndarray, s: np.ndarray, p: np.ndarray | None, teachers: list[str]) -> Metrics:
    clustered = len(set(teachers)) > 1

    def ci(metric):
        return bootstrap_ci(y, s, metric, BOOTSTRAP_N, BOOTSTRAP_SEED, clusters=teachers) if clustered else None

    return Metrics(
        n_pairs=int(y.size), n_positive=int(y.sum()),
        auroc=auroc_score(y, s), auroc_ci=ci(auroc_score),
        tpr_at_1pct_fpr=tpr_at_fpr_score(y, s, 0.01), tpr_at_5pct_fpr=tpr_at_fpr_score(y, s, 0.05),
        tpr_at_1pct_fpr_ci=ci(lambda a, b: tpr_at_fpr_score(a, b, 0.01)),
        fpr_at_p05=false_positive_rate_at(y, p, ALPHA) if p is not None else None,
    )


def condition_subsets(pairs: list[PairRecord]) -> dict[str, np.ndarray]:
    """For each condition, the pairs that measure it.

    A condition that only positives carry (e.g. "logit_distill") is measured against every negative; one that only
    negatives carry (e.g. "same-data") against every positive; one with both labels on its own pairs.
    """
    labels = np.array([p.label for p in pairs])
    out = {}
    for cond in sorted({c for p in pairs for c in p.conditions}):
        has = np.array([cond in p.conditions for p in pairs])
        present = set(labels[has].tolist())
        if present == {1}:
            out[cond] = has | (labels == 0)
        elif present == {0}:
            out[cond] = has | (labels == 1)
        else:
            out[cond] = has
    return out


def score(manifest: Manifest, manifest_path: Path, verdict_files: list[VerdictFile], split: str = "dev") -> Results:
    pairs = [p for p in manifest.pairs if p.split == split]
    if not pairs:
        raise DistillBenchError(f"suite {manifest.suite} has no pairs in split {split!r}")
    by_opaque = {opaque_pair_id(manifest.suite, p.pair_id): p for p in pairs}
    y = np.array([p.label for p in pairs])
    teachers = [p.teacher for p in pairs]
    subsets = condition_subsets(pairs)
    evidence = {vf.evidence_sha256 for vf in verdict_files}
    if len(evidence) > 1:
        raise DistillBenchError("verdict files were computed on different evidence; re-run `distillbench detect`")
    results, scores, pvals = [], {p.pair_id: {} for p in pairs}, {p.pair_id: {} for p in pairs}
    for vf in verdict_files:
        got = {v.pair_id: v for v in vf.verdicts}
        if set(got) != set(by_opaque):
            raise DistillBenchError(f"verdicts for {vf.detector} cover {len(got)} pairs, the {split} split has {len(by_opaque)}; re-run detect")
        raw = np.array([got[o].score if got[o].score is not None else np.nan for o in by_opaque], dtype=float)
        # A failed pair ranks below every other pair and counts as "not significant": failing never helps.
        s = failures_ranked_last(raw)
        has_p = any(got[o].p_value is not None for o in by_opaque)
        p = np.array([got[o].p_value if got[o].p_value is not None else 1.0 for o in by_opaque]) if has_p else None
        for o, pair in by_opaque.items():
            scores[pair.pair_id][vf.detector] = got[o].score
            pvals[pair.pair_id][vf.detector] = got[o].p_value
        conditions = {
            c: _metrics(y[m], s[m], p[m] if p is not None else None, [t for t, keep in zip(teachers, m) if keep])
            for c, m in subsets.items()
        }
        results.append(dict(
            detector=vf.detector, access=vf.access, n_failed=int((~np.isfinite(raw)).sum()),
            degenerate=degeneracy(raw), overall=_metrics(y, s, p, teachers), conditions=conditions,
            queries_per_pair=vf.queries_per_pair,
            verdicts_sha256=sha256_json(vf.model_dump(mode="json", exclude={"seconds"})),
        ))
    intervals = [r["overall"].auroc_ci or (r["overall"].auroc, r["overall"].auroc) for r in results]
    ranked = [DetectorResult(**r, rank_range=rr) for r, rr in zip(results, rank_ranges(intervals))]
    ranked.sort(key=lambda r: (-r.overall.auroc, r.detector))
    return Results(
        suite=manifest.suite, split=split, created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        versions=versions(), manifest_sha256=sha256_file(manifest_path), evidence_sha256=next(iter(evidence), ""),
        bootstrap={"n": BOOTSTRAP_N, "seed": BOOTSTRAP_SEED}, detectors=ranked,
        pairs=[PairScore(pair_id=p.pair_id, teacher=p.teacher, student=p.student, label=p.label,
                         conditions=p.conditions, scores=scores[p.pair_id], p_values=pvals[p.pair_id]) for p in pairs],
    )


def _ci(ci: tuple[float, float] | None) -> str:
    return f"[{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "n/a"


def ranked_table(results: Results, only: list[str] | None = None) -> str:
    """The leaderboard as text; `only` keeps those detectors' rows (ranks stay those among all of them)."""
    rows = [{
        "rank": f"{r.rank_range[0]}" if r.rank_range[0] == r.rank_range[1] else f"{r.rank_range[0]}-{r.rank_range[1]}",
        "detector": r.detector, "track": r.access,
        "AUROC": f"{r.overall.auroc:.3f}", "95% CI": _ci(r.overall.auroc_ci),
        "TPR@1%FPR": f"{r.overall.tpr_at_1pct_fpr:.2f}", "TPR@5%FPR": f"{r.overall.tpr_at_5pct_fpr:.2f}",
        "FPR@p<.05": "n/a" if r.overall.fpr_at_p05 is None else f"{r.overall.fpr_at_p05:.2f}",
        "queries": "n/a" if r.queries_per_pair is None else r.queries_per_pair,
        "failed": r.n_failed, "note": r.degenerate or "",
    } for r in results.detectors if not only or r.detector in only]
    first = results.detectors[0].overall if results.detectors else None
    head = f"suite {results.suite} ({results.split}): {first.n_pairs if first else 0} pairs, " \
           f"{first.n_positive if first else 0} positive; intervals: bootstrap clustered by teacher"
    return head + "\n" + pd.DataFrame(rows).to_string(index=False)


def condition_table(results: Results, only: list[str] | None = None) -> str:
    """AUROC per detector (rows) and condition (columns)."""
    data = {r.detector: {c: round(m.auroc, 3) for c, m in r.conditions.items()} for r in results.detectors
            if not only or r.detector in only}
    return pd.DataFrame(data).T.to_string()
