from __future__ import annotations

from typing import ClassVar

import numpy as np

from distillbench.detect.base import Verdict
from distillbench.detect.baselines.cross_likelihood import nats_per_byte
from distillbench.detect.null import z_against_null
from distillbench.detect.registry import register
from distillbench.evidence.view import AccessLevel, ModelView, PairEvidence


@register
class MembershipDetector:
    """Has the student seen the very answers the teacher served? A membership-inference test at the model level.

    The pool quotes answers the teacher's API logged for prompts inside distillers' query range ("teacher-logged")
    and fresh samples from the teacher for the same prompts ("teacher-fresh"). Both come from the same
    distribution, so only a model trained on the logged ones fits them better: the statistic is
    NLL(fresh) - NLL(logged) in nats per byte, z-scored against the reference models: a model-level version of
    the reference-calibrated likelihood tests of membership inference (e.g. Carlini et al. 2021). Assumes the vendor keeps a log of served outputs; it cannot fire on
    logit distillation, which never sees sampled outputs.
    """

    name: ClassVar[str] = "membership"
    access: ClassVar[AccessLevel] = AccessLevel.GRAY_BOX
    summary: ClassVar[str] = "student fits the teacher's logged answers better than fresh samples, vs references"
    uses: ClassVar[frozenset[str]] = frozenset({"logliks"})

    def _stat(self, model: ModelView, logged: list[str], fresh: list[str]) -> float:
        return nats_per_byte(model, fresh) - nats_per_byte(model, logged)

    def score(self, pair: PairEvidence) -> Verdict:
        logged = [t.id for t in pair.pool if t.role == "teacher-logged"]
        fresh = [t.id for t in pair.pool if t.role == "teacher-fresh"]
        if not logged or not fresh or pair.student.logliks is None:
            return Verdict(score=0.0, p_value=None)
        student = self._stat(pair.student, logged, fresh)
        z, p = z_against_null(student, [self._stat(r, logged, fresh) for r in pair.references])
        return Verdict(score=z, p_value=p) if np.isfinite(z) else Verdict(score=0.0, p_value=None)
