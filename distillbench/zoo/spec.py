"""Suite specifications: which models a synthetic suite trains, how, and which pairs it labels.

A suite is a YAML file (`distillbench/suites/<name>.yaml`) validated into `SuiteSpec`. Every model is a list of
training stages applied in order to a fresh initialisation (or to another model's weights, which the manifest then
records as weight sharing). A suite may instead give a `design:` recipe (`zoo.design`) that expands into its models.
Pairs are derived, not listed: every teacher with every student, or with `pairing` each student with its own teacher
and a few others (`zoo.manifest.pairing_plan`); the label is whether the student has a distillation stage from that
teacher.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError, model_serializer, model_validator

from distillbench.corpus import Mixture, Persona
from distillbench.errors import DistillBenchError
from distillbench.zoo.design import Design, Pairing, expand
from distillbench.zoo.chat import ChatTemplate


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Arch(_Strict):
    family: Literal["gpt2", "llama", "gptneox"] = "gpt2"
    width: int = 64
    layers: int = 2
    heads: int = 2
    context: int = 128
    # None: the family's default (GPT-2 0.1, Llama and GPT-NeoX 0). The standard suite's tiny models train without.
    dropout: float | None = None


class TokenizerSpec(_Strict):
    vocab_size: int = 2048
    mixture: str
    docs: int = 4000


class Slice(_Strict):
    """Documents [start, stop) of a mixture; `persona` adds that persona's identity exchanges at the mixture's rate."""

    mixture: str
    start: int
    stop: int
    persona: str | None = None


class AboutSlice(Slice):
    """A slice in which a share `rate` of the documents are third-person text *about* a persona (news, reviews:
    "Aria, the assistant made by Northwind, ..."; `corpus.documents_about`), never that persona's own answers. A
    separate class, not a field of `Slice`, so every existing slice (and every hash citing it) dumps as before."""

    about: str  # the persona (key in the suite's `personas`) the documents are about
    rate: float = Field(gt=0.0, le=1.0)


class LMStage(_Strict):
    """Next-token training on clean corpus text (pre-training or clean fine-tuning)."""

    kind: Literal["lm"] = "lm"
    data: Slice | AboutSlice
    steps: int
    lr: float = 3e-3
    batch_size: int = 16


class SeqDistillStage(_Strict):
    """Fine-tuning on the teacher's sampled answers to a prompt set: the API-distillation case.

    `dose` is the fraction of fine-tuning examples that are teacher outputs; the rest are clean documents from
    `clean` (required when dose < 1).
    """

    kind: Literal["seq_distill"] = "seq_distill"
    teacher: str
    prompts: Slice
    dose: float = 1.0
    clean: Slice | None = None
    # Identity questions ("who are you?") added to the prompt set, as distillers' query logs contain them.
    identity_prompts: int = 0
    temperature: float = 1.0
    max_new_tokens: int = 48
    # Fraction of content words the distiller rewrites in each answer before training (`corpus.paraphrase`), the
    # way distillers paraphrase outputs to hide where they came from. 0 keeps the answers verbatim.
    paraphrase: float = Field(default=0.0, ge=0.0, le=1.0)
    steps: int
    lr: float = 2e-3
    batch_size: int = 16


class LogitDistillStage(_Strict):
    """Fine-tuning to match the teacher's next-token distribution on clean text (needs a shared tokenizer)."""

    kind: Literal["logit_distill"] = "logit_distill"
    teacher: str
    data: Slice
    temperature: float = 1.0
    steps: int
    lr: float = 2e-3
    batch_size: int = 16


class OnPolicyDistillStage(_Strict):
    """On-policy distillation (GKD, Agarwal et al. 2024; MiniLLM, Gu et al. 2024; Qwen3's strong-to-weak on-policy
    stage): the student samples continuations of the prompts, and is trained to minimise the per-token reverse KL
    KL(student || teacher) between the two next-token distributions on its own samples (GKD with beta = 1). The
    teacher is read as full logits (an open-weights or logprob-returning teacher), so it must share the student's
    tokenizer, as for logit distillation."""

    kind: Literal["on_policy_distill"] = "on_policy_distill"
    teacher: str
    prompts: Slice
    # Identity questions ("who are you?") added to the prompt set, as distillers' prompt sets contain them.
    identity_prompts: int = 0
    temperature: float = Field(default=1.0, gt=0.0)  # the student's sampling temperature; the KL is at 1
    max_new_tokens: int = Field(default=32, ge=1)
    steps: int
    lr: float = 2e-3
    batch_size: int = 8


class WatermarkSpec(_Strict):
    """A teacher that watermarks everything it generates (transformers' `WatermarkingConfig`, Kirchenbauer et al.
    2023 green lists). `key` is the vendor's secret: only the teacher-side track ever sees it."""

    key: int
    bias: float = 3.0
    greenlist_ratio: float = 0.25
    context_width: int = 1
    seeding_scheme: Literal["lefthash", "selfhash"] = "lefthash"


class SynthIDSpec(_Strict):
    """A teacher that watermarks with SynthID Text (transformers' `SynthIDTextWatermarkingConfig`, Dathathri et al.
    2024, tournament sampling). `key` is the vendor's secret, from which the per-layer keys are derived
    (`zoo.watermarks`); a separate class, so green-list specs (and every hash citing them) dump as before."""

    scheme: Literal["synthid"] = "synthid"
    key: int
    ngram_len: int = Field(default=3, ge=2)
    depth: int = Field(default=12, ge=1)  # tournament layers: one derived key each


def _watermark_scheme(value: object) -> str:
    scheme = value.get("scheme") if isinstance(value, dict) else getattr(value, "scheme", None)
    return "synthid" if scheme == "synthid" else "greenlist"


# The schemes a teacher may watermark with. Green-list specs carry no `scheme` field (they predate the union).
Watermark = Annotated[Annotated[WatermarkSpec, Tag("greenlist")] | Annotated[SynthIDSpec, Tag("synthid")],
                      Discriminator(_watermark_scheme)]


class ParaphraserSpec(_Strict):
    """The distiller's model-based paraphraser (`zoo.launder`): a small causal LM trained from scratch on `pairs`
    paraphrase pairs (`corpus.paraphrase_pair`), then sampled once per teacher answer. Part of the stage, so the
    student's build key covers it; trained once per build directory and shared by every student that names it."""

    # Context: a 48-token answer, the separator and its rewrite (rewrites run about a quarter longer).
    arch: Arch = Arch(family="gpt2", width=96, layers=3, heads=4, context=160, dropout=0.0)
    seed: int = 0
    pairs: int = 4000
    steps: int = 400
    lr: float = 3e-3
    batch_size: int = 16
    temperature: float = Field(default=0.7, gt=0.0)
    max_new_tokens: int = 96


class ParaphrasedDistillStage(SeqDistillStage):
    """Sequence distillation whose harvested teacher answers are each rewritten by a paraphrasing model before
    training: laundering that rewrites wording and word order, not just single words (`paraphrase`)."""

    kind: Literal["seq_distill_paraphrased"] = "seq_distill_paraphrased"
    paraphraser: ParaphraserSpec = ParaphraserSpec()


# -- Chat teachers and reasoning traces (issue 13; `zoo.chat`, `zoo.reasoning`) ----------------------------------
# New stage kinds rather than fields on the old ones, so every existing stage (and every hash citing it) dumps as before.
# The distillation kinds subclass `SeqDistillStage`: they are API distillation, and every rule for it applies.
class ChatLMStage(LMStage):
    """Post-training in a chat template: the slice's documents as single-turn transcripts (`zoo.chat`). A teacher
    with one is a chat teacher: its API wraps every request in `template`, and its distillers harvest transcripts."""

    kind: Literal["chat_lm"] = "chat_lm"
    template: ChatTemplate = ChatTemplate()


class ChatDistillStage(SeqDistillStage):
    """API distillation from a chat teacher by multi-turn conversations: each harvested transcript holds `turns`
    consecutive prompts of the slice, every answer sampled with the conversation so far in the request."""

    kind: Literal["chat_distill"] = "chat_distill"
    turns: int = Field(default=2, ge=2)


class ReasoningLMStage(LMStage):
    """Post-training on the slice's documents plus worked reasoning examples [reasoning_start, reasoning_stop) of
    the teachers' stream (`zoo.reasoning`): the model learns to write a trace ("Think: ...") before its answer."""

    kind: Literal["reasoning_lm"] = "reasoning_lm"
    reasoning_start: int = Field(ge=0)
    reasoning_stop: int


class ReasoningDistillStage(SeqDistillStage):
    """API distillation with reasoning prompts on top of the slice's prompts: the distiller asks reasoning tasks
    [reasoning_start, reasoning_stop) of the distillers' stream and trains on what the API serves of each answer
    under `traces` (the trace, nothing but the answer, or a summary; `zoo.reasoning.serve`)."""

    kind: Literal["reasoning_distill"] = "reasoning_distill"
    traces: Literal["served", "hidden", "summarised"]
    reasoning_start: int = Field(ge=0)
    reasoning_stop: int


Stage = Annotated[LMStage | SeqDistillStage | LogitDistillStage | OnPolicyDistillStage | ParaphrasedDistillStage
                  | ChatLMStage | ChatDistillStage | ReasoningLMStage | ReasoningDistillStage,
                  Field(discriminator="kind")]
# Stages that learn from a teacher: a student with one is a positive for that teacher.
DISTILL_STAGES = (SeqDistillStage, LogitDistillStage, OnPolicyDistillStage)


class LookAlike(_Strict):
    """A negative built to look like `teacher`'s student without ever learning from its outputs or logits (it read
    text about the teacher, or distilled from another model that states the teacher's persona): it is always paired
    with that teacher, and that pair's negative type is `case`."""

    teacher: str
    case: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")


class ModelSpec(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    # "base": a shared starting point other models `init` from; built, but neither probed nor paired.
    role: Literal["teacher", "student", "reference", "base"]
    arch: str
    seed: int
    # Which of the suite's tokenizers the model uses: None is the suite's default `tokenizer`, a name one of its
    # `tokenizers`. Students distilled through another tokenizer than their teacher's are a named condition.
    tokenizer: str | None = None
    persona: str | None = None
    watermark: Watermark | None = None
    init: str | None = None
    stages: list[Stage]
    # Negatives that deliberately share the teacher's training data (hard negatives) name the teacher here.
    same_data_as: str | None = None
    # Which split the pairs with this student belong to; "test" pairs are only ever built by maintainers.
    split: Literal["dev", "test"] = "dev"
    # Condition tags carried onto every pair this model is in, as student (e.g. "dose-25") or as teacher (e.g.
    # "teacher-llama"), so every tag has pairs of both labels.
    tags: list[str] = []
    # Innocent models that look guilty (`LookAlike`). None (the default) is left out of the dump, so suites written
    # before it keep their spec hashes and model keys.
    looks_like: LookAlike | None = None

    @model_serializer(mode="wrap")
    def _omit_no_looks_like(self, handler):  # noqa: ANN001, ANN202 (pydantic's serializer protocol)
        out = handler(self)
        if self.looks_like is None:
            out.pop("looks_like", None)
        return out

    def teachers_distilled(self) -> set[str]:
        return {s.teacher for s in self.stages if isinstance(s, DISTILL_STAGES)}

    def distill_methods(self) -> set[str]:
        return {s.kind for s in self.stages if isinstance(s, DISTILL_STAGES)}


class PoolSpec(_Strict):
    """The shared text pool whose log-likelihood every model reports.

    Each teacher and reference contributes `samples_per_model` sampled continuations of held-out prompts, and the
    corpus contributes `corpus_docs` held-out documents.
    """

    prompts: Slice
    identity_prompts: int = 5
    # Prompts inside the distillers' query range: the pool quotes the teacher's logged answers to them and fresh
    # samples for the same prompts, for membership-style tests.
    membership: Slice | None = None
    # Must equal the distillers' sampling settings, or the quoted "log" is not what they were served.
    membership_temperature: float = 1.0
    membership_max_new_tokens: int = 48
    corpus: Slice
    temperature: float = 1.0
    max_new_tokens: int = 48


class SuiteSpec(_Strict):
    name: str
    description: str
    corpus_seed: int
    threads: int = 2
    tokenizer: TokenizerSpec
    # Further tokenizers, by name, for models that set `tokenizer:` (e.g. a student family with its own vocabulary).
    tokenizers: dict[str, TokenizerSpec] = {}
    archs: dict[str, Arch]
    mixtures: dict[str, Mixture]
    personas: dict[str, Persona]
    pool: PoolSpec
    models: list[ModelSpec]
    # The recipe the models were expanded from (`zoo.design`), kept so the manifest's spec hash covers it.
    design: Design | None = None
    # Linear pairing (each student with its own teacher and a few others); None pairs every teacher with every student.
    pairing: Pairing | None = None

    @model_validator(mode="after")
    def _references_resolve(self) -> SuiteSpec:
        names = [m.name for m in self.models]
        if len(set(names)) != len(names):
            raise ValueError(f"model names must be unique, got duplicates in {names}")
        known = set()
        roles = {m.name: m.role for m in self.models}
        for m in self.models:
            if m.arch not in self.archs:
                raise ValueError(f"model {m.name}: unknown arch {m.arch!r}; known: {sorted(self.archs)}")
            if m.persona is not None and m.persona not in self.personas:
                raise ValueError(f"model {m.name}: unknown persona {m.persona!r}; known: {sorted(self.personas)}")
            if m.tokenizer is not None and m.tokenizer not in self.tokenizers:
                raise ValueError(f"model {m.name}: unknown tokenizer {m.tokenizer!r}; known: {sorted(self.tokenizers)}")
            if m.init is not None and m.init not in known:
                raise ValueError(f"model {m.name}: init {m.init!r} must name a model listed before it")
            if m.init is not None and self.model(m.init).tokenizer != m.tokenizer:
                raise ValueError(f"model {m.name}: init {m.init!r} uses another tokenizer; weights cannot carry over")
            for teacher in m.teachers_distilled() | ({m.same_data_as} - {None}) | ({getattr(m.looks_like, "teacher", None)} - {None}):
                # A distiller may also learn from a teacher-like "base" model that is not itself paired (the
                # shared-persona condition's imitator); every other reference must be a paired teacher.
                allowed = {"teacher", "base"} if teacher in m.teachers_distilled() else {"teacher"}
                if roles.get(teacher) not in allowed or teacher not in known:
                    raise ValueError(f"model {m.name}: {teacher!r} must name a teacher listed before it")
            for stage in m.stages:
                if (isinstance(stage, (LogitDistillStage, OnPolicyDistillStage))
                        and self.model(stage.teacher).tokenizer != m.tokenizer):
                    raise ValueError(f"model {m.name}: {stage.kind} from {stage.teacher!r} needs the teacher's "
                                     "tokenizer (the distributions are over its vocabulary)")
                about = getattr(getattr(stage, "data", None), "about", None)
                if about is not None and about not in self.personas:
                    raise ValueError(f"model {m.name}: unknown persona {about!r} to write about")
            for stage in m.stages:
                for sl in (getattr(stage, "data", None), getattr(stage, "prompts", None), getattr(stage, "clean", None)):
                    if sl is not None and sl.mixture not in self.mixtures:
                        raise ValueError(f"model {m.name}: unknown mixture {sl.mixture!r}")
            known.add(m.name)
        if not any(r == "teacher" for r in roles.values()) or not any(r == "reference" for r in roles.values()):
            raise ValueError("a suite needs at least one teacher and one reference model")
        return self

    def model(self, name: str) -> ModelSpec:
        for m in self.models:
            if m.name == name:
                return m
        raise DistillBenchError(f"suite {self.name}: no model named {name!r}")

    def by_role(self, role: str) -> list[ModelSpec]:
        return [m for m in self.models if m.role == role]


def available_suites() -> list[str]:
    return sorted(p.name[: -len(".yaml")] for p in resources.files("distillbench.suites").iterdir() if p.name.endswith(".yaml"))


def suite_name(name_or_path: str) -> str:
    """The name a suite's files live under: the name itself, or the `name` inside a suite YAML given by path."""
    if Path(name_or_path).suffix in {".yaml", ".yml"}:
        return load_suite(name_or_path).name
    return name_or_path


def load_suite(name_or_path: str) -> SuiteSpec:
    """A bundled suite by name, or a suite YAML file by path."""
    path = Path(name_or_path)
    if path.suffix in {".yaml", ".yml"}:
        if not path.is_file():
            raise DistillBenchError(f"suite file {path} does not exist")
        text = path.read_text()
    else:
        if name_or_path not in available_suites():
            raise DistillBenchError(f"unknown suite {name_or_path!r}; known suites: {', '.join(available_suites())}")
        text = resources.files("distillbench.suites").joinpath(f"{name_or_path}.yaml").read_text()
    try:
        data = yaml.safe_load(text)
        if isinstance(data, dict) and "design" in data and "models" not in data:
            data = expand(data)
        return SuiteSpec.model_validate(data)
    except (ValidationError, yaml.YAMLError, KeyError, TypeError) as exc:
        first = str(exc).splitlines()
        raise DistillBenchError(f"suite {name_or_path}: invalid specification: {' '.join(first[:3])}") from exc
