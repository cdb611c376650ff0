from __future__ import annotations

from typing import ClassVar

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from distillbench.detect.base import Verdict
from distillbench.detect.null import z_against_null
from distillbench.detect.registry import register
from distillbench.evidence.view import AccessLevel, PairEvidence


@register
class ResponseSimilarityDetector:
    """How similar the student's answers are to the teacher's, compared with how similar independent models' are.

    For every probe prompt, the cosine similarity of character 2-4-gram TF-IDF vectors (scikit-learn) of the
    student's and the teacher's greedy answers, averaged over prompts; the same for each reference model gives a
    model-level null, hence a z-score and p-value. A black-box baseline in the spirit of output-similarity
    fingerprints; it cannot tell "learned from the teacher" from "learned the same data", which is what the
    same-data controls are there to show.
    """

    name: ClassVar[str] = "response_similarity"
    access: ClassVar[AccessLevel] = AccessLevel.BLACK_BOX
    summary: ClassVar[str] = "char n-gram similarity of student and teacher answers, vs a reference-model null"
    uses: ClassVar[frozenset[str]] = frozenset({"generations"})

    def score(self, pair: PairEvidence) -> Verdict:
        prompt_ids = sorted(pair.prompts)
        models = [pair.student, *pair.references]
        texts = [pair.teacher.generations.get(p, "") for p in prompt_ids]
        for m in models:
            texts += [m.generations.get(p, "") for p in prompt_ids]
        if not prompt_ids or not any(t.strip() for t in texts):
            return Verdict.abstain()
        vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), norm="l2").fit(texts)
        n = len(prompt_ids)
        mats = vec.transform(texts)
        teacher = mats[:n]

        def similarity(k: int) -> float:
            block = mats[(k + 1) * n : (k + 2) * n]
            return float(np.asarray(teacher.multiply(block).sum(axis=1)).mean())

        student = similarity(0)
        z, p = z_against_null(student, [similarity(k) for k in range(1, len(models))])
        return Verdict(score=z, p_value=p)
