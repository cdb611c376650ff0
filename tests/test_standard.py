"""The benchmark itself: the standard suite's design, its hidden test split, the published dev evidence that lets a
fresh clone evaluate without building, and `zoo verify`."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import run_cli

from distillbench.errors import DistillBenchError
from distillbench.evidence.bundle import bundles_dir, install_bundle
from distillbench.paths import Workspace
from distillbench.score.results import Results
from distillbench.submission.results import load_results
from distillbench.zoo.build import load_manifest
from distillbench.zoo.manifest import derive_pairs
from distillbench.zoo.spec import load_suite
from distillbench.zoo.splits import draw_test_spec

REPO = Path(__file__).resolve().parents[1]


def test_hidden_split_is_the_same_design_drawn_again_from_the_secret():
    dev = load_suite("standard")
    test, again = draw_test_spec(dev, "secret-1"), draw_test_spec(dev, "secret-1")
    rotated = draw_test_spec(dev, "secret-2")
    assert test == again and test != rotated
    assert test.name == "standard-test" and all(m.split == "test" for m in test.models)
    assert all(re.fullmatch(r"m[0-9a-f]{10}", m.name) for m in test.models)
    assert not {m.name for m in test.models} & {m.name for m in dev.models}
    assert test.corpus_seed != dev.corpus_seed
    assert all(t.seed != d.seed for t, d in zip(test.models, dev.models))
    keys = lambda s: [m.watermark.key for m in s.models if m.watermark]  # noqa: E731
    assert len(keys(test)) == len(keys(dev)) and not set(keys(test)) & set(keys(dev))
    assert [m.persona for m in test.models] != [m.persona for m in dev.models]
    dev_pairs, test_pairs = derive_pairs(dev), derive_pairs(test)
    # The same conditions in the same numbers; which other teachers a student meets is drawn again.
    shape = lambda ps: sorted((p.label, p.conditions[0], p.shares_weights_with_teacher) for p in ps)  # noqa: E731
    assert shape(test_pairs) == shape(dev_pairs)
    # Listed by opaque id, so a position in the list does not give a condition away.
    assert [p.pair_id for p in test_pairs] == sorted(p.pair_id for p in test_pairs)
    assert all(p.split == "test" for p in test_pairs)


def test_test_split_is_built_from_the_secret_and_rerun_as_verified(tmp_path, monkeypatch, capsys):
    home = tmp_path / "maintainers"
    monkeypatch.delenv("DISTILLBENCH_TEST_SECRET", raising=False)
    monkeypatch.delenv("DISTILLBENCH_TEST_SECRET_FILE", raising=False)
    assert run_cli("zoo", "build", "--suite", "micro", "--split", "test", "--home", str(home)) == 2
    assert "needs the maintainers' secret" in capsys.readouterr().err and not home.exists()

    secret_file = tmp_path / "secret.txt"
    secret_file.write_text("rotate-me-2026\n")
    monkeypatch.setenv("DISTILLBENCH_TEST_SECRET_FILE", str(secret_file))
    assert run_cli("zoo", "build", "--suite", "micro", "--split", "test", "--home", str(home)) == 0
    assert run_cli("probe", "--suite", "micro-test", "--home", str(home)) == 0
    manifest = load_manifest(Workspace(home), "micro-test")
    assert {p.split for p in manifest.pairs} == {"test"} and len(manifest.pairs) == 14
    text = (home / "suites" / "micro-test" / "manifest.json").read_text()
    assert "teacher-a" not in text and "a-seq" not in text
    for f in home.rglob("*"):
        if f.is_file():
            assert b"rotate-me-2026" not in f.read_bytes(), f

    subs, results = tmp_path / "submissions", tmp_path / "results"
    for slug in ("random", "_template"):
        shutil.copytree(REPO / "submissions" / slug, subs / slug, ignore=shutil.ignore_patterns("__pycache__"))
    assert run_cli("rerun", "--suite", "micro", "--split", "test", "--submission", "random", "--home", str(home),
                   "--submissions-dir", str(subs), "--results-dir", str(results)) == 0
    rec = load_results(results / "random" / "1.0.0-test.json")
    assert rec.status == "verified" and rec.suite == "micro-test" and rec.n_pairs == 14
    assert rec.metrics.pairs == []


@pytest.fixture(scope="module")
def micro_bundle(micro_home, tmp_path_factory) -> Path:
    published = tmp_path_factory.mktemp("published")
    assert run_cli("evidence", "export", "--suite", "micro", "--home", str(micro_home), "--out",
                   str(published / "micro")) == 0
    return published


def test_published_evidence_evaluates_without_a_build_and_matches_the_built_suite(micro_home, micro_bundle, tmp_path,
                                                                                 monkeypatch):
    monkeypatch.setenv("DISTILLBENCH_PUBLISHED", str(micro_bundle))
    fresh = tmp_path / "fresh"
    assert run_cli("evaluate", "--suite", "micro", "--home", str(fresh), "--detector", "cross_likelihood",
                   "--detector", "watermark_radioactivity", "--detector", "representation_cka") == 0
    assert not (fresh / "suites" / "micro" / "models").exists()
    # Every installed record is the probed record, byte for byte.
    built = {f.relative_to(micro_home / "evidence"): f.read_bytes() for f in (micro_home / "evidence").rglob("*.json")}
    installed = {f.relative_to(fresh / "evidence"): f.read_bytes() for f in (fresh / "evidence").rglob("*.json")}
    assert installed and all(built[k] == v for k, v in installed.items())
    ours = Results.model_validate_json((fresh / "suites/micro/results.json").read_text())
    theirs = Results.model_validate_json((micro_home / "suites/micro/results.json").read_text())
    assert ours.evidence_sha256 == theirs.evidence_sha256
    for det in ("cross_likelihood", "watermark_radioactivity", "representation_cka"):
        a = next(d for d in ours.detectors if d.detector == det)
        b = next(d for d in theirs.detectors if d.detector == det)
        assert a.overall.auroc == b.overall.auroc and a.conditions == b.conditions


def test_a_tampered_bundle_is_refused_and_leaves_no_suite(micro_bundle, tmp_path):
    bundle = tmp_path / "micro"
    shutil.copytree(micro_bundle / "micro", bundle)
    table = pq.read_table(bundle / "logliks.parquet").to_pydict()
    table["loglik"][7] += 0.5
    import pyarrow as pa

    pq.write_table(pa.table(table, schema=pq.read_schema(bundle / "logliks.parquet")), bundle / "logliks.parquet")
    ws = Workspace(tmp_path / "ws")
    with pytest.raises(DistillBenchError, match="byte for byte"):
        install_bundle(bundle, ws)
    assert not ws.manifest_path("micro").exists()


def test_hidden_split_suites_are_never_exported(micro_home, tmp_path, capsys):
    manifest = json.loads((micro_home / "suites/micro/manifest.json").read_text())
    manifest["pairs"][0]["split"] = "test"
    home = tmp_path / "home"
    shutil.copytree(micro_home, home)
    (home / "suites/micro/manifest.json").write_text(json.dumps(manifest))
    assert run_cli("evidence", "export", "--suite", "micro", "--home", str(home), "--out", str(tmp_path / "out")) == 2
    assert "only public dev splits are published" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_committed_standard_dev_evidence_evaluates_on_a_fresh_workspace(standard_home):
    """What a method author gets from a fresh clone: the full dev split, no model built."""
    assert (bundles_dir() / "standard" / "bundle.json").is_file(), "leaderboard/evidence/standard is not committed"
    assert not (standard_home / "suites" / "standard" / "models").exists()
    results = Results.model_validate_json((standard_home / "suites/standard/results.json").read_text())
    assert results.split == "dev" and len(results.pairs) >= 1900 and results.intervals["clusters"] >= 48
    assert {p.label for p in results.pairs} == {0, 1}
    by = {d.detector: d for d in results.detectors}
    assert 0.4 < by["random"].overall.auroc < 0.6
    assert by["cross_likelihood"].overall.auroc > 0.7


def test_zoo_verify_rebuilds_a_model_and_compares_its_hash(micro_copy, capsys):
    # a-para's teacher answers came from the API cache in the build (a-seq asked first); here they are sampled
    # again, inside its training stage: the weights must not depend on which happened.
    assert run_cli("zoo", "verify", "--suite", "micro", "--home", str(micro_copy), "--model", "a-para",
                   "--model", "a-seq") == 0
    out = capsys.readouterr().out
    assert "a-para: rebuilt" in out and out.count(": identical") == 2
    path = micro_copy / "suites/micro/manifest.json"
    manifest = json.loads(path.read_text())
    for m in manifest["models"]:
        if m["name"] == "b-lineage":
            m["sha256"] = "0" * 64
    path.write_text(json.dumps(manifest))
    assert run_cli("zoo", "verify", "--suite", "micro", "--home", str(micro_copy), "--model", "b-lineage") == 2
    captured = capsys.readouterr()
    assert "DIFFERS" in captured.out and "1 of 1 rebuilt models differ" in captured.err
    # A model whose dependency no longer matches is not rebuilt on top of it.
    (micro_copy / "suites/micro/models/teacher-a/model.safetensors").write_bytes(b"not weights")
    assert run_cli("zoo", "verify", "--suite", "micro", "--home", str(micro_copy), "--model", "a-seq") == 2
    assert "depends on teacher-a" in capsys.readouterr().err
