"""The benchmark itself: the standard suite's design, its hidden test split, the published dev evidence that lets a
fresh clone evaluate without building, and `zoo verify`."""

from __future__ import annotations

import json
import re
import secrets
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
from distillbench.submission import BENCHMARK_VERSION
from distillbench.zoo.splits import MIN_SECRET_BITS, draw_test_spec, new_draw, read_secret, secret_bits, secret_paths

REPO = Path(__file__).resolve().parents[1]


STRONG = "f0eee3a931aee642749ad80899d2ca4de2ba23688ea9524cc3dcfaae24eba24a"  # 32 random bytes in hex


def test_hidden_split_is_the_same_design_drawn_again_from_secret_and_draws():
    dev = load_suite("standard")
    draw = new_draw(dev)
    test, again = draw_test_spec(dev, STRONG, draw), draw_test_spec(dev, STRONG, draw)
    assert test == again
    # Each of the secret, the draws and the benchmark version alone redraws the split.
    rotated = draw_test_spec(dev, secrets.token_hex(32), draw)
    redrawn = draw_test_spec(dev, STRONG, new_draw(dev))
    next_version = draw_test_spec(dev, STRONG, draw, benchmark_version="999.0.0")
    for other in (rotated, redrawn, next_version):
        assert other.corpus_seed != test.corpus_seed and all(a.seed != b.seed for a, b in zip(other.models, test.models))
    assert test.name == "standard-test" and all(m.split == "test" for m in test.models)
    # Ids are random draws, recorded only in the draws: not a function of the names, the design or the secret.
    assert {m.name for m in test.models} == set(draw.ids.values())
    assert all(re.fullmatch(r"m[0-9a-f]{10}", m.name) for m in test.models)
    assert {m.name for m in redrawn.models}.isdisjoint(m.name for m in test.models)
    assert not {m.name for m in test.models} & {m.name for m in dev.models}
    # The models are listed in id order (dependencies first), not in the dev order that would name their roles.
    back = {v: k for k, v in draw.ids.items()}
    assert [back[m.name] for m in test.models] != [m.name for m in dev.models]
    assert test.corpus_seed != dev.corpus_seed
    assert all(t.seed != dev.model(back[t.name]).seed for t in test.models)
    keys = lambda s: [m.watermark.key for m in s.models if m.watermark]  # noqa: E731
    assert len(keys(test)) == len(keys(dev)) and not set(keys(test)) & set(keys(dev))
    assert [m.persona for m in test.models] != [dev.model(back[m.name]).persona for m in test.models]
    dev_pairs, test_pairs = derive_pairs(dev), derive_pairs(test)
    # The same conditions in the same numbers; which other teachers a student meets is drawn again.
    shape = lambda ps: sorted((p.label, p.conditions[0], p.shares_weights_with_teacher) for p in ps)  # noqa: E731
    assert shape(test_pairs) == shape(dev_pairs)
    # Listed by opaque id, so a position in the list does not give a condition away.
    assert [p.pair_id for p in test_pairs] == sorted(p.pair_id for p in test_pairs)
    assert all(p.split == "test" for p in test_pairs)


def test_weak_secrets_are_refused_and_random_ones_pass(monkeypatch, tmp_path):
    for var in ("DISTILLBENCH_TEST_SECRET_FILE", "DISTILLBENCH_TEST_DRAWS", "DISTILLBENCH_TEST_DRAWS_FILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("DISTILLBENCH_TEST_DRAWS_FILE", str(tmp_path / "draws.json"))
    weak = ["secret-1", "rotate-me-2026", "maintainers-only", "distillbench2026distillbench2026distillbench2026",
            "a-long-enough-secret-for-tests-0123456789", "correct horse battery staple correct horse battery staple",
            "TheHiddenSplitOfDistillBenchIsKeptByTheMaintainersSince2026", "0123456789abcdef" * 4, "x" * 80]
    for secret in weak:
        monkeypatch.setenv("DISTILLBENCH_TEST_SECRET", secret)
        with pytest.raises(DistillBenchError, match="too weak to keep the hidden split hidden"):
            read_secret()
    import base64
    import os

    for _ in range(300):  # what docs/test_split.md tells maintainers to make
        for secret in (base64.b64encode(os.urandom(48)).decode(), secrets.token_hex(32)):
            assert secret_bits(secret) >= MIN_SECRET_BITS, secret
    monkeypatch.setenv("DISTILLBENCH_TEST_SECRET", STRONG)
    assert read_secret() == STRONG


def test_draws_are_recorded_once_per_benchmark_version_and_reused(monkeypatch, tmp_path):
    dev = load_suite("micro")
    secret_file = tmp_path / "maintainers" / "secret"
    secret_file.parent.mkdir()
    secret_file.write_text(STRONG + "\n")
    for var in ("DISTILLBENCH_TEST_SECRET", "DISTILLBENCH_TEST_DRAWS", "DISTILLBENCH_TEST_DRAWS_FILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("DISTILLBENCH_TEST_SECRET_FILE", str(secret_file))
    first = draw_test_spec(dev, read_secret())
    draws_file = tmp_path / "maintainers" / "secret.draws.json"  # next to the secret: maintainers only
    assert draws_file.is_file() and (draws_file.stat().st_mode & 0o777) == 0o600
    assert draw_test_spec(dev, read_secret()) == first  # a rebuild draws nothing new
    assert Path(str(secret_file)) in secret_paths() and draws_file in secret_paths()
    later = draw_test_spec(dev, read_secret(), benchmark_version="999.0.0")
    assert {m.name for m in later.models}.isdisjoint(m.name for m in first.models)
    recorded = json.loads(draws_file.read_text())["draws"]
    assert sorted(recorded) == sorted([f"micro@{BENCHMARK_VERSION}", "micro@999.0.0"])
    # CI's copy is read-only: a version it has no draws for is one clear error, never a silent fresh draw.
    monkeypatch.setenv("DISTILLBENCH_TEST_DRAWS", draws_file.read_text())
    assert draw_test_spec(dev, read_secret(), benchmark_version="999.0.0") == later
    with pytest.raises(DistillBenchError, match=r"DISTILLBENCH_TEST_DRAWS holds no draws for micro@1000.0.0"):
        draw_test_spec(dev, read_secret(), benchmark_version="1000.0.0")


@pytest.fixture(scope="module")
def micro_test(tmp_path_factory) -> dict:
    """The micro suite's hidden split, built and probed from a strong secret: the maintainers' workspace and the
    environment that names their secret (read-only for tests)."""
    root = tmp_path_factory.mktemp("maintainers")
    secret_file = root / "secret.txt"
    secret_file.write_text(secrets.token_hex(32) + "\n")
    env = {"DISTILLBENCH_TEST_SECRET_FILE": str(secret_file)}
    with pytest.MonkeyPatch.context() as mp:
        for var in ("DISTILLBENCH_TEST_SECRET", "DISTILLBENCH_TEST_DRAWS", "DISTILLBENCH_TEST_DRAWS_FILE"):
            mp.delenv(var, raising=False)
        for k, v in env.items():
            mp.setenv(k, v)
        home = root / "home"
        assert run_cli("zoo", "build", "--suite", "micro", "--split", "test", "--home", str(home)) == 0
        assert run_cli("probe", "--suite", "micro-test", "--home", str(home)) == 0
    return {"home": home, "env": env, "secret": secret_file.read_text().strip()}


def _maintainer_env(monkeypatch, env: dict) -> None:
    for var in ("DISTILLBENCH_TEST_SECRET", "DISTILLBENCH_TEST_DRAWS", "DISTILLBENCH_TEST_DRAWS_FILE"):
        monkeypatch.delenv(var, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)


def test_test_split_is_built_from_the_secret_and_rerun_as_verified(micro_test, tmp_path, monkeypatch, capsys):
    for var in ("DISTILLBENCH_TEST_SECRET", "DISTILLBENCH_TEST_SECRET_FILE", "DISTILLBENCH_TEST_DRAWS",
                "DISTILLBENCH_TEST_DRAWS_FILE"):
        monkeypatch.delenv(var, raising=False)
    assert run_cli("zoo", "build", "--suite", "micro", "--split", "test", "--home", str(tmp_path / "nohome")) == 2
    assert "needs the maintainers' secret" in capsys.readouterr().err and not (tmp_path / "nohome").exists()

    home = micro_test["home"]
    _maintainer_env(monkeypatch, micro_test["env"])
    manifest = load_manifest(Workspace(home), "micro-test")
    assert {p.split for p in manifest.pairs} == {"test"} and len(manifest.pairs) == 14
    text = (home / "suites" / "micro-test" / "manifest.json").read_text()
    assert "teacher-a" not in text and "a-seq" not in text
    for f in home.rglob("*"):
        if f.is_file():
            assert micro_test["secret"].encode() not in f.read_bytes(), f
            assert f.name != "secret.txt.draws.json", f

    subs, results = tmp_path / "submissions", tmp_path / "results"
    for slug in ("random", "_template"):
        shutil.copytree(REPO / "submissions" / slug, subs / slug, ignore=shutil.ignore_patterns("__pycache__"))
    assert run_cli("rerun", "--suite", "micro", "--split", "test", "--submission", "random", "--home", str(home),
                   "--submissions-dir", str(subs), "--results-dir", str(results)) == 0
    rec = load_results(results / "random" / "1.0.0-test.json")
    assert rec.status == "verified" and rec.suite == "micro-test" and rec.n_pairs == 14
    assert rec.metrics.pairs == [] and rec.seconds is None and rec.failures == []

    # The same through CI's three stages: the score stage recomputes the labels from the secret and the draws.
    export, runs, staged = tmp_path / "export", tmp_path / "runs", tmp_path / "staged"
    base = ("--suite", "micro", "--split", "test", "--submission", "random", "--submissions-dir", str(subs))
    assert run_cli("rerun", *base, "--home", str(home), "--stage", "export", "--export-dir", str(export)) == 0
    assert not list(export.rglob("*.safetensors")) and micro_test["secret"] not in "".join(
        f.read_text(errors="replace") for f in export.rglob("*") if f.is_file())
    for var in micro_test["env"]:
        monkeypatch.delenv(var)  # the detect stage holds no secret
    assert run_cli("rerun", *base, "--home", str(export), "--stage", "detect", "--runs-dir", str(runs)) == 0
    _maintainer_env(monkeypatch, micro_test["env"])
    assert run_cli("rerun", *base, "--stage", "score", "--export-dir", str(export), "--runs-dir", str(runs),
                   "--results-dir", str(staged), "--ledger", str(tmp_path / "staged-ledger.json")) == 0
    again = load_results(staged / "random" / "1.0.0-test.json")
    # Each hidden-split run draws its own id key and `random` scores the ids it sees: the two routes agree on what
    # does not depend on them.
    assert again.metrics.detectors[0].overall.n_pairs == rec.metrics.detectors[0].overall.n_pairs
    assert sorted(again.metrics.detectors[0].conditions) == sorted(rec.metrics.detectors[0].conditions)
    assert (again.manifest_sha256, again.evidence_sha256) == (rec.manifest_sha256, rec.evidence_sha256)

    # A submission that queries models itself runs on the export when the weights travel with it (`--with-models`);
    # the harness answers it from them, outside the sandbox, and the run records what each pair cost.
    shutil.copytree(REPO / "submissions" / "provenance-test", subs / "provenance-test",
                    ignore=shutil.ignore_patterns("__pycache__"))
    with_models, runs2 = tmp_path / "export-models", tmp_path / "runs-models"
    queried = ("--suite", "micro", "--split", "test", "--submission", "provenance-test", "--submissions-dir", str(subs))
    assert run_cli("rerun", *queried, "--home", str(home), "--stage", "export", "--export-dir", str(with_models),
                   "--with-models") == 0
    assert list(with_models.rglob("*.safetensors"))
    for var in micro_test["env"]:
        monkeypatch.delenv(var)
    assert run_cli("rerun", *queried, "--home", str(with_models), "--stage", "detect", "--runs-dir", str(runs2)) == 0
    from distillbench.files import read_model
    from distillbench.submission.rerun import StageRun, stage_path

    run = read_model(stage_path(runs2, "provenance-test", "1.0.0", "test"), StageRun, "stage run")
    assert run.load_error is None and not run.failures
    assert run.verdicts.cost.request_queries_per_pair["student"] > 0 and run.verdicts.cost.model_calls > 0


def test_decode_and_resubmit_gains_at_most_what_the_policy_bounds(micro_test, tmp_path, monkeypatch):
    """The attack of issue 11 on micro's hidden split. Version 1 scores every pair distinctly; its verified record is
    read back; version 2 hard-codes what that reveals.

    Before the policy (everything but the per-pair rows published, re-runs unlimited), the exact score threshold
    names the highest-scoring hidden negative on every run: pushing it to the bottom and re-submitting decodes every
    label in at most one run per negative, and version 2 scores AUROC 1.0. Under the policy the threshold is
    withheld, numbers are rounded and one run per period is allowed: what the one record says is at most
    `disclosed_bits`, and the best the decoder does with it stays below that bound and below a perfect score."""
    import itertools
    import math

    import numpy as np
    from sklearn.metrics import roc_auc_score

    from distillbench.detect.runner import PairVerdict, VerdictFile
    from distillbench.score.metrics import tpr_at_fpr_score
    from distillbench.score.results import score
    from distillbench.submission.evaluate import build_record
    from distillbench.submission.execute import RunOutcome
    from distillbench.submission.folder import load_submission
    from distillbench.submission.results import disclosed_bits, disclosed_bits_for
    from distillbench.submission.sandbox import Limits
    from distillbench.submission.suite import open_view

    _maintainer_env(monkeypatch, micro_test["env"])
    ws = Workspace(micro_test["home"])
    view, mpath = open_view(ws, "micro-test"), ws.manifest_path("micro-test")
    pairs = [p for p in view.manifest.pairs if p.split == "test"]
    ids, y = [view.pair_id(p) for p in pairs], np.array([p.label for p in pairs])
    n, n_pos = len(pairs), int(y.sum())
    subs = tmp_path / "submissions"
    shutil.copytree(REPO / "submissions" / "random", subs / "random", ignore=shutil.ignore_patterns("__pycache__"))
    sub = load_submission(subs / "random")

    def verdicts(scores) -> VerdictFile:
        return VerdictFile(suite=view.manifest.suite, split="test", detector=sub.slug, access="black-box",
                           evidence_sha256=view.digest(), seconds=1.0,
                           verdicts=[PairVerdict(pair_id=i, score=float(x), p_value=None) for i, x in zip(ids, scores)])

    # Before: the scorer's record as it was published, and as many runs as the attacker likes.
    known: dict[int, int] = {}
    runs = 0
    while len(known) < n and runs <= n:
        runs += 1
        order = sorted(range(n), key=lambda i: (-known.get(i, 0.5), i))  # known positives first, negatives last
        s = np.empty(n)
        s[order] = np.arange(n, 0, -1, dtype=float)
        thr = score(view.manifest, mpath, [verdicts(s)], split="test").detectors[0].threshold_5pct_fpr
        top_negative = int(np.flatnonzero(s == thr)[0])
        known[top_negative] = 0
        known.update({i: 1 for i in range(n) if s[i] > thr and i not in known})
        if sum(v == 0 for v in known.values()) == n - n_pos:
            known.update({i: 1 for i in range(n) if i not in known})
    v2_before = np.array([known[i] for i in range(n)], dtype=float)
    assert runs <= n - n_pos and roc_auc_score(y, v2_before) == 1.0

    # Under the policy: one run; the record as `disclose` publishes it.
    s1 = np.arange(n, 0, -1, dtype=float)
    record = build_record(sub, view, mpath, RunOutcome(verdicts=verdicts(s1), isolation="test"), Limits())
    o = record.metrics.detectors[0].overall
    assert record.metrics.detectors[0].threshold_5pct_fpr == 0.0
    consistent = []
    for pos in itertools.combinations(range(n), o.n_positive):
        yy = np.zeros(n, dtype=int)
        yy[list(pos)] = 1
        simulated = (roc_auc_score(yy, s1), tpr_at_fpr_score(yy, s1, 0.05), tpr_at_fpr_score(yy, s1, 0.01))
        published = (o.auroc, o.tpr_at_5pct_fpr, o.tpr_at_1pct_fpr)
        if all(abs(a - b) <= 0.005 + 1e-9 for a, b in zip(simulated, published)):  # what rounds to the record
            consistent.append(yy)
    assert y.tolist() in [c.tolist() for c in consistent]  # the decoder reads the record right
    learned = math.log2(math.comb(n, o.n_positive) / len(consistent))
    assert learned <= disclosed_bits(record)
    v2_after = np.mean(consistent, axis=0)  # each pair's share of the labellings the record allows
    assert roc_auc_score(y, v2_after) < 1.0
    print(f"micro-test: {n} pairs, before: {runs} runs to AUROC 1.0; after: one record of at most "
          f"{disclosed_bits(record):.0f} bits, decoder learned {learned:.1f} bits, version 2 AUROC "
          f"{roc_auc_score(y, v2_after):.3f}; standard-test: {disclosed_bits_for(1944, 25):.0f} bits per run")
    # On the standard split (1,944 pairs, 384 positive, 25 conditions) one verified run says at most this much;
    # docs/disclosure.md states the AUROC this can buy.
    assert disclosed_bits_for(1944, 25) <= 200 < math.log2(math.comb(1944, 384)) / 6


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


# -- the accusation suite's published evidence: a chat and reasoning suite carries its own probe task copy ----------

def test_the_accusation_bundle_installs_its_task_copy_and_scores(tmp_path):
    """The shipped accusation evidence installs with its own probe prompts (a chat and reasoning suite's task copy),
    the task code taken from this checkout, and scores from a fresh workspace without a build."""
    from distillbench.probe.tasks import tasks_dir

    ws = Workspace(tmp_path / "ws")
    manifest = install_bundle(bundles_dir() / "accusation", ws)
    suite = ws.suite_dir("accusation")
    assert (suite / "tasks" / "data" / "prompts.jsonl").is_file() and (suite / "watermark_cost.json").is_file()
    assert (suite / "tasks" / "utils.py").read_bytes() == (tasks_dir() / "utils.py").read_bytes()
    conditions = {c for p in manifest.pairs for c in p.conditions}
    assert {"paraphrase-model", "framed", "on_policy", "traces-hidden", "chat", "persona-about"} <= conditions
    assert run_cli("evaluate", "--suite", "accusation", "--home", str(ws.home), "--detector", "cross_likelihood",
                   "--no-progress") == 0
    results = Results.model_validate_json(ws.results_path("accusation").read_text())
    assert results.detectors[0].overall.auroc > 0.7  # it detects here; a broken task copy would fail to install


@pytest.mark.parametrize("tamper", ["edit-prompts", "ship-code", "escape"])
def test_a_bundle_cannot_install_code_or_write_outside_its_files(tmp_path, tamper):
    bundle = tmp_path / "accusation"
    shutil.copytree(bundles_dir() / "accusation", bundle)
    index = json.loads((bundle / "bundle.json").read_text())
    if tamper == "edit-prompts":  # the prompts the records were probed with, changed
        (bundle / "tasks" / "data" / "prompts.jsonl").write_text("{}\n")
    else:  # an entry the index vouches for, pointing at code lm-eval would import, or outside the suite folder
        from distillbench.fingerprint import sha256_file

        rel = "tasks/utils.py" if tamper == "ship-code" else "../../evil.json"
        payload = bundle / "tasks" / "utils.py"
        payload.write_text("import os\n")
        index["suite_files"][rel] = sha256_file(payload)
        (bundle / "bundle.json").write_text(json.dumps(index))
    ws = Workspace(tmp_path / "ws")
    with pytest.raises(DistillBenchError, match="bundle"):
        install_bundle(bundle, ws)
    assert not ws.manifest_path("accusation").exists() and not (tmp_path / "evil.json").exists()
