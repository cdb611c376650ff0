from __future__ import annotations

from typing import ClassVar

import numpy as np

from distillbench.detect.base import Verdict
from distillbench.detect.null import z_against_null
from distillbench.detect.registry import register
from distillbench.evidence.view import AccessLevel, ModelView, PairEvidence


def nats_per_byte(model: ModelView, ids: list[str]) -> float:
    assert model.logliks is not None
    vals = [-model.logliks[i][0] / max(1, model.logliks[i][1]) for i in ids if i in model.logliks]
    return float(np.mean(vals)) if vals else float("nan")


@register
class CrossLikelihoodDetector:
    """How much better the student fits the teacher's samples than the reference models' samples.

    Statistic, for a model M and teacher T: a(M, T) = NLL_M(reference texts) - NLL_M(teacher texts), in nats per
    byte of continuation (bytes, not tokens, so models with different tokenizers compare). A student that learned
    from T fits T's texts unusually well. Text difficulty and general model quality cancel in the difference; what
    remains is compared with the same statistic for each reference model (leaving out its own samples), giving a
    model-level z-score and a t-based p-value (`detect.null`).

    Follows the likelihood-ratio idea of membership and provenance tests (e.g. Carlini et al. 2021's reference-model
    calibration), applied at the model level. Assumes the teacher's samples are representative of what a
    distiller would have queried and that references are independent of the teacher.
    """

    name: ClassVar[str] = "cross_likelihood"
    access: ClassVar[AccessLevel] = AccessLevel.GRAY_BOX
    summary: ClassVar[str] = "student fits teacher samples better than reference samples, vs a reference-model null"
    uses: ClassVar[frozenset[str]] = frozenset({"logliks"})

    def _affinity(self, model: ModelView, teacher_ids: list[str], other_ids: list[str]) -> float:
        return nats_per_byte(model, other_ids) - nats_per_byte(model, teacher_ids)

    def score(self, pair: PairEvidence) -> Verdict:
        teacher_ids = [t.id for t in pair.pool if t.role == "teacher"]
        ref_texts = [(t.id, t.source_id) for t in pair.pool if t.role == "reference"]
        if not teacher_ids or not ref_texts or pair.student.logliks is None:
            return Verdict.abstain()
        student = self._affinity(pair.student, teacher_ids, [i for i, _ in ref_texts])
        null = [
            self._affinity(ref, teacher_ids, [i for i, src in ref_texts if src != ref.model_id])
            for ref in pair.references
        ]
        null = [v for v in null if np.isfinite(v)]
        if not np.isfinite(student):
            return Verdict.abstain()
        z, p = z_against_null(student, null)
        return Verdict(score=z, p_value=p)
