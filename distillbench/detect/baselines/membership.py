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
    distribution, so only a model trained on the logged ones should fit them better. The statistic is the share of
    prompts whose logged answer the model fits better (lower NLL per byte) than the fresh one: a paired sign
    statistic, chosen over the mean NLL difference because a few long texts dominate the mean and its spread
    differs between model families. It is z-scored against the reference models: a model-level version of the
    reference-calibrated likelihood tests of membership inference (e.g. Carlini et al. 2021). Assumes the vendor keeps a log of served outputs; it cannot fire on
    logit distillation, which never sees sampled outputs.
    """

    name: ClassVar[str] = "membership"
    access: ClassVar[AccessLevel] = AccessLevel.GRAY_BOX
    summary: ClassVar[str] = "student fits the teacher's logged answers better than fresh samples, vs references"
    uses: ClassVar[frozenset[str]] = frozenset({"logliks"})

    def _stat(self, model: ModelView, pairs: list[tuple[str, str]]) -> float:
        wins = [nats_per_byte(model, [logged]) < nats_per_byte(model, [fresh]) for logged, fresh in pairs]
        return float(np.mean(wins))

    def score(self, pair: PairEvidence) -> Verdict:
        logged = {t.context: t.id for t in pair.pool if t.role == "teacher-logged"}
        fresh = {t.context: t.id for t in pair.pool if t.role == "teacher-fresh"}
        pairs = [(logged[c], fresh[c]) for c in sorted(set(logged) & set(fresh))]
        logliks = pair.student.logliks or {}
        if not pairs or not all(i in logliks for p in pairs for i in p):
            return Verdict.abstain()
        student = self._stat(pair.student, pairs)
        null = [self._stat(r, pairs) for r in pair.references if r.logliks and all(i in r.logliks for p in pairs for i in p)]
        z, p = z_against_null(student, null, min_sd=1.0 / len(pairs))
        return Verdict(score=z, p_value=p)
