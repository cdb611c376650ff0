"""A real suite: a registry selection probed through lm-eval into the same files a synthetic suite has.

Takes the registry, a selection of its pairs and the probe options; produces in the workspace, under
`suites/<name>/`, the `manifest.json` (schema `distillbench.zoo.manifest.Manifest`: models, labelled pairs with their
conditions and weight sharing, the pool's hash), the `pool.jsonl`, and `real_suite.json` (which registry entries and
commits were used, how each model was reached); and in the shared evidence store the usual records. From there the
ordinary `distillbench evaluate --suite <name>` runs the same detectors and scorer as on synthetic suites.

Steps, each skipped where its evidence is already stored (so a second run downloads and runs nothing):
1. teachers and references answer the pool prompts (`distillbench_pool_generate`) -> `pool.jsonl`;
2. every model runs the probe tasks (`distillbench_generate`, `distillbench_pool`), once per backend group;
3. students and references get the white-box hidden-state pass (teachers are APIs on every track).
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from distillbench.errors import DistillBenchError
from distillbench.evidence.store import EvidenceStore
from distillbench.evidence.view import TEXT_ONLY_EVIDENCE
from distillbench.files import write_model
from distillbench.fingerprint import sha256_file, sha256_json, versions
from distillbench.paths import Workspace
from distillbench.probe.runner import ProbeReport, ProbeTarget, probe_hidden_states, probe_models
from distillbench.probe.tasks import POOL_GENERATE_TASK, TaskSet, tasks_dir
from distillbench.real.pool import write_pool
from distillbench.real.registry import Registry, Selection
from distillbench.real.targets import ProbeOptions, RealTarget, fetch, resolve_targets, snapshot_dir
from distillbench.zoo.manifest import Manifest, ModelRecord, PairRecord, TeacherApi

REAL_SUITE_SCHEMA_VERSION = 1
REAL_SUITE_FILE = "real_suite.json"
SUITE_NAME = r"^[a-z0-9][a-z0-9._-]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RealModelUse(_Strict):
    """How one model of the suite was reached: enough to reproduce the run or to see why evidence differs."""

    id: str
    role: str
    source: str  # local, hub, api
    backend: str
    revision: str | None  # the commit probed (Hub); None for a local stand-in or an API
    revision_pinned_in_registry: bool  # False: --allow-unpinned resolved the head of main at probe time
    generation_only: bool  # an API without log-likelihoods: black-box evidence only
    fingerprint: str


class RealSuiteRecord(_Strict):
    """`suites/<name>/real_suite.json`: which registry entries a real suite is made of."""

    schema_version: int = REAL_SUITE_SCHEMA_VERSION
    suite: str
    registry_path: str
    registry_sha256: str
    pairs: list[str]  # registry pair ids
    references: list[str]
    models: list[RealModelUse]
    pool_prompts_sha256: str


def check_suite_name(name: str) -> None:
    from distillbench.zoo.spec import available_suites

    if not re.match(SUITE_NAME, name):
        raise DistillBenchError(f"suite name {name!r}: use lower-case letters, digits, '.', '_' and '-' (it names a "
                                "folder), e.g. real-r1")
    if name in available_suites():
        raise DistillBenchError(f"{name!r} is a bundled synthetic suite; give the real suite another name (e.g. "
                                f"real-{name})")


def _needs(probe: ProbeTarget, taskset: TaskSet, store: EvidenceStore) -> bool:
    return any(not store.has(probe.fingerprint, t, taskset.fingerprint(t)) for t in probe.tasks)


def _fetch_needed(targets: dict[str, RealTarget], ids: list[str], needed, registry: Registry) -> None:
    """Download (Hub) only the models some missing evidence needs; in place."""
    for model_id in ids:
        if needed(targets[model_id]):
            targets[model_id] = fetch(targets[model_id], registry)


def _probe(groups: list[tuple[RealTarget, ProbeTarget]], taskset: TaskSet, store: EvidenceStore, opts: ProbeOptions,
           progress: bool) -> ProbeReport:
    """One `probe_models` call per backend: a suite may mix local weights with a teacher behind an API."""
    total = ProbeReport()
    for backend in sorted({t.backend for t, _ in groups}):
        mine = [(t, p) for t, p in groups if t.backend == backend]
        api = mine[0][0].is_api
        report = probe_models([p for _, p in mine], taskset, store, backend=backend,
                              device=None if api else opts.device, batch_size=opts.batch_size, progress=progress)
        total.model_calls += report.model_calls
        total.records_written += report.records_written
        total.records_cached += report.records_cached
        total.seconds_per_model.update(report.seconds_per_model)
    return total


def _model_record(t: RealTarget, registry: Registry) -> ModelRecord:
    entry = registry.model(t.model_id)
    if t.local_dir is not None:
        path = str(t.local_dir)
    elif t.source == "hub":
        path = str(snapshot_dir(t.model_id, t.revision))
    else:
        path = f"api:{t.backend}"  # nothing on disk: the teacher-side track has no secret for an API teacher
    weights = t.local_dir / "model.safetensors" if t.local_dir is not None else None
    shown_args = ({k: v for k, v in t.probe.model_args.items() if k in ("model", "base_url")} if t.is_api
                  else {k: v for k, v in t.probe.model_args.items() if k != "pretrained"})
    return ModelRecord(
        name=t.model_id, role=t.role, path=path,
        # Hub weights are identified by their commit (in provenance), not hashed here: sharded checkpoints have no
        # single weights file, and hashing 140 GB to name a commit adds nothing.
        sha256=sha256_file(weights) if weights is not None and weights.is_file() else "",
        fingerprint=t.probe.fingerprint, spec_sha256=sha256_json(entry.model_dump(mode="json")), arch={}, seed=0,
        persona=None, init=None,
        provenance=[{"kind": f"real-{t.source}", "id": t.model_id, "revision": t.revision,
                     "revision_pinned_in_registry": t.revision_pinned_in_registry,
                     "revision_source": entry.revision_source, "backend": t.backend, "model_args": shown_args,
                     "chat_template": bool(t.probe.evaluate_args.get("apply_chat_template")),
                     "evidence": (TEXT_ONLY_EVIDENCE if t.generation_only
                                  else "generations and log-likelihoods")}],
        n_params=0,  # unknown without loading the weights; the registry cites each model's card
    )


def build_real_suite(
    name: str, registry: Registry, registry_path: Path, selection: Selection, opts: ProbeOptions, ws: Workspace,
    prompts_path: Path, progress: bool = True,
) -> tuple[Manifest, dict[str, ProbeReport]]:
    """Probe a selection and write its manifest, pool and record; returns the manifest and a report per step."""
    check_suite_name(name)
    if not prompts_path.is_file():
        raise DistillBenchError(f"pool prompts {prompts_path} do not exist")
    targets = {t.model_id: t for t in resolve_targets(registry, selection, opts)}
    ids = selection.model_ids()
    sources = [m for m in ids if targets[m].role in ("teacher", "reference")]
    store = EvidenceStore(ws.evidence_dir)
    reports: dict[str, ProbeReport] = {}

    # 1. The pool: teachers' and references' answers to the pool prompts.
    gen_set = TaskSet(root=tasks_dir(), pool_path=prompts_path)
    _fetch_needed(targets, sources, lambda t: _needs(t.pool_generator(), gen_set, store), registry)
    reports["pool answers"] = _probe([(targets[m], targets[m].pool_generator()) for m in sources], gen_set, store,
                                     opts, progress)
    gen_fp = gen_set.fingerprint(POOL_GENERATE_TASK)
    answers = [(m, store.get(targets[m].probe.fingerprint, POOL_GENERATE_TASK, gen_fp)) for m in sources]
    pool = write_pool(answers, prompts_path, ws.pool_path(name))

    # 2. Every model over the probe tasks, the pool now fixed.
    taskset = TaskSet(root=tasks_dir(), pool_path=ws.pool_path(name))
    _fetch_needed(targets, ids, lambda t: _needs(t.probe, taskset, store), registry)
    reports["probe"] = _probe([(targets[m], targets[m].probe) for m in ids], taskset, store, opts, progress)

    # 3. White-box evidence for the open models that are not teachers.
    from distillbench.probe.hidden import HIDDEN_TASK, hidden_fingerprint

    hidden_fp = hidden_fingerprint(ws.pool_path(name))
    open_ids = [m for m in ids if targets[m].role != "teacher"]
    _fetch_needed(targets, open_ids, lambda t: not store.has(t.probe.fingerprint, HIDDEN_TASK, hidden_fp), registry)
    reports["hidden states"] = probe_hidden_states([targets[m].probe for m in open_ids], ws.pool_path(name), store,
                                                   device=opts.device or "cpu", progress=progress)

    pairs = [PairRecord(pair_id=p.pair_id, teacher=p.teacher, student=p.student, label=p.label,
                        conditions=list(p.conditions), shares_weights_with_teacher=p.shares_weights_with_teacher,
                        split="dev")
             for p in selection.pairs]
    record = RealSuiteRecord(
        suite=name, registry_path=str(registry_path), registry_sha256=sha256_file(registry_path),
        pairs=[p.pair_id for p in selection.pairs], references=list(selection.references),
        models=[RealModelUse(id=t.model_id, role=t.role, source=t.source, backend=t.backend, revision=t.revision,
                             revision_pinned_in_registry=t.revision_pinned_in_registry,
                             generation_only=t.generation_only, fingerprint=t.probe.fingerprint)
                for t in (targets[m] for m in ids)],
        pool_prompts_sha256=sha256_file(prompts_path),
    )
    manifest = Manifest(
        suite=name, suite_spec_sha256=sha256_json(record.model_dump(mode="json", exclude={"registry_path"})),
        corpus_seed=0,  # no synthetic corpus: the pool is the models' own answers plus the prompts' text
        versions=versions(), tokenizer_sha256="",  # real models bring their own tokenizers
        models=[_model_record(targets[m], registry) for m in ids], pairs=pairs, pool=pool,
        # A text-only teacher serves no log-probabilities: query detectors may only `generate` from it (the harness
        # refuses `score`/`top_k`). Suite-wide, so with mixed teachers the strictest API sets it.
        teacher_api=TeacherApi(logprobs=not any(targets[m].generation_only for m in ids)),
    )
    write_model(ws.suite_dir(name) / REAL_SUITE_FILE, record)
    write_model(ws.manifest_path(name), manifest)
    return manifest, reports


def read_real_suite(home: Path, name: str) -> RealSuiteRecord | None:
    """The record of a real suite in a workspace, or None for a synthetic suite (or none at all)."""
    from distillbench.files import read_model

    path = Path(home) / "suites" / name / REAL_SUITE_FILE
    return read_model(path, RealSuiteRecord, "real-suite record") if path.is_file() else None
