"""Re-runs and results files: signed, re-scored when stale or edited, "verified" only on the hidden split (which
needs the maintainers' strong secret and is rationed by the verified-run ledger), published there only as the
disclosure policy allows, and one broken submission never costs the others their results; the three CI stages
(export without labels, detect without secrets, score without submitted code) give the one-process result. Also the
contributor's path from CONTRIBUTING.md: new -> validate -> run."""

import datetime as dt
import json
import secrets
import shutil
from importlib import resources
from pathlib import Path

import pytest
import yaml
from conftest import run_cli
from hostile import write_submission

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


@pytest.fixture
def maintainer_secret(tmp_path, monkeypatch):
    """A strong secret in a file (the draws go next to it), as docs/test_split.md makes one."""
    path = tmp_path / "maintainers" / "test-secret"
    path.parent.mkdir()
    path.write_text(secrets.token_hex(32) + "\n")
    monkeypatch.delenv("DISTILLBENCH_TEST_SECRET", raising=False)
    monkeypatch.delenv("DISTILLBENCH_TEST_DRAWS", raising=False)
    monkeypatch.delenv("DISTILLBENCH_TEST_DRAWS_FILE", raising=False)
    monkeypatch.setenv("DISTILLBENCH_TEST_SECRET_FILE", str(path))
    return path.read_text().strip()


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


def test_hidden_split_needs_a_strong_secret_and_earns_verified(split_home, tmp_path, capsys, monkeypatch):
    subs, results = _baselines(tmp_path, ("random",)), tmp_path / "results"
    for var in ("DISTILLBENCH_TEST_SECRET", "DISTILLBENCH_TEST_SECRET_FILE", "DISTILLBENCH_TEST_DRAWS",
                "DISTILLBENCH_TEST_DRAWS_FILE"):
        monkeypatch.delenv(var, raising=False)
    assert _cli_rerun(split_home, subs, results, "--all", "--split", "test") == 2
    assert _last_error(capsys) == ("error: the hidden test split needs the maintainers' secret: set "
                                   "DISTILLBENCH_TEST_SECRET or DISTILLBENCH_TEST_SECRET_FILE")
    # The kind of secret the project's own tests used to use, a phrase, a project name and a year: refused.
    for weak in ("maintainers-only", "distillbench-2026", "a-long-enough-secret-for-tests-0123456789",
                 "TheHiddenSplitOfDistillBenchIsKeptByTheMaintainersSince2026"):
        monkeypatch.setenv("DISTILLBENCH_TEST_SECRET", weak)
        assert _cli_rerun(split_home, subs, results, "--all", "--split", "test") == 2
        assert _last_error(capsys).startswith("error: the test secret is too weak to keep the hidden split hidden: ")
    strong = secrets.token_hex(32)
    monkeypatch.setenv("DISTILLBENCH_TEST_SECRET", strong)
    assert _cli_rerun(split_home, subs, results, "--all", "--split", "test") == 2
    assert _last_error(capsys).startswith("error: the hidden test split needs the maintainers' draws too: set "
                                          "DISTILLBENCH_TEST_DRAWS_FILE")
    assert not results.exists()

    monkeypatch.setenv("DISTILLBENCH_TEST_DRAWS_FILE", str(tmp_path / "draws.json"))
    assert _cli_rerun(split_home, subs, results, "--submission", "random", "--split", "test") == 0
    path = results / "random" / "1.0.0-test.json"
    rec = load_results(path)
    assert rec.status == "verified" and rec.split == "test" and rec.n_pairs == 4
    # The disclosure policy: no per-pair or per-teacher rows, no failure text, no timing, no threshold, rounded.
    assert rec.metrics.pairs == [] and rec.failures == [] and rec.seconds is None
    det = rec.metrics.detectors[0]
    assert det.threshold_5pct_fpr == 0.0 and det.verdicts_sha256 == "" and det.calibration.by_teacher == {}
    assert round(det.overall.auroc, 2) == det.overall.auroc
    assert all(v is None or v * 4 == round(v * 4) for row in det.conditions.values()
               for v in (row.detected_at_threshold, row.fpr_at_threshold, row.auroc))
    assert all(row.ci is None and row.matched_auroc_same_data is None for row in det.conditions.values())
    assert strong not in path.read_text()
    ledger = json.loads((tmp_path / "verified-ledger.json").read_text())
    assert [(r["slug"], r["version"]) for r in ledger["runs"]] == [("random", "1.0.0")]


def test_one_verified_run_per_submitter_per_period(split_home, tmp_path, maintainer_secret, capsys):
    """RAID's rule: the second submission of the same people within the period is refused with one line; the others
    are still scored; the ration comes back after the period and with a new benchmark version."""
    subs, results, ledger = _baselines(tmp_path, ("random", "cross-likelihood")), tmp_path / "results", tmp_path / "l.json"
    meta = yaml.safe_load((subs / "random" / "submission.yaml").read_text())
    again = subs / "random-again"
    shutil.copytree(subs / "random", again)
    (again / "submission.yaml").write_text(yaml.safe_dump(meta | {"slug": "random-again", "name": "Random again"},
                                                          sort_keys=False))
    other = yaml.safe_load((subs / "cross-likelihood" / "submission.yaml").read_text())
    other |= {"contact": "someone.else@example.org", "authors": [{"name": "Someone Else", "affiliation": "Elsewhere"}]}
    (subs / "cross-likelihood" / "submission.yaml").write_text(yaml.safe_dump(other, sort_keys=False))

    view, manifest_path = open_view(Workspace(split_home), "micro"), Workspace(split_home).manifest_path("micro")
    sandbox, lines = Bubblewrap(forbidden=[split_home]), []
    day = dt.date(2026, 3, 1)
    with pytest.raises(DistillBenchError) as err:
        rerun(view, manifest_path, "test", subs, results, None, Limits(), sandbox, progress=lines.append,
              ledger_path=ledger, today=day)
    who = sorted({meta["contact"].casefold()} | {a["name"].casefold() for a in meta["authors"]})
    refused = (f"submission random-again 1.0.0: refused: its submitter ({', '.join(who)}) had a verified run of random 1.0.0 "
               f"on 2026-03-01 under benchmark {BENCHMARK_VERSION}; one verified run per submitter per 30 days per "
               "benchmark version (docs/disclosure.md), next from 2026-03-31")
    assert str(err.value).splitlines() == [
        "rerun finished; 2 of 3 submissions are up to date or re-scored, 1 refused:", refused]
    assert f"rerun: {refused}" in lines
    assert sorted(p.parent.name for p in results.glob("*/*.json")) == ["cross-likelihood", "random"]
    # Re-scoring a version already run is not a new run; a day before the period ends is still inside it.
    assert [e.action for e in rerun(view, manifest_path, "test", subs, results, ["random"], Limits(), sandbox,
                                    force=True, progress=lines.append, ledger_path=ledger, today=day)] == ["scored"]
    with pytest.raises(DistillBenchError, match="1 refused"):
        rerun(view, manifest_path, "test", subs, results, ["random-again"], Limits(), sandbox, progress=lines.append,
              ledger_path=ledger, today=day + dt.timedelta(days=29))
    assert [e.action for e in rerun(view, manifest_path, "test", subs, results, ["random-again"], Limits(), sandbox,
                                    progress=lines.append, ledger_path=ledger,
                                    today=day + dt.timedelta(days=30))] == ["scored"]
    # The dev split is not rationed.
    assert {e.action for e in rerun(view, manifest_path, "dev", subs, results, None, Limits(), sandbox,
                                    progress=lines.append, ledger_path=ledger, today=day)} == {"scored"}


def test_three_stages_give_the_one_process_result(split_home, tmp_path, maintainer_secret, capsys, monkeypatch):
    """export (labels stay behind) -> detect (no secret, no salt, no labels in its workspace) -> score (no submitted
    code) writes what one `rerun` writes."""
    subs = _baselines(tmp_path, ("random", "response-similarity"))
    other = yaml.safe_load((subs / "response-similarity" / "submission.yaml").read_text())
    other |= {"contact": "someone.else@example.org", "authors": [{"name": "Someone Else", "affiliation": "Elsewhere"}]}
    (subs / "response-similarity" / "submission.yaml").write_text(yaml.safe_dump(other, sort_keys=False))  # own ration
    write_submission(subs, "malformed", "x = 1\n", yaml_text="seed: [[[[\n")
    export, runs, staged, whole = tmp_path / "export", tmp_path / "runs", tmp_path / "staged", tmp_path / "whole"
    assert _cli_rerun(split_home, subs, whole, "--submission", "random", "--submission", "response-similarity",
                      "--split", "test", "--ledger", str(tmp_path / "l1.json")) == 0
    assert _cli_rerun(split_home, subs, staged, "--split", "test", "--stage", "export", "--export-dir", str(export)) == 0
    blinded = json.loads((export / "suites" / "micro" / "manifest.json").read_text())
    assert {p["label"] for p in blinded["pairs"]} == {-1} and all(p["conditions"] == [] for p in blinded["pairs"])
    assert all(m["provenance"] == [] and m["init"] is None for m in blinded["models"])
    assert not list(export.rglob("*.safetensors"))
    capsys.readouterr()

    for var in ("DISTILLBENCH_TEST_SECRET", "DISTILLBENCH_TEST_SECRET_FILE", "DISTILLBENCH_RESULTS_SALT"):
        monkeypatch.delenv(var, raising=False)  # the detect stage holds neither the secret nor the salt
    assert run_cli("rerun", "--suite", "micro", "--home", str(export), "--submissions-dir", str(subs),
                   "--split", "test", "--all", "--stage", "detect", "--runs-dir", str(runs)) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "error: rerun finished; 2 of 3 submissions are up to date or re-scored, 1 refused:"
    assert len(err) == 2 and err[1].startswith("submission malformed: invalid: ")
    assert sorted(p.relative_to(runs).as_posix() for p in runs.rglob("*.json")) == [
        "random/1.0.0-test.run.json", "response-similarity/1.0.0-test.run.json"]

    # The score stage of a split built by hand (not drawn from the secret) takes the maintainers' manifest.
    from distillbench.submission.rerun import score_stage

    entries = score_stage(export, "micro", "test", subs, runs, staged, ["random", "response-similarity"],
                          ledger_path=tmp_path / "l2.json", manifest_path=Workspace(split_home).manifest_path("micro"),
                          progress=lambda _: None)
    assert [e.action for e in entries] == ["scored", "scored"]
    for slug in ("random", "response-similarity"):
        a, b = load_results(whole / slug / "1.0.0-test.json"), load_results(staged / slug / "1.0.0-test.json")
        # Each hidden-split run draws its own id key; `random` scores the ids it sees, so only an id-blind method's
        # metrics must agree between the two routes.
        if slug != "random":
            assert a.metrics.detectors[0].overall == b.metrics.detectors[0].overall
            assert a.metrics.detectors[0].conditions == b.metrics.detectors[0].conditions
        assert (a.evidence_sha256, a.manifest_sha256, a.n_pairs, a.status) == (
            b.evidence_sha256, b.manifest_sha256, b.n_pairs, b.status)


RAISES_SOMETIMES = '''"""Fails on about half of the pairs (by its masked id), scores the others."""

from distillbench.detect.base import Verdict
from distillbench.evidence.view import AccessLevel


class Hostile:
    name = "raises-sometimes"
    access = AccessLevel.BLACK_BOX
    summary = "fails on purpose"
    uses = frozenset({"generations"})

    def score(self, pair):
        if pair.pair_id < "8":
            return 1 / 0
        return Verdict(score=float(sum(map(ord, pair.pair_id)) % 97), p_value=None)
'''


def test_one_broken_submission_never_costs_the_others(split_home, tmp_path, capsys):
    """A detector that fails on some pairs is scored with its failures; three malformed `submission.yaml`s (issue 11:
    bad YAML, an impossible date and a 5,000-digit seed) are refused one line each; every other one is scored."""
    subs, results = _baselines(tmp_path, ("random",)), tmp_path / "results"
    write_submission(subs, "raises-sometimes", RAISES_SOMETIMES)
    write_submission(subs, "malformed", "x = 1\n", yaml_text="name: [\n")
    write_submission(subs, "malformed-date", "x = 1\n", yaml_text="description: 2001-13-45\n")
    write_submission(subs, "malformed-seed", "x = 1\n", yaml_text="seeds: [" + "9" * 5000 + "]\n")
    assert _cli_rerun(split_home, subs, results, "--all", "--split", "dev") == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line]
    assert err[0] == "error: rerun finished; 2 of 5 submissions are up to date or re-scored, 3 refused:"
    assert [line.split(":")[0] for line in err[1:]] == [
        "submission malformed", "submission malformed-date", "submission malformed-seed"]
    assert all(": invalid: " in line for line in err[1:])
    assert load_results(results / "random" / "1.0.0-dev.json").n_failed == 0
    failing = load_results(results / "raises-sometimes" / "1.0.0-dev.json")
    assert failing.n_pairs == 10 and 1 <= failing.n_failed < 10
    assert {f.error for f in failing.failures} == {"raised ZeroDivisionError: division by zero"}
    assert failing.metrics.detectors[0].n_failed == failing.n_failed
    assert not any((results / slug).exists() for slug in ("malformed", "malformed-date", "malformed-seed"))


def test_changed_code_needs_a_new_version(split_home, tmp_path, capsys):
    subs, results = _baselines(tmp_path, ("random",)), tmp_path / "results"
    assert _cli_rerun(split_home, subs, results, "--all", "--split", "dev") == 0
    (subs / "random" / "detector.py").write_text((subs / "random" / "detector.py").read_text() + "\n# tweaked\n")
    assert _cli_rerun(split_home, subs, results, "--all", "--split", "dev") == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line]
    assert len(err) == 2 and err[1].startswith("submission random changed since version 1.0.0 was scored")


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
    assert rec.status == "local" and rec.n_failed == 0  # never published; `results.remove_local` deletes it
    assert not (REPO / "leaderboard" / "results" / "my-detector").exists()


def test_rerun_refuses_a_workspace_without_test_pairs(micro_home, tmp_path, maintainer_secret):
    view = open_view(Workspace(micro_home), "micro")
    with pytest.raises(DistillBenchError, match=r"suite micro has no 'test' pairs \(its pairs are in splits \['dev'\]\)"):
        rerun(view, Workspace(micro_home).manifest_path("micro"), "test", _baselines(tmp_path, ("random",)),
              tmp_path / "results", None, Limits(), Bubblewrap(forbidden=[micro_home]))
