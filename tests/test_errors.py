"""Bad input: one clear error line, exit code 2, nothing already computed destroyed."""

import shutil

from conftest import run_cli


def _one_error_line(capsys) -> str:
    err = [line for line in capsys.readouterr().err.strip().splitlines() if line]
    assert len(err) == 1, err
    assert err[0].startswith("error: ")
    return err[0]


def _files(home):
    return {p: p.read_bytes() for p in (home / "evidence").rglob("*.json")}


def test_missing_model_directory(micro_copy, capsys):
    before = _files(micro_copy)
    shutil.rmtree(micro_copy / "suites/micro/models/ref-2")
    assert run_cli("probe", "--suite", "micro", "--home", str(micro_copy)) == 2
    line = _one_error_line(capsys)
    assert "ref-2" in line and "does not exist" in line
    assert _files(micro_copy) == before


def test_corrupted_evidence_file(micro_copy, capsys):
    victim = sorted((micro_copy / "evidence").rglob("distillbench_pool-*.json"))[0]
    victim.write_text('{"schema_version": 1, "model_fing')
    others = {p: b for p, b in _files(micro_copy).items() if p != victim}
    assert run_cli("detect", "--suite", "micro", "--home", str(micro_copy)) == 2
    line = _one_error_line(capsys)
    assert "corrupted" in line and victim.name in line
    assert victim.read_text() == '{"schema_version": 1, "model_fing'
    assert {p: b for p, b in _files(micro_copy).items() if p != victim} == others


def test_score_before_detect_and_missing_manifest(tmp_path, capsys):
    assert run_cli("score", "--suite", "micro", "--home", str(tmp_path)) == 2
    assert "zoo build" in _one_error_line(capsys)
