"""Example detector: word-bigram overlap of student and teacher answers, against a reference-model null.

Copy this folder with `distillbench submission new <slug>` and replace `score`. A detector is any class with
`name`, `access`, `summary`, `uses` and `score(pair) -> Verdict` (see distillbench/detect/base.py). It receives a
`PairEvidence` (distillbench/evidence/view.py) cut to its track: the probe prompts, the teacher's and student's
answers, the same for each independent reference model, and (gray-box and up) log-likelihoods of a text pool.
It never receives labels, model names, or anything else; it runs without network and cannot read files outside
this folder.
"""

from __future__ import annotations

from typing import ClassVar

from distillbench.detect.base import Verdict
from distillbench.detect.null import z_against_null
from distillbench.evidence.view import AccessLevel, ModelView, PairEvidence


def _bigrams(text: str) -> set[tuple[str, str]]:
    words = text.lower().split()
    return set(zip(words, words[1:], strict=False))


def _overlap(model: ModelView, teacher: dict[str, set], prompt_ids: list[str]) -> float:
    """Mean Jaccard similarity of word bigrams with the teacher's answers, over the prompts both answered."""
    scores = []
    for pid in prompt_ids:
        x, y = _bigrams(model.generations.get(pid, "")), teacher[pid]
        if x or y:
            scores.append(len(x & y) / len(x | y))
    return sum(scores) / len(scores) if scores else 0.0


class ExampleDetector:
    """Higher score: the student answers more like the teacher than independent models do."""

    name: ClassVar[str] = "example_detector"
    access: ClassVar[AccessLevel] = AccessLevel.BLACK_BOX
    summary: ClassVar[str] = "word-bigram overlap of student and teacher answers, vs a reference-model null"
    # The student evidence it reads ("generations", "logliks", "hidden"): the benchmark counts queries from this.
    uses: ClassVar[frozenset[str]] = frozenset({"generations"})

    def score(self, pair: PairEvidence) -> Verdict:
        prompt_ids = sorted(pair.prompts)
        teacher = {pid: _bigrams(pair.teacher.generations.get(pid, "")) for pid in prompt_ids}  # once per pair
        student = _overlap(pair.student, teacher, prompt_ids)
        null = [_overlap(ref, teacher, prompt_ids) for ref in pair.references]
        z, p = z_against_null(student, null)  # model-level null: one value per independent reference model
        return Verdict(score=z, p_value=p)
