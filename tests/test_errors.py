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


# ---- submissions: a run that scores nothing is an error and leaves nothing behind ---------------------------------

def _submission(root, slug, body):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from hostile import write_submission

    source = ("from distillbench.detect.base import Verdict\n\n\nclass Broken:\n    name = 'broken'\n"
              "    access = 'black-box'\n    summary = 'x'\n    uses = frozenset({'generations'})\n\n" + body)
    return write_submission(root, slug, source, meta={"entry_point": "detector:Broken"})


def test_a_detector_that_never_loads_exits_non_zero_and_writes_nothing(standard_home, tmp_path, capsys):
    """Contained (bubblewrap) on the standard dev split: the class raises when made, so no pair is scored."""
    folder = _submission(tmp_path, "never-loads", "    def __init__(self):\n        raise RuntimeError('no weights')\n\n"
                                                  "    def score(self, pair):\n        return Verdict(score=0.0)\n")
    for command in ("run", "validate"):
        assert run_cli("submission", command, str(folder), "--home", str(standard_home)) == 2
        line = _one_error_line(capsys)
        assert line == (f"error: submission {folder} is invalid: entry_point `detector:Broken`: Broken() failed: "
                        "raised RuntimeError: no weights")
    assert not (standard_home / "submissions" / "never-loads").exists()


def test_a_detector_that_fails_every_pair_exits_non_zero_and_writes_nothing(standard_home, tmp_path, capsys):
    folder = _submission(tmp_path, "always-fails", "    def score(self, pair):\n        return 1 / 0\n")
    assert run_cli("submission", "run", str(folder), "--home", str(standard_home), "--unsafe-in-process") == 2
    line = _one_error_line(capsys)
    assert line.startswith(f"error: submission {folder} is invalid: the detector failed on every one of 1944 dev "
                           "pairs (expected a finite score for every pair): pair ")
    assert "raised ZeroDivisionError: division by zero" in line and line.endswith("; nothing was written")
    assert not (standard_home / "submissions" / "always-fails").exists()
