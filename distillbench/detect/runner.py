"""The detect stage: runs detectors over every pair of a suite and writes one verdicts file per detector.

Takes the manifest (pairs, without reading labels), the evidence view and detector names; produces
`verdicts/<detector>.json`. A detector that raises or returns a non-finite score on a pair gets that pair recorded
as a failure with the reason; the other pairs and detectors carry on.
"""

from __future__ import annotations

import time

from pydantic import BaseModel, ConfigDict

from distillbench.detect.cost import queries_per_pair
from distillbench.detect.registry import get_detector
from distillbench.evidence.view import EvidenceView
from distillbench.files import write_model
from distillbench.paths import Workspace

VERDICTS_SCHEMA_VERSION = 1


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PairVerdict(_Strict):
    pair_id: str  # opaque id, as the detector saw it
    score: float | None
    p_value: float | None
    error: str | None = None
    abstained: bool = False  # Verdict.abstain(): the scorer leaves the pair out and reports coverage


class VerdictFile(_Strict):
    schema_version: int = VERDICTS_SCHEMA_VERSION
    suite: str
    split: str
    detector: str
    access: str
    evidence_sha256: str
    seconds: float
    # Student queries one pair costs, from the evidence kinds the detector reads (`detect.cost`).
    queries_per_pair: int | None = None
    verdicts: list[PairVerdict]


def run_detector(name: str, view: EvidenceView, split: str = "dev") -> VerdictFile:
    detector = get_detector(name)
    start = time.perf_counter()
    verdicts = []
    for pair in view.manifest.pairs:
        if pair.split != split:
            continue
        evidence = view.pair(pair, detector.access)
        try:
            v = detector.score(evidence)
            verdicts.append(PairVerdict(pair_id=evidence.pair_id, score=v.score, p_value=v.p_value,
                                        abstained=v.abstained))
        except Exception as exc:  # a detector's bug (or an invalid Verdict) must not sink the run
            reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            verdicts.append(PairVerdict(pair_id=evidence.pair_id, score=None, p_value=None, error=reason))
    return VerdictFile(
        suite=view.manifest.suite, split=split, detector=name, access=detector.access.value,
        evidence_sha256=view.digest(), seconds=time.perf_counter() - start,
        queries_per_pair=queries_per_pair(detector, len(view.prompts()), view.manifest.pool.n_texts), verdicts=verdicts,
    )


def detect(names: list[str], view: EvidenceView, workspace: Workspace, split: str = "dev") -> list[VerdictFile]:
    out = []
    for name in names:
        vf = run_detector(name, view, split)
        write_model(workspace.verdicts_dir(view.manifest.suite) / f"{name}.json", vf)
        out.append(vf)
    return out
