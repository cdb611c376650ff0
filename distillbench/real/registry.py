"""The real-model registry: Hugging Face models pinned by commit, and the teacher -> student relations between them.

Takes `docs/real_models.yaml`; produces a validated `Registry`. A positive pair is a documented distillation (the
type, and the sentence that says so, quoted with its source); a negative is a matched hard case that was *not*
distilled from that teacher (the student's own base model, a model trained on the same data, one sharing the
teacher's weights, one distilled from another teacher), with the reason. `references` are independent models for
the detectors' model-level null. A positive may name `co_teachers` (other models whose outputs are in the student's
training data, e.g. DeepSeek-V3 for R1-Distill) and says how directly the source names its teacher (`attribution`);
no teacher or co-teacher of a student can be one of its negatives.

Revisions are 40-hex commit shas seen in public material (`revision_source` says where). A model whose commit could
not be established has `revision: null` and a `revision_note`; probing it needs `--allow-unpinned`, which pins the
branch head at probe time. No sha is ever made up: an unpinned entry is honest, an invented one is not.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from distillbench.errors import DistillBenchError

REGISTRY_SCHEMA_VERSION = 1
DEFAULT_REGISTRY = "docs/real_models.yaml"

# How the student learned from the teacher. Names match the synthetic suites' conditions where the method is the same,
# so per-condition results line up across suites.
DistillType = Literal[
    "logit_distill",  # token-level KD on the teacher's output distribution (logits as soft targets)
    "seq_distill",  # sequence-level: fine-tuned on text the teacher generated (the API case)
    "prune_distill",  # structurally pruned from the teacher's weights, then distilled on its logits
    "on_policy_distill",  # trained on its own samples scored by the teacher (MiniLLM's reverse-KL policy gradient)
    # Pre-trained on human-written text the teacher chose by its likelihoods (MiniPLM's Difference Sampling): the
    # student never sees a teacher output or logit, only which documents the teacher found worth learning from.
    "select_distill",
]
DISTILL_TYPES: dict[str, str] = {
    "logit_distill": "token-level knowledge distillation on the teacher's logits",
    "seq_distill": "sequence-level: supervised fine-tuning on the teacher's generations",
    "prune_distill": "pruned from the teacher's weights, then distilled on its logits",
    "on_policy_distill": "on-policy distillation: the student's own samples, scored by the teacher",
    "select_distill": "pre-trained on a corpus the teacher re-sampled by its likelihoods (no outputs or logits)",
}
# How directly the source names this teacher for this student. Labels resting on "one_of" or "inferred" are weaker
# than "stated" ones, so a reader (or a suite) can tell them apart without parsing notes.
Attribution = Literal[
    "stated",  # the source names this teacher for this student
    "one_of",  # the source names a set of teachers without saying which taught which student (Qwen3's "X or Y")
    "inferred",  # the teacher is our reading of the source; `notes` must say what the reading rests on
]
# Why a non-distilled pair is hard. "weight-sharing" matches the synthetic suites' name for the same case.
NegativeKind = Literal[
    "student-base",  # the base model a positive student was fine-tuned from: same weights lineage, no teacher outputs
    "same-data",  # trained on the teacher's training data (or its SFT data), never on its outputs
    "weight-sharing",  # grew from the teacher's own weights, without distillation
    "other-teacher",  # distilled, but from a different teacher
    # A distillation paper's own no-teacher baseline: the same architecture, data and budget as a positive student,
    # trained without the teacher. The cleanest control there is; "same-data" is about the *teacher's* data instead.
    "plain-control",
    "independent",  # no documented relation to the teacher
]

HF_ID = r"^[A-Za-z0-9][\w.-]*/[\w.-]+$"
SHA40 = r"^[0-9a-f]{40}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HubModel(_Strict):
    """One Hugging Face model, pinned by commit."""

    id: str = Field(pattern=HF_ID)
    revision: str | None = Field(pattern=SHA40)
    revision_source: str | None = None  # where this commit sha was seen (a URL), so a reader can check it
    revision_note: str | None = None  # required when revision is null: what to do before probing
    gated: bool = False  # needs an accepted licence and HF_TOKEN to download
    # Probe with the tokenizer's chat template (lm-eval's apply_chat_template): instruction and reasoning models
    # answer a bare prompt poorly. Part of the model's fingerprint, since it changes every answer.
    chat_template: bool = False
    notes: str = ""

    @model_validator(mode="after")
    def _pin_or_say_why(self) -> HubModel:
        if self.revision is None and not self.revision_note:
            raise ValueError(f"{self.id}: revision is null, so revision_note must say what to do before probing")
        if self.revision is not None and not self.revision_source:
            raise ValueError(f"{self.id}: a pinned revision needs revision_source (where the commit was seen)")
        return self


class Evidence(_Strict):
    quote: str = Field(min_length=20)  # the sentence as published, not a paraphrase
    source: str = Field(pattern=r"^https://")  # model card, paper or code; never javascript: or relative


class CoTeacher(_Strict):
    """Another model whose outputs are part of a positive student's training data, beside the pair's teacher.

    DeepSeek-R1-Distill's 800k samples include ~200k non-reasoning samples from the DeepSeek-V3 pipeline; Sky-T1's
    QwQ traces were rewritten by GPT-4o-mini. A co-teacher is recorded, not scored: it is not a pair of its own, but
    it may never be listed as a negative for that student either (it did teach it).
    """

    # A Hugging Face id (then it must be in `models`, which catches typos) or a product name for an API-only model
    # ("GPT-4o-mini (OpenAI API)"), which no suite can probe.
    model: str = Field(min_length=2)
    role: str = Field(min_length=20)  # what it contributed, and how much, as precisely as the source says
    evidence: list[Evidence] = Field(min_length=1)


class Positive(_Strict):
    """A documented distillation: the student learned from this teacher's outputs or logits."""

    teacher: str
    student: str
    type: DistillType
    shares_weights_with_teacher: bool  # pruned or initialised from the teacher (or its lineage)
    evidence: list[Evidence] = Field(min_length=1)
    attribution: Attribution = "stated"
    co_teachers: list[CoTeacher] = []
    notes: str = ""  # where the evidence is indirect, what the reading rests on

    @model_validator(mode="after")
    def _weak_labels_say_why(self) -> Positive:
        if self.attribution != "stated" and not self.notes:
            raise ValueError(f"{self.teacher} -> {self.student}: attribution {self.attribution!r} needs `notes` saying "
                             "what the label rests on")
        for c in self.co_teachers:
            if c.model in (self.teacher, self.student):
                raise ValueError(f"{self.teacher} -> {self.student}: co-teacher {c.model} is the pair's own "
                                 f"{'teacher' if c.model == self.teacher else 'student'}")
        return self


class Negative(_Strict):
    """A matched hard negative: related to the teacher or to one of its students, but not distilled from it."""

    teacher: str
    student: str
    kinds: list[NegativeKind] = Field(min_length=1)
    shares_weights_with_teacher: bool = False
    reason: str = Field(min_length=20)  # why it is known not to have learned from this teacher
    evidence: list[Evidence] = []
    notes: str = ""


class LabelledPair(_Strict):
    """A registry pair as a suite uses it: the label and the conditions the scorer breaks results down by."""

    pair_id: str
    teacher: str
    student: str
    label: int
    conditions: list[str]
    shares_weights_with_teacher: bool


def pair_id(teacher: str, student: str) -> str:
    return f"{teacher}__{student}"


class Registry(_Strict):
    schema_version: Literal[1] = REGISTRY_SCHEMA_VERSION
    description: str = ""
    models: list[HubModel]
    references: list[str] = Field(min_length=2)  # the null needs at least two models to have a spread
    positives: list[Positive]
    negatives: list[Negative]

    @model_validator(mode="after")
    def _consistent(self) -> Registry:
        ids = [m.id for m in self.models]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"models listed twice: {', '.join(dup)}")
        known = set(ids)
        seen: set[tuple[str, str]] = set()
        positive = {(p.teacher, p.student) for p in self.positives}
        for p in [*self.positives, *self.negatives]:
            for end in (p.teacher, p.student):
                if end not in known:
                    raise ValueError(f"pair {p.teacher} -> {p.student}: {end} is not in `models`")
            if p.teacher == p.student:
                raise ValueError(f"pair {p.teacher} -> {p.student}: teacher and student are the same model")
            if (p.teacher, p.student) in seen:
                both = isinstance(p, Negative) and (p.teacher, p.student) in positive
                why = ("as a positive and as a negative: a student that learned from a teacher cannot also be a "
                       "control for it") if both else "a pair is one positive or one negative"
                raise ValueError(f"pair {p.teacher} -> {p.student} is listed twice ({why})")
            seen.add((p.teacher, p.student))
        # Every model that taught a student, as teacher or co-teacher: none of them may be a negative for it.
        taught = set(positive)
        for p in self.positives:
            for c in p.co_teachers:
                if re.fullmatch(HF_ID, c.model) and c.model not in known:
                    raise ValueError(f"pair {p.teacher} -> {p.student}: co-teacher {c.model} looks like a Hugging "
                                     "Face id but is not in `models` (add it, or write an API model's product name)")
                taught.add((c.model, p.student))
        for n in self.negatives:
            if (n.teacher, n.student) in taught and (n.teacher, n.student) not in positive:
                raise ValueError(f"negative {n.teacher} -> {n.student}: {n.teacher} is a documented co-teacher of "
                                 f"{n.student}, so the pair cannot be a negative")
        distilled = {p.student for p in self.positives}
        # Co-teachers taught too: a reference that did would carry a teacher's outputs into the null.
        teachers = {p.teacher for p in [*self.positives, *self.negatives]} | {
            c.model for p in self.positives for c in p.co_teachers}
        for r in self.references:
            if r not in known:
                raise ValueError(f"reference {r} is not in `models`")
            # A reference that learned from a registry teacher, or is one, would sit in the null it is measured by.
            if r in distilled or r in teachers:
                raise ValueError(f"reference {r} is a teacher or a distilled student in this registry; references must "
                                 "be independent of every teacher")
        return self

    def model(self, model_id: str) -> HubModel:
        for m in self.models:
            if m.id == model_id:
                return m
        close = difflib.get_close_matches(model_id, [m.id for m in self.models], n=3, cutoff=0.5)
        hint = f"; did you mean {' or '.join(close)}?" if close else "; `distillbench real list` shows them"
        raise DistillBenchError(f"unknown model id {model_id!r} (not in the registry){hint}")

    def labelled(self) -> list[LabelledPair]:
        pos = [LabelledPair(pair_id=pair_id(p.teacher, p.student), teacher=p.teacher, student=p.student, label=1,
                            conditions=[p.type], shares_weights_with_teacher=p.shares_weights_with_teacher)
               for p in self.positives]
        neg = [LabelledPair(pair_id=pair_id(p.teacher, p.student), teacher=p.teacher, student=p.student, label=0,
                            conditions=list(p.kinds), shares_weights_with_teacher=p.shares_weights_with_teacher)
               for p in self.negatives]
        return pos + neg

    def teachers(self) -> list[str]:
        return sorted({p.teacher for p in self.labelled()})


def load_registry(path: Path) -> Registry:
    """Read and validate a registry file; every problem is one `DistillBenchError` naming the file and the field."""
    if not path.is_file():
        raise DistillBenchError(f"real-model registry {path} does not exist (the bundled one is {DEFAULT_REGISTRY} "
                                "in a checkout)")
    try:
        return Registry.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except yaml.YAMLError as exc:
        raise DistillBenchError(f"real-model registry {path} is not valid YAML: {str(exc).splitlines()[0]}") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "(top level)"
        raise DistillBenchError(f"real-model registry {path} is invalid at {where}: {first['msg']} "
                                f"({exc.error_count()} problem(s) in all)") from exc


class Selection(_Strict):
    """The pairs and references one real suite is made of."""

    pairs: list[LabelledPair]
    references: list[str]

    def model_ids(self) -> list[str]:
        """Every model in the suite, once: teachers, then students, then references (the pool's source order)."""
        out: list[str] = []
        for m in [*(p.teacher for p in self.pairs), *(p.student for p in self.pairs), *self.references]:
            if m not in out:
                out.append(m)
        return out

    def role(self, model_id: str) -> str:
        if model_id in self.references:
            return "reference"
        return "teacher" if any(p.teacher == model_id for p in self.pairs) else "student"


def select(registry: Registry, teachers: list[str] | None = None, pairs: list[tuple[str, str]] | None = None,
           references: list[str] | None = None) -> Selection:
    """The registry pairs of the named teachers plus the named (teacher, student) pairs; every reference by default.

    One suite gives each model one role, as synthetic suites do (teachers are APIs, students open weights), so a
    model that is the teacher of one selected pair and the student of another is refused with the way out.
    """
    if not teachers and not pairs:
        raise DistillBenchError("say which pairs to probe: --teacher ID (all its registry pairs, repeatable) and/or "
                                f"--pair TEACHER=STUDENT (repeatable); teachers in the registry: "
                                f"{', '.join(registry.teachers())}")
    by_id = {(p.teacher, p.student): p for p in registry.labelled()}
    chosen: list[LabelledPair] = []
    for t in teachers or []:
        registry.model(t)
        mine = [p for p in registry.labelled() if p.teacher == t]
        if not mine:
            raise DistillBenchError(f"{t} is in the registry but is the teacher of no pair; teachers: "
                                    f"{', '.join(registry.teachers())}")
        chosen += [p for p in mine if p not in chosen]
    for t, s in pairs or []:
        registry.model(t)
        registry.model(s)
        if (t, s) not in by_id:
            raise DistillBenchError(f"the registry has no pair {t} -> {s}; `distillbench real list` shows the pairs")
        if by_id[(t, s)] not in chosen:
            chosen.append(by_id[(t, s)])
    refs = list(references) if references else list(registry.references)
    for r in refs:
        registry.model(r)
        if r not in registry.references:
            raise DistillBenchError(f"{r} is not one of the registry's references ({', '.join(registry.references)})")
    if len(refs) < 2:
        raise DistillBenchError("a real suite needs at least two references: the detectors' null needs a spread")
    labels = {p.label for p in chosen}
    if labels != {0, 1}:
        missing = "negative" if 1 in labels else "positive"
        raise DistillBenchError(f"the selection has no {missing} pair, so no detector can be scored on it; add a "
                                f"--pair or --teacher with a {missing} (`distillbench real list` shows labels)")
    sel = Selection(pairs=chosen, references=refs)
    both = sorted({p.teacher for p in chosen} & {p.student for p in chosen})
    if both:
        raise DistillBenchError(f"{', '.join(both)} would be a teacher in one selected pair and a student in another; "
                                "a suite gives each model one role (teachers are APIs, students open weights): "
                                "probe those pairs as two suites")
    clash = sorted(set(refs) & ({p.teacher for p in chosen} | {p.student for p in chosen}))
    if clash:
        raise DistillBenchError(f"{', '.join(clash)} is both a reference and in a selected pair")
    return sel
