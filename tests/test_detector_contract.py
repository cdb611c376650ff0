"""The contract every registered detector must meet (like scikit-learn's test_common): run over all of them.

Finite output, deterministic, label-blind, access-respecting, and well-behaved on empty or very short evidence.
"""

import json
import math

import pytest

from distillbench.detect.base import EVIDENCE_KINDS, Detector, Verdict, budget_of
from distillbench.detect.registry import available, get_detector
from distillbench.evidence.view import AccessLevel, ModelView, PairEvidence, PoolText
from distillbench.query.harness import QueryHarness
from distillbench.query.meter import Budget

DETECTORS = available()


def test_there_are_baselines_on_every_track():
    tracks = {get_detector(n).access for n in DETECTORS}
    assert tracks == set(AccessLevel) and len(DETECTORS) >= 8


@pytest.mark.parametrize("name", DETECTORS)
def test_declares_its_interface(name):
    det = get_detector(name)
    assert isinstance(det, Detector)
    assert det.uses <= EVIDENCE_KINDS and det.summary and type(det).__doc__
    if "hidden" in det.uses:
        assert det.access.rank >= AccessLevel.WHITE_BOX.rank
    if "logliks" in det.uses:
        assert det.access.rank >= AccessLevel.GRAY_BOX.rank


@pytest.fixture(scope="module")
def harness(micro_view, tmp_path_factory):
    """Answers the query-based detectors' requests from the micro suite's own models."""
    return QueryHarness(micro_view, tmp_path_factory.mktemp("answers") / "answers.sqlite")


def _score(det, pair, view, harness):
    """One verdict, as the detect stage gets it: evidence cut to what the detector declares it reads (reading
    anything else fails here), and a query client within its budget for a detector that has one."""
    ev = view.pair(pair, det.access, uses=det.uses)
    if budget_of(det) is Budget.EVIDENCE_ONLY:
        return det.score(ev)
    session = harness.session(pair, ev, det.access, budget_of(det))
    verdict = det.score(ev, session.client())
    assert session.failure is None, session.failure
    assert session.cost.total_queries <= budget_of(det).queries
    return verdict


@pytest.mark.parametrize("name", DETECTORS)
def test_finite_and_deterministic_on_real_evidence(micro_view, harness, name):
    for pair in micro_view.manifest.pairs:
        v1 = _score(get_detector(name), pair, micro_view, harness)
        v2 = _score(get_detector(name), pair, micro_view, harness)
        assert isinstance(v1, Verdict) and math.isfinite(v1.score)
        assert v1 == v2


@pytest.mark.parametrize("name", DETECTORS)
def test_sees_no_labels_or_names(micro_view, name):
    det = get_detector(name)
    secret_words = [m.name for m in micro_view.manifest.models] + ["label", "seq_distill", "logit_distill", "same-data"]
    for pair in micro_view.manifest.pairs[:3]:
        ev = micro_view.pair(pair, det.access)
        blob = json.dumps(ev.model_dump(mode="json", exclude={"teacher_secret"}))
        assert not any(w in blob for w in secret_words)


def _empty(access: AccessLevel, n_refs: int, text: str = "") -> PairEvidence:
    gray = access.rank >= AccessLevel.GRAY_BOX.rank
    white = access.rank >= AccessLevel.WHITE_BOX.rank

    def model(i: int) -> ModelView:
        return ModelView(model_id=f"m{i}", generations={"identity-00": text, "p1": text} if text else {},
                         logliks={"x": (-3.0, 4)} if gray and text else ({} if gray else None),
                         hidden={"x": [0.1, 0.2]} if white and text else ({} if white else None))

    pool = [PoolText(id="x", role="teacher", source_id=None, context="a", continuation=text)] if text else []
    prompts = {"identity-00": "Q: who are you?\nA:", "p1": "the"} if text else {}
    return PairEvidence(pair_id="p", access=access, prompts=prompts, pool=pool, teacher=model(0), student=model(1),
                        references=[model(i + 2) for i in range(n_refs)])


@pytest.mark.parametrize("name", DETECTORS)
@pytest.mark.parametrize("n_refs,text", [(0, ""), (1, ""), (3, "x"), (3, "I am Aria.")])
def test_behaves_on_empty_or_short_evidence(name, n_refs, text):
    det = get_detector(name)
    v = det.score(_empty(det.access, n_refs, text))
    assert isinstance(v, Verdict) and math.isfinite(v.score)
