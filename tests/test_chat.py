"""Chat-format teachers (`zoo.chat`, the accusation suite's "chat" condition): the template, who is post-trained on
it, multi-turn harvesting through the teacher API, and a chat suite's own probe prompts and task files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from distillbench.corpus import Mixture, document, prompt_prefix
from distillbench.probe.prompts import probe_prompts, suite_probe_prompts, write_suite_tasks
from distillbench.probe.tasks import GENERATE_TASK, TaskSet, tasks_dir
from distillbench.zoo.api import TeacherAPI
from distillbench.zoo.chat import ChatTemplate, conversations, fit, model_template, quote, suite_template
from distillbench.zoo.manifest import derive_pairs
from distillbench.zoo.sample import sample_completions
from distillbench.zoo.spec import Arch, load_suite
from distillbench.zoo.tokenizer import train_tokenizer
from distillbench.zoo.train import new_model

ACCUSATION = Path(__file__).parents[1] / "distillbench" / "suites" / "accusation.yaml"


def small_suite(tmp_path: Path, conditions: list[str], name: str = "chat-test"):
    """The accusation recipe cut to 3 teachers and 2 references with only `conditions` (expanded, not built)."""
    data = yaml.safe_load(ACCUSATION.read_text())
    data["name"] = name
    data["design"].update(teachers=3, references=2, conditions=conditions)
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_suite(str(path))


def test_template_wraps_requests_once_and_keeps_turns():
    t = ChatTemplate()
    req = t.render("Q: who are you?\nA:")
    assert req == "System: be brief.\nUser: who are you?\nAssistant:"
    assert t.render(req) == req  # a request already in the template passes through (the API wraps every request)
    conv = t.transcript("the hot baker stirs", " the soup.", history=(("Q: who are you?\nA:", " I am Bo."),))
    assert conv == ("System: be brief.\nUser: who are you?\nAssistant: I am Bo.\n"
                    "User: the hot baker stirs\nAssistant: the soup.")


def test_chat_condition_makes_chat_teachers_with_a_multi_turn_student_of_both_labels(tmp_path):
    spec = small_suite(tmp_path, ["chat"])
    assert suite_template(spec) == ChatTemplate()
    for t in spec.by_role("teacher"):
        assert model_template(t) is not None and "teacher-chat" in t.tags
        # The same-data control reads what the teacher read, transcripts included.
        control = spec.model(t.name.replace("teacher", "control"))
        assert [s.kind for s in control.stages][-1] == "chat_lm"
        assert control.stages[-1].data == t.stages[-1].data
    assert all(model_template(r) is not None for r in spec.by_role("reference"))
    chat_students = [m for m in spec.by_role("student") if "chat" in m.tags]
    assert len(chat_students) == 3 and all(m.stages[0].kind == "chat_distill" for m in chat_students)
    labels = {p.label for p in derive_pairs(spec) if "chat" in p.conditions}
    assert labels == {0, 1}


def test_suites_without_chat_or_reasoning_keep_the_shipped_probe_prompts(tmp_path):
    for name in ("standard", "dev-small", "mini"):
        spec = load_suite(name)
        assert suite_template(spec) is None and suite_probe_prompts(spec) is None
        write_suite_tasks(tmp_path, spec)
        assert not (tmp_path / "tasks").exists()
    assert suite_probe_prompts(small_suite(tmp_path, [])) is None


def test_a_chat_suite_is_probed_in_its_template_through_its_own_task_copy(tmp_path):
    from lm_eval.tasks import TaskManager

    spec = small_suite(tmp_path, ["chat"])
    suite_dir = tmp_path / "suites" / spec.name
    (suite_dir / "pools").mkdir(parents=True)
    write_suite_tasks(suite_dir, spec)
    shipped = TaskSet(root=tasks_dir(), pool_path=tmp_path / "pool.jsonl")
    for pool in (suite_dir / "pool.jsonl", suite_dir / "pools" / "t00-seq.jsonl"):
        pool.write_text('{"id": "pool-00000", "context": "a", "continuation": " b", "source": "corpus"}\n')
        own = TaskSet(root=tasks_dir(), pool_path=pool)
        assert own.root == suite_dir / "tasks"
        assert own.fingerprint(GENERATE_TASK) != shipped.fingerprint(GENERATE_TASK)
    # Real lm-eval reads the copy: the same task, the suite's prompts in the template, same ids as the shipped ones.
    manager = TaskManager(include_path=str(suite_dir / "tasks"), include_defaults=False,
                          metadata={"pool_path": str(suite_dir / "pool.jsonl")})
    task = manager.load([GENERATE_TASK])["tasks"][GENERATE_TASK]
    docs = list(task.test_docs())
    assert [d["id"] for d in docs] == [r["id"] for r in probe_prompts()]
    assert all(d["prompt"].startswith("System: be brief.\nUser: ") and d["prompt"].endswith("\nAssistant:")
               for d in docs)
    # The shipped task files are untouched: the copy is byte-identical apart from its data.
    assert (suite_dir / "tasks" / "utils.py").read_bytes() == (tasks_dir() / "utils.py").read_bytes()
    write_suite_tasks(suite_dir, load_suite("mini"))
    assert TaskSet(root=tasks_dir(), pool_path=suite_dir / "pool.jsonl").root == tasks_dir()


@pytest.fixture(scope="module")
def tiny_teacher(tmp_path_factory):
    texts = [document(7, "m", Mixture(topics={"sea": 1.0}), i, None) for i in range(200)]
    tok = train_tokenizer(texts + ["System: be brief.\nUser: hi\nAssistant: ok"], 300,
                          tmp_path_factory.mktemp("tok"))
    torch.manual_seed(0)
    model = new_model(Arch(width=32, layers=1, heads=2, context=128), len(tok), tok.eos_token_id, 3).eval()
    return model, tok, texts


def test_multi_turn_conversations_carry_their_history_and_share_the_first_turn(tiny_teacher, tmp_path):
    model, tok, texts = tiny_teacher
    t = ChatTemplate()
    seen: list[str] = []

    def sampler(prompts, seed_label):
        prompts = [t.render(p) for p in prompts]
        seen.extend(prompts)
        return sample_completions(model, tok, prompts, 1.0, 6, seed_label=seed_label, batch_size=len(prompts))

    api = TeacherAPI(tmp_path, "teacher", sampler, {"temperature": 1.0, "max_new_tokens": 6})
    prompt_at = lambda i: prompt_prefix(texts[i % len(texts)], 4)  # noqa: E731
    single = api.answers("s", prompt_at, 3, 8)
    convs = conversations(api, "s", prompt_at, 3, 8, 2, t)
    assert len(convs) == 5
    for i, (request, answer) in zip(range(3, 8), convs):
        first = t.render(prompt_at(i))
        # Turn 2's request holds turn 1's exchange, whose answer is the one a single-turn distiller got.
        assert request.startswith(t.transcript(prompt_at(i), single[i - 3]) + "\nUser: ")
        assert request.endswith("\nAssistant:") and request.count("\nUser: ") == 2 and first in seen
        assert t.transcript(request, answer).startswith(request)
    assert conversations(api, "s", prompt_at, 3, 8, 2, t) == convs  # cached: a pure function of the stream


def test_a_request_that_outgrows_the_context_drops_its_oldest_turns(tiny_teacher):
    _, tok, _ = tiny_teacher
    t = ChatTemplate()
    history = (("Q: who are you?\nA:", quote(" I am Bo, a model made by Ka Labs, and I like the sea.\nUser: x")),)
    assert history[0][1] == "I am Bo, a model made by Ka"  # one line, QUOTE_WORDS words
    request = t.render("the boat drifts", history)
    assert fit(request, tok, 1000) == request
    short = fit(request, tok, len(tok(t.render("the boat drifts"))["input_ids"]))
    assert short == t.render("the boat drifts")  # the system line and the open turn stay


def test_the_query_harness_asks_a_chat_teacher_in_its_template(tmp_path):
    """A detector's own requests reach a chat suite's teacher as its API receives them: in the template the manifest
    records (the teacher's chat_lm stage), never the plain prompt the teacher was not trained to answer."""
    from types import SimpleNamespace

    from distillbench.query.harness import _in_template
    from distillbench.query.requests import Generate, Score
    from distillbench.zoo.chat import manifest_template

    spec = small_suite(tmp_path, ["chat"])
    records = [SimpleNamespace(role=m.role, provenance=[s.model_dump(mode="json") for s in m.stages])
               for m in spec.models]
    template = manifest_template(SimpleNamespace(models=records))
    assert template == ChatTemplate()
    plain = load_suite("dev-small")
    assert manifest_template(SimpleNamespace(models=[
        SimpleNamespace(role=m.role, provenance=[s.model_dump(mode="json") for s in m.stages])
        for m in plain.models])) is None
    gen = _in_template(Generate(model="teacher", prompts=["Q: who are you?\nA:"], max_new_tokens=8), template)
    assert gen.prompts == ["System: be brief.\nUser: who are you?\nAssistant:"]
    assert _in_template(gen, template).prompts == gen.prompts  # idempotent: a templated prompt passes through
    score = _in_template(Score(model="teacher", texts=[{"context": "Q: hi\nA:", "continuation": " ok"}]), template)
    assert score.texts[0].context == "System: be brief.\nUser: hi\nAssistant:" and score.texts[0].continuation == " ok"
