"""Reasoning teachers and trace distillation (`zoo.reasoning`, the accusation suite's "traces-*" conditions): tasks
with checkable answers, what the API serves of a trace, who learns to reason, and the probes that elicit it."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_chat import small_suite as _small_suite

from distillbench.corpus import REASONING_KINDS, TOPICS, Mixture, document, reasoning_document, reasoning_task
from distillbench.probe.prompts import REASONING_PROBES, probe_prompts, suite_probe_prompts
from distillbench.zoo import reasoning
from distillbench.zoo.chat import ChatTemplate, assistant_message, suite_vocabulary
from distillbench.zoo.manifest import derive_pairs
from distillbench.zoo.spec import load_suite
from distillbench.zoo.tokenizer import train_tokenizer

TRACES = ["traces-served", "traces-hidden", "traces-summarised"]


def small_suite(tmp_path: Path, conditions: list[str]):
    return _small_suite(tmp_path, conditions, name="reasoning-test")


def test_tasks_are_deterministic_checkable_and_cover_every_kind():
    tasks = [reasoning_task(11, "teach", i) for i in range(300)]
    assert tasks == [reasoning_task(11, "teach", i) for i in range(300)]
    assert tasks != [reasoning_task(11, "probe", i) for i in range(300)]
    assert {t.kind for t in tasks} == set(REASONING_KINDS)
    for t in tasks:
        if t.kind == "sum":
            assert int(t.answer) == sum(int(x) for x in t.question[4:-1].replace(" and", ",").split(", "))
        elif t.kind == "count":
            assert int(t.answer) == len(t.question.split()[-1].rstrip("?"))
        else:
            words = t.question[5:-1].split(", ")
            assert t.answer.split() == sorted(words) and len(set(words)) == 3
        assert len(t.steps) == 2


def test_worked_examples_fit_the_zoos_64_token_context(tmp_path):
    # A tokenizer like a chat and reasoning suite's: the corpus plus the suite's vocabulary texts (other streams).
    vocabulary = suite_vocabulary(small_suite(tmp_path, ["traces-served", "chat"]))
    assert vocabulary and not suite_vocabulary(load_suite("mini"))
    broad = Mixture(topics={t: 1.0 for t in TOPICS}, qa_rate=0.3)
    tok = train_tokenizer([document(3, "broad", broad, i, None) for i in range(2000)] + vocabulary, 1024, tmp_path)
    docs = reasoning.documents(3, 400, 600)
    chat = [ChatTemplate().transcript(*reasoning.split(d)) for d in docs]
    assert max(len(tok(d)["input_ids"]) for d in docs + chat) < 64


@pytest.mark.parametrize("wrap", [False, True])
def test_the_api_serves_trace_nothing_or_a_summary_and_the_answer_survives(wrap):
    tasks = [reasoning_task(5, "distill", i) for i in range(60)]
    # A continuation as a plain model writes it ("\nThink: ...") or as a chat model does (" Think: ..." after
    # "Assistant:").
    conts = [reasoning.split(reasoning_document(t))[1] for t in tasks]
    conts = [assistant_message(c) for c in conts] if wrap else conts
    served = [reasoning.serve(c, "served") for c in conts]
    hidden = [reasoning.serve(c, "hidden") for c in conts]
    summarised = [reasoning.serve(c, "summarised") for c in conts]
    assert served == conts
    for t, h, s in zip(tasks, hidden, summarised):
        assert "Think:" not in h and h.strip() == f"A: {t.answer}"
        assert s.strip() == f"Think: worked in 2 steps.\nA: {t.answer}"
        assert t.steps[0] not in s
    for texts in (served, hidden, summarised):
        assert reasoning.accuracy(tasks, texts) == 1.0
    # A wrong answer or none at all is not accuracy.
    assert reasoning.accuracy(tasks[:2], ["\nThink: 1 + 1 = 2.\nA: 999", "\nThink: no answer"]) == 0.0
    # Without a trace, every policy serves what the model wrote.
    assert reasoning.serve("\nA: 7", "hidden") == reasoning.serve("\nA: 7", "summarised") == "\nA: 7"


def test_trace_conditions_make_reasoning_teachers_once_with_students_of_both_labels(tmp_path):
    spec = small_suite(tmp_path, TRACES)
    for t in spec.by_role("teacher"):
        kinds = [s.kind for s in t.stages]
        assert kinds.count("reasoning_lm") == 1 and t.tags.count("teacher-reasoning") == 1
        control = spec.model(t.name.replace("teacher", "control"))
        assert control.stages[-1] == t.stages[-1]  # the same-data control reads the worked examples too
    ranges = {(m.stages[-1].reasoning_start, m.stages[-1].reasoning_stop)
              for m in spec.by_role("teacher") + spec.by_role("reference")}
    assert len(ranges) == 5  # every teacher and reference reads its own worked examples
    pairs = derive_pairs(spec)
    for tag in TRACES:
        students = [m for m in spec.by_role("student") if tag in m.tags]
        assert len(students) == 3
        assert {p.label for p in pairs if tag in p.conditions} == {0, 1}
    # The three students of a teacher ask the same prompts and tasks: they differ in the trace policy alone.
    t00 = [spec.model(f"t00-{tag}").stages[0] for tag in TRACES]
    assert len({s.model_dump_json(exclude={"traces"}) for s in t00}) == 1
    assert [s.traces for s in t00] == ["served", "hidden", "summarised"]


def test_reasoning_suites_probe_with_reasoning_prompts_in_their_template(tmp_path):
    plain = suite_probe_prompts(small_suite(tmp_path, ["traces-hidden"]))
    assert plain[: len(probe_prompts())] == probe_prompts()  # the shipped prompts come first, as they are
    extra = plain[len(probe_prompts()):]
    assert len(extra) == REASONING_PROBES and all(r["kind"] == "reasoning" for r in extra)
    assert [r["prompt"] for r in extra] == [reasoning.prompt("probe", 424242, i) for i in range(REASONING_PROBES)]
    both = suite_probe_prompts(small_suite(tmp_path, ["traces-served", "chat"]))
    assert [r["id"] for r in both] == [r["id"] for r in plain]
    assert all(r["prompt"] == ChatTemplate().render(p["prompt"]) for r, p in zip(both, plain))
