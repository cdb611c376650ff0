"""What a detector sees for one teacher/student pair: evidence cut to its access level, with opaque ids.

Takes the manifest, the pool and the evidence store; produces `PairEvidence`. No labels, no model names, no
conditions: model ids are fingerprint prefixes and pair ids are hashes, so a detector cannot read the answer off
the question. Pool texts are tagged only by their role for this pair (teacher, reference, corpus); texts that other
teachers generated are left out, since knowing there are other teachers already says something about the suite.
"""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from distillbench.evidence.store import EvidenceStore
from distillbench.files import read_jsonl
from distillbench.fingerprint import sha256_json
from distillbench.probe.hidden import HIDDEN_TASK, hidden_fingerprint
from distillbench.probe.tasks import GENERATE_TASK, POOL_TASK, TaskSet
from distillbench.zoo.manifest import Manifest, PairRecord
from distillbench.zoo.pools import model_pool_path


class AccessLevel(str, Enum):
    """Tracks, in increasing order of access; each includes everything the ones before it may use."""

    BLACK_BOX = "black-box"
    GRAY_BOX = "gray-box"
    WHITE_BOX = "white-box"
    TEACHER_SIDE = "teacher-side"

    @property
    def rank(self) -> int:
        return list(AccessLevel).index(self)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PoolText(_Strict):
    id: str
    # "teacher": the teacher's answer to a pool prompt; "teacher-logged": an answer the teacher's API served to
    # distillers' prompts (from the vendor's log); "teacher-fresh": a new sample for the same prompt;
    # "reference": a reference model's answer; "corpus": held-out human-style text.
    role: str
    source_id: str | None  # opaque id of the reference model that generated it (role "reference")
    context: str
    continuation: str


class ModelView(_Strict):
    model_id: str
    generations: dict[str, str]  # probe prompt id -> response
    logliks: dict[str, tuple[float, int]] | None = None  # pool text id -> (summed loglik, continuation bytes); gray-box+
    hidden: dict[str, list[float]] | None = None  # pool text id -> mean hidden state; white-box+, open models only


class TeacherSecret(_Strict):
    """What only the teacher's owner knows (teacher-side track): its watermark key and the tokenizer it scores with."""

    watermark: dict | None  # transformers WatermarkingConfig fields, or None for a teacher that does not watermark
    tokenizer_json: str


class PairEvidence(_Strict):
    pair_id: str
    access: AccessLevel
    prompts: dict[str, str]
    pool: list[PoolText]
    teacher: ModelView
    student: ModelView
    references: list[ModelView]
    teacher_secret: TeacherSecret | None = None  # teacher-side track only


def opaque_id(text: str) -> str:
    from hashlib import sha256

    return sha256(text.encode()).hexdigest()[:12]


def opaque_pair_id(suite: str, pair_id: str) -> str:
    """The id a detector sees for a pair; the scorer maps it back through the same function."""
    return opaque_id(f"{suite}/{pair_id}")


class EvidenceView:
    """Builds `PairEvidence` for any pair of a manifest, loading each model's records once."""

    def __init__(self, manifest: Manifest, taskset: TaskSet, store: EvidenceStore) -> None:
        self.manifest = manifest
        self.store = store
        self.taskset = taskset
        self.pool_rows = read_jsonl(taskset.pool_path)
        self.suite_dir = taskset.pool_path.parent
        self._fps: dict[Path, dict[str, str]] = {}
        self.reference_names = [m.name for m in manifest.models if m.role == "reference"]
        # Everything below depends on the teacher or the model alone, never on the pair: built once, shared by
        # every pair and detector that asks.
        self._cache: dict[tuple[str, AccessLevel], ModelView] = {}
        self._cut: dict[tuple[str, AccessLevel, str], ModelView] = {}
        self._pools: dict[str, list[PoolText]] = {}
        self._secrets: dict[str, TeacherSecret] = {}
        self._prompts: dict[str, str] | None = None
        self._digest: str | None = None

    def fps(self, name: str) -> dict[str, str]:
        """Task fingerprints of a model's records: the pool task depends on which pool file it scored (`zoo.pools`)."""
        pool = model_pool_path(self.suite_dir, self.manifest, name)
        if pool not in self._fps:
            ts = TaskSet(root=self.taskset.root, pool_path=pool)
            self._fps[pool] = {GENERATE_TASK: ts.fingerprint(GENERATE_TASK), POOL_TASK: ts.fingerprint(POOL_TASK),
                               HIDDEN_TASK: hidden_fingerprint(pool)}
        return self._fps[pool]

    def model_id(self, name: str) -> str:
        return self.manifest.model(name).fingerprint[:12]

    def model_view(self, name: str, access: AccessLevel) -> ModelView:
        key = (name, access)
        if key not in self._cache:
            record = self.manifest.model(name)
            fp = record.fingerprint
            fps = self.fps(name)
            gen = self.store.get(fp, GENERATE_TASK, fps[GENERATE_TASK])
            lls = hidden = None
            if access.rank >= AccessLevel.GRAY_BOX.rank:
                rec = self.store.get(fp, POOL_TASK, fps[POOL_TASK])
                lls = {x.id: (x.loglik, x.n_bytes) for x in rec.logliks}
            # Teachers are APIs on every track: their internals are never evidence.
            if access.rank >= AccessLevel.WHITE_BOX.rank and record.role != "teacher":
                rec = self.store.get(fp, HIDDEN_TASK, fps[HIDDEN_TASK])
                hidden = {x.id: x.vector for x in rec.hidden}
            self._cache[key] = ModelView(model_id=fp[:12], generations={g.id: g.response for g in gen.generations},
                                         logliks=lls, hidden=hidden)
        return self._cache[key]

    def prompts(self) -> dict[str, str]:
        if self._prompts is None:
            first = next(m for m in self.manifest.models if m.role == "teacher")
            rec = self.store.get(first.fingerprint, GENERATE_TASK, self.fps(first.name)[GENERATE_TASK])
            self._prompts = {g.id: g.prompt for g in rec.generations}
        return self._prompts

    def digest(self) -> str:
        """One hash for all the evidence a suite's detectors read: every record file plus the pool (computed once)."""
        if self._digest is None:
            files = {
                f"{m.name}/{task}": self.store.file_hash(m.fingerprint, task, fp)
                for m in self.manifest.models if m.role != "base" for task, fp in self.fps(m.name).items()
                if self.store.has(m.fingerprint, task, fp)
            }
            self._digest = sha256_json({"evidence": files, "pool": self.manifest.pool.sha256})
        return self._digest

    def pair_id(self, pair: PairRecord) -> str:
        return opaque_pair_id(self.manifest.suite, pair.pair_id)

    def pool(self, teacher: str) -> list[PoolText]:
        """The pool as the pairs of one teacher see it: roles relative to that teacher, other teachers' texts out."""
        if teacher not in self._pools:
            roles = {teacher: "teacher", **{r: "reference" for r in self.reference_names}, "corpus": "corpus"}
            ref_ids = {r: self.model_id(r) for r in self.reference_names}
            kinds = {"sample": "", "logged": "-logged", "fresh": "-fresh", "corpus": ""}
            self._pools[teacher] = [
                PoolText(id=r["id"], role=roles[r["source"]] + kinds[r["kind"]], source_id=ref_ids.get(r["source"]),
                         context=r["context"], continuation=r["continuation"])
                for r in self.pool_rows if r["source"] in roles
            ]
        return self._pools[teacher]

    def pair_view(self, name: str, access: AccessLevel, teacher: str) -> ModelView:
        """A model's evidence cut to the texts of one teacher's pool: a detector sees scores of its pair's texts only
        (references score every teacher's texts; what they scored for other teachers is not this pair's evidence)."""
        key = (name, access, teacher)
        if key not in self._cut:
            full = self.model_view(name, access)
            ids = {t.id for t in self.pool(teacher)}
            self._cut[key] = full.model_copy(update={
                "logliks": None if full.logliks is None else {i: v for i, v in full.logliks.items() if i in ids},
                "hidden": None if full.hidden is None else {i: v for i, v in full.hidden.items() if i in ids},
            })
        return self._cut[key]

    def pair(self, pair: PairRecord, access: AccessLevel) -> PairEvidence:
        return PairEvidence(
            pair_id=self.pair_id(pair),
            access=access,
            prompts=self.prompts(),
            pool=self.pool(pair.teacher),
            teacher=self.pair_view(pair.teacher, access, pair.teacher),
            student=self.pair_view(pair.student, access, pair.teacher),
            references=[self.pair_view(r, access, pair.teacher) for r in self.reference_names],
            teacher_secret=self.teacher_secret(pair.teacher) if access is AccessLevel.TEACHER_SIDE else None,
        )

    def teacher_secret(self, teacher: str) -> TeacherSecret:
        if teacher not in self._secrets:
            model_dir = self.suite_dir / self.manifest.model(teacher).path
            if not model_dir.is_dir():  # installed from published evidence: only the teacher's two files ship
                model_dir = self.suite_dir / "teachers" / teacher
            if not (model_dir / "generation_config.json").is_file():
                from distillbench.errors import DistillBenchError

                raise DistillBenchError(f"teacher {teacher} has no generation config and tokenizer in {model_dir}: "
                                        "the teacher-side track needs the vendor's own files (an API teacher has none)")
            gen = json.loads((model_dir / "generation_config.json").read_text())
            self._secrets[teacher] = TeacherSecret(watermark=gen.get("watermarking_config"),
                                                   tokenizer_json=(model_dir / "tokenizer.json").read_text())
        return self._secrets[teacher]


def open_suite_view(workspace, suite: str) -> EvidenceView:
    """The evidence view of a built and probed suite (by name) in a workspace; one clear error if evidence is missing."""
    from distillbench.errors import DistillBenchError
    from distillbench.evidence.store import EvidenceStore
    from distillbench.probe.tasks import tasks_dir
    from distillbench.zoo.build import load_manifest

    manifest = load_manifest(workspace, suite)
    taskset = TaskSet(root=tasks_dir(), pool_path=workspace.suite_dir(suite) / manifest.pool.path)
    view = EvidenceView(manifest, taskset, EvidenceStore(workspace.evidence_dir))
    # Teachers are APIs: they have no hidden-state evidence.
    missing = [m.name for m in manifest.models
               if m.role != "base" and not all(view.store.has(m.fingerprint, t, fp) for t, fp in view.fps(m.name).items()
                                               if not (t == HIDDEN_TASK and m.role == "teacher"))]
    if missing:
        raise DistillBenchError(f"no evidence for {', '.join(missing)} in {workspace.home}; run "
                                f"`distillbench run --suite {suite}` (or `distillbench probe --suite {suite}`) first")
    return view
