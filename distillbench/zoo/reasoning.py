"""Reasoning teachers: post-training on worked examples, what their API serves of a trace, and checking answers.

Takes the checkable task family of `corpus.reasoning_task` (add three digits, count a word's letters, sort three
words); produces the reasoning documents a teacher post-trains on ("Q: ...\\nThink: <steps>.\\nA: <answer>"), the
text a teacher API serves for a reasoning prompt under each trace policy, and the accuracy of a model's answers.

The trace policies are the three things vendors do with a reasoning model's chain of thought:
- "served": the API returns the trace and the answer (open reasoning models);
- "hidden": only the final answer leaves the API (the trace is cut from the model's own output);
- "summarised": a short summary replaces the trace (here a template that keeps only how many steps it took).
The API's sampling is the same under all three (one cache); only what is served differs, so three students of one
teacher saw the same answers and differ only in the trace.

Task streams keep their instances apart: teachers post-train on "teach", distillers ask "distill", probes ask "probe".
"""

from __future__ import annotations

import re
from typing import Literal

from distillbench.corpus import ReasoningTask, reasoning_document, reasoning_prompt, reasoning_task

TracePolicy = Literal["served", "hidden", "summarised"]
TEACH_STREAM, DISTILL_STREAM, PROBE_STREAM = "teach", "distill", "probe"

# A continuation that starts with a trace: leading whitespace (a newline in plain text, a space after "Assistant:"),
# the "Think:" line, then the rest (the answer line).
_TRACE = re.compile(r"^(\s*)Think:([^\n]*)(?:\n|$)(.*)$", re.S)
_ANSWER = re.compile(r"(?:^|\s)A:[ \t]*([^\n]*)")


def documents(corpus_seed: int, start: int, stop: int) -> list[str]:
    """Worked examples [start, stop) of the teachers' post-training stream."""
    return [reasoning_document(reasoning_task(corpus_seed, TEACH_STREAM, i)) for i in range(start, stop)]


def split(doc: str) -> tuple[str, str]:
    """A worked example as (prompt, continuation): the question, then the trace and answer the model writes."""
    prompt = doc.split("\n", 1)[0]
    return prompt, doc[len(prompt):]


def task(stream: str, corpus_seed: int, index: int) -> ReasoningTask:
    return reasoning_task(corpus_seed, stream, index)


def prompt(stream: str, corpus_seed: int, index: int) -> str:
    return reasoning_prompt(reasoning_task(corpus_seed, stream, index))


def summary(trace: str) -> str:
    steps = [s for s in trace.strip().rstrip(".").split(". ") if s.strip()]
    return f"worked in {len(steps)} steps"


def serve(continuation: str, traces: TracePolicy) -> str:
    """What the API returns of the model's continuation to a reasoning prompt under a trace policy. A continuation
    without a trace (the model answered directly) is served as it is."""
    m = _TRACE.match(continuation)
    if traces == "served" or m is None:
        return continuation
    lead, trace, rest = m.groups()
    if traces == "hidden":
        return lead + rest
    return f"{lead}Think: {summary(trace)}.\n{rest}"


def answer_of(text: str) -> str | None:
    """The final answer in a model's continuation ("A: ..." after any trace), None when it gave none."""
    m = _ANSWER.search(text)
    if m is None:
        return None
    return m.group(1).strip().rstrip(".").strip() or None


def accuracy(tasks: list[ReasoningTask], continuations: list[str]) -> float:
    """Share of tasks whose stated answer is exactly the checkable one."""
    if len(tasks) != len(continuations) or not tasks:
        raise ValueError(f"accuracy needs one continuation per task, got {len(continuations)} for {len(tasks)}")
    return sum(answer_of(c) == t.answer for t, c in zip(tasks, continuations)) / len(tasks)


def distill_pairs(api, corpus_seed: int, start: int, stop: int,  # noqa: ANN001 (zoo.api.TeacherAPI)
                  traces: TracePolicy) -> list[tuple[str, str]]:
    """(prompt, served answer) for reasoning tasks [start, stop) of the distillers' stream. The API samples once
    (stream "reasoning"); what it serves of each answer follows `traces`."""
    at = lambda i: prompt(DISTILL_STREAM, corpus_seed, i)  # noqa: E731
    return [(at(i), serve(a, traces)) for i, a in zip(range(start, stop), api.answers("reasoning", at, start, stop))]


def post_training_documents(docs: list[str], corpus_seed: int, start: int, stop: int) -> list[str]:
    """A teacher's post-training documents with worked examples [start, stop) interleaved evenly among them (the
    order training packs them in)."""
    worked = documents(corpus_seed, start, stop)
    out, step = [], max(1, len(docs) // max(1, len(worked)))
    for n, doc in enumerate(docs):
        out.append(doc)
        if n % step == step - 1 and worked:
            out.append(worked.pop(0))
    return out + worked


def probe_accuracy(responses: dict[str, str], probe_seed: int) -> float | None:
    """Accuracy of a model's probe answers to the reasoning prompts (`probe.prompts.suite_probe_prompts`: ids
    "reasoning-NN", tasks NN of the probe stream), from its generation evidence as {prompt id: response}; None when
    it has none."""
    ids = sorted(i for i in responses if i.startswith("reasoning-"))
    if not ids:
        return None
    return accuracy([task(PROBE_STREAM, probe_seed, int(i.split("-")[1])) for i in ids], [responses[i] for i in ids])


def suite_reasons(spec) -> bool:  # noqa: ANN001 (zoo.spec.SuiteSpec)
    """Whether a suite's teachers were made reasoning models (a `reasoning_lm` stage): its probes, pool and
    tokenizers then carry worked examples and reasoning prompts."""
    return any(getattr(s, "kind", None) == "reasoning_lm" for m in spec.by_role("teacher") for s in m.stages)
