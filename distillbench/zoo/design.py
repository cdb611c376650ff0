"""A suite design: a compact recipe that expands into many teachers, their students and the pairing plan.

Takes the `design:` block of a suite YAML (`Design`) and produces the models, mixtures, personas and architectures
of an ordinary `SuiteSpec`, so everything downstream (builder, manifest, test split) sees plain models. Why a
recipe rather than hand-written models: a leaderboard that can rank needs many independent teacher clusters
(48 here), and every one of them must carry the same conditions and matched hard negatives, which only a generator
keeps consistent.

What the expansion guarantees (checked by tests):
- Teachers differ as vendors do: architecture family (GPT-2, Llama, GPT-NeoX), width and depth, data mixture (a
  primary, secondary and tertiary topic and a Q/A rate drawn per teacher), seed, persona, and for some a watermark
  with its own key. Each teacher is its own pre-training checkpoint plus post-training that adds the persona.
- Every teacher carries every condition: eight distilled students (doses 100/25/5%, logit, laundered, another
  tokenizer, paraphrased, temperature 1.3) and two matched hard negatives (a same-data control; the teacher's own
  checkpoint fine-tuned on clean data, which shares weights but never saw an output).
- A student's starting point does not give its label away: distilled students and same-data controls draw their
  start from the same distribution (one of the shared open bases, or from scratch), so "which base did it grow
  from" or "how similar is it to other students" says nothing about whether it distilled. (The other-tokenizer
  students must use the other vocabulary's base, and the weight-sharing negatives must grow from the teacher's
  checkpoint: those are what the conditions mean.)
- Pairing is linear: each student meets its own teacher and `others_per_student` other teachers drawn from the
  design seed (`Pairing`), so the mix of negative types is fixed by the design, not by the number of teachers.
"""

from __future__ import annotations

import itertools

from pydantic import BaseModel, ConfigDict, Field, model_serializer, model_validator

from distillbench.corpus import TOPICS
from distillbench.rng import SplitMix64, derive_seed


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Steps(_Strict):
    """Optimiser steps per kind of training, fixed so the same design always gives the same weights."""

    base: int = 240  # the shared open bases and the alternative-tokenizer base
    reference: int = 160
    checkpoint: int = 160  # a teacher's pre-training
    teacher: int = 50  # its post-training (persona)
    distill: int = 80  # a student's distillation stage
    launder: int = 40  # clean fine-tuning after distillation
    control: int = 120  # same-data control: the teacher's pre-training and post-training data (3/4, 1/4)
    lineage: int = 80  # the teacher's checkpoint fine-tuned on clean data
    clean: int = 80  # clean fine-tunes of the bases (independent negatives)


class Design(_Strict):
    teachers: int = Field(ge=3)
    seed: int
    # Architecture names (keys of the suite's `archs`) teachers are dealt from, cycling so families stay balanced.
    teacher_archs: list[str]
    # Shared open bases students start from (default tokenizer), as {name: arch}; plus one base per other tokenizer.
    bases: dict[str, str]
    alt_base_arch: str
    alt_tokenizer: str
    # Architectures a from-scratch student may get.
    scratch_archs: list[str]
    # Share of distilled students and same-data controls that start from scratch instead of a shared base.
    scratch_share: float = Field(default=0.25, ge=0.0, le=1.0)
    watermark_share: float = Field(default=0.5, ge=0.0, le=1.0)
    references: int = 8
    reference_archs: list[str]
    clean_finetunes_per_base: int = 2
    distill_prompts: int = 1000  # prompts a full-dose distiller sends (identity questions come on top)
    identity_prompts: int = 40
    max_new_tokens: int = 48  # answer length distillers ask the teacher for
    steps: Steps = Steps()
    batch_size: int = 8
    # Opt-in conditions of the accusation world (`zoo.accusation`), added per teacher next to the ten above. Empty
    # (the default) is left out of the dump, so the suites written before it (standard, dev-small) keep their spec
    # hashes, their manifests, and the evidence and results that cite them.
    conditions: list[str] = []

    @model_validator(mode="after")
    def _known_conditions(self) -> Design:
        from distillbench.zoo.accusation import CONDITIONS

        unknown = [c for c in self.conditions if c not in CONDITIONS]
        if unknown:
            raise ValueError(f"unknown design condition(s) {unknown}; known: {sorted(CONDITIONS)}")
        # Conditions read what earlier ones dealt: `framed` copies the scheme `watermark-schemes` sets, and `chat`
        # makes chat models of the stand-ins (imitator, forger) that others add, so it runs last.
        order = self.conditions
        if "framed" in order and "watermark-schemes" in order and order.index("framed") < order.index("watermark-schemes"):
            raise ValueError("design conditions: list watermark-schemes before framed (the forger copies the scheme)")
        if "chat" in order and order[-1] != "chat":
            raise ValueError("design conditions: list chat last (it makes chat models of the stand-ins others add)")
        return self

    @model_serializer(mode="wrap")
    def _omit_no_conditions(self, handler):  # noqa: ANN001, ANN202 (pydantic's serializer protocol)
        out = handler(self)
        if not self.conditions:
            out.pop("conditions", None)
        return out


class Pairing(_Strict):
    """Linear pairing: each student with its own teacher(s) and `others_per_student` others (drawn from `seed`)."""

    others_per_student: int = Field(default=3, ge=1)
    seed: int


# Syllables for generated persona names: pronounceable, and learnable by a small BPE vocabulary as ordinary words.
_ONSETS = ["b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z"]
_VOWELS = ["a", "e", "i", "o", "u"]
MAKER_SUFFIXES = ["Labs", "AI", "Systems", "Works", "Research"]
# What each teacher post-trains on: the tail of its own mixture, with its persona.
PRETRAIN_DOCS = 3000
POSTTRAIN_DOCS = 1000


def _word(rng: SplitMix64, syllables: int) -> str:
    return "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) for _ in range(syllables)).capitalize()


def _personas(rng: SplitMix64, n: int) -> list[dict]:
    seen: set[str] = set()
    out = []
    while len(out) < n:
        name, maker = _word(rng, 2), f"{_word(rng, 2)} {rng.choice(MAKER_SUFFIXES)}"
        if name in seen or maker.split()[0] in seen:
            continue
        seen |= {name, maker.split()[0]}
        out.append({"name": name, "maker": maker})
    return out


def _favoured_sets(rng: SplitMix64) -> list[tuple[str, ...]]:
    """Every set of three topics, in a drawn order. Each vendor gets its own set: the favoured topics are what most
    sets two teachers' likelihood profiles apart (`zoo.distinct`), and two vendors that favour the same three topics
    come out near-copies whatever their architecture or seed."""
    return rng.shuffle(list(itertools.combinations(sorted(TOPICS), 3)))


def _mixture(rng: SplitMix64, favoured: tuple[str, ...]) -> dict:
    """A vendor's data mixture: its three favoured topics (weights 8, 3, 1 in a drawn order), the rest rare, and
    its own Q/A rate."""
    weights = {t: 0.2 for t in sorted(TOPICS)}
    for t, w in zip(rng.shuffle(list(favoured)), (8.0, 3.0, 1.0)):
        weights[t] = w
    return {"topics": weights, "qa_rate": round(0.15 + 0.3 * rng.uniform(), 3), "identity_rate": 0.08}


def _slice(mixture: str, start: int, stop: int, persona: str | None = None) -> dict:
    return {"mixture": mixture, "start": start, "stop": stop, "persona": persona}


def expand(data: dict) -> dict:
    """A suite YAML's dict with `design:` turned into models (and generated mixtures and personas added)."""
    design = Design.model_validate(data["design"])
    rng = SplitMix64(derive_seed("design", design.seed))
    st, bs = design.steps, design.batch_size
    mixtures = dict(data.get("mixtures", {}))
    personas = dict(data.get("personas", {}))
    generated = _personas(rng, design.teachers + design.references + len(design.bases) + 1)
    # Teachers first, then references; past the 56 sets they repeat, and the distinctness check will say so.
    favoured = _favoured_sets(rng)
    favoured_at = lambda i: favoured[i % len(favoured)]  # noqa: E731
    models: list[dict] = []

    dealt = iter(generated)

    def persona(key: str) -> str:
        personas[key] = next(dealt)
        return key

    # The shared open bases: every distiller and every same-data control may start from one of them.
    base_persona = {}
    for name, arch in design.bases.items():
        base_persona[name] = persona(f"p-{name}")
        models.append({"name": name, "role": "base", "arch": arch, "seed": derive_seed("seed", design.seed, name) % 2**31,
                       "persona": base_persona[name],
                       "stages": [{"kind": "lm", "data": _slice("broad-id", 100000 + 10000 * len(models),
                                                                 105000 + 10000 * len(models), base_persona[name]),
                                   "steps": st.base, "batch_size": bs}]})
    alt = "base-alt"
    base_persona[alt] = persona(f"p-{alt}")
    models.append({"name": alt, "role": "base", "arch": design.alt_base_arch, "tokenizer": design.alt_tokenizer,
                   "seed": derive_seed("seed", design.seed, alt) % 2**31, "persona": base_persona[alt],
                   "stages": [{"kind": "lm", "data": _slice("broad-id", 190000, 195000, base_persona[alt]),
                               "steps": st.base, "batch_size": bs}]})
    # Independent reference models: the model-level null every detector calibrates against.
    for r in range(design.references):
        name = f"ref-{r + 1}"
        mixtures[f"mix-{name}"] = _mixture(rng, favoured_at(design.teachers + r))
        p = persona(f"p-{name}")
        models.append({"name": name, "role": "reference", "arch": design.reference_archs[r % len(design.reference_archs)],
                       "seed": derive_seed("seed", design.seed, name) % 2**31, "persona": p,
                       "stages": [{"kind": "lm", "data": _slice(f"mix-{name}", 10000, 14000, p),
                                   "steps": st.reference, "batch_size": bs}]})
    # Clean fine-tunes of each shared base: students that learned from nobody (independent negatives).
    for name in design.bases:
        for k in range(design.clean_finetunes_per_base):
            models.append({"name": f"{name}-clean-{k + 1}", "role": "student", "arch": design.bases[name], "init": name,
                           "seed": derive_seed("seed", design.seed, name, "clean", k) % 2**31, "tags": ["clean-finetune"],
                           "stages": [{"kind": "lm", "data": _slice("broad-id", 400000 + 5000 * k, 403000 + 5000 * k,
                                                                     base_persona[name]),
                                       "steps": st.clean, "lr": 2.0e-3, "batch_size": bs}]})

    starts = [*design.bases, "scratch"]

    def start(name: str) -> dict:
        """Where a student grows from: a shared base, or (with `scratch_share`) a fresh initialisation."""
        srng = SplitMix64(derive_seed("start", design.seed, name))
        if srng.uniform() < design.scratch_share:
            return {"arch": design.scratch_archs[srng.below(len(design.scratch_archs))], "init": None, "persona": None,
                    "tags": ["start-scratch"]}
        base = starts[srng.below(len(starts) - 1)]
        return {"arch": design.bases[base], "init": base, "persona": base_persona[base], "tags": [f"start-{base}"]}

    n = design.teachers
    prompts = design.distill_prompts
    for i in range(n):
        t = f"t{i:02d}"
        arch = design.teacher_archs[i % len(design.teacher_archs)]
        mix = f"mix-{t}"
        mixtures[mix] = _mixture(rng, favoured_at(i))
        p = persona(f"p-{t}")
        spec_arch = data["archs"][arch]
        tags = [f"teacher-{spec_arch['family']}"]
        if spec_arch.get("width", 64) > 64:
            tags.append("teacher-wide")
        if spec_arch.get("layers", 2) > 2:
            tags.append("teacher-deep")
        watermark = None
        if rng.uniform() < design.watermark_share:
            watermark = {"key": derive_seed("watermark", design.seed, t) % 2**31}
            tags.append("teacher-watermark")
        teacher = f"{t}-teacher"
        seed = derive_seed("seed", design.seed, t)
        models.append({"name": f"{t}-ckpt", "role": "base", "arch": arch, "seed": seed % 2**31,
                       "stages": [{"kind": "lm", "data": _slice(mix, 0, PRETRAIN_DOCS), "steps": st.checkpoint,
                                   "batch_size": bs}]})
        models.append({"name": teacher, "role": "teacher", "arch": arch, "seed": (seed + 1) % 2**31, "persona": p,
                       "watermark": watermark, "init": f"{t}-ckpt", "tags": tags,
                       "stages": [{"kind": "lm", "data": _slice(mix, PRETRAIN_DOCS, PRETRAIN_DOCS + POSTTRAIN_DOCS, p),
                                   "steps": st.teacher, "batch_size": bs}]})

        def distill(**extra) -> dict:
            n_prompts = round(prompts * extra.pop("dose", 1.0))
            return {"kind": "seq_distill", "teacher": teacher, "prompts": _slice("broad", 200000, 200000 + n_prompts),
                    "identity_prompts": max(1, round(design.identity_prompts * n_prompts / prompts)),
                    "max_new_tokens": design.max_new_tokens, "steps": st.distill, "batch_size": bs, **extra}

        def student(cond: str, stages_of, tags: list[str], fixed: dict | None = None, **fields) -> None:
            name = f"{t}-{cond}"
            s = fixed or start(name)
            clean = _slice("broad-id", 400000, 403000, s["persona"])
            models.append({"name": name, "role": "student", "arch": s["arch"], "init": s["init"],
                           "seed": derive_seed("seed", design.seed, name) % 2**31, "tags": tags + s["tags"],
                           "stages": stages_of(clean, s["persona"]), **fields})

        student("seq", lambda c, _: [distill()], ["dose-100"])
        student("seq-25", lambda c, _: [distill(dose=0.25, clean=c)], ["dose-25"])
        student("seq-5", lambda c, _: [distill(dose=0.05, clean=c)], ["dose-5"])
        student("logit", lambda c, _: [{"kind": "logit_distill", "teacher": teacher,
                                         "data": _slice("broad-id", 300000, 303000, c["persona"]),
                                         "steps": st.distill, "batch_size": bs}], [])
        student("laundered", lambda c, _: [distill(), {"kind": "lm", "data": _slice("broad-id", 410000, 413000, c["persona"]),
                                                       "steps": st.launder, "lr": 2.0e-3, "batch_size": bs}], ["laundered"])
        student("tok", lambda c, _: [distill()], ["other-tokenizer"],
                fixed={"arch": design.alt_base_arch, "init": alt, "persona": base_persona[alt], "tags": ["start-base-alt"]},
                tokenizer=design.alt_tokenizer)
        student("para", lambda c, _: [distill(paraphrase=0.5)], ["paraphrase"])
        student("temp", lambda c, _: [distill(temperature=1.3)], ["temperature"])
        # The hard negatives: the teacher's own data (pre-training, then post-training with its persona), never its
        # outputs; and the teacher's own checkpoint grown on clean data.
        total = st.control
        student("control", lambda c, _: [
            {"kind": "lm", "data": _slice(mix, 0, PRETRAIN_DOCS), "steps": total * 3 // 4, "batch_size": bs},
            {"kind": "lm", "data": _slice(mix, PRETRAIN_DOCS, PRETRAIN_DOCS + POSTTRAIN_DOCS, p),
             "steps": total - total * 3 // 4, "batch_size": bs}], [], same_data_as=teacher)
        student("lineage", lambda c, _: [{"kind": "lm", "data": _slice("broad-id", 420000, 423000, None),
                                           "steps": st.lineage, "lr": 2.0e-3, "batch_size": bs}], [],
                fixed={"arch": arch, "init": f"{t}-ckpt", "persona": None, "tags": []})
        if design.conditions:
            from distillbench.zoo.accusation import Cohort, add_conditions

            add_conditions(design.conditions, Cohort(
                index=i, t=t, teacher=teacher, arch=arch, mixture=mix, persona=p, watermark=watermark,
                design=design, models=models, personas=personas, mixtures=mixtures, student=student,
                distill=distill, start=start))
    out = {k: v for k, v in data.items() if k != "design"}
    return out | {"mixtures": mixtures, "personas": personas, "models": models, "design": design.model_dump(mode="json")}
