from __future__ import annotations

from typing import ClassVar

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from distillbench.detect.base import Verdict
from distillbench.detect.null import z_against_null
from distillbench.detect.registry import register
from distillbench.evidence.view import AccessLevel, ModelView, PairEvidence


@register
class IdiosyncrasyClassifierDetector:
    """A classifier that tells the teacher's text from other models' text, applied to the student's answers.
    (After Sun et al. 2025, "Idiosyncrasies in Large Language Models": a text classifier identifies the source model
    from its outputs, and distillation transfers those idiosyncrasies.)

    Trained on the teacher's pool samples (positive) against the reference models' pool samples (negative):
    character 1-4-gram TF-IDF and logistic regression (scikit-learn), a deliberately small stand-in for the
    paper's fine-tuned text encoders. The statistic is the mean teacher-probability of the student's probe answers;
    the null applies, for each reference, a classifier trained without that reference to its own answers. Never
    trained on the student being scored or on any label.
    """

    name: ClassVar[str] = "idiosyncrasy_classifier"
    access: ClassVar[AccessLevel] = AccessLevel.BLACK_BOX
    summary: ClassVar[str] = "teacher-vs-reference text classifier applied to student answers, vs references"
    uses: ClassVar[frozenset[str]] = frozenset({"generations", "pool"})

    def _fit(self, pos: list[str], neg: list[str]):
        clf = make_pipeline(TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True, min_df=2),
                            LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced"))
        return clf.fit(pos + neg, [1] * len(pos) + [0] * len(neg))

    def _apply(self, clf, model: ModelView) -> float:
        texts = [t for t in model.generations.values() if t.strip()]
        return float(np.mean(clf.predict_proba(texts)[:, 1])) if texts else float("nan")

    def __init__(self) -> None:
        # The classifiers and the null depend on the teacher and references only, so the pairs of one teacher
        # share them: fitted once per teacher, not once per pair.
        self._per_teacher: dict[tuple[str, ...], tuple[object, list[float]]] = {}

    def score(self, pair: PairEvidence) -> Verdict:
        teacher = [t.continuation for t in pair.pool if t.role == "teacher"]
        refs = [(t.source_id, t.continuation) for t in pair.pool if t.role == "reference"]
        if len(teacher) < 5 or len({s for s, _ in refs}) < 2:
            return Verdict.abstain()
        key = (pair.teacher.model_id, *(r.model_id for r in pair.references))
        if key not in self._per_teacher:
            null = [self._apply(self._fit(teacher, [c for s, c in refs if s != r.model_id]), r) for r in pair.references]
            self._per_teacher[key] = (self._fit(teacher, [c for _, c in refs]), null)
        classifier, null = self._per_teacher[key]
        z, p = z_against_null(self._apply(classifier, pair.student), null, min_sd=0.01)
        return Verdict(score=z, p_value=p)
