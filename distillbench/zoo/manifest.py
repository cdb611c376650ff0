"""The zoo's output contract: every model with its hash and provenance, and the labelled pairs.

Labels live here and nowhere else; the detect stage never opens this file's `pairs[].label`, the scorer joins it in.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from distillbench.rng import SplitMix64, derive_seed
from distillbench.zoo.distinct import TeacherDistinctness
from distillbench.zoo.spec import DISTILL_STAGES, ModelSpec, SuiteSpec

MANIFEST_SCHEMA_VERSION = 2


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelRecord(_Strict):
    name: str
    role: Literal["teacher", "student", "reference", "base"]
    path: str  # relative to the suite directory
    sha256: str  # model.safetensors
    fingerprint: str  # distillbench.fingerprint.model_fingerprint (weights + config + tokenizer)
    spec_sha256: str
    arch: dict
    seed: int
    tokenizer: str | None = None  # None: the suite's default tokenizer, else a name in Manifest.tokenizers
    persona: str | None
    init: str | None
    provenance: list[dict]  # one entry per training stage: kind, corpus slice, steps, teacher, dose...
    n_params: int


class PairRecord(_Strict):
    pair_id: str
    teacher: str
    student: str
    label: int  # 1: the student learned from this teacher's outputs or logits
    conditions: list[str]
    shares_weights_with_teacher: bool
    split: Literal["dev", "test"] = "dev"


class PoolRecord(_Strict):
    path: str
    sha256: str
    n_texts: int
    # True: each model scores only the texts its pairs need (`zoo.pools`), from pools/<model>.jsonl.
    per_model: bool = False


class TeacherApi(_Strict):
    """What the suite's teacher API serves besides sampled text (`query.requests`); the dataset card says so."""

    logprobs: bool = True  # the synthetic teachers' API returns token log-probs, as OpenAI-style completions do


class Manifest(_Strict):
    schema_version: int = MANIFEST_SCHEMA_VERSION
    suite: str
    suite_spec_sha256: str
    corpus_seed: int
    versions: dict[str, str]
    tokenizer_sha256: str  # the default tokenizer's tokenizer.json
    tokenizers: dict[str, str] = {}  # further named tokenizers -> sha256 of their tokenizer.json
    models: list[ModelRecord]
    pairs: list[PairRecord]
    pool: PoolRecord
    # How alike the teachers are (suites with a design; `zoo.distinct`): the builder refuses near-duplicates.
    teacher_distinctness: TeacherDistinctness | None = None
    teacher_api: TeacherApi = TeacherApi()

    def model(self, name: str) -> ModelRecord:
        return next(m for m in self.models if m.name == name)


def _lineage(spec: SuiteSpec, model: ModelSpec) -> set[str]:
    """Every model whose weights this one started from, transitively (not the model itself)."""
    seen: set[str] = set()
    current = model.init
    while current is not None:
        seen.add(current)
        current = spec.model(current).init
    return seen


def own_teachers(spec: SuiteSpec, student: ModelSpec) -> set[str]:
    """The teachers a student is a case for: those it distilled from, shares data with, shares weights with, or was
    built to look like (`ModelSpec.looks_like`)."""
    line = _lineage(spec, student)
    own = student.teachers_distilled() | ({student.same_data_as} - {None})
    if student.looks_like is not None:
        own.add(student.looks_like.teacher)
    return own | {t.name for t in spec.by_role("teacher") if line & (_lineage(spec, t) | {t.name})}


def pairing_plan(spec: SuiteSpec) -> list[tuple[str, str]]:
    """(teacher, student) pairs to label: every teacher × every student, or with `spec.pairing` each student with its
    own teachers and `others_per_student` other teachers drawn from the pairing seed and the student's name.

    Why linear: a crossed design grows as teachers × students, and nearly all its pairs are easy other-teacher
    negatives; a fixed number of others per student keeps the mix of negative types the same at any suite size.
    """
    teachers = [t.name for t in spec.by_role("teacher")]
    students = spec.by_role("student")
    if spec.pairing is None:
        return [(t, s.name) for t in teachers for s in students]
    plan = []
    for s in students:
        own = own_teachers(spec, s)
        others = SplitMix64(derive_seed("pairing", spec.pairing.seed, s.name)).shuffle([t for t in teachers if t not in own])
        # A student of nobody (a clean fine-tune) gets one more drawn teacher in place of its own.
        k = spec.pairing.others_per_student + (0 if own else 1)
        chosen = own | set(others[:k])
        plan += [(t, s.name) for t in teachers if t in chosen]
    return plan


def derive_pairs(spec: SuiteSpec) -> list[PairRecord]:
    """The pairs of `pairing_plan`, labelled by whether the student distilled from that teacher.

    Conditions: the distillation methods for a positive; for a negative the hard case it stands for ("same-data",
    "weight-sharing": the student grew from a checkpoint in the teacher's own lineage, "other-teacher": distilled,
    but from someone else; a look-alike's `case`, e.g. "persona-about", with the teacher it was built to look like)
    or "independent"; then the student's and the teacher's tags. Weight sharing is also kept
    as its own field on every pair, distilled or not, so a reader can see which detectors confuse the two.
    """
    pairs = []
    for teacher_name, student_name in pairing_plan(spec):
        teacher, student = spec.model(teacher_name), spec.model(student_name)
        teacher_line = _lineage(spec, teacher) | {teacher.name}
        methods = sorted(
            s.kind for s in student.stages
            if isinstance(s, DISTILL_STAGES) and s.teacher == teacher.name
        )
        shares = bool(teacher_line & _lineage(spec, student))
        if methods:
            conditions = methods
        elif student.looks_like is not None and student.looks_like.teacher == teacher.name:
            conditions = [student.looks_like.case]
        elif shares:
            conditions = ["weight-sharing"]
        elif student.teachers_distilled():
            conditions = ["other-teacher"]
        elif student.same_data_as == teacher.name:
            conditions = ["same-data"]
        else:
            conditions = ["independent"]
        pairs.append(
            PairRecord(
                pair_id=f"{teacher.name}__{student.name}",
                teacher=teacher.name,
                student=student.name,
                label=int(bool(methods)),
                conditions=conditions + list(student.tags) + [t for t in teacher.tags if t not in student.tags],
                shares_weights_with_teacher=shares,
                split=student.split,
            )
        )
    # A hidden split's pairs are listed by their opaque ids: a position in the list must not give a condition away.
    return sorted(pairs, key=lambda p: p.pair_id) if pairs and all(p.split == "test" for p in pairs) else pairs


def load_manifest(workspace, suite: str) -> Manifest:  # noqa: ANN001 (paths.Workspace)
    """The manifest of a built or installed suite; one clear error if there is none."""
    from distillbench.errors import DistillBenchError
    from distillbench.files import read_model

    path = workspace.manifest_path(suite)
    if not path.is_file():
        raise DistillBenchError(f"suite {suite!r} has no manifest at {path}; run `distillbench zoo build --suite {suite}` first")
    return read_model(path, Manifest, "manifest")
