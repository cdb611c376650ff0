from __future__ import annotations

from typing import ClassVar

import numpy as np

from distillbench.detect.base import Verdict
from distillbench.detect.null import z_against_null
from distillbench.detect.registry import register
from distillbench.evidence.view import AccessLevel, ModelView, PairEvidence


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear centred kernel alignment (Kornblith et al. 2019) between two representations of the same n items."""
    x = x - x.mean(0)
    y = y - y.mean(0)
    cross = np.linalg.norm(x.T @ y) ** 2
    norm = np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)
    return float(cross / norm) if norm > 0 else 0.0


@register
class RepresentationSimilarityDetector:
    """Does the student's representation space line up with what the teacher finds likely? (After REEF, Zhang et
    al. 2025, which compares a suspect model's hidden-state CKA with the victim's.)

    White-box access covers the student (and the open reference models), never the teacher, which stays an API.
    So the teacher side of the comparison is the representation the track does allow: the teacher's per-text
    log-likelihood profile over the pool (nats per byte, one column). The statistic is linear CKA between the
    student's mean final-layer hidden states on the pool texts and that profile, z-scored against the same CKA for
    each reference model. Departure from REEF: REEF has both models' hidden states; with an API teacher this is a
    weaker, likelihood-anchored version, and it reads white-box evidence the black-box tracks do not get.
    """

    name: ClassVar[str] = "representation_cka"
    access: ClassVar[AccessLevel] = AccessLevel.WHITE_BOX
    summary: ClassVar[str] = "CKA of student hidden states with the teacher's likelihood profile, vs references"
    uses: ClassVar[frozenset[str]] = frozenset({"hidden", "logliks"})

    def _cka(self, model: ModelView, ids: list[str], teacher_profile: np.ndarray) -> float:
        if model.hidden is None:
            return float("nan")
        x = np.array([model.hidden[i] for i in ids])
        return linear_cka(x, teacher_profile[:, None])

    def score(self, pair: PairEvidence) -> Verdict:
        t = pair.teacher.logliks or {}
        ids = [p.id for p in pair.pool if p.id in t and pair.student.hidden and p.id in pair.student.hidden
               and all(r.hidden and p.id in r.hidden for r in pair.references)]
        if len(ids) < 3:
            return Verdict.abstain()
        profile = np.array([-t[i][0] / max(1, t[i][1]) for i in ids])
        student = self._cka(pair.student, ids, profile)
        z, p = z_against_null(student, [self._cka(r, ids, profile) for r in pair.references], min_sd=1e-3)
        return Verdict(score=z, p_value=p)
