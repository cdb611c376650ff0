"""The score stage: joins verdicts with the manifest's labels and writes `results.json`.

Takes the verdict files and the manifest; produces a schema-checked results file with every detector's metrics,
bootstrap intervals, the versions of everything involved and the hashes of the inputs, ranked by AUROC.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from distillbench.detect.runner import VerdictFile
from distillbench.errors import DistillBenchError
from distillbench.evidence.view import opaque_id
from distillbench.fingerprint import sha256_file, sha256_json, versions
from distillbench.score.metrics import auroc_score, bootstrap_ci, tpr_at_fpr_score
from distillbench.zoo.manifest import Manifest

RESULTS_SCHEMA_VERSION = 1
BOOTSTRAP_N = 1000
BOOTSTRAP_SEED = 0


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DetectorResult(_Strict):
    detector: str
    access: str
    n_pairs: int
    n_positive: int
    n_failed: int
    auroc: float
    auroc_ci: tuple[float, float]
    tpr_at_1pct_fpr: float
    tpr_at_1pct_fpr_ci: tuple[float, float]
    verdicts_sha256: str


class PairScore(_Strict):
    pair_id: str
    teacher: str
    student: str
    label: int
    conditions: list[str]
    scores: dict[str, float | None]


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


def score(manifest: Manifest, manifest_path, verdict_files: list[VerdictFile], split: str = "dev") -> Results:
    pairs = [p for p in manifest.pairs if p.split == split]
    by_opaque = {opaque_id(f"{manifest.suite}/{p.pair_id}"): p for p in pairs}
    labels = np.array([p.label for p in pairs])
    evidence = {vf.evidence_sha256 for vf in verdict_files}
    if len(evidence) > 1:
        raise DistillBenchError("verdict files were computed on different evidence; re-run `distillbench detect`")
    results, table = [], {p.pair_id: {} for p in pairs}
    for vf in verdict_files:
        got = {v.pair_id: v for v in vf.verdicts}
        if set(got) != set(by_opaque):
            raise DistillBenchError(f"verdicts for {vf.detector} cover {len(got)} pairs, the {split} split has {len(by_opaque)}; re-run detect")
        # A failed pair counts as the lowest possible score: failing must never help a detector.
        raw = np.array([got[oid].score if got[oid].score is not None else np.nan for oid in by_opaque])
        floor = np.nanmin(raw) - 1 if np.isfinite(raw).any() else 0.0
        s = np.where(np.isfinite(raw), raw, floor)
        for oid, p in by_opaque.items():
            table[p.pair_id][vf.detector] = got[oid].score
        results.append(DetectorResult(
            detector=vf.detector, access=vf.access, n_pairs=len(pairs), n_positive=int(labels.sum()),
            n_failed=int((~np.isfinite(raw)).sum()),
            auroc=auroc_score(labels, s),
            auroc_ci=bootstrap_ci(labels, s, auroc_score, BOOTSTRAP_N, BOOTSTRAP_SEED),
            tpr_at_1pct_fpr=tpr_at_fpr_score(labels, s, 0.01),
            tpr_at_1pct_fpr_ci=bootstrap_ci(labels, s, lambda y, x: tpr_at_fpr_score(y, x, 0.01), BOOTSTRAP_N, BOOTSTRAP_SEED),
            verdicts_sha256=sha256_json(vf.model_dump(mode="json", exclude={"seconds"})),
        ))
    results.sort(key=lambda r: (-r.auroc, r.detector))
    return Results(
        suite=manifest.suite, split=split, created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        versions=versions(), manifest_sha256=sha256_file(manifest_path), evidence_sha256=next(iter(evidence), ""),
        bootstrap={"n": BOOTSTRAP_N, "seed": BOOTSTRAP_SEED}, detectors=results,
        pairs=[PairScore(pair_id=p.pair_id, teacher=p.teacher, student=p.student, label=p.label,
                         conditions=p.conditions, scores=table[p.pair_id]) for p in pairs],
    )


def ranked_table(results: Results) -> str:
    rows = [{
        "rank": i + 1, "detector": r.detector, "track": r.access,
        "AUROC": f"{r.auroc:.3f}", "95% CI": f"[{r.auroc_ci[0]:.2f}, {r.auroc_ci[1]:.2f}]",
        "TPR@1%FPR": f"{r.tpr_at_1pct_fpr:.2f}", "failed": r.n_failed,
    } for i, r in enumerate(results.detectors)]
    head = f"suite {results.suite} ({results.split}): {results.detectors[0].n_pairs if rows else 0} pairs, " \
           f"{results.detectors[0].n_positive if rows else 0} positive"
    return head + "\n" + pd.DataFrame(rows).to_string(index=False)
