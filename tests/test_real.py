"""Real suites: the bundled registry's contents, and the whole real-suite path through real lm-eval.

Tiny random GPT-2 directories stand in for Hub models (`--local ID=DIR`), so the path from a registry selection to
`distillbench evaluate` runs offline in seconds with exactly the code a GPU run uses after the download.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
import yaml
from conftest import run_cli

from distillbench.evidence.store import EvidenceStore
from distillbench.paths import Workspace
from distillbench.probe.hidden import HIDDEN_TASK, hidden_fingerprint
from distillbench.probe.tasks import GENERATE_TASK, POOL_GENERATE_TASK, POOL_TASK, TaskSet, tasks_dir
from distillbench.real.registry import DISTILL_TYPES, load_registry
from distillbench.real.suite import read_real_suite
from distillbench.zoo.build import load_manifest

REPO = Path(__file__).resolve().parents[1]
SUITE = "real-tiny"
TEACHER, STUDENT, NEGATIVE = "fake-org/teacher", "fake-org/student", "fake-org/control"
REFS = ["fake-org/ref-a", "fake-org/ref-b"]

torch.set_num_threads(1)  # the machine is shared; tiny models gain nothing from more


# -- the bundled registry ---------------------------------------------------------------------------------------------

def test_bundled_registry_is_valid_and_cited():
    reg = load_registry(REPO / "docs" / "real_models.yaml")
    assert len(reg.positives) >= 15 and len(reg.negatives) >= 15
    for p in reg.positives:
        assert p.type in DISTILL_TYPES and p.evidence
        assert all(len(e.quote) >= 20 and e.source.startswith("https://") for e in p.evidence)
    for n in reg.negatives:
        assert n.kinds and len(n.reason) >= 20
    for m in reg.models:
        # Pinned means a full commit sha with a stated source; unpinned says what to do before probing.
        assert (m.revision is not None and re.fullmatch(r"[0-9a-f]{40}", m.revision) and m.revision_source) or \
               (m.revision is None and m.revision_note)
    ids = {(p.teacher, p.student) for p in reg.labelled()}
    # The relations the issue names are all there.
    for pair in [("openai-community/gpt2", "distilbert/distilgpt2"),
                 ("meta-llama/Llama-3.1-70B", "meta-llama/Llama-3.2-1B"),
                 ("meta-llama/Llama-3.1-8B", "nvidia/Llama-3.1-Minitron-4B-Width-Base"),
                 ("deepseek-ai/DeepSeek-R1", "deepseek-ai/DeepSeek-R1-Distill-Llama-70B"),
                 ("deepseek-ai/DeepSeek-R1", "Qwen/Qwen2.5-Math-7B"),
                 ("MiniLLM/teacher-gpt2-1.5B", "MiniLLM/init-gpt2-120M"),
                 ("tiiuae/Falcon3-7B-Base", "tiiuae/Falcon3-1B-Base"),
                 ("Qwen/Qwen3-32B", "Qwen/Qwen3-8B"), ("Qwen/Qwen3-235B-A22B", "Qwen/Qwen3-0.6B-Base"),
                 ("deepseek-ai/DeepSeek-R1", "open-thoughts/OpenThinker-7B"),
                 ("deepseek-ai/DeepSeek-R1", "simplescaling/s1.1-32B"),
                 ("deepseek-ai/DeepSeek-R1", "simplescaling/s1-32B"),
                 ("Qwen/QwQ-32B-Preview", "NovaSky-AI/Sky-T1-32B-Preview"),
                 ("Qwen/Qwen1.5-1.8B", "MiniLLM/MiniPLM-Qwen-200M"),
                 ("Qwen/Qwen1.5-1.8B", "MiniLLM/Pretrain-Qwen-200M")]:
        assert pair in ids


def test_bundled_registry_corrections():
    """The corrections of issue 13: each is a fact a later edit could silently undo."""
    reg = load_registry(REPO / "docs" / "real_models.yaml")
    pos = {(p.teacher, p.student): p for p in reg.positives}
    neg = {(n.teacher, n.student): n for n in reg.negatives}
    # DistilGPT2 was initialised from six of GPT-2's blocks (scripts/extract.py): it shares its teacher's weights.
    distil = pos[("openai-community/gpt2", "distilbert/distilgpt2")]
    assert distil.shares_weights_with_teacher and distil.type == "prune_distill"
    assert any(e.source.endswith("/scripts/extract.py") and "[0, 2, 4, 7, 9, 11]" in e.quote for e in distil.evidence)
    # Every R1-Distill student records DeepSeek-V3 as co-teacher (the ~200k non-reasoning samples), quoted.
    r1 = [p for p in reg.positives if p.student.startswith("deepseek-ai/DeepSeek-R1-Distill-")]
    assert len(r1) == 6
    for p in r1:
        v3 = [c for c in p.co_teachers if c.model == "deepseek-ai/DeepSeek-V3"]
        assert v3 and any("200k" in e.quote for e in v3[0].evidence)
    # Falcon3-3B's card names its teacher; the doubtful Llama-3.1-8B -> Falcon3-3B negative is gone.
    falcon = pos[("tiiuae/Falcon3-7B-Base", "tiiuae/Falcon3-3B-Base")]
    assert falcon.attribution == "stated"
    assert any(e.quote.lower().startswith("pruned and healed from falcon3-7b-base") for e in falcon.evidence)
    assert ("meta-llama/Llama-3.1-8B", "tiiuae/Falcon3-3B-Base") not in neg
    # Qwen3 names "Qwen3-32B or Qwen3-235B-A22B": the labels say so, and the bases are negatives of both flagships.
    for t in ("Qwen/Qwen3-32B", "Qwen/Qwen3-235B-A22B"):
        for size in ("0.6B", "1.7B", "4B", "8B", "14B"):
            assert pos[(t, f"Qwen/Qwen3-{size}")].attribution == "one_of"
            assert pos[(t, f"Qwen/Qwen3-{size}")].type == "on_policy_distill"
            assert "student-base" in neg[(t, f"Qwen/Qwen3-{size}-Base")].kinds


def _bundled() -> dict:
    return yaml.safe_load((REPO / "docs" / "real_models.yaml").read_text())


def _r1_distill(data: dict, student: str = "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B") -> dict:
    return next(p for p in data["positives"] if p["student"] == student)


def _add_negative(teacher: str, student: str):
    def change(data):
        data["negatives"].append({"teacher": teacher, "student": student, "kinds": ["independent"],
                                  "reason": "a deliberately wrong negative, for the test"})
    return change


@pytest.mark.parametrize("change, message", [
    # A student that learned from a teacher cannot also be one of its controls, nor one of its co-teacher's.
    (_add_negative("deepseek-ai/DeepSeek-R1", "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B"),
     "as a positive and as a negative"),
    (_add_negative("deepseek-ai/DeepSeek-V3", "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B"),
     "documented co-teacher of deepseek-ai/DeepSeek-R1-Distill-Qwen-7B"),
    # A co-teacher written as a Hub id must be a registry model (a typo would otherwise pass as an API name).
    (lambda d: _r1_distill(d)["co_teachers"][0].update(model="deepseek-ai/DeepSeek-V3x"), "not in `models`"),
    (lambda d: _r1_distill(d)["co_teachers"][0].update(model="deepseek-ai/DeepSeek-R1"), "the pair's own teacher"),
    (lambda d: _r1_distill(d)["co_teachers"][0].update(evidence=[]), r"co_teachers\.0\.evidence"),
    # A label weaker than "stated" must say what it rests on.
    (lambda d: _r1_distill(d).update(attribution="one_of", notes=""), "needs `notes`"),
    (lambda d: _r1_distill(d).update(attribution="maybe"), "attribution"),
    # A co-teacher taught: it cannot sit in the references' null either.
    (lambda d: d["references"].append("deepseek-ai/DeepSeek-V3"), "references must be independent"),
])
def test_registry_refuses_inconsistent_labels(tmp_path, change, message):
    from distillbench.errors import DistillBenchError

    # Through JSON to unshare the YAML anchors (the R1 students alias one list): the change is meant for one pair.
    data = json.loads(json.dumps(_bundled()))
    change(data)
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(DistillBenchError, match=message):
        load_registry(tmp_path / "bad.yaml")


def test_api_only_co_teacher_is_a_name_not_a_model():
    reg = load_registry(REPO / "docs" / "real_models.yaml")
    sky = next(p for p in reg.positives if p.student == "NovaSky-AI/Sky-T1-32B-Preview")
    (gpt,) = sky.co_teachers
    assert gpt.model.startswith("GPT-4o-mini") and gpt.model not in {m.id for m in reg.models}


def test_registry_errors_name_the_field(tmp_path):
    from distillbench.errors import DistillBenchError

    data = yaml.safe_load((REPO / "docs" / "real_models.yaml").read_text())
    data["models"][0]["revision"] = "main"  # a branch is not a pin
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(DistillBenchError, match=r"models\.0\.revision"):
        load_registry(tmp_path / "bad.yaml")


# -- the real-suite path, end to end, with local stand-ins ------------------------------------------------------------

def _tiny_model(out: Path, tokenizer, seed: int) -> Path:
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    eos = tokenizer.eos_token_id
    config = GPT2Config(vocab_size=len(tokenizer), n_embd=32, n_layer=2, n_head=2, n_positions=256,
                        bos_token_id=eos, eos_token_id=eos, pad_token_id=eos)
    GPT2LMHeadModel(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def _tiny_models(root: Path, names: list[str]) -> dict[str, Path]:
    """One tiny random GPT-2 directory per fake Hub id, sharing a tokenizer trained on the zoo's corpus."""
    from distillbench.corpus import Mixture, documents
    from distillbench.zoo.tokenizer import train_tokenizer

    texts = list(documents(7, "broad", Mixture(topics={"kitchen": 1.0, "space": 1.0}, qa_rate=0.3), 0, 300))
    tok = train_tokenizer(texts, 400, root / "tokenizer")
    return {m: _tiny_model(root / m.split("/")[1], tok, seed) for seed, m in enumerate(names)}


@pytest.fixture(scope="module")
def stand_ins(tmp_path_factory) -> dict:
    """Five tiny random GPT-2 directories, a registry mapping fake Hub ids to them, and a short prompt file."""
    root = tmp_path_factory.mktemp("real")
    dirs = _tiny_models(root, [TEACHER, STUDENT, NEGATIVE, *REFS])
    # Registry text is data: the site must show it escaped.
    quote = {"quote": "The student was fine-tuned on <script>alert(1)</script> answers generated by the teacher.",
             "source": "https://example.org/card?a=1&b=2"}
    registry = {
        "schema_version": 1,
        "models": [{"id": m, "revision": f"{i:040x}", "revision_source": "test fixture"} for i, m in enumerate(dirs)]
        + [{"id": "fake-org/unpinned", "revision": None, "revision_note": "pin before probing"}],
        "references": REFS,
        "positives": [{"teacher": TEACHER, "student": STUDENT, "type": "seq_distill",
                       "shares_weights_with_teacher": False, "evidence": [quote]}],
        "negatives": [{"teacher": TEACHER, "student": NEGATIVE, "kinds": ["student-base"],
                       "shares_weights_with_teacher": True, "reason": "the student's base model, never distilled"},
                      {"teacher": TEACHER, "student": "fake-org/unpinned", "kinds": ["independent"],
                       "reason": "an unpinned model, for the refusal test"}],
    }
    (root / "registry.yaml").write_text(yaml.safe_dump(registry, sort_keys=False))
    prompts = [json.loads(line) for line in (tasks_dir() / "data" / "real_pool_prompts.jsonl").read_text().splitlines()]
    (root / "prompts.jsonl").write_text("".join(json.dumps(p) + "\n" for p in prompts[:3] + prompts[-3:]))
    return {"root": root, "dirs": dirs, "registry": root / "registry.yaml", "prompts": root / "prompts.jsonl"}


def _probe_args(s: dict, home: Path, *extra: str, local: dict | None = None) -> list[str]:
    local = s["dirs"] if local is None else local
    args = ["real", "probe", "--suite", SUITE, "--registry", str(s["registry"]), "--home", str(home),
            "--pool-prompts", str(s["prompts"]), "--batch-size", "8"]
    args += [a for m, d in local.items() for a in ("--local", f"{m}={d}")]
    return args + list(extra)


@pytest.fixture(scope="module")
def real_home(stand_ins, tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("real-home")
    pairs = [f"{TEACHER}={STUDENT}", f"{TEACHER}={NEGATIVE}"]
    assert run_cli(*_probe_args(stand_ins, home, *[a for p in pairs for a in ("--pair", p)])) == 0
    return home


def test_real_probe_writes_a_suite_with_the_registry_labels(real_home, stand_ins):
    ws = Workspace(real_home)
    manifest = load_manifest(ws, SUITE)
    pairs = {p.student: p for p in manifest.pairs}
    assert set(pairs) == {STUDENT, NEGATIVE}
    assert (pairs[STUDENT].label, pairs[STUDENT].conditions, pairs[STUDENT].shares_weights_with_teacher) == \
        (1, ["seq_distill"], False)
    assert (pairs[NEGATIVE].label, pairs[NEGATIVE].conditions, pairs[NEGATIVE].shares_weights_with_teacher) == \
        (0, ["student-base"], True)
    roles = {m.name: m.role for m in manifest.models}
    assert len(manifest.models) == len(roles)  # each model once
    assert roles == {TEACHER: "teacher", STUDENT: "student", NEGATIVE: "student", REFS[0]: "reference",
                     REFS[1]: "reference"}
    record = read_real_suite(real_home, SUITE)
    assert record is not None and {m.source for m in record.models} == {"local"}

    # The pool: the teacher's and references' answers to the pool prompts, then the prompts' own text.
    rows = [json.loads(line) for line in ws.pool_path(SUITE).read_text().splitlines()]
    assert {r["source"] for r in rows} <= {TEACHER, *REFS, "corpus"} and any(r["source"] == TEACHER for r in rows)
    assert len(rows) == manifest.pool.n_texts and all(re.fullmatch(r"pool-\d{5}", r["id"]) for r in rows)

    # Evidence: every model answered the probe tasks; sources answered the pool prompts; open models have hidden states.
    store = EvidenceStore(ws.evidence_dir)
    ts = TaskSet(root=tasks_dir(), pool_path=ws.pool_path(SUITE))
    gen_ts = TaskSet(root=tasks_dir(), pool_path=stand_ins["prompts"])
    for m in manifest.models:
        assert store.has(m.fingerprint, GENERATE_TASK, ts.fingerprint(GENERATE_TASK))
        assert len(store.get(m.fingerprint, POOL_TASK, ts.fingerprint(POOL_TASK)).logliks) == manifest.pool.n_texts
        assert store.has(m.fingerprint, HIDDEN_TASK, hidden_fingerprint(ws.pool_path(SUITE))) == (m.role != "teacher")
        assert store.has(m.fingerprint, POOL_GENERATE_TASK, gen_ts.fingerprint(POOL_GENERATE_TASK)) == \
            (m.role in ("teacher", "reference"))


@pytest.fixture(scope="module")
def real_results(real_home) -> dict:
    """`distillbench evaluate` on the real suite, exactly as on a synthetic one."""
    assert run_cli("evaluate", "--suite", SUITE, "--detector", "cross_likelihood", "--home", str(real_home)) == 0
    return json.loads((real_home / "suites" / SUITE / "results.json").read_text())


def test_evaluate_runs_on_the_real_suite_and_a_second_probe_runs_nothing(real_results, real_home, stand_ins, capsys):
    assert real_results["suite"] == SUITE
    assert {(p["teacher"], p["student"], p["label"]) for p in real_results["pairs"]} == {(TEACHER, STUDENT, 1),
                                                                                        (TEACHER, NEGATIVE, 0)}
    assert [d["detector"] for d in real_results["detectors"]] == ["cross_likelihood"]
    capsys.readouterr()
    pairs = [f"{TEACHER}={STUDENT}", f"{TEACHER}={NEGATIVE}"]
    assert run_cli(*_probe_args(stand_ins, real_home, *[a for p in pairs for a in ("--pair", p)])) == 0
    out = capsys.readouterr().out
    assert out.count(" 0 model runs, 0 records written") == 3, out


BOTH = ["--pair", f"{TEACHER}={STUDENT}", "--pair", f"{TEACHER}={NEGATIVE}"]


@pytest.mark.parametrize("change, message", [
    (["--pair", "fake-org/teacher=fake-org/studnet"], "unknown model id 'fake-org/studnet'.*did you mean fake-org/student"),
    (["--pair", f"{TEACHER}={STUDENT}"], "no negative pair"),
    (["--teacher", TEACHER], r"no pinned revision \(fake-org/unpinned: pin before probing\)"),
    (["--teacher", TEACHER, "--local", "fake-org/unpinned=/nonexistent/dir"], "directory does not exist"),
    (["--teacher", TEACHER, "--allow-unpinned", "--api", f"{STUDENT}=openai-chat-completions"], "only teachers may be"),
    ([*BOTH, "--suite", "mini"], "bundled synthetic suite"),
    ([*BOTH, "--backend", "hf-typo"], "no backend 'hf-typo'"),
])
def test_real_probe_refuses_with_one_clear_error(stand_ins, tmp_path, capsys, change, message):
    argv = _probe_args(stand_ins, tmp_path, *change)  # a second --suite overrides the first, as argparse does
    assert run_cli(*argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1 and re.search(message, err), err
    assert not (tmp_path / "evidence").exists()  # refused before any model ran


def test_site_shows_the_real_suite_pairs_escaped(real_results, real_home, stand_ins, tmp_path):
    from distillbench.publish.build import render_site
    from distillbench.publish.collect import collect

    repo = tmp_path / "repo"
    (repo / "docs").mkdir(parents=True)
    (repo / "docs" / "real_models.yaml").write_text(stand_ins["registry"].read_text())
    page = render_site(collect(real_home, repo, suites=[SUITE]))[f"suites/{SUITE}.html"].decode()
    assert "Real-model pairs" in page and "<code>fake-org/student</code>" in page
    assert "fake-org/unpinned" not in page  # only the pairs the suite was built from
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page
    assert 'href="https://example.org/card?a=1&amp;b=2"' in page


def test_real_list_prints_the_registry(capsys):
    assert run_cli("real", "list", "--registry", str(REPO / "docs" / "real_models.yaml")) == 0
    out = capsys.readouterr().out
    assert "distilbert/distilgpt2" in out and "[unpinned]" in out and "references:" in out
