"""What a detector sees for one teacher/student pair: evidence cut to its access level, with masked ids.

Takes the manifest, the pool and the evidence store; produces `PairEvidence`. No labels, no model names, no
conditions. Pool texts are tagged only by their role for this pair (teacher, reference, corpus); texts that other
teachers generated are left out, and so are every model's scores of them, since knowing there are other teachers
already says something about the suite.

Ids say nothing beyond the pair. Pool-file ids run in source order (one block per teacher), model fingerprints of
the dev split are public, and pair names are stable, so none of them reaches a detector: every pair, model and
pool-text id it sees is an HMAC-SHA256 under a per-run key, and the pool, the references and every id-keyed dict
come in masked-id order. Ids are scoped by teacher: within a run, a text or model has the same id in every view of
one teacher's pairs (the teacher's, the student's and the references'), which a detector needs to line scores up
with texts and a reference's samples with its scores, and which says nothing the shared pool texts do not already
say. Across teachers, and across runs, the same reference or text has unrelated ids. Prompt ids are those of the
public probe set (the same for every model and split) and stay as they are.

The key is an explicit input: `run_key(identity)` derives one from the evidence digest and the detector's identity,
so the same command gives the same scores; contained runs on the hidden split draw `secrets.token_bytes(32)`
(`submission.execute.run_split`). `pair_id(pair)` is the
stable id the scorer joins on; `PairEvidence.pair_id` is the masked one.

A teacher behind a text-only API (a chat API: `real probe --api ID=local-chat-completions`) has generations but no
pool log-likelihoods. Its manifest record says so (`text_only_teacher`), and its view carries `logliks=None` on
every track: detectors that score the teacher's texts under the student and references (cross-likelihood,
membership) work as before, those that need the teacher's own log-probabilities abstain on its pairs.
"""

from __future__ import annotations

import functools
import hmac
import json
import time
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from distillbench.errors import DistillBenchError
from distillbench.evidence.store import EvidenceStore
from distillbench.files import read_jsonl, write_atomic
from distillbench.fingerprint import sha256_file, sha256_json
from distillbench.probe import hidden as _hidden_module
from distillbench.probe import tasks as _tasks_module
from distillbench.probe.hidden import HIDDEN_TASK, hidden_fingerprint
from distillbench.probe.tasks import GENERATE_TASK, POOL_TASK, TaskSet
from distillbench.zoo.manifest import Manifest, ModelRecord, PairRecord, load_manifest
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
    source_id: str | None  # masked id of the reference model that generated it (role "reference"), as in `references`
    context: str
    continuation: str


class ModelView(_Strict):
    model_id: str  # masked: the same model has the same id in every pair of one teacher in one run, nowhere else
    generations: dict[str, str]  # probe prompt id -> response
    logliks: dict[str, tuple[float, int]] | None = None  # pool text id -> (summed loglik, continuation bytes); gray-box+
    hidden: dict[str, list[float]] | None = None  # pool text id -> mean hidden state; white-box+, open models only


class TeacherSecret(_Strict):
    """What only the teacher's owner knows (teacher-side track): its watermark key and the tokenizer it scores with."""

    watermark: dict | None  # transformers WatermarkingConfig fields, or None for a teacher that does not watermark
    tokenizer_json: str


class PairEvidence(_Strict):
    pair_id: str  # masked per run; the scorer's stable id is `EvidenceView.pair_id`, which detectors never see
    access: AccessLevel
    prompts: dict[str, str]
    pool: list[PoolText]
    teacher: ModelView
    student: ModelView
    references: list[ModelView]
    teacher_secret: TeacherSecret | None = None  # teacher-side track only


CACHE_DIR = "detect-cache"  # in a suite's folder: file hashes (here) and cached verdicts (`detect.runner`)
ID_HEX = 16  # 64 bits: a collision within one teacher's pool (hundreds of texts) is checked for, not expected
MIN_KEY_BYTES = 16


def opaque_id(text: str) -> str:
    from hashlib import sha256

    return sha256(text.encode()).hexdigest()[:12]


def opaque_pair_id(suite: str, pair_id: str) -> str:
    """The stable id of a pair in verdicts files, which the scorer joins on (detectors see a masked one)."""
    return opaque_id(f"{suite}/{pair_id}")


def masked_id(key: bytes, kind: str, name: str) -> str:
    """HMAC-SHA256 of (kind, name) under `key`, cut to ID_HEX hex digits."""
    return hmac.digest(key, f"{kind}\x1f{name}".encode(), "sha256").hex()[:ID_HEX]


def check_run_key(run_key: bytes) -> bytes:
    if not isinstance(run_key, bytes | bytearray) or len(run_key) < MIN_KEY_BYTES:
        got = f"{len(run_key)} bytes" if isinstance(run_key, bytes | bytearray) else type(run_key).__name__
        raise DistillBenchError(f"a run key must be at least {MIN_KEY_BYTES} bytes (e.g. secrets.token_bytes(32)), "
                                f"got {got}")
    return bytes(run_key)


class _FileMemo:
    """Hashes and fingerprints of files, reused while every file they depend on keeps its (size, mtime, inode).

    Opening the standard suite otherwise re-hashes ~1,600 evidence files and ~530 pool subsets on every command
    (seconds), although they change only when a suite is re-probed. The rule is git's index: a file whose stat is
    unchanged is unchanged, except one modified within the last seconds before the memo was written (its mtime may
    not move on a quick rewrite), which is never memoised. A memo that cannot be read or written is ignored.
    """

    RACY_NS = 2_000_000_000

    def __init__(self, path: Path | None, trust: bool = True) -> None:
        self.path, self.entries, self.dirty = path, {}, False
        if trust and path is not None and path.is_file():
            try:
                self.entries = json.loads(path.read_text()).get("entries", {})
            except (OSError, ValueError, AttributeError):
                self.entries = {}

    @staticmethod
    def _stat(p: Path) -> list[int]:
        st = p.stat()
        return [st.st_size, st.st_mtime_ns, st.st_ino]

    def get(self, name: str, deps: list[Path], compute):  # noqa: ANN001, ANN201
        try:
            sig = [self._stat(p) for p in deps]
        except OSError:
            return compute()  # a missing file: let the computation report it
        hit = self.entries.get(name)
        if hit is not None and hit.get("sig") == sig:
            return hit["value"]
        value = compute()
        self.entries[name] = {"sig": sig, "value": value}
        self.dirty = True
        return value

    def save(self) -> None:
        if self.path is None or not self.dirty:
            return
        fresh = time.time_ns() - self.RACY_NS
        keep = {k: v for k, v in self.entries.items() if all(s[1] < fresh for s in v["sig"])}
        try:
            write_atomic(self.path, json.dumps({"entries": keep}, sort_keys=True))
            self.dirty = False
        except OSError:
            pass


@dataclass
class _Scope:
    """One teacher's pairs under one run key: masked ids, the pool in masked order, the views shared by its pairs."""

    key: bytes  # the teacher's sub-key, from which its texts' and models' ids are derived
    order: list[tuple[str, str]]  # (masked id, pool-file id), in masked order
    pool: list[PoolText]
    references: list[str]  # reference names, in masked-id order
    views: dict[tuple, ModelView]
    corpus_only: list[PoolText] | None = None  # the pool without model outputs, built on first use

    def model_id(self, name: str) -> str:
        return masked_id(self.key, "model", name)


# What a real suite's manifest records in a text-only teacher's provenance (`real.suite`): it answered prompts through
# a chat API, which returns no prompt log-probabilities, so it has no pool log-likelihoods to read.
TEXT_ONLY_EVIDENCE = "generations only (black-box)"


def text_only_teacher(record: ModelRecord) -> bool:
    """Whether a manifest's model is a teacher that returns text only (no pool log-likelihoods exist for it)."""
    return record.role == "teacher" and any(p.get("evidence") == TEXT_ONLY_EVIDENCE for p in record.provenance)


# The kinds of fixed evidence a detector may read (`uses`); "pool": the pool texts the teacher and references
# generated. It receives only those it declares, and each pair's cost counts what it received.
EVIDENCE_KINDS = frozenset({"generations", "logliks", "hidden", "pool"})


def _masked_view(full: ModelView, model_id: str, order: list[tuple[str, str]], uses: frozenset[str]) -> ModelView:
    """A model's evidence cut to one teacher's pool texts and to the kinds a detector reads, re-keyed to the texts'
    masked ids (in masked order)."""
    ll = full.logliks if "logliks" in uses else None
    hid = full.hidden if "hidden" in uses else None
    # Built without re-validation: every value comes from records validated when they were read.
    return ModelView.model_construct(
        model_id=model_id, generations=full.generations if "generations" in uses else {},
        logliks=None if ll is None else {new: ll[old] for new, old in order if old in ll},
        hidden=None if hid is None else {new: hid[old] for new, old in order if old in hid},
    )


def reads_pool_outputs(uses: frozenset[str]) -> bool:
    """Whether a detector gets the pool texts the teacher and references generated (not only the corpus texts):
    when it reads them (`pool`), or scores of them (`logliks`, `hidden`), which are meaningless without them."""
    return bool(uses & {"pool", "logliks", "hidden"})


class EvidenceView:
    """Builds `PairEvidence` for any pair of a manifest, loading each model's records once.

    `memo`: a file in which hashes of evidence and pool files are kept between commands (see `_FileMemo`); None
    recomputes them every time. `trust_memo=False` recomputes them and rewrites the memo.
    """

    MASK_CACHE_KEYS = 2  # scopes are kept for this many run keys (one detector's run, plus one interleaved)

    def __init__(self, manifest: Manifest, taskset: TaskSet, store: EvidenceStore, memo: Path | None = None,
                 trust_memo: bool = True) -> None:
        self.manifest = manifest
        self.store = store
        self.taskset = taskset
        self.pool_rows = read_jsonl(taskset.pool_path)
        self.suite_dir = taskset.pool_path.parent
        self._memo = _FileMemo(memo, trust_memo)
        self._fps: dict[Path, dict[str, str]] = {}
        self.reference_names = [m.name for m in manifest.models if m.role == "reference"]
        # Everything below depends on the teacher or the model alone, never on the pair: built once, shared by
        # every pair and detector that asks.
        self._cache: dict[tuple[str, AccessLevel], ModelView] = {}
        self._pools: dict[str, list[dict]] = {}
        self._scopes: dict[bytes, dict[str, _Scope]] = {}
        self._secrets: dict[str, TeacherSecret] = {}
        self._prompts: dict[str, str] | None = None
        self._digest: str | None = None

    def fps(self, name: str) -> dict[str, str]:
        """Task fingerprints of a model's records: the pool task depends on which pool file it scored (`zoo.pools`)."""
        pool = model_pool_path(self.suite_dir, self.manifest, name)
        if pool not in self._fps:
            ts = TaskSet(root=self.taskset.root, pool_path=pool)
            root = self.taskset.root
            # What the fingerprints read: the pool, the task files, and the code that defines them.
            deps = [pool, root / f"{GENERATE_TASK}.yaml", root / f"{POOL_TASK}.yaml", root / "utils.py",
                    ts.data_file(GENERATE_TASK), Path(_tasks_module.__file__), Path(_hidden_module.__file__)]
            self._fps[pool] = self._memo.get(f"fps|{self._lm_eval_version}|{pool}", deps, lambda: {
                GENERATE_TASK: ts.fingerprint(GENERATE_TASK), POOL_TASK: ts.fingerprint(POOL_TASK),
                HIDDEN_TASK: hidden_fingerprint(pool)})
        return self._fps[pool]

    @functools.cached_property
    def _lm_eval_version(self) -> str:
        from importlib import metadata

        try:
            return metadata.version("lm_eval")
        except metadata.PackageNotFoundError:
            return "not installed"

    def model_view(self, name: str, access: AccessLevel) -> ModelView:
        """A model's whole evidence under the pool-file ids (internal: detectors get `pair`'s masked cut of it)."""
        key = (name, access)
        if key not in self._cache:
            record = self.manifest.model(name)
            fp = record.fingerprint
            fps = self.fps(name)
            gen = self.store.get(fp, GENERATE_TASK, fps[GENERATE_TASK])
            lls = hidden = None
            # A text-only teacher has no likelihoods on any track: None, never an empty dict that reads as "scored
            # nothing".
            if access.rank >= AccessLevel.GRAY_BOX.rank and not text_only_teacher(record):
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
            files = {}
            for m in self.manifest.models:
                if m.role == "base":
                    continue
                for task, fp in self.fps(m.name).items():
                    if self.store.has(m.fingerprint, task, fp):
                        path = self.store.path(m.fingerprint, task, fp)
                        files[f"{m.name}/{task}"] = self._memo.get(f"sha256|{path}", [path],
                                                                   lambda path=path: sha256_file(path))
            self._digest = sha256_json({"evidence": files, "pool": self.manifest.pool.sha256})
            self._memo.save()
        return self._digest

    def run_key(self, identity: str = "") -> bytes:
        """The default key ids are masked with: a function of the evidence digest and who runs (e.g. the detector's
        name), so the same command gives the same ids and scores. Pass a random key for runs that must not be."""
        return hmac.digest(bytes.fromhex(self.digest()), f"distillbench run key\x1f{identity}".encode(), "sha256")

    def pair_id(self, pair: PairRecord) -> str:
        """The pair's stable id: what verdicts files record and the scorer joins on; never shown to a detector."""
        return opaque_pair_id(self.manifest.suite, pair.pair_id)

    def _pool_rows(self, teacher: str) -> list[dict]:
        """The pool rows the pairs of one teacher see: its own texts, the references' and the corpus."""
        if teacher not in self._pools:
            keep = {teacher, *self.reference_names, "corpus"}
            self._pools[teacher] = [r for r in self.pool_rows if r["source"] in keep]
        return self._pools[teacher]

    def _scope(self, teacher: str, run_key: bytes) -> _Scope:
        scopes = self._scopes.get(run_key)
        if scopes is None:
            while len(self._scopes) >= self.MASK_CACHE_KEYS:
                del self._scopes[next(iter(self._scopes))]
            scopes = self._scopes[run_key] = {}
        if teacher not in scopes:
            sub = hmac.digest(run_key, f"teacher\x1f{teacher}".encode(), "sha256")
            rows = self._pool_rows(teacher)
            new = {r["id"]: masked_id(sub, "text", r["id"]) for r in rows}
            if len(set(new.values())) != len(new):
                raise DistillBenchError(f"masked text ids collide for teacher {teacher}; run with another key")
            ref_ids = {r: masked_id(sub, "model", r) for r in self.reference_names}
            roles = {teacher: "teacher", **{r: "reference" for r in self.reference_names}, "corpus": "corpus"}
            kinds = {"sample": "", "logged": "-logged", "fresh": "-fresh", "corpus": ""}
            pool = sorted((PoolText(id=new[r["id"]], role=roles[r["source"]] + kinds[r["kind"]],
                                    source_id=ref_ids.get(r["source"]), context=r["context"],
                                    continuation=r["continuation"]) for r in rows), key=lambda t: t.id)
            scopes[teacher] = _Scope(key=sub, order=sorted((v, k) for k, v in new.items()), pool=pool,
                                     references=sorted(self.reference_names, key=ref_ids.__getitem__), views={})
        return scopes[teacher]

    def _view_in(self, scope: _Scope, name: str, access: AccessLevel, uses: frozenset[str], keep: bool) -> ModelView:
        """`name`'s evidence as one teacher's pairs see it; `keep` for the views every pair of the teacher shares."""
        if (name, access, uses) in scope.views:
            return scope.views[(name, access, uses)]
        view = _masked_view(self.model_view(name, access), scope.model_id(name), scope.order, uses)
        if keep:
            scope.views[(name, access, uses)] = view
        return view

    def pair(self, pair: PairRecord, access: AccessLevel, run_key: bytes | None = None,
             uses: frozenset[str] | None = None) -> PairEvidence:
        """The evidence of one pair at one access level, ids masked under `run_key` (default: `run_key()`), cut to
        the evidence kinds in `uses` (default: all): a detector receives what it declares it reads, and its cost is
        counted from what it received (`query.meter.evidence_queries`)."""
        key = self.run_key() if run_key is None else check_run_key(run_key)
        uses = EVIDENCE_KINDS if uses is None else frozenset(uses)
        scope = self._scope(pair.teacher, key)
        if not reads_pool_outputs(uses) and scope.corpus_only is None:
            scope.corpus_only = [t for t in scope.pool if t.role == "corpus"]
        return PairEvidence(
            pair_id=masked_id(key, "pair", pair.pair_id),
            access=access,
            prompts=self.prompts(),
            pool=scope.pool if reads_pool_outputs(uses) else scope.corpus_only,
            teacher=self._view_in(scope, pair.teacher, access, uses, keep=True),
            student=self._view_in(scope, pair.student, access, uses, keep=False),
            references=[self._view_in(scope, r, access, uses, keep=True) for r in scope.references],
            teacher_secret=self.teacher_secret(pair.teacher) if access is AccessLevel.TEACHER_SIDE else None,
        )
    def shown_models(self, pair: PairRecord, run_key: bytes | None = None) -> dict[str, tuple[str, str]]:
        """The harness's side of `pair`'s query client: each model id the detector is shown -> (model name, role)."""
        key = self.run_key() if run_key is None else check_run_key(run_key)
        scope = self._scope(pair.teacher, key)
        return {"teacher": (pair.teacher, "teacher"), "student": (pair.student, "student"),
                **{scope.model_id(r): (r, "reference") for r in scope.references}}

    def teacher_secret(self, teacher: str) -> TeacherSecret:
        if teacher not in self._secrets:
            model_dir = self.suite_dir / self.manifest.model(teacher).path
            if not model_dir.is_dir():  # installed from published evidence: only the teacher's two files ship
                model_dir = self.suite_dir / "teachers" / teacher
            if not (model_dir / "generation_config.json").is_file():
                raise DistillBenchError(f"teacher {teacher} has no generation config and tokenizer in {model_dir}: "
                                        "the teacher-side track needs the vendor's own files (an API teacher has none)")
            gen = json.loads((model_dir / "generation_config.json").read_text())
            # A SynthID teacher keeps its config under its own key (`zoo.watermarks.SYNTHID_KEY`; not imported here:
            # it imports torch): transformers cannot reload a SynthID config saved as `watermarking_config`.
            watermark = gen.get("watermarking_config") or gen.get("synthid_watermarking_config")
            self._secrets[teacher] = TeacherSecret(watermark=watermark,
                                                   tokenizer_json=(model_dir / "tokenizer.json").read_text())
        return self._secrets[teacher]


load_suite_manifest = load_manifest  # the manifest without importing the builder (torch)


def open_suite_view(workspace, suite: str, memo: bool = True) -> EvidenceView:  # noqa: ANN001 (Workspace)
    """The evidence view of a built and probed suite (by name) in a workspace; one clear error if evidence is missing.

    `memo`: reuse the file hashes kept in the suite's `detect-cache/` (False: hash every file afresh, and keep those).
    """
    from distillbench.probe.tasks import tasks_dir

    manifest = load_suite_manifest(workspace, suite)
    suite_dir = workspace.suite_dir(suite)
    taskset = TaskSet(root=tasks_dir(), pool_path=suite_dir / manifest.pool.path)
    view = EvidenceView(manifest, taskset, EvidenceStore(workspace.evidence_dir),
                        memo=suite_dir / CACHE_DIR / "files.json", trust_memo=memo)
    # Teachers are APIs: they have no hidden-state evidence, and a text-only one no pool log-likelihoods.
    missing = [m.name for m in manifest.models
               if m.role != "base" and not all(view.store.has(m.fingerprint, t, fp) for t, fp in view.fps(m.name).items()
                                               if not (t == HIDDEN_TASK and m.role == "teacher")
                                               and not (t == POOL_TASK and text_only_teacher(m)))]
    view._memo.save()
    if missing:
        raise DistillBenchError(f"no evidence for {', '.join(missing)} in {workspace.home}; run "
                                f"`distillbench run --suite {suite}` (or `distillbench probe --suite {suite}`) first")
    return view
