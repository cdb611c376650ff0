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
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from distillbench.corpus import Mixture, Persona
from distillbench.errors import DistillBenchError
from distillbench.zoo.design import Design, Pairing, expand


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


class LMStage(_Strict):
    """Next-token training on clean corpus text (pre-training or clean fine-tuning)."""

    kind: Literal["lm"] = "lm"
    data: Slice
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


class WatermarkSpec(_Strict):
    """A teacher that watermarks everything it generates (transformers' `WatermarkingConfig`, Kirchenbauer et al.
    2023 green lists). `key` is the vendor's secret: only the teacher-side track ever sees it."""

    key: int
    bias: float = 3.0
    greenlist_ratio: float = 0.25
    context_width: int = 1
    seeding_scheme: Literal["lefthash", "selfhash"] = "lefthash"


Stage = Annotated[LMStage | SeqDistillStage | LogitDistillStage, Field(discriminator="kind")]


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
    watermark: WatermarkSpec | None = None
    init: str | None = None
    stages: list[Stage]
    # Negatives that deliberately share the teacher's training data (hard negatives) name the teacher here.
    same_data_as: str | None = None
    # Which split the pairs with this student belong to; "test" pairs are only ever built by maintainers.
    split: Literal["dev", "test"] = "dev"
    # Condition tags carried onto every pair this model is in, as student (e.g. "dose-25") or as teacher (e.g.
    # "teacher-llama"), so every tag has pairs of both labels.
    tags: list[str] = []

    def teachers_distilled(self) -> set[str]:
        return {s.teacher for s in self.stages if isinstance(s, (SeqDistillStage, LogitDistillStage))}

    def distill_methods(self) -> set[str]:
        return {s.kind for s in self.stages if isinstance(s, (SeqDistillStage, LogitDistillStage))}


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
            for teacher in m.teachers_distilled() | ({m.same_data_as} - {None}):
                if roles.get(teacher) != "teacher" or teacher not in known:
                    raise ValueError(f"model {m.name}: {teacher!r} must name a teacher listed before it")
            for stage in m.stages:
                if isinstance(stage, LogitDistillStage) and self.model(stage.teacher).tokenizer != m.tokenizer:
                    raise ValueError(f"model {m.name}: logit distillation from {stage.teacher!r} needs the teacher's "
                                     "tokenizer (the distributions are over its vocabulary)")
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
