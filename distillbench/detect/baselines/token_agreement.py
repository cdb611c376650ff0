from __future__ import annotations

from typing import ClassVar

import numpy as np
from scipy import stats

from distillbench.detect.base import Verdict
from distillbench.detect.registry import register
from distillbench.evidence.view import AccessLevel, PairEvidence

WINDOW = 12  # words compared per answer


def agreement(a: str, b: str) -> float:
    """Share of the first WINDOW word positions where two greedy answers agree."""
    wa, wb = a.split()[:WINDOW], b.split()[:WINDOW]
    n = max(len(wa), len(wb))
    return sum(x == y for x, y in zip(wa, wb)) / n if n else 0.0


def holm(p_values: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (step-down, monotone), in the input order."""
    order = np.argsort(p_values)
    m = len(p_values)
    adjusted = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted.tolist()


@register
class TokenAgreementProvenanceDetector:
    """Greedy output agreement with the teacher versus with each reference model, as a multiple test.
    (After Nikolić et al. 2025, "Model Provenance Testing for Large Language Models": a derived model agrees with
    its parent's greedy outputs more than unrelated models do.)

    For every probe prompt, the word-level agreement of the student's greedy answer with the teacher's and with each
    reference model's. One one-sided Wilcoxon signed-rank test per reference (H0: the student agrees no more with
    the teacher than with that reference), Holm-Bonferroni across references; the pair's p-value is the largest
    adjusted p (provenance is claimed only if the teacher beats every reference). The score is the mean agreement
    margin over references. Departures: words instead of model tokens (a black-box detector has no tokenizer), and
    the test is over prompts, so it inherits the per-sequence miscalibration the model-level nulls avoid: the
    calibration column shows how much.
    """

    name: ClassVar[str] = "token_agreement"
    access: ClassVar[AccessLevel] = AccessLevel.BLACK_BOX
    summary: ClassVar[str] = "greedy answer agreement with teacher vs each reference, Wilcoxon + Holm-Bonferroni"
    uses: ClassVar[frozenset[str]] = frozenset({"generations"})

    def score(self, pair: PairEvidence) -> Verdict:
        ids = sorted(pair.prompts)
        if not ids or not pair.references:
            return Verdict.abstain()
        to_teacher = np.array([agreement(pair.student.generations.get(i, ""), pair.teacher.generations.get(i, "")) for i in ids])
        margins, p_values = [], []
        for ref in pair.references:
            to_ref = np.array([agreement(pair.student.generations.get(i, ""), ref.generations.get(i, "")) for i in ids])
            diff = to_teacher - to_ref
            margins.append(float(diff.mean()))
            p_values.append(1.0 if not np.any(diff) else float(stats.wilcoxon(diff, alternative="greater").pvalue))
        return Verdict(score=float(np.mean(margins)), p_value=max(holm(p_values)))
