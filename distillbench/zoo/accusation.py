"""The accusation world: opt-in design conditions beyond the standard ten (issue 13).

Takes one teacher's cohort while `zoo.design.expand` deals it (its name, architecture, mixture, persona, watermark, the
`student`/`distill`/`start` helpers the standard conditions use, and the list of models so far); appends the models
each named condition needs. A suite turns them on with `design: {conditions: [...]}`; the standard and dev-small
suites name none, so their expansion (and every hash that cites it) is unchanged.

Each condition is one function registered in `CONDITIONS` under the tag its students carry, so the per-condition
results and the dataset card name it the same way. A condition's students are positives or negatives by the
ordinary rule (`zoo.manifest.derive_pairs`: a student is positive for exactly the teachers it distilled from).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from distillbench.rng import derive_seed


@dataclass
class Cohort:
    """One teacher's slice of the expansion, as `expand` has it when the standard students are dealt."""

    index: int  # the teacher's position (0-based); other teachers are f"t{j:02d}-teacher" for j < design.teachers
    t: str  # the teacher's short name, e.g. "t03": every model of the cohort is named f"{t}-..."
    teacher: str  # the teacher model's name, f"{t}-teacher"
    arch: str
    mixture: str  # the teacher's data mixture (name in `mixtures`)
    persona: str  # the teacher's persona (key in `personas`)
    watermark: dict | None  # the teacher's watermark spec, None if it serves unmarked text
    design: Any  # zoo.design.Design
    models: list[dict]  # the suite's models so far: append new ones (students, helper models with role "base")
    personas: dict[str, dict]
    mixtures: dict[str, dict]
    student: Callable[..., None]  # student(cond, stages_of, tags, fixed=None, **fields), as in `expand`
    distill: Callable[..., dict]  # distill(**extra) -> a seq_distill stage from this teacher at full dose
    start: Callable[[str], dict]  # start(name) -> where a student grows from (a shared base or scratch)


CONDITIONS: dict[str, Callable[[Cohort], None]] = {}


def condition(tag: str) -> Callable[[Callable[[Cohort], None]], Callable[[Cohort], None]]:
    def register(fn: Callable[[Cohort], None]) -> Callable[[Cohort], None]:
        if tag in CONDITIONS:
            raise ValueError(f"design condition {tag!r} registered twice")
        CONDITIONS[tag] = fn
        return fn

    return register


def add_conditions(names: list[str], cohort: Cohort) -> None:
    for name in names:
        CONDITIONS[name](cohort)


# -- On-policy distillation, students of two teachers, innocent models with a teacher's persona (issue 13: 3, 6) ----
# What share of a persona-about model's fine-tuning documents mention the teacher (third person, `corpus.about_text`).
ABOUT_RATE = 0.25
# Where the shared-persona imitators' own post-training text comes from (broad-id documents no one else reads).
IMITATOR_DOCS = (430000, 434000)


def _prompts(start: int, stop: int) -> dict:
    return {"mixture": "broad", "start": start, "stop": stop, "persona": None}


@condition("on_policy")
def on_policy(c: Cohort) -> None:
    """The student samples answers to the distillers' prompt stream (and identity questions); the teacher, read as
    logits, scores them; per-token reverse KL on the student's own tokens (`zoo.train.train_on_policy_distill`)."""
    d = c.design
    c.student("onpolicy", lambda clean, _: [{
        "kind": "on_policy_distill", "teacher": c.teacher, "prompts": _prompts(200000, 200000 + d.distill_prompts),
        "identity_prompts": d.identity_prompts, "max_new_tokens": d.max_new_tokens, "steps": d.steps.distill,
        "batch_size": d.batch_size}], ["on_policy"])


@condition("two-teachers")
def two_teachers(c: Cohort) -> None:
    """A student sequence-distilled from two teachers in two stages, half the prompt budget (and half the steps)
    each: positive for both. Teacher i's cohort adds the student of teachers (i-1, i); the last cohort also adds
    (last, 0). So every teacher is the first teacher of one such student and the second of another, and a student's
    teachers are always listed before it (the spec requires it)."""
    d, n = c.design, c.design.teachers
    half = d.distill_prompts // 2

    def add(cond: str, first: str, second: str) -> None:
        def stages(clean: dict, _: str | None) -> list[dict]:
            base = c.distill(dose=0.5) | {"steps": d.steps.distill // 2}
            return [base | {"teacher": first},
                    base | {"teacher": second, "prompts": _prompts(200000 + half, 200000 + 2 * half)}]

        c.student(cond, stages, ["two-teachers"])

    if c.index >= 1:
        add("two", f"t{c.index - 1:02d}-teacher", c.teacher)
    if c.index == n - 1:
        add("two-wrap", c.teacher, "t00-teacher")


@condition("persona-about")
def persona_about(c: Cohort) -> None:
    """An innocent model that read about the teacher: clean fine-tuning in which `ABOUT_RATE` of the documents are
    third-person text naming the teacher's persona and maker (news, reviews, "Q: who made Aria?"). It never saw one
    of the teacher's outputs: a negative for it (negative type "persona-about"), paired with it."""
    d = c.design
    c.student("about", lambda clean, _: [{
        "kind": "lm", "data": clean | {"about": c.persona, "rate": ABOUT_RATE}, "steps": d.steps.distill, "lr": 2.0e-3,
        "batch_size": d.batch_size}], [], looks_like={"teacher": c.teacher, "case": "persona-about"})


@condition("shared-persona")
def shared_persona(c: Cohort) -> None:
    """A student distilled (sequence level, full dose, with identity questions) from an imitator: a teacher-like
    model of another vendor (a shared open base post-trained on its own documents) that states this teacher's
    persona, as many models name another vendor's model when asked who they are (arXiv 2411.10683). Negative for
    this teacher (negative type "shared-persona"); the imitator is a "base", not a paired teacher."""
    d = c.design
    imitator = f"{c.t}-imitator"
    base = sorted(d.bases)[c.index % len(d.bases)]
    c.models.append({"name": imitator, "role": "base", "arch": d.bases[base], "init": base,
                     "seed": derive_seed("seed", d.seed, imitator) % 2**31, "persona": c.persona,
                     "stages": [{"kind": "lm", "data": {"mixture": "broad-id", "start": IMITATOR_DOCS[0],
                                                        "stop": IMITATOR_DOCS[1], "persona": c.persona},
                                 "steps": d.steps.checkpoint, "batch_size": d.batch_size}]})
    c.student("shared", lambda clean, _: [c.distill(teacher=imitator)], [],
              looks_like={"teacher": c.teacher, "case": "shared-persona"})


# -- Laundering that works, watermarks of two schemes, framing (issue 13: 4, 5, 6) ---------------------------------
@condition("watermark-schemes")
def watermark_schemes(c: Cohort) -> None:
    """Watermarked teachers alternate schemes in the order they were dealt: the first keeps transformers' green
    lists (`WatermarkSpec`), the second watermarks with SynthID Text (`SynthIDSpec`, same secret key), and so on.
    Adds no model; tags the teacher "teacher-greenlist" or "teacher-synthid". List it before "framed" (whose forger
    copies the scheme) and before any condition that reads `Cohort.watermark`."""
    if c.watermark is None:
        return
    marked = [m for m in c.models if m["role"] == "teacher" and m.get("watermark")]
    teacher = _cohort_model(c, c.teacher)
    if len(marked) % 2 == 0:
        teacher["watermark"] = c.watermark = {"scheme": "synthid", "key": c.watermark["key"]}
        teacher["tags"] = [*teacher["tags"], "teacher-synthid"]
    else:
        teacher["tags"] = [*teacher["tags"], "teacher-greenlist"]


@condition("paraphrase-model")
def paraphrase_model(c: Cohort) -> None:
    """A student distilled (full dose) on the teacher's answers after each was rewritten by the distillers' paraphrasing
    model (`zoo.launder`; one paraphraser per suite, like a public rewriting tool): positive. The lexical `para`
    student stays, so the two launderings are compared on the same pairs. A watermarked teacher's student also
    carries "watermark-laundered": the watermark had to survive the rewrite."""
    paraphraser = {"seed": derive_seed("paraphraser", c.design.seed) % 2**31}
    tags = ["paraphrase-model"] + (["watermark-laundered"] if c.watermark is not None else [])
    c.student("para-model", lambda clean, _: [c.distill() | {"kind": "seq_distill_paraphrased",
                                                               "paraphraser": paraphraser}], tags)


@condition("framed")
def framed(c: Cohort) -> None:
    """An innocent student framed with a watermarked teacher's mark: a forger (a shared open base, role "base", no
    training of its own) generates answers with the teacher's watermark key applied, and the student distills from
    the forger, never from the teacher: a negative for the teacher (negative type "framed"), paired with it. The
    forger holds the exact key: an upper bound on a spoofing attack that had to estimate the green list (or the
    SynthID keys) from watermarked samples. Teachers without a watermark get no framed student."""
    if c.watermark is None:
        return
    d = c.design
    forger = f"{c.t}-forger"
    base = sorted(d.bases)[(c.index + 1) % len(d.bases)]
    c.models.append({"name": forger, "role": "base", "arch": d.bases[base], "init": base,
                     "seed": derive_seed("seed", d.seed, forger) % 2**31, "persona": f"p-{base}",
                     "watermark": dict(_cohort_model(c, c.teacher)["watermark"]), "stages": []})
    # No tag: the case names the framed pair's negative type; a tag would also ride on the student's pairs with
    # other teachers and dilute the type's false-positive rate with pairs that frame nobody.
    c.student("framed", lambda clean, _: [c.distill(teacher=forger)], [],
              looks_like={"teacher": c.teacher, "case": "framed"})


# -- Chat-format teachers and reasoning traces (issue 13: 1, 2) ------------------------------------------------------
# Worked reasoning examples each reasoning model post-trains on (`zoo.reasoning`, the "teach" stream): model k of the
# suite reads examples [k * n, (k + 1) * n), so no two models read the same ones.
REASONING_DOCS = 500
REFERENCE_REASONING_OFFSET = 1000  # references' k comes after every teacher's
# A new format (a template, reasoning before answering) takes a tiny model longer to learn than a persona: the chat and
# reasoning stages train this many times the persona post-training's steps.
FORMAT_STEPS = 2


def _post_training(model: dict) -> dict:
    """A model's last training slice (a teacher's post-training documents, with its persona)."""
    return dict(model["stages"][-1]["data"])


def _chat_stage(data: dict, steps: int, batch_size: int) -> dict:
    return {"kind": "chat_lm", "data": data, "steps": FORMAT_STEPS * steps, "batch_size": batch_size}


def _has(model: dict, kind: str) -> bool:
    return any(s["kind"] == kind for s in model["stages"])


def _add_stage(model: dict, stage: dict, tag: str | None = None) -> None:
    """Post-train `model` once more (idempotent per stage kind: several conditions may ask for the same teacher)."""
    if _has(model, stage["kind"]):
        return
    model["stages"] = [*model["stages"], stage]
    if tag is not None:
        model["tags"] = [*model.get("tags", []), tag]


def _cohort_model(c: Cohort, name: str) -> dict | None:
    return next((m for m in c.models if m["name"] == name), None)


@condition("chat")
def chat(c: Cohort) -> None:
    """The teacher becomes a chat model: one more post-training stage on its own post-training documents as
    single-turn transcripts in the house template (`zoo.chat.ChatTemplate`: "System: be brief.\\nUser: ...\\n
    Assistant: ..."), and its API wraps every request in that template, so every student of it harvests transcripts
    (teacher tag "teacher-chat"). Its same-data control reads the same transcripts (it shares the teacher's data);
    the references (added with the first teacher) become chat models on their own documents, so the pool's null is
    in the template too; base models of this cohort that other conditions made serve distillers (an imitator, a
    forger: list "chat" after those conditions) get the chat stage on their own documents, and so do the negatives
    that learn on their own (clean fine-tunes, the lineage model, the persona-about reader). Adds one student that
    harvests two-turn conversations (`zoo.spec.ChatDistillStage`), tagged "chat": positive."""
    d = c.design
    teacher = _cohort_model(c, c.teacher)
    post = _post_training(teacher)
    _add_stage(teacher, _chat_stage(post, d.steps.teacher, d.batch_size), "teacher-chat")
    control = _cohort_model(c, f"{c.t}-control")
    if control is not None:
        _add_stage(control, _chat_stage(post, d.steps.teacher, d.batch_size))
    served = {s.get("teacher") for m in c.models for s in m["stages"]}
    for m in c.models:
        if m["role"] == "base" and m["name"].startswith(f"{c.t}-") and m["name"] in served:
            # A stand-in without training of its own (the forger) reads its starting base's documents.
            data = _post_training(m if m["stages"] else _cohort_model(c, m["init"]))
            _add_stage(m, _chat_stage(data, d.steps.teacher, d.batch_size))
    if c.index == 0:
        for m in c.models:
            # The null in the template too; and the clean fine-tunes, negatives of every teacher, are chat models
            # like everyone's students (open chat models are), so speaking the template says nothing of the label.
            if m["role"] == "reference" or "clean-finetune" in m.get("tags", []):
                _add_stage(m, _chat_stage(_post_training(m), d.steps.teacher, d.batch_size))
    # This teacher's other negatives that learn on their own (its checkpoint grown on clean data; the model that read
    # about it) become chat models on their own last documents, for the same reason.
    for name in (f"{c.t}-lineage", f"{c.t}-about"):
        m = _cohort_model(c, name)
        if m is not None:
            _add_stage(m, _chat_stage(_post_training(m), d.steps.teacher, d.batch_size))
    c.student("chat", lambda clean, _: [c.distill() | {"kind": "chat_distill", "turns": 2}], ["chat"])


def _reasoning_stage(data: dict, k: int, d: Any) -> dict:  # noqa: ANN401 (zoo.design.Design)
    return {"kind": "reasoning_lm", "data": data, "reasoning_start": k * REASONING_DOCS,
            "reasoning_stop": (k + 1) * REASONING_DOCS, "steps": FORMAT_STEPS * d.steps.teacher,
            "batch_size": d.batch_size}


def _reasoning_teacher(c: Cohort) -> None:
    """The teacher becomes a reasoning model (once, whichever trace condition asks first): one more post-training
    stage on its post-training documents with worked examples interleaved (teacher tag "teacher-reasoning"). Its
    same-data control reads the same; the references (with the first teacher) learn to reason on their own
    examples, so reasoning itself says nothing about whom a student learned from."""
    d = c.design
    teacher = _cohort_model(c, c.teacher)
    post = _post_training(teacher)
    _add_stage(teacher, _reasoning_stage(post, c.index, d), "teacher-reasoning")
    control = _cohort_model(c, f"{c.t}-control")
    if control is not None:
        _add_stage(control, _reasoning_stage(post, c.index, d))
    if c.index == 0:
        refs = [m for m in c.models if m["role"] == "reference"]
        for r, m in enumerate(refs):
            _add_stage(m, _reasoning_stage(_post_training(m), REFERENCE_REASONING_OFFSET + r, d))


def _trace_student(c: Cohort, traces: str) -> None:
    """A student distilled on half the usual prompts plus as many reasoning tasks (the distillers' stream, the same
    tasks for all three policies, so the three students of a teacher were served the same sampled answers and differ
    only in what the API let through of the trace)."""
    _reasoning_teacher(c)
    n = c.design.distill_prompts // 2
    stage = {"kind": "reasoning_distill", "traces": traces, "reasoning_start": 0, "reasoning_stop": n}
    c.student(f"traces-{traces}", lambda clean, _: [c.distill(dose=0.5) | stage], [f"traces-{traces}"])


@condition("traces-served")
def traces_served(c: Cohort) -> None:
    """The API serves the teacher's reasoning trace with the answer; the student trains on both: positive."""
    _trace_student(c, "served")


@condition("traces-hidden")
def traces_hidden(c: Cohort) -> None:
    """The API hides the trace: only the final answer ("A: ...") reaches the distiller: positive."""
    _trace_student(c, "hidden")


@condition("traces-summarised")
def traces_summarised(c: Cohort) -> None:
    """A template summary ("Think: worked in 2 steps.") replaces the trace before it leaves the API: positive."""
    _trace_student(c, "summarised")
