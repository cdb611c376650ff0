"""Re-runs and results files: signed, re-scored when stale or edited, "verified" only on the hidden split (which
needs the maintainers' secret), and one broken submission never costs the others their results. Also the
contributor's path from CONTRIBUTING.md: new -> validate -> run."""

import json
import shutil
from importlib import resources
from pathlib import Path

import pytest
import yaml
from conftest import run_cli
from hostile import hostile_submission, write_submission

from distillbench.errors import DistillBenchError
from distillbench.paths import Workspace
from distillbench.submission import BENCHMARK_VERSION
from distillbench.submission.rerun import rerun
from distillbench.submission.results import load_results
from distillbench.submission.sandbox import Bubblewrap, Limits
from distillbench.submission.suite import open_view
from distillbench.zoo.build import build_suite
from distillbench.zoo.spec import load_suite

REPO = Path(__file__).resolve().parents[1]
TEST_STUDENTS = ("b-seq", "b-control")  # their pairs form the "hidden" split of this test suite


@pytest.fixture(scope="module")
def split_home(micro_home, tmp_path_factory):
    """The micro workspace rebuilt from a suite YAML that puts two students in the test split (models reused)."""
    home = tmp_path_factory.mktemp("split") / "home"
    shutil.copytree(micro_home, home)
    spec = yaml.safe_load(resources.files("distillbench.suites").joinpath("micro.yaml").read_text())
    for model in spec["models"]:
        if model["name"] in TEST_STUDENTS:
            model["split"] = "test"
    path = home.parent / "micro-with-test-split.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    manifest, builder = build_suite(load_suite(str(path)), Workspace(home), progress=False)
    assert builder.built == [] and {p.split for p in manifest.pairs} == {"dev", "test"}
    return home


def _baselines(tmp_path, slugs=("random", "cross-likelihood", "response-similarity")) -> Path:
    subs = tmp_path / "submissions"
    for slug in (*slugs, "_template"):
        shutil.copytree(REPO / "submissions" / slug, subs / slug, ignore=shutil.ignore_patterns("__pycache__"))
    return subs


def _cli_rerun(home, subs, results, *extra):
    return run_cli("rerun", "--suite", "micro", "--home", str(home), "--submissions-dir", str(subs),
                   "--results-dir", str(results), *extra)


def _last_error(capsys) -> str:
    err = [line for line in capsys.readouterr().err.splitlines() if line]
    assert len(err) == 1, err
    return err[0]


def test_rerun_writes_signed_results_and_rescores_only_what_is_stale(split_home, tmp_path, capsys):
    subs, results = _baselines(tmp_path), tmp_path / "results"
    assert _cli_rerun(split_home, subs, results, "--all", "--split", "dev") == 0
    files = {p.parent.name: p for p in sorted(results.glob("*/*.json"))}
    assert sorted(files) == ["cross-likelihood", "random", "response-similarity"]  # not the template
    for slug, path in files.items():
        rec = load_results(path)
        assert path.name == "1.0.0-dev.json" and rec.status == "dev only" and rec.split == "dev"
        assert rec.benchmark_version == BENCHMARK_VERSION and rec.code_commit and rec.suite == "micro"
        assert len(rec.evidence_sha256) == 64 and len(rec.submission_sha256) == 64 and "bubblewrap" in rec.isolation
        assert rec.n_pairs == 10 and rec.n_failed == 0 and rec.failures == [] and len(rec.metrics.pairs) == 10
        assert rec.submission.slug == slug
    before = {s: p.read_bytes() for s, p in files.items()}
    capsys.readouterr()

    # Nothing changed: nothing re-run, nothing rewritten.
    assert _cli_rerun(split_home, subs, results, "--all", "--split", "dev") == 0
    assert "0 re-scored, 3 up to date" in capsys.readouterr().out
    assert {s: p.read_bytes() for s, p in files.items()} == before

    # A hand edit is detected, by `verify-results` and by the next re-run, which regenerates the file.
    doc = json.loads(files["random"].read_text())
    doc["metrics"]["detectors"][0]["overall"]["auroc"] = 0.99
    files["random"].write_text(json.dumps(doc, indent=1))
    assert run_cli("submission", "verify-results", "--results-dir", str(results)) == 2
    assert _last_error(capsys) == (
        f"error: 1 of 3 results files failed verification: results file {files['random']} does not match its hash: "
        "it was edited after the benchmark wrote it; regenerate it with `distillbench rerun` (results are never "
        "edited by hand)")
    assert _cli_rerun(split_home, subs, results, "--all", "--split", "dev") == 0
    out = capsys.readouterr().out
    assert "1 re-scored, 2 up to date" in out and "re-scoring: results file" in out
    assert load_results(files["random"]).metrics.detectors[0].overall.auroc != 0.99

    # Bumping the benchmark version re-scores everything.
    view = open_view(Workspace(split_home), "micro")
    sandbox = Bubblewrap(forbidden=[split_home])
    entries = rerun(view, Workspace(split_home).manifest_path("micro"), "dev", subs, results, None, Limits(), sandbox,
                    benchmark_version="999.0.0", progress=lambda _: None)
    assert [e.action for e in entries] == ["scored"] * 3
    assert all("benchmark version" in e.message for e in entries)
    assert {load_results(p).benchmark_version for p in files.values()} == {"999.0.0"}


def test_hidden_split_needs_the_secret_and_earns_verified(split_home, tmp_path, capsys, monkeypatch):
    subs, results = _baselines(tmp_path, ("random",)), tmp_path / "results"
    monkeypatch.delenv("DISTILLBENCH_TEST_SECRET", raising=False)
    monkeypatch.delenv("DISTILLBENCH_TEST_SECRET_FILE", raising=False)
    assert _cli_rerun(split_home, subs, results, "--all", "--split", "test") == 2
    assert _last_error(capsys) == ("error: the hidden test split needs the maintainers' secret: set "
                                   "DISTILLBENCH_TEST_SECRET or DISTILLBENCH_TEST_SECRET_FILE")
    assert not results.exists()

    monkeypatch.setenv("DISTILLBENCH_TEST_SECRET", "maintainers-only")
    assert _cli_rerun(split_home, subs, results, "--submission", "random", "--split", "test") == 0
    rec = load_results(results / "random" / "1.0.0-test.json")
    assert rec.status == "verified" and rec.split == "test" and rec.n_pairs == 4
    assert rec.metrics.pairs == []  # per-pair rows would publish the hidden labels
    assert "maintainers-only" not in (results / "random" / "1.0.0-test.json").read_text()


def test_one_broken_submission_never_costs_the_others(split_home, tmp_path, capsys):
    subs, results = _baselines(tmp_path, ("random",)), tmp_path / "results"
    view = open_view(Workspace(split_home), "micro")
    first_dev = view.pair_id(next(p for p in view.manifest.pairs if p.split == "dev"))
    hostile_submission(subs, "hostile-raises", {first_dev: "raises"})
    write_submission(subs, "malformed", "x = 1\n", yaml_text="name: [\n")
    assert _cli_rerun(split_home, subs, results, "--all", "--split", "dev") == 2
    line = _last_error(capsys)
    assert line.startswith("error: rerun finished; 2 of 3 submissions are up to date or re-scored, 1 refused: "
                           "submission ") and "malformed is invalid: submission.yaml: not valid YAML" in line
    assert load_results(results / "random" / "1.0.0-dev.json").n_failed == 0
    hostile = load_results(results / "hostile-raises" / "1.0.0-dev.json")
    assert [(f.pair_id, f.error) for f in hostile.failures] == [(first_dev, "raised ZeroDivisionError: division by zero")]
    assert hostile.n_pairs == 10 and hostile.metrics.detectors[0].n_failed == 1
    assert not (results / "malformed").exists()


def test_changed_code_needs_a_new_version(split_home, tmp_path, capsys):
    subs, results = _baselines(tmp_path, ("random",)), tmp_path / "results"
    assert _cli_rerun(split_home, subs, results, "--all", "--split", "dev") == 0
    (subs / "random" / "detector.py").write_text((subs / "random" / "detector.py").read_text() + "\n# tweaked\n")
    assert _cli_rerun(split_home, subs, results, "--all", "--split", "dev") == 2
    assert "submission random changed since version 1.0.0 was scored" in _last_error(capsys)


def test_contributor_path_new_validate_run(micro_home, tmp_path, capsys):
    """CONTRIBUTING.md's steps, on the micro suite: scaffold, validate (contained), run; results stay local."""
    subs = tmp_path / "submissions"
    assert run_cli("submission", "new", "my-detector", "--dir", str(subs), "--name", "My detector") == 0
    folder = subs / "my-detector"
    assert run_cli("submission", "validate", str(folder), "--suite", "micro", "--home", str(micro_home)) == 0
    out = capsys.readouterr().out
    assert "valid: my-detector (My detector 1.0.0, black-box): 14/14 dev pairs of suite micro scored" in out
    assert "isolation: bubblewrap" in out
    home = tmp_path / "home"
    shutil.copytree(micro_home, home)
    assert run_cli("submission", "run", str(folder), "--suite", "micro", "--home", str(home)) == 0
    rec = load_results(home / "submissions" / "my-detector" / "1.0.0-dev.json")
    assert rec.status == "dev only" and rec.n_failed == 0
    assert not (REPO / "leaderboard" / "results" / "my-detector").exists()


def test_rerun_refuses_a_workspace_without_test_pairs(micro_home, tmp_path, monkeypatch):
    monkeypatch.setenv("DISTILLBENCH_TEST_SECRET", "x")
    view = open_view(Workspace(micro_home), "micro")
    with pytest.raises(DistillBenchError, match=r"suite micro has no 'test' pairs \(its pairs are in splits \['dev'\]\)"):
        rerun(view, Workspace(micro_home).manifest_path("micro"), "test", _baselines(tmp_path, ("random",)),
              tmp_path / "results", None, Limits(), Bubblewrap(forbidden=[micro_home]))
