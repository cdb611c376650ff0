"""Detectors: registry, label blindness, and the baselines' outputs on real micro evidence."""

import json
import math

import pytest
from conftest import run_cli

from distillbench.detect.base import Detector, Verdict
from distillbench.detect.registry import available, get_detector
from distillbench.errors import DistillBenchError
from distillbench.evidence.view import AccessLevel, open_suite_view


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


def test_evaluate_reuses_cached_verdicts_and_recomputes_on_request(micro_copy, capsys):
    args = ("evaluate", "--suite", "micro", "--home", str(micro_copy), "--detector", "random",
            "--detector", "cross_likelihood")
    results = micro_copy / "suites/micro/results.json"
    assert run_cli(*args, "--no-cache") == 0
    out = capsys.readouterr().out
    assert "pairs cached" not in out
    scores = [p["scores"] for p in json.loads(results.read_text())["pairs"]]
    assert run_cli(*args) == 0
    out = capsys.readouterr().out
    assert out.count("pairs cached (detected in") == 2
    assert [p["scores"] for p in json.loads(results.read_text())["pairs"]] == scores
    # a damaged entry is recomputed, not trusted; the other detector's entry still serves
    entry = next((micro_copy / "suites/micro/detect-cache/verdicts").glob("random-*.json"))
    entry.write_text("{")
    assert run_cli(*args) == 0
    out = capsys.readouterr().out
    lines = {line.split(":")[1].strip(): line for line in out.splitlines() if line.startswith("detect: ")}
    assert "cached" not in lines["random"] and "cached" in lines["cross_likelihood"]
    assert [p["scores"] for p in json.loads(results.read_text())["pairs"]] == scores


def test_cached_verdicts_are_keyed_by_detector_code_and_run_key(micro_copy, monkeypatch):
    from distillbench.detect import runner
    from distillbench.paths import Workspace

    ws = Workspace(micro_copy)
    view = open_suite_view(ws, "micro")
    first = runner.detect(["random"], view, ws, run_key=b"k" * 32)[0]
    assert not first.cached and runner.detect(["random"], view, ws, run_key=b"k" * 32)[0].cached
    assert not runner.detect(["random"], view, ws, run_key=b"j" * 32)[0].cached
    monkeypatch.setattr(runner, "detector_source_sha256", lambda name: "edited")
    assert not runner.detect(["random"], view, ws, run_key=b"j" * 32)[0].cached
    monkeypatch.setattr(runner, "detector_source_sha256", lambda name: None)  # source unreadable: never cached
    assert not runner.detect(["random"], view, ws, run_key=b"j" * 32)[0].cached
    assert not runner.detect(["random"], view, ws, run_key=b"j" * 32)[0].cached
    assert len(list(runner.cache_dir(ws, "micro").glob("random-*.json"))) == 1  # one entry kept per detector
