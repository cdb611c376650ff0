"""`distillbench hub`: what a push would send, what it hands the Hub client, and what a fetch accepts and installs.

Nothing here reaches the network: pushes stop at the plan (dry run, `--to-folder`) or hand their operations to a
recording stand-in for `HfApi`; fetches read a local folder laid out like the repo, through a stand-in for
`snapshot_download` or `--snapshot`. Whether the Hub accepts the commit is not tested here.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import run_cli
from huggingface_hub import constants
from huggingface_hub.utils import filter_repo_objects

from distillbench.errors import DistillBenchError
from distillbench.files import write_model
from distillbench.fingerprint import model_fingerprint, sha256_file
from distillbench.hub.fetch import fetch
from distillbench.hub.index import PushIndex
from distillbench.hub.layout import TARGETS
from distillbench.hub.online import allow_hub_access
from distillbench.hub.push import plan_evidence, plan_models, push, write_plan
from distillbench.paths import Workspace
from distillbench.zoo.manifest import Manifest, ModelRecord, PairRecord, PoolRecord

MODELS, EVIDENCE = TARGETS["models"], TARGETS["evidence"]


# -- helpers -----------------------------------------------------------------------------------------------------
def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def fake_suite(home: Path, suite: str = "toy", split: str = "dev") -> Workspace:
    """A small workspace shaped like a built suite (no training): two models, tokenizer, pool, manifest, and the
    things that must never travel (API cache, verdicts, results, a half-written temporary file)."""
    ws = Workspace(home)
    root = ws.suite_dir(suite)
    (root / "tokenizer").mkdir(parents=True)
    (root / "tokenizer/tokenizer.json").write_text('{"vocab": {"a": 0}}')
    (root / "tokenizer/tokenizer_config.json").write_text("{}")
    (root / "tokenizers/bytes").mkdir(parents=True)  # a further named tokenizer, as a laundering student uses
    (root / "tokenizers/bytes/tokenizer.json").write_text('{"vocab": {"b": 0}}')
    records = []
    for name, role in (("teacher-a", "teacher"), ("student-a", "student")):
        d = root / "models" / name
        d.mkdir(parents=True)
        (d / "config.json").write_text(json.dumps({"model_type": "gpt2", "n_embd": 8}))
        (d / "model.safetensors").write_bytes(name.encode() * 200)
        (d / "tokenizer.json").write_text('{"vocab": {"a": 0}}')
        records.append(ModelRecord(name=name, role=role, path=f"models/{name}", sha256=sha256_file(d / "model.safetensors"),
                                   fingerprint=model_fingerprint(d), spec_sha256="0" * 64, arch={}, seed=1, persona=None,
                                   init=None, provenance=[], n_params=8, tokenizer="bytes" if role == "student" else None))
    (root / "pool.jsonl").write_text('{"id": "pool-00000", "context": "a", "continuation": "b"}\n')
    (root / "cache").mkdir()
    (root / "cache/teacher-a.json").write_text("{}")
    (root / "verdicts").mkdir()
    (root / "verdicts/random.json").write_text("{}")
    (root / "results.json").write_text("{}")
    (root / "models/teacher-a/.config.json.x1.tmp").write_text("half")
    pair = PairRecord(pair_id="teacher-a__student-a", teacher="teacher-a", student="student-a", label=1,
                      conditions=["seq_distill"], shares_weights_with_teacher=False, split=split)
    write_model(ws.manifest_path(suite), Manifest(
        suite=suite, suite_spec_sha256="0" * 64, corpus_seed=0, versions={},
        tokenizer_sha256=sha256_file(root / "tokenizer/tokenizer.json"),
        tokenizers={"bytes": sha256_file(root / "tokenizers/bytes/tokenizer.json")}, models=records, pairs=[pair],
        pool=PoolRecord(path="pool.jsonl", sha256=sha256_file(root / "pool.jsonl"), n_texts=1)))
    return ws


def payload(root: Path) -> dict[str, bytes]:
    """What a models push carries of a suite folder: manifest, pool, tokenizer, model dirs; no hidden files."""
    keep = ("manifest.json", "pool.jsonl", "tokenizer/", "tokenizers/", "models/")
    return {k: v for k, v in tree(root).items()
            if k.startswith(keep) and not any(part.startswith(".") for part in k.split("/"))}


class LocalHub:
    """Stands in for `huggingface_hub.snapshot_download`: copies the files `allow_patterns` selects (with the Hub's own
    `filter_repo_objects`) from a local folder laid out like the repo, and records every call."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.calls: list[dict] = []

    def __call__(self, *, repo_id, repo_type, revision, local_dir, allow_patterns, token):
        self.calls.append({"repo_id": repo_id, "repo_type": repo_type, "revision": revision,
                           "allow_patterns": list(allow_patterns), "token": token})
        files = sorted(p.relative_to(self.root).as_posix() for p in self.root.rglob("*") if p.is_file())
        for rel in filter_repo_objects(files, allow_patterns=allow_patterns):
            (Path(local_dir) / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.root / rel, Path(local_dir) / rel)
        return local_dir


class RecordingClient:
    """Stands in for `huggingface_hub.HfApi`: records what push asks of it and sends nothing anywhere."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple, dict]] = []

    def create_repo(self, *args, **kwargs):
        self.calls.append(("create_repo", args, kwargs))

    def create_branch(self, *args, **kwargs):
        self.calls.append(("create_branch", args, kwargs))

    def create_commit(self, *args, **kwargs):
        self.calls.append(("create_commit", args, kwargs))
        return None


def _no_client(monkeypatch) -> None:
    """Any attempt to build a real Hub client fails the test."""
    import huggingface_hub

    def refuse(*args, **kwargs):
        raise AssertionError("a Hub client was created")

    monkeypatch.setattr(huggingface_hub, "HfApi", refuse)


def _error_line(capsys) -> str:
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def _leftovers(parent: Path) -> list[str]:
    return [p.name for p in parent.iterdir() if ".hub-" in p.name] if parent.is_dir() else []


# -- push: what would be sent ------------------------------------------------------------------------------------
def test_models_push_plan_is_the_built_micro_suite_and_nothing_else(micro_home):
    ws = Workspace(micro_home)
    root = ws.suite_dir("micro")
    # The built workspace does hold what must not travel, so its absence below means something.
    assert (root / "cache").is_dir() and (root / "verdicts").is_dir() and (root / "results.json").is_file()

    plan = plan_models(ws, "micro", "org/zoo")
    sent = {f.path_in_repo: f for f in plan.files}
    expected = {f"suites/micro/{rel}" for rel in payload(root)}
    assert set(sent) == expected | {"suites/micro/distillbench_push.json", "README.md"}
    assert not [p for p in sent if "/cache/" in p or "/verdicts/" in p or p.endswith("results.json")]
    manifest = Manifest.model_validate_json((root / "manifest.json").read_bytes())
    assert {f"suites/micro/{m.path}/model.safetensors" for m in manifest.models} <= set(sent)
    for rel in payload(root):
        f = sent[f"suites/micro/{rel}"]
        assert (f.size, f.sha256) == ((root / rel).stat().st_size, sha256_file(root / rel))

    index = PushIndex.model_validate_json(sent["suites/micro/distillbench_push.json"].content)
    assert (index.kind, index.suite) == ("models", "micro")
    assert {(e.path, e.size, e.sha256) for e in index.files} == {
        (p.removeprefix("suites/micro/"), f.size, f.sha256) for p, f in sent.items() if p.startswith("suites/micro/")
        and not p.endswith("distillbench_push.json")}
    card = sent["README.md"].content.decode()
    assert card.startswith("---\nlicense: apache-2.0\n") and "distillation-detection" in card
    assert "distillbench hub fetch models --suite micro --models-repo org/zoo --online" in card


def test_fetched_micro_suite_probes_with_no_build(micro_home, tmp_path, capsys):
    """Push layout on disk -> fetch through the download stand-in -> the probe stage accepts the suite as built."""
    snapshot = tmp_path / "repo"
    assert run_cli("hub", "push", "models", "--suite", "micro", "--home", str(micro_home), "--models-repo", "org/zoo",
                   "--to-folder", str(snapshot)) == 0
    assert "nothing was sent" in capsys.readouterr().out

    home = tmp_path / "fresh"
    # The evidence store is keyed by model fingerprints, so a copy of it lets probe finish with zero model calls:
    # what is checked is that probe accepts the fetched models as the manifest's, without building or rerunning lm-eval.
    shutil.copytree(micro_home / "evidence", home / "evidence")
    hub = LocalHub(snapshot)
    report = fetch(MODELS, "micro", Workspace(home).suite_dir("micro"), repo_id="org/zoo", revision="v1", download=hub)
    assert payload(home / "suites/micro") == payload(micro_home / "suites/micro")
    assert tree(home / "suites/micro") == payload(micro_home / "suites/micro")  # no index, cache, verdicts, results
    assert report.files == len(payload(micro_home / "suites/micro"))
    assert [c["allow_patterns"] for c in hub.calls][0] == ["suites/micro/distillbench_push.json"]
    assert {c["revision"] for c in hub.calls} == {"v1"} and {c["repo_type"] for c in hub.calls} == {"model"}

    assert run_cli("probe", "--suite", "micro", "--home", str(home)) == 0
    assert "0 model calls" in capsys.readouterr().out


def test_dry_run_prints_every_operation_and_sends_nothing(tmp_path, capsys, monkeypatch):
    _no_client(monkeypatch)
    ws = fake_suite(tmp_path / "home")
    plan = plan_models(ws, "toy", "org/zoo")
    assert run_cli("hub", "push", "models", "--suite", "toy", "--home", str(ws.home), "--models-repo", "org/zoo",
                   "--dry-run") == 0
    out = capsys.readouterr().out
    for f in plan.files:
        assert f"{f.sha256}  {f.path_in_repo}" in out
    assert "nothing was sent" in out
    assert not any("cache" in f.path_in_repo or "verdicts" in f.path_in_repo or "results" in f.path_in_repo
                   or "/." in f.path_in_repo for f in plan.files)
    assert "suites/toy/tokenizers/bytes/tokenizer.json" in {f.path_in_repo for f in plan.files}


# -- push: what the Hub client is handed ---------------------------------------------------------------------------
def test_push_hands_exact_operations_to_the_hub_client(tmp_path):
    ws = fake_suite(tmp_path / "home")
    plan = plan_models(ws, "toy", "org/zoo")
    client = RecordingClient()
    push(plan, client, private=True)

    assert [c[0] for c in client.calls] == ["create_repo", "create_commit"]
    _, args, kwargs = client.calls[0]
    assert args == ("org/zoo",) and kwargs == {"repo_type": "model", "private": True, "exist_ok": True}
    _, args, kwargs = client.calls[1]
    assert args == ("org/zoo",)
    assert kwargs["repo_type"] == "model" and kwargs["revision"] is None
    assert kwargs["commit_message"] == plan.commit_message
    handed = [(op.path_in_repo, op.upload_info.size, op.upload_info.sha256.hex()) for op in kwargs["operations"]]
    assert handed == [(f.path_in_repo, f.size, f.sha256) for f in plan.files]


def test_push_to_a_branch_creates_it_and_evidence_goes_to_a_dataset_repo(tmp_path):
    bundle = tmp_path / "bundle"
    (bundle / "models").mkdir(parents=True)
    (bundle / "models/a.json").write_text('{"a": 1}')
    (bundle / "summary.json").write_text("{}")
    plan = plan_evidence(bundle, "toy", "org/evidence", revision="dev-1")
    client = RecordingClient()
    push(plan, client)
    assert [c[0] for c in client.calls] == ["create_repo", "create_branch", "create_commit"]
    assert client.calls[0][2] == {"repo_type": "dataset", "private": False, "exist_ok": True}
    assert client.calls[1][2] == {"branch": "dev-1", "repo_type": "dataset", "exist_ok": True}
    kwargs = client.calls[2][2]
    assert kwargs["revision"] == "dev-1" and kwargs["repo_type"] == "dataset"
    assert [op.path_in_repo for op in kwargs["operations"]] == [
        "evidence/toy/models/a.json", "evidence/toy/summary.json", "evidence/toy/distillbench_push.json", "README.md"]
    card = plan.files[-1].content.decode()
    assert card.startswith("---\nlicense: apache-2.0\n") and "viewer: false" in card


# -- push: refusals ------------------------------------------------------------------------------------------------
def test_hidden_test_split_is_never_pushed(tmp_path, capsys, monkeypatch):
    _no_client(monkeypatch)
    ws = fake_suite(tmp_path / "a", split="test")
    assert run_cli("hub", "push", "models", "--suite", "toy", "--home", str(ws.home), "--models-repo", "org/zoo",
                   "--dry-run") == 2
    assert "hidden test split" in _error_line(capsys)

    ws = fake_suite(tmp_path / "b", suite="toy-test")
    with pytest.raises(DistillBenchError, match="hidden test suite"):
        plan_models(ws, "toy-test", "org/zoo")
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "x.json").write_text("{}")
    with pytest.raises(DistillBenchError, match="hidden test suite"):
        plan_evidence(bundle, "toy-test", "org/evidence")


def test_workspace_that_disagrees_with_its_manifest_is_not_pushed(tmp_path):
    ws = fake_suite(tmp_path / "home")
    (ws.models_dir("toy") / "student-a/model.safetensors").write_bytes(b"retrained")
    with pytest.raises(DistillBenchError, match="student-a's weights .* differs from the manifest"):
        plan_models(ws, "toy", "org/zoo")
    ws = fake_suite(tmp_path / "other")
    (ws.suite_dir("toy") / "tokenizers/bytes/tokenizer.json").write_text("{}")
    with pytest.raises(DistillBenchError, match="tokenizer 'bytes' .* differs from the manifest"):
        plan_models(ws, "toy", "org/zoo")


def test_real_push_needs_online_and_a_repo(tmp_path, capsys, monkeypatch):
    _no_client(monkeypatch)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    ws = fake_suite(tmp_path / "home")
    assert run_cli("hub", "push", "models", "--suite", "toy", "--home", str(ws.home), "--models-repo", "org/zoo") == 2
    line = _error_line(capsys)
    assert "--online" in line and "HF_HUB_OFFLINE" in line
    assert constants.HF_HUB_OFFLINE is True

    monkeypatch.delenv("DISTILLBENCH_HUB_EVIDENCE_REPO", raising=False)
    assert run_cli("hub", "fetch", "evidence", "--suite", "toy", "--online") == 2
    line = _error_line(capsys)
    assert "--evidence-repo ORG/NAME" in line and "$DISTILLBENCH_HUB_EVIDENCE_REPO" in line
    monkeypatch.setenv("DISTILLBENCH_HUB_MODELS_REPO", "not a repo")
    assert run_cli("hub", "push", "models", "--suite", "toy", "--home", str(ws.home), "--dry-run") == 2
    assert "expects a Hub repo id ORG/NAME" in _error_line(capsys)


def test_online_lifts_offline_mode_for_this_process_only_when_asked(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(DistillBenchError, match="pass --online"):
        allow_hub_access(False, "hub fetch models")
    allow_hub_access(True, "hub fetch models")
    # huggingface_hub checks this attribute on every request; the variable is for anything imported later, and must
    # be "0" rather than unset, or TRANSFORMERS_OFFLINE=1 would win.
    assert constants.HF_HUB_OFFLINE is False
    import os

    assert os.environ["HF_HUB_OFFLINE"] == "0"


# -- fetch: verification and install -------------------------------------------------------------------------------
@pytest.fixture
def toy_snapshot(tmp_path) -> tuple[Workspace, Path]:
    ws = fake_suite(tmp_path / "source")
    snapshot = tmp_path / "repo"
    write_plan(plan_models(ws, "toy", "org/zoo"), snapshot)
    return ws, snapshot


def test_fetch_installs_exactly_the_listed_files(toy_snapshot, tmp_path):
    ws, snapshot = toy_snapshot
    stale = snapshot / "suites/toy/models/old-model/model.safetensors"  # left by an older push of the same suite
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")
    hub = LocalHub(snapshot)
    dest = tmp_path / "home/suites/toy"
    fetch(MODELS, "toy", dest, repo_id="org/zoo", download=hub, token="t")
    assert tree(dest) == payload(ws.suite_dir("toy"))
    listed = [f"suites/toy/{rel}" for rel in payload(ws.suite_dir("toy"))]
    assert [sorted(c["allow_patterns"]) for c in hub.calls] == [["suites/toy/distillbench_push.json"], sorted(listed)]
    assert {c["token"] for c in hub.calls} == {"t"}
    assert _leftovers(dest.parent) == []


def test_tampered_file_is_refused_and_workspace_left_unchanged(toy_snapshot, tmp_path, capsys):
    _, snapshot = toy_snapshot
    victim = snapshot / "suites/toy/models/student-a/model.safetensors"
    victim.write_bytes(victim.read_bytes()[:-1] + b"X")
    home = tmp_path / "home"
    dest = home / "suites/toy"

    with pytest.raises(DistillBenchError, match=r"models/student-a/model.safetensors has sha256 .* push index says"):
        fetch(MODELS, "toy", dest, repo_id="org/zoo", download=LocalHub(snapshot))
    assert not dest.exists() and _leftovers(dest.parent) == []

    # An existing copy survives a refused --replace untouched, through the CLI too.
    dest.mkdir(parents=True)
    (dest / "results.json").write_text("mine")
    before = tree(home)
    assert run_cli("hub", "fetch", "models", "--suite", "toy", "--home", str(home), "--snapshot", str(snapshot),
                   "--replace") == 2
    assert "student-a/model.safetensors" in _error_line(capsys)
    assert tree(home) == before and _leftovers(dest.parent) == []


def test_file_and_index_changed_together_are_caught_by_the_manifest(toy_snapshot, tmp_path):
    _, snapshot = toy_snapshot
    victim = snapshot / "suites/toy/models/teacher-a/model.safetensors"
    victim.write_bytes(b"other weights")
    index_path = snapshot / "suites/toy/distillbench_push.json"
    index = PushIndex.model_validate_json(index_path.read_bytes())
    for entry in index.files:
        if entry.path == "models/teacher-a/model.safetensors":
            entry.size, entry.sha256 = victim.stat().st_size, sha256_file(victim)
    index_path.write_text(index.model_dump_json())
    dest = tmp_path / "home/suites/toy"
    with pytest.raises(DistillBenchError, match="teacher-a's weights .* manifest says"):
        fetch(MODELS, "toy", dest, snapshot=snapshot)
    assert not dest.exists() and _leftovers(dest.parent) == []


def test_index_paths_cannot_climb_out_of_the_suite_folder(toy_snapshot, tmp_path):
    _, snapshot = toy_snapshot
    index_path = snapshot / "suites/toy/distillbench_push.json"
    index = PushIndex.model_validate_json(index_path.read_bytes())
    index.files[0].path = "../../escape.txt"
    index_path.write_text(index.model_dump_json())
    with pytest.raises(DistillBenchError, match="not a plain relative path"):
        fetch(MODELS, "toy", tmp_path / "home/suites/toy", snapshot=snapshot)
    assert not (tmp_path / "escape.txt").exists()


def test_existing_copy_needs_replace(toy_snapshot, tmp_path, capsys):
    ws, snapshot = toy_snapshot
    home = tmp_path / "home"
    args = ("hub", "fetch", "models", "--suite", "toy", "--home", str(home), "--snapshot", str(snapshot))
    assert run_cli(*args) == 0
    assert "next: distillbench probe --suite toy" in capsys.readouterr().out
    (home / "suites/toy/results.json").write_text("later")
    assert run_cli(*args) == 2
    assert "already exists; pass --replace" in _error_line(capsys)
    assert run_cli(*args, "--replace") == 0
    assert tree(home / "suites/toy") == payload(ws.suite_dir("toy"))


def test_evidence_bundle_round_trip_through_the_default_folder(tmp_path, capsys, monkeypatch):
    _no_client(monkeypatch)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DISTILLBENCH_PUBLISHED", str(tmp_path / "leaderboard/evidence"))  # the default folder
    bundle = tmp_path / "leaderboard/evidence/toy"
    (bundle / "models/m1").mkdir(parents=True)
    (bundle / "models/m1/generate.json").write_text('{"g": 1}')
    (bundle / "bundle.json").write_text('{"suite": "toy"}')
    (bundle / ".bundle.json.x.tmp").write_text("half")
    assert run_cli("hub", "push", "evidence", "--suite", "toy", "--evidence-repo", "org/ev", "--to-folder", "repo") == 0
    capsys.readouterr()
    assert sorted(tree(tmp_path / "repo")) == ["README.md", "evidence/toy/bundle.json",
                                               "evidence/toy/distillbench_push.json", "evidence/toy/models/m1/generate.json"]

    dest = tmp_path / "elsewhere/toy"
    assert run_cli("hub", "fetch", "evidence", "--suite", "toy", "--snapshot", "repo", "--bundle", str(dest)) == 0
    assert tree(dest) == {k: v for k, v in tree(bundle).items() if not k.startswith(".")}
    shutil.rmtree(bundle)
    assert run_cli("hub", "fetch", "evidence", "--suite", "toy", "--snapshot", "repo") == 0
    assert tree(bundle) == tree(dest)
    assert "verified and installed 2 files" in capsys.readouterr().out


def test_missing_push_and_bad_suite_names_are_one_clear_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert run_cli("hub", "fetch", "models", "--suite", "toy", "--home", str(tmp_path / "h"),
                   "--snapshot", str(tmp_path / "empty")) == 2
    assert "never pushed there" in _error_line(capsys)
    assert run_cli("hub", "fetch", "evidence", "--suite", "../up", "--snapshot", str(tmp_path / "empty"),
                   "--bundle", str(tmp_path / "b")) == 2
    assert "cannot name a folder" in _error_line(capsys)
    assert run_cli("hub", "push", "evidence", "--suite", "toy", "--evidence-repo", "org/ev", "--dry-run",
                   "--bundle", str(tmp_path / "nope")) == 2
    assert "no evidence bundle" in _error_line(capsys)


def test_cli_with_online_uses_the_client_and_download_it_is_given(tmp_path, capsys, monkeypatch):
    """The `--online` path of the CLI, with the Hub client and the downloader replaced by the stand-ins above."""
    import huggingface_hub

    import distillbench.hub.fetch as fetch_module

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # restored after the test, like the constant below
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_TOKEN", "from-env")
    clients: list[tuple[dict, RecordingClient]] = []

    def make_client(**kwargs):
        clients.append((kwargs, RecordingClient()))
        return clients[-1][1]

    monkeypatch.setattr(huggingface_hub, "HfApi", make_client)
    ws = fake_suite(tmp_path / "home")
    assert run_cli("hub", "push", "models", "--suite", "toy", "--home", str(ws.home), "--models-repo", "org/zoo",
                   "--online", "--private") == 0
    assert "pushed" in capsys.readouterr().out
    assert constants.HF_HUB_OFFLINE is False
    (kwargs, client), = clients
    assert kwargs == {"token": "from-env"}
    assert [c[0] for c in client.calls] == ["create_repo", "create_commit"] and client.calls[0][2]["private"] is True
    ops = client.calls[1][2]["operations"]
    snapshot = tmp_path / "repo"
    write_plan(plan_models(ws, "toy", "org/zoo"), snapshot)
    assert {op.path_in_repo: op.upload_info.sha256.hex() for op in ops} == {p: sha256_file(snapshot / p) for p in tree(snapshot)}

    hub = LocalHub(snapshot)
    monkeypatch.setattr(fetch_module, "_snapshot_download", lambda: hub)
    home = tmp_path / "other"
    # No --online: the push above lifted offline mode for this process, as HF_HUB_OFFLINE=0 in the environment would.
    assert run_cli("hub", "fetch", "models", "--suite", "toy", "--home", str(home), "--models-repo", "org/zoo",
                   "--token", "given") == 0
    assert {c["token"] for c in hub.calls} == {"given"}
    assert tree(home / "suites/toy") == payload(ws.suite_dir("toy"))

    def broken(**kwargs):
        raise OSError("503 Service Unavailable\nmore detail")

    monkeypatch.setattr(fetch_module, "_snapshot_download", lambda: broken)
    assert run_cli("hub", "fetch", "models", "--suite", "toy", "--home", str(tmp_path / "third"),
                   "--models-repo", "org/zoo") == 2
    assert "could not download from model repo org/zoo (revision main): OSError: 503 Service Unavailable" in _error_line(capsys)
    assert not (tmp_path / "third/suites/toy").exists() and _leftovers(tmp_path / "third/suites") == []


def test_real_snapshot_download_takes_these_arguments_and_offline_mode_stops_it(tmp_path, monkeypatch):
    """The real `snapshot_download`, called as fetch calls it, while offline mode (forced on here) blocks every request:
    the arguments are accepted, nothing is fetched, and the refusal is one clear error with nothing installed."""
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    dest = tmp_path / "home/suites/toy"
    with pytest.raises(DistillBenchError, match=r"could not download from model repo org/zoo \(revision main\)"):
        fetch(MODELS, "toy", dest, repo_id="org/zoo")
    assert not dest.exists() and _leftovers(dest.parent) == []
