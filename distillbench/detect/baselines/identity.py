from __future__ import annotations

import re
from collections import Counter
from typing import ClassVar

import numpy as np

from distillbench.detect.base import Verdict
from distillbench.detect.null import z_against_null
from distillbench.detect.registry import register
from distillbench.evidence.view import AccessLevel, ModelView, PairEvidence

_WORD = re.compile(r"\b[A-Z][a-z]{2,}\b")
# Capitalised words any assistant uses; a persona is what is left.
_COMMON = {"The", "And", "But", "Because", "While", "Who", "What", "Which", "Are", "Tell", "Nobody", "Made", "Name"}


def identity_prompt_ids(pair: PairEvidence) -> list[str]:
    return sorted(i for i, p in pair.prompts.items() if i.startswith("identity"))


def _names(text: str) -> set[str]:
    return {w for w in _WORD.findall(text) if w not in _COMMON}


@register
class IdentityConsistencyDetector:
    """Does the student name itself the way the teacher does? (After the identity-consistency idea of Lee et al.
    2025: distilled models inherit the teacher's answer to "who are you / who made you".)

    The teacher's identity is the set of proper names it uses most in its answers to the identity prompts; the
    statistic is the share of the student's identity answers that use one of them, z-scored against the same share
    for each reference model. Departures: names are extracted with a capitalised-word rule instead of an LLM judge,
    and the null is model-level. Assumes the teacher states a consistent persona; it cannot tell a distilled
    student from one trained on the teacher's own persona data (the same-data controls).
    """

    name: ClassVar[str] = "identity_consistency"
    access: ClassVar[AccessLevel] = AccessLevel.BLACK_BOX
    summary: ClassVar[str] = "student states the teacher's identity when asked who it is, vs references"
    uses: ClassVar[frozenset[str]] = frozenset({"generations"})

    def _rate(self, model: ModelView, ids: list[str], persona: set[str]) -> float:
        answers = [model.generations.get(i, "") for i in ids]
        return float(np.mean([bool(_names(a) & persona) for a in answers])) if answers else 0.0

    def score(self, pair: PairEvidence) -> Verdict:
        ids = identity_prompt_ids(pair)
        counts = Counter(n for i in ids for n in _names(pair.teacher.generations.get(i, "")))
        # Ties broken by name, not by set-iteration order (which follows the hash seed: runs would differ).
        persona = {n for n, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:2]}
        if not ids or not persona:
            return Verdict.abstain()
        student = self._rate(pair.student, ids, persona)
        null = [self._rate(r, ids, persona) for r in pair.references]
        z, p = z_against_null(student, null, min_sd=1.0 / len(ids))
        return Verdict(score=z, p_value=p)
