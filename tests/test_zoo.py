import json
import shutil

from conftest import run_cli

from distillbench.paths import Workspace
from distillbench.zoo.build import build_suite, load_manifest
from distillbench.zoo.spec import load_suite


def test_manifest_records_hashes_provenance_and_pairs(micro_home):
    m = load_manifest(Workspace(micro_home), "micro")
    spec = load_suite("micro")
    assert {r.name for r in m.models} == {s.name for s in spec.models}
    for r in m.models:
        model_dir = micro_home / "suites" / "micro" / r.path
        assert (model_dir / "model.safetensors").is_file() and (model_dir / "tokenizer.json").is_file()
        assert len(r.sha256) == 64 and r.provenance
    seq = m.model("a-seq")
    assert seq.provenance[-1]["kind"] == "seq_distill" and seq.provenance[-1]["teacher"] == "teacher-a"
    labels = {p.pair_id: p.label for p in m.pairs}
    assert labels["teacher-a__a-seq"] == 1 and labels["teacher-a__a-logit"] == 1
    assert labels["teacher-a__a-control"] == 0 and labels["teacher-b__a-seq"] == 0
    conditions = {p.pair_id: p.conditions for p in m.pairs}
    assert conditions["teacher-a__a-control"] == ["same-data"]
    assert conditions["teacher-b__a-seq"] == ["other-teacher"]


def test_build_is_bitwise_deterministic_and_reuses_finished_models(micro_home, tmp_path):
    spec = load_suite("micro")
    fresh, builder = build_suite(spec, Workspace(tmp_path), progress=False)
    first = load_manifest(Workspace(micro_home), "micro")
    assert [(r.name, r.sha256) for r in fresh.models] == [(r.name, r.sha256) for r in first.models]
    assert fresh.pool.sha256 == first.pool.sha256
    assert len(builder.built) == len(spec.models)

    _, again = build_suite(spec, Workspace(tmp_path), progress=False)
    assert again.built == [] and len(again.reused) == len(spec.models)
    assert (tmp_path / "suites/micro/manifest.json").read_text() == (micro_home / "suites/micro/manifest.json").read_text()


def test_interrupted_build_resumes_with_the_missing_model_only(micro_copy):
    models = micro_copy / "suites" / "micro" / "models"
    before = json.loads((micro_copy / "suites/micro/manifest.json").read_text())
    shutil.rmtree(models / "b-control")
    (models / ".b-control.partial").mkdir()  # what a kill mid-save leaves behind
    _, builder = build_suite(load_suite("micro"), Workspace(micro_copy), progress=False)
    assert builder.built == ["b-control"]
    after = json.loads((micro_copy / "suites/micro/manifest.json").read_text())
    assert after == before


def test_unknown_suite_is_one_clear_error(capsys, tmp_path):
    assert run_cli("zoo", "build", "--suite", "nope", "--home", str(tmp_path)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown suite 'nope'" in err[0] and "mini" in err[0]


def test_named_tokenizer_paraphrase_and_weight_sharing_are_built_and_recorded(micro_home):
    m = load_manifest(Workspace(micro_home), "micro")
    suite = micro_home / "suites" / "micro"
    para, teacher = m.model("a-para"), m.model("teacher-a")
    # Distilled through its own tokenizer: a different vocabulary, recorded by name and hash.
    assert para.tokenizer == "alt" and set(m.tokenizers) == {"alt"}
    alt = json.loads((suite / para.path / "tokenizer.json").read_text())["model"]["vocab"]
    default = json.loads((suite / teacher.path / "tokenizer.json").read_text())["model"]["vocab"]
    assert len(alt) == 384 and len(default) == 512
    assert para.provenance[-1]["paraphrase"] == 0.5
    pairs = {p.pair_id: p for p in m.pairs}
    assert pairs["teacher-a__a-para"].label == 1
    assert pairs["teacher-a__a-para"].conditions == ["seq_distill", "paraphrase", "other-tokenizer"]
    # The teacher's own checkpoint fine-tuned clean: weight sharing, recorded apart from the (negative) label.
    lineage = pairs["teacher-b__b-lineage"]
    assert lineage.label == 0 and lineage.shares_weights_with_teacher and lineage.conditions == ["weight-sharing"]
    assert m.model("teacher-b").init == "ckpt-b" and m.model("b-lineage").init == "ckpt-b"
    assert not pairs["teacher-a__b-lineage"].shares_weights_with_teacher
    assert sum(p.shares_weights_with_teacher for p in m.pairs) == 1
