"""A method author's loop in Python (a notebook, a script): the public dev split, and a detector object scored on it.

    from distillbench import dev

    pairs = dev.load("standard")                 # the dev split; installs the published evidence on first use
    result = dev.evaluate(MyDetector(), pairs)   # any object with the detector attributes; no registration
    print(result)                                # AUROC, TPR at 1%/5% FPR, calibration, per-condition detection
    dev.evaluate(MyDetector(), pairs, intervals=True)   # + leave-one-teacher-out jackknife intervals (the scorer's)
    result.frame()                               # one row per pair: teacher, student, label, conditions, score

Takes a workspace and a suite name; produces `DevPairs` (the dev pairs and the label-free evidence view) and
`DevResult`s. It runs in the calling process, with no sandbox and no limits: it is for code you wrote. What a
submission gets is `distillbench submission run`, contained; both read the same evidence through
`EvidenceView.pair` and score with the same metrics, so a deterministic detector gets the same AUROC from both.

Only the public dev split is reachable here (its labels are published with it); the hidden test split never is.
Calling `load` and `evaluate` again in the same process reuses what was loaded, and re-running a cell that
defines a `@register`ed class replaces the earlier definition (`detect.registry.register`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from distillbench.errors import DistillBenchError

SPLIT = "dev"
P_ALPHA = 0.05


@dataclass
class DevPairs:
    """The dev split of a suite: `len(pairs)`, `pairs[i]` / iteration give `PairEvidence` at `access` (default
    teacher-side, i.e. everything a detector of any track could see); `pairs.at("black-box")` cuts it to a track."""

    view: object  # evidence.view.EvidenceView
    manifest_path: Path
    records: list  # zoo.manifest.PairRecord of the dev split, in manifest order
    access: object = None  # evidence.view.AccessLevel

    @property
    def suite(self) -> str:
        return self.view.manifest.suite

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int):  # noqa: ANN204
        return self.view.pair(self.records[i], self.access)

    def __iter__(self):  # noqa: ANN204
        return (self.view.pair(r, self.access) for r in self.records)

    def at(self, access) -> DevPairs:  # noqa: ANN001
        from distillbench.evidence.view import AccessLevel

        return DevPairs(self.view, self.manifest_path, self.records, AccessLevel(access))

    def __repr__(self) -> str:
        positives = sum(r.label for r in self.records)
        return (f"DevPairs(suite={self.suite!r}, {len(self)} pairs, {positives} positive, "
                f"{len({r.teacher for r in self.records})} teachers)")


def load(suite: str = "standard", home: str | Path | None = None, log=print) -> DevPairs:  # noqa: ANN001
    """The dev split of `suite` in the workspace `home` (default: $DISTILLBENCH_HOME or ./.distillbench).

    A suite that is not built there but published with the repository (`leaderboard/evidence/<suite>/`) is
    installed first, as `distillbench evaluate` does; `log` receives that one line (None: silent)."""
    from distillbench.evidence.bundle import published_fallback
    from distillbench.evidence.view import AccessLevel, open_suite_view
    from distillbench.paths import Workspace
    from distillbench.zoo.spec import suite_name

    ws = Workspace.resolve(home)
    name = suite_name(suite)
    published_fallback(ws, name, log=log or (lambda _: None))
    view = open_suite_view(ws, name)
    records = [p for p in view.manifest.pairs if p.split == SPLIT]
    if not records:
        raise DistillBenchError(f"suite {name} has no {SPLIT} pairs in {ws.home}")
    return DevPairs(view, ws.manifest_path(name), records, AccessLevel.TEACHER_SIDE)


@dataclass
class DevResult:
    """One detector on the dev split. Intervals (95%, leave-one-teacher-out jackknife, t(G-1)) only with
    `intervals=True`; `conditions`: per positive condition the share flagged at the 5%-FPR threshold, per negative
    type the share flagged (its FPR), per teacher tag the AUROC on its pairs (the scorer's comparator)."""

    detector: str
    access: str
    suite: str
    n_pairs: int
    n_positive: int
    auroc: float
    tpr_at_1pct_fpr: float
    tpr_at_5pct_fpr: float
    fpr_at_p05: float | None
    coverage: float
    n_failed: int
    n_abstained: int
    conditions: dict[str, tuple[str, float | None]]  # condition -> (kind, number)
    failures: dict[str, str]  # manifest pair id (dev names are public) -> reason
    seconds: float  # detection
    note: str | None = None  # "constant scores", ...: nothing is ranked
    auroc_ci: tuple[float, float] | None = None
    tpr_at_5pct_fpr_ci: tuple[float, float] | None = None
    results: object | None = None  # score.results.Results, with intervals=True
    verdicts: object | None = field(default=None, repr=False)  # detect.runner.VerdictFile
    _pairs: list = field(default_factory=list, repr=False)

    def frame(self):  # noqa: ANN201
        """One row per dev pair: pair id, teacher, student, label, conditions, score, p-value, abstained, error."""
        import pandas as pd

        rows = []
        for rec, v in zip(self._pairs, self.verdicts.verdicts):
            rows.append({"pair_id": rec.pair_id, "teacher": rec.teacher, "student": rec.student, "label": rec.label,
                         "conditions": ",".join(rec.conditions), "score": v.score, "p_value": v.p_value,
                         "abstained": v.abstained, "error": v.error})
        return pd.DataFrame(rows)

    def __str__(self) -> str:
        def ci(c) -> str:  # noqa: ANN001
            return f" [{c[0]:.2f}, {c[1]:.2f}]" if c else ""

        lines = [
            f"{self.detector} ({self.access}) on {self.suite} {SPLIT}: {self.n_pairs} pairs, {self.n_positive} positive; "
            f"detected in {self.seconds:.1f}s",
            f"  AUROC {self.auroc:.3f}{ci(self.auroc_ci)}   TPR@1%FPR {self.tpr_at_1pct_fpr:.2f}   "
            f"TPR@5%FPR {self.tpr_at_5pct_fpr:.2f}{ci(self.tpr_at_5pct_fpr_ci)}   FPR@p<.05 "
            + ("n/a" if self.fpr_at_p05 is None else f"{self.fpr_at_p05:.3f}")
            + f"   coverage {self.coverage:.2f}   failed {self.n_failed}   abstained {self.n_abstained}"
            + (f"   ({self.note})" if self.note else ""),
        ]
        heads = {"positive": "detected at 5% FPR", "negative": "flagged (FPR) at that threshold", "tag": "AUROC"}
        for kind, head in heads.items():
            items = [(c, v) for c, (k, v) in self.conditions.items() if k == kind]
            if items:
                lines.append(f"  {head}: " + ", ".join(f"{c} {'n/a' if v is None else f'{v:.2f}'}" for c, v in items))
        for pid, err in list(self.failures.items())[:5]:
            lines.append(f"  failed: {pid}: {err}")
        if len(self.failures) > 5:
            lines.append(f"  ... and {len(self.failures) - 5} more failures (see .failures)")
        return "\n".join(lines)

    __repr__ = __str__


def _as_detector(detector):  # noqa: ANN001, ANN202
    """A detector object; a class is instantiated. Checked as `register` checks a class."""
    from distillbench.detect.registry import check_detector
    from distillbench.evidence.view import AccessLevel

    obj = detector() if isinstance(detector, type) else detector
    try:
        check_detector(obj)
        access = AccessLevel(obj.access)
    except (TypeError, ValueError) as exc:
        raise DistillBenchError(f"not a usable detector: {exc}") from None
    if not callable(obj.score):
        raise DistillBenchError(f"not a usable detector: {type(obj).__qualname__}.score is not a method")
    return obj, access


def _detect(obj, access, pairs: DevPairs):  # noqa: ANN001, ANN202
    from distillbench.detect.runner import run_detector

    # The same loop, ids and run key as the CLI's `evaluate`, so a detector that reads ids scores the same.
    return run_detector(obj, pairs.view, SPLIT, access=access)


def _fast_metrics(pairs: DevPairs, vf) -> dict:  # noqa: ANN001
    """The scorer's headline numbers and comparator rows without the jackknife (`score.results` for the defs)."""
    from distillbench.score.comparator import condition_kinds
    from distillbench.score.metrics import (auroc_score, degeneracy, failures_ranked_last, threshold_at_fpr,
                                            tpr_at_fpr_score)

    recs = pairs.records
    y = np.array([r.label for r in recs])
    raw = np.array([np.nan if v.score is None else v.score for v in vf.verdicts], dtype=float)
    p = np.array([np.nan if v.p_value is None else v.p_value for v in vf.verdicts], dtype=float)
    abstained = np.array([v.abstained for v in vf.verdicts], dtype=bool)
    failed = ~np.isfinite(raw) & ~abstained
    s = failures_ranked_last(np.where(abstained, np.nan, raw))
    used = ~abstained
    yu, su, pu = y[used], s[used], p[used]
    neg_p = (yu == 0) & np.isfinite(pu)
    out = dict(n_pairs=int(used.sum()), n_positive=int(yu.sum()), n_failed=int(failed.sum()),
               n_abstained=int(abstained.sum()), coverage=float(np.mean(used & ~failed)),
               fpr_at_p05=float(np.mean(pu[neg_p] < P_ALPHA)) if neg_p.any() else None,
               note=degeneracy(raw[used]), conditions={})
    if not (yu == 1).any() or not (yu == 0).any():
        out.update(auroc=0.5, tpr_at_1pct_fpr=0.0, tpr_at_5pct_fpr=0.0,
                   note="abstained on every pair" if not yu.size else "no scored positive or negative pair")
        return out
    out.update(auroc=auroc_score(yu, su), tpr_at_1pct_fpr=tpr_at_fpr_score(yu, su, 0.01),
               tpr_at_5pct_fpr=tpr_at_fpr_score(yu, su, 0.05))
    thr = threshold_at_fpr(su[yu == 0], 0.05)
    conds = [c for c, u in zip((r.conditions for r in recs), used) if u]
    kinds = condition_kinds(y.tolist(), [r.teacher for r in recs], [r.conditions for r in recs])
    for c, kind in kinds.items():
        has = np.array([c in cs for cs in conds], dtype=bool)
        if kind == "positive":
            sel = has & (yu == 1)
        elif kind == "negative":
            sel = has & (yu == 0)
        else:
            sel = has
        if not sel.any():
            out["conditions"][c] = (kind, None)
        elif kind == "tag":
            both = len(np.unique(yu[sel])) == 2
            out["conditions"][c] = (kind, auroc_score(yu[sel], su[sel]) if both else None)
        else:
            out["conditions"][c] = (kind, float(np.mean(su[sel] > thr)))
    return out


def evaluate(detector, pairs: DevPairs, intervals: bool = False) -> DevResult:  # noqa: ANN001
    """Score a detector object (or class) on every pair of `pairs`, in this process; returns a `DevResult`.

    A pair on which the detector raises or returns something other than a `Verdict` is recorded as failed (ranked
    below every other pair, as on the leaderboard) and the run goes on. `intervals=True` scores with
    `distillbench.score.results.score`, the leaderboard's scorer, adding its jackknife intervals (`.results` holds
    its full output)."""
    obj, access = _as_detector(detector)
    vf = _detect(obj, access, pairs)
    failures = {rec.pair_id: v.error for rec, v in zip(pairs.records, vf.verdicts) if v.error is not None}
    common = dict(detector=str(obj.name), access=access.value, suite=pairs.suite, failures=failures,
                  seconds=vf.seconds, verdicts=vf, _pairs=pairs.records)
    if not intervals:
        return DevResult(**common, **_fast_metrics(pairs, vf))
    from distillbench.score.results import score

    results = score(pairs.view.manifest, pairs.manifest_path, [vf], split=SPLIT)
    r = results.detectors[0]
    o = r.overall
    main = {"positive": "detected_at_threshold", "negative": "fpr_at_threshold", "tag": "auroc"}
    conditions = {c: (row.kind, getattr(row, main[row.kind])) for c, row in sorted(r.conditions.items())}
    return DevResult(**common, n_pairs=o.n_pairs, n_positive=o.n_positive, auroc=o.auroc,
                     tpr_at_1pct_fpr=o.tpr_at_1pct_fpr, tpr_at_5pct_fpr=o.tpr_at_5pct_fpr, fpr_at_p05=o.fpr_at_p05,
                     coverage=r.coverage, n_failed=r.n_failed, n_abstained=r.n_abstained, conditions=conditions,
                     note=r.degenerate, auroc_ci=o.auroc_ci, tpr_at_5pct_fpr_ci=o.tpr_at_5pct_fpr_ci, results=results)
