"""Detectors: registry, label blindness, and the baselines' outputs on real micro evidence."""

import json
import math

import pytest
from conftest import run_cli

from distillbench.detect.base import Detector, Verdict
from distillbench.detect.registry import available, get_detector
from distillbench.errors import DistillBenchError
from distillbench.evidence.view import AccessLevel


def test_registry_lists_the_baselines_and_rejects_unknown_names():
    assert {"random", "cross_likelihood", "response_similarity"} <= set(available())
    with pytest.raises(DistillBenchError, match="unknown detector 'nope'.*cross_likelihood"):
        get_detector("nope")


@pytest.mark.parametrize("name", ["random", "cross_likelihood", "response_similarity"])
def test_baselines_give_finite_deterministic_verdicts(micro_view, name):
    det = get_detector(name)
    assert isinstance(det, Detector)
    for pair in micro_view.manifest.pairs:
        ev = micro_view.pair(pair, det.access)
        v1, v2 = det.score(ev), get_detector(name).score(ev)
        assert isinstance(v1, Verdict) and math.isfinite(v1.score) and v1 == v2
        assert v1.p_value is None or 0 <= v1.p_value <= 1


def test_evidence_a_detector_sees_holds_no_labels_or_names(micro_view):
    names = [m.name for m in micro_view.manifest.models] + ["seq_distill", "logit_distill", "same-data", "control"]
    for pair in micro_view.manifest.pairs:
        ev = micro_view.pair(pair, AccessLevel.GRAY_BOX)
        blob = json.dumps(ev.model_dump(mode="json"))
        assert not any(n in blob for n in names)
        assert "label" not in ev.model_dump() and "conditions" not in ev.model_dump()


def test_black_box_view_has_no_likelihoods(micro_view):
    ev = micro_view.pair(micro_view.manifest.pairs[0], AccessLevel.BLACK_BOX)
    assert ev.student.logliks is None and ev.teacher.logliks is None
    assert micro_view.pair(micro_view.manifest.pairs[0], AccessLevel.GRAY_BOX).student.logliks


def test_verdict_rejects_nan_and_bad_p_values():
    with pytest.raises(ValueError):
        Verdict(score=float("nan"))
    with pytest.raises(ValueError):
        Verdict(score=1.0, p_value=1.5)


def test_unknown_detector_on_the_cli_is_one_line(micro_home, capsys):
    assert run_cli("detect", "--suite", "micro", "--home", str(micro_home), "--detector", "nope") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: unknown detector 'nope'")
