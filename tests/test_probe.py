"""The probe stage through real lm-eval: evidence contents, caching, and the plain `lm_eval` CLI path."""

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import run_cli

from distillbench.evidence.store import EvidenceStore
from distillbench.paths import Workspace
from distillbench.probe.tasks import GENERATE_TASK, POOL_TASK, TaskSet, tasks_dir
from distillbench.zoo.build import load_manifest

REPO = Path(__file__).resolve().parents[1]


def _taskset(home):
    return TaskSet(root=tasks_dir(), pool_path=home / "suites" / "micro" / "pool.jsonl")


def test_every_probed_model_has_one_record_per_task(micro_home):
    manifest = load_manifest(Workspace(micro_home), "micro")
    ts = _taskset(micro_home)
    store = EvidenceStore(micro_home / "evidence")
    n_prompts = len((tasks_dir() / "data" / "prompts.jsonl").read_text().splitlines())
    assert any(m.role == "base" for m in manifest.models)
    for m in manifest.models:
        if m.role == "base":  # a starting point, never paired: not probed
            assert not store.has(m.fingerprint, GENERATE_TASK, ts.fingerprint(GENERATE_TASK))
            continue
        gen = store.get(m.fingerprint, GENERATE_TASK, ts.fingerprint(GENERATE_TASK))
        ll = store.get(m.fingerprint, POOL_TASK, ts.fingerprint(POOL_TASK))
        assert len(gen.generations) == n_prompts and len(ll.logliks) == manifest.pool.n_texts
        assert all(x.loglik < 0 and x.n_bytes > 0 for x in ll.logliks)
        # Evidence is keyed by content and carries no model names.
        assert m.name not in json.dumps(gen.model_dump())


def test_second_run_makes_no_model_calls_and_reproduces_scores(micro_copy, capsys):
    before = json.loads((micro_copy / "suites/micro/results.json").read_text())
    assert run_cli("run", "--suite", "micro", "--home", str(micro_copy)) == 0
    out = capsys.readouterr().out
    assert "0 models built" in out and "0 model calls" in out
    after = json.loads((micro_copy / "suites/micro/results.json").read_text())
    assert after["detectors"] == before["detectors"] and after["pairs"] == before["pairs"]


def test_changing_the_pool_reprobes_only_the_pool_task(micro_copy):
    pool = micro_copy / "suites/micro/pool.jsonl"
    rows = pool.read_text().splitlines()
    pool.write_text("\n".join(rows[:-1]) + "\n")
    from distillbench.probe.runner import ProbeTarget, probe_models

    manifest = load_manifest(Workspace(micro_copy), "micro")
    teacher = manifest.model("teacher-a")
    target = ProbeTarget.local("teacher-a", micro_copy / "suites/micro" / teacher.path)
    report = probe_models([target], _taskset(micro_copy), EvidenceStore(micro_copy / "evidence"), progress=False)
    assert report.model_calls == 1 and report.records_written == 1 and report.records_cached == 1


def test_plain_lm_eval_cli_runs_the_same_tasks(micro_home, tmp_path):
    """Maintainers on other backends use the CLI; its numbers must equal what the Python API stored."""
    manifest = load_manifest(Workspace(micro_home), "micro")
    model_dir = micro_home / "suites/micro" / manifest.model("teacher-a").path
    pool = micro_home / "suites/micro/pool.jsonl"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    lm_eval = Path(sys.executable).with_name("lm_eval")
    subprocess.run(
        [str(lm_eval), "--model", "hf", "--model_args", f"pretrained={model_dir},dtype=float32",
         "--include_path", str(REPO / "tasks"), "--tasks", "distillbench", "--device", "cpu", "--batch_size", "16",
         "--metadata", json.dumps({"pool_path": str(pool)}), "--log_samples", "--output_path", str(tmp_path)],
        check=True, env=env, cwd=tmp_path, capture_output=True,
    )
    samples = {p.name.split("_20")[0]: p for p in tmp_path.rglob("samples_*.jsonl")}
    gen_cli = [json.loads(line) for line in samples[f"samples_{GENERATE_TASK}"].read_text().splitlines()]
    ll_cli = [json.loads(line) for line in samples[f"samples_{POOL_TASK}"].read_text().splitlines()]
    ts = _taskset(micro_home)
    store = EvidenceStore(micro_home / "evidence")
    fp = manifest.model("teacher-a").fingerprint
    stored_gen = {g.id: g.response for g in store.get(fp, GENERATE_TASK, ts.fingerprint(GENERATE_TASK)).generations}
    stored_ll = {x.id: x.loglik for x in store.get(fp, POOL_TASK, ts.fingerprint(POOL_TASK)).logliks}
    assert {s["doc"]["id"]: s["filtered_resps"][0] for s in gen_cli} == stored_gen
    cli_ll = {s["doc"]["id"]: float(s["filtered_resps"][0][0]) for s in ll_cli}
    assert cli_ll.keys() == stored_ll.keys()
    assert max(abs(cli_ll[k] - stored_ll[k]) for k in cli_ll) < 1e-4
