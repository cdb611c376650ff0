from __future__ import annotations

import hashlib
from typing import ClassVar

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_union

from distillbench.detect.base import Verdict
from distillbench.detect.baselines.provenance import MAX_NEW_TOKENS, QUERY_BUDGET, query_prompts
from distillbench.detect.null import z_against_null
from distillbench.detect.registry import register
from distillbench.evidence.view import AccessLevel, PairEvidence
from distillbench.query.meter import Budget

SAMPLES = 2  # per prompt and model
TEMPERATURE = 1.0
TRAIN_SEED = 1  # teacher and references: the classifier's training samples
STUDENT_SEED = 2  # the student: other draws than the teacher's training samples, so a copy of the teacher is not
#                   recognised by its memorised samples but by its distribution


def _features():  # noqa: ANN202 (an unfitted feature union)
    return make_union(
        TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True, min_df=2),
        TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, min_df=2, token_pattern=r"\S+"),
    )


def _classifier() -> LogisticRegression:
    return LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced", random_state=0)


def _mean_teacher_prob(features, clf: LogisticRegression, texts: list[str]) -> float:  # noqa: ANN001
    texts = [t for t in texts if t.strip()]
    return float(np.mean(clf.predict_proba(features.transform(texts))[:, 1])) if texts else float("nan")


def _flat(samples: list[list[str]]) -> list[str]:
    return [s for per_prompt in samples for s in per_prompt]


@register
class IdiosyncrasySampledDetector:
    """A classifier of the teacher's sampled text against the references', trained on samples it asks for, applied to
    the student's samples. (Sun et al. 2025, "Idiosyncrasies in Large Language Models", arXiv 2502.12150: a
    classifier trained on many sampled responses to shared prompts tells the source model apart, and text from a
    model trained on another's outputs is classified as that model's.)

    Queries (1k tier): on the pair's probe prompts and corpus contexts, two samples per prompt at temperature 1.0 and
    up to 32 new tokens from the teacher and every reference (seed 1), and from the student (seed 2): 48 prompts with
    eight references, (k + 2) x prompts x 2 <= 960. The classifier: TF-IDF of character 1-4-grams and word 1-2-grams,
    logistic regression (scikit-learn, balanced classes, fixed random_state), teacher (1) against all references
    (0); the n-gram vocabulary and IDF are fitted once per pair on the teacher's and references' samples, without
    labels (see `_fit_all`). The student's statistic is its samples' mean P(teacher); each reference's is its
    samples' mean P(teacher) under a classifier trained without that reference (held out by model, as the student
    is). Score: the student's
    statistic minus the mean of the references'. P-value: the student's statistic against the references'
    (`detect.null.z_against_null`, a one-sided t prediction interval, k - 1 degrees of freedom), which assumes the
    references' statistics are roughly normal; the student is scored by a classifier that saw one more reference
    than each held-out reference's, which if anything lowers its P(teacher), so the asymmetry errs conservative.
    Never trained on the student or on any label. Abstains with fewer than two references.

    Departures from the paper: a bag-of-n-grams classifier instead of fine-tuned text embedding models (the paper
    also reports n-gram / TF-IDF baselines well above chance); a few hundred samples of 32 tokens instead of tens of
    thousands of full responses; binary teacher-vs-references rather than N-way; and the paper classifies
    responses, while here the unit of the null is the model (the paper has no test of distillation, only accuracy).
    """

    name: ClassVar[str] = "idiosyncrasy_sampled"
    access: ClassVar[AccessLevel] = AccessLevel.BLACK_BOX
    summary: ClassVar[str] = ("own samples: teacher-vs-reference n-gram classifier applied to student samples, vs "
                              "held-out references")
    uses: ClassVar[frozenset[str]] = frozenset()
    budget: ClassVar[Budget] = Budget.Q1K

    def __init__(self) -> None:
        # The classifiers and the null depend on the teacher's and references' samples only, which the pairs of one
        # teacher share: fitted once per set of samples, not once per pair.
        self._per_teacher: dict[str, tuple[tuple[object, LogisticRegression], list[float]]] = {}

    def _samples(self, client, model: str, prompts: list[str], seed: int) -> list[str]:  # noqa: ANN001
        return _flat(client.generate(model, prompts, max_new_tokens=MAX_NEW_TOKENS, temperature=TEMPERATURE,
                                     n=SAMPLES, seed=seed))

    @staticmethod
    def _fit_all(teacher: list[str], ref_texts: dict[str, list[str]]) -> tuple[object, list[float]]:
        """The classifier against every reference, and each reference's statistic under one fitted without it.

        The n-gram vocabulary and its IDF weights are fitted once, without labels, on the teacher's and every
        reference's samples (never the student's); only the logistic regressions are refitted per held-out
        reference. That is what keeps one pair within a second of CPU in a fresh process, where nothing is reused
        between pairs (vectorising is most of the cost: ~3x slower refitted nine times). A held-out reference's own
        n-grams are in the vocabulary with zero weight (no training row has them), which only dilutes its texts'
        vectors and pulls its P(teacher) towards 0.5: the null rises, so this too errs conservative."""
        features = _features()
        rows = features.fit_transform(teacher + [t for texts in ref_texts.values() for t in texts])
        owner = np.array([""] * len(teacher) + [r for r, texts in ref_texts.items() for _ in texts], dtype=object)
        is_teacher = (owner == "").astype(int)
        null = []
        for r in ref_texts:
            keep = owner != r
            rest = int((keep & (is_teacher == 0)).sum())
            null.append(_mean_teacher_prob(features, _classifier().fit(rows[keep], is_teacher[keep]), ref_texts[r])
                        if rest else float("nan"))
        return (features, _classifier().fit(rows, is_teacher)), null

    def score(self, pair: PairEvidence, client=None) -> Verdict:  # noqa: ANN001
        if client is None or len(pair.references) < 2:
            return Verdict.abstain()
        refs = [r.model_id for r in pair.references]
        prompts = query_prompts(pair, QUERY_BUDGET // ((len(refs) + 2) * SAMPLES))
        if len(prompts) < 5:
            return Verdict.abstain()
        # Every pair asks for its own training samples (so its measured cost is what it needs on its own; the
        # harness's cache answers the repeats); only the fits are reused, keyed by the samples they are fitted on.
        teacher = [t for t in self._samples(client, "teacher", prompts, TRAIN_SEED) if t.strip()]
        ref_texts = {r: [t for t in self._samples(client, r, prompts, TRAIN_SEED) if t.strip()] for r in refs}
        if len(teacher) < 5 or sum(bool(v) for v in ref_texts.values()) < 2:
            return Verdict.abstain()
        key = hashlib.sha256(repr((teacher, [ref_texts[r] for r in refs])).encode()).hexdigest()
        if key not in self._per_teacher:
            try:
                self._per_teacher[key] = self._fit_all(teacher, ref_texts)
            except ValueError:  # e.g. too few distinct n-grams in very short samples to build a vocabulary
                return Verdict.abstain()
        (features, full), null = self._per_teacher[key]
        student = _mean_teacher_prob(features, full, self._samples(client, "student", prompts, STUDENT_SEED))
        finite = [v for v in null if np.isfinite(v)]
        if not np.isfinite(student) or not finite:
            return Verdict.abstain()
        _, p = z_against_null(student, null, min_sd=0.01)
        return Verdict(score=float(student - np.mean(finite)), p_value=p)
