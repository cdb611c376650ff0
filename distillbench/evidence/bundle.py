"""Published evidence: a built suite's probe evidence in a compact folder that ships with the repository.

Takes a built and probed suite; produces `leaderboard/evidence/<suite>/` (parquet tables, the manifest, the teachers'
public secrets), and installs it back into any workspace, so a method author on a fresh clone runs
`distillbench evaluate --detector NAME` on the whole dev split in seconds without building a model.

Installed evidence is the same bytes as probed evidence: every record file is rebuilt exactly and checked against
the sha256 the export recorded, so results computed on a built suite and on the published one carry the same
evidence hash. Only public splits are published: a suite with hidden-split pairs is refused.

Layout of a bundle folder:
    bundle.json          index (schema `BundleIndex`): suite, versions, every record's key and sha256
    manifest.json        the suite's manifest, labels included (public for a dev split)
    pool.parquet         the probe text pool
    generations.parquet  model_fingerprint, id, prompt, response
    logliks.parquet      model_fingerprint, id, loglik, n_bytes, is_greedy
    hidden.parquet       model_fingerprint, id, vector (int32, 1e-4 units; hidden states are stored at 4 decimals)
    teachers/<name>/     generation_config.json (watermark key) and tokenizer.json: the teacher-side track's inputs
    tasks/               a chat or reasoning suite's own copy of the probe tasks (`probe.tasks.SUITE_TASKS`), if any
    watermark_cost.json  what watermarking costs each watermarked teacher (`zoo.watermarks`), if any
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict

from distillbench.errors import DistillBenchError
from distillbench.evidence.schema import EvidenceRecord, Generation, Hidden, Loglik
from distillbench.evidence.store import EvidenceStore
from distillbench.files import read_jsonl, read_model, write_atomic, write_jsonl, write_model
from distillbench.fingerprint import sha256_file, versions
from distillbench.paths import Workspace
from distillbench.probe.tasks import SUITE_TASKS
from distillbench.zoo.manifest import Manifest
from distillbench.zoo.pools import model_pool_path, write_model_pools

BUNDLE_SCHEMA_VERSION = 1
TEACHER_FILES = ("generation_config.json", "tokenizer.json")
NEG_ZERO = -(2**31)  # -0.0 survives a JSON round trip as "-0.0"; it needs its own code to come back byte-identical


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BundledRecord(_Strict):
    model_fingerprint: str
    task: str
    task_fingerprint: str
    kind: str
    lm_eval_version: str
    backend: str
    sha256: str  # of the record file as the store writes it


class BundleIndex(_Strict):
    schema_version: int = BUNDLE_SCHEMA_VERSION
    suite: str
    manifest_sha256: str
    versions: dict[str, str]
    records: list[BundledRecord]
    teachers: list[str]
    # Files of the suite folder a reader of its evidence needs besides the records (`SUITE_FILES`): a chat or
    # reasoning suite's own copy of the probe tasks (`probe.tasks.SUITE_TASKS`, installed before the records are
    # checked: their fingerprints come from it) and the watermarks' cost to the teachers (shown on the site). Path
    # relative to the suite folder -> sha256. Empty for suites that have neither (and absent from older bundles).
    suite_files: dict[str, str] = {}


def bundles_dir() -> Path:
    """`$DISTILLBENCH_PUBLISHED`, else `leaderboard/evidence/` of the checkout the package runs from (an editable
    install, like `tasks/`)."""
    return Path(os.environ.get("DISTILLBENCH_PUBLISHED") or Path(__file__).resolve().parents[2] / "leaderboard" / "evidence")


def _write_table(path: Path, columns: dict[str, list], schema: pa.Schema) -> None:
    """Into the export's partial folder, which appears under its name only once every file is written."""
    pq.write_table(pa.table(columns, schema=schema), path, compression="zstd", compression_level=19)


def _hidden_code(x: float) -> int:
    if x == 0 and str(x).startswith("-"):
        return NEG_ZERO
    return round(x * 10_000)


def _hidden_value(code: int) -> float:
    return -0.0 if code == NEG_ZERO else code / 10_000


GEN_SCHEMA = pa.schema([("model_fingerprint", pa.string()), ("id", pa.string()), ("prompt", pa.string()),
                        ("response", pa.string())])
LL_SCHEMA = pa.schema([("model_fingerprint", pa.string()), ("id", pa.string()), ("loglik", pa.float64()),
                       ("n_bytes", pa.int32()), ("is_greedy", pa.bool_())])
HIDDEN_SCHEMA = pa.schema([("model_fingerprint", pa.string()), ("id", pa.string()), ("vector", pa.list_(pa.int32()))])


def export_bundle(ws: Workspace, suite: str, out: Path, view) -> BundleIndex:  # noqa: ANN001 (EvidenceView)
    """Write the bundle of a built, probed suite (its `EvidenceView`, which knows which records the detectors read)."""
    manifest = view.manifest
    if any(p.split != "dev" for p in manifest.pairs):
        raise DistillBenchError(f"suite {suite} has hidden-split pairs; only public dev splits are published")
    suite_dir = ws.suite_dir(suite)
    records: list[EvidenceRecord] = []
    index: list[BundledRecord] = []
    for m in manifest.models:
        if m.role == "base":
            continue
        for task, fp in view.fps(m.name).items():
            if not view.store.has(m.fingerprint, task, fp):
                continue  # teachers have no hidden-state record
            rec = view.store.get(m.fingerprint, task, fp)
            records.append(rec)
            index.append(BundledRecord(model_fingerprint=rec.model_fingerprint, task=rec.task,
                                       task_fingerprint=rec.task_fingerprint, kind=rec.kind,
                                       lm_eval_version=rec.lm_eval_version, backend=rec.backend,
                                       sha256=view.store.file_hash(m.fingerprint, task, fp)))
    tmp = out.with_name(f".{out.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    gens = [(r.model_fingerprint, g) for r in records for g in r.generations]
    _write_table(tmp / "generations.parquet", {
        "model_fingerprint": [f for f, _ in gens], "id": [g.id for _, g in gens],
        "prompt": [g.prompt for _, g in gens], "response": [g.response for _, g in gens]}, GEN_SCHEMA)
    lls = [(r.model_fingerprint, x) for r in records for x in r.logliks]
    _write_table(tmp / "logliks.parquet", {
        "model_fingerprint": [f for f, _ in lls], "id": [x.id for _, x in lls], "loglik": [x.loglik for _, x in lls],
        "n_bytes": [x.n_bytes for _, x in lls], "is_greedy": [x.is_greedy for _, x in lls]}, LL_SCHEMA)
    hid = [(r.model_fingerprint, x) for r in records for x in r.hidden]
    _write_table(tmp / "hidden.parquet", {
        "model_fingerprint": [f for f, _ in hid], "id": [x.id for _, x in hid],
        "vector": [[_hidden_code(v) for v in x.vector] for _, x in hid]}, HIDDEN_SCHEMA)
    pool = read_jsonl(suite_dir / manifest.pool.path)
    _write_table(tmp / "pool.parquet", {k: [r[k] for r in pool] for k in ("id", "source", "kind", "context", "continuation")},
                 pa.schema([(k, pa.string()) for k in ("id", "source", "kind", "context", "continuation")]))
    teachers = [m.name for m in manifest.models if m.role == "teacher"]
    for name in teachers:
        for fname in TEACHER_FILES:
            src = suite_dir / manifest.model(name).path / fname
            (tmp / "teachers" / name).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, tmp / "teachers" / name / fname)
    extra: dict[str, str] = {}
    for src in _suite_files(suite_dir):
        rel = src.relative_to(suite_dir).as_posix()
        (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, tmp / rel)
        extra[rel] = sha256_file(src)
    shutil.copyfile(ws.manifest_path(suite), tmp / "manifest.json")
    bundle = BundleIndex(suite=suite, manifest_sha256=sha256_file(ws.manifest_path(suite)), versions=versions(),
                         records=index, teachers=teachers, suite_files=extra)
    write_model(tmp / "bundle.json", bundle)
    shutil.rmtree(out, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp.rename(out)
    return bundle


def _records(bundle_dir: Path, index: BundleIndex) -> list[EvidenceRecord]:
    """Rebuild every record, items in their original order (the tables keep the export's row order)."""
    items: dict[tuple[str, str], list] = {}

    def table(name: str) -> dict[str, list]:
        return pq.read_table(bundle_dir / name).to_pydict()

    gen = table("generations.parquet")
    for f, i, p, r in zip(gen["model_fingerprint"], gen["id"], gen["prompt"], gen["response"]):
        items.setdefault((f, "generate"), []).append(Generation(id=i, prompt=p, response=r))
    ll = table("logliks.parquet")
    for f, i, v, n, g in zip(ll["model_fingerprint"], ll["id"], ll["loglik"], ll["n_bytes"], ll["is_greedy"]):
        items.setdefault((f, "loglikelihood"), []).append(Loglik(id=i, loglik=v, n_bytes=n, is_greedy=g))
    hid = table("hidden.parquet")
    for f, i, vec in zip(hid["model_fingerprint"], hid["id"], hid["vector"]):
        items.setdefault((f, "hidden"), []).append(Hidden(id=i, vector=[_hidden_value(c) for c in vec]))
    field = {"generate": "generations", "loglikelihood": "logliks", "hidden": "hidden"}
    return [
        EvidenceRecord(model_fingerprint=r.model_fingerprint, task=r.task, task_fingerprint=r.task_fingerprint,
                       kind=r.kind, lm_eval_version=r.lm_eval_version, backend=r.backend,
                       **{field[r.kind]: items.get((r.model_fingerprint, r.kind), [])})
        for r in index.records
    ]


def _check_tasks(index: BundleIndex, suite_dir: Path, manifest: Manifest) -> None:
    """The bundle is only usable with the probe tasks it was made with: detectors look records up by fingerprint."""
    from distillbench.probe.hidden import HIDDEN_TASK, hidden_fingerprint
    from distillbench.probe.tasks import TASKS, TaskSet, tasks_dir

    now: set[tuple[str, str]] = set()
    for pool_path in {model_pool_path(suite_dir, manifest, m.name) for m in manifest.models if m.role != "base"}:
        taskset = TaskSet(root=tasks_dir(), pool_path=pool_path)
        now |= {(task, taskset.fingerprint(task)) for task in TASKS} | {(HIDDEN_TASK, hidden_fingerprint(pool_path))}
    stale = sorted({r.task for r in index.records if (r.task, r.task_fingerprint) not in now})
    if stale:
        raise DistillBenchError(f"the published evidence of suite {index.suite} was probed with other versions of "
                                f"{', '.join(stale)} (task files, pool or lm-eval {index.versions.get('lm_eval', '?')}); "
                                f"build and probe it here instead: distillbench run --suite {index.suite}")


def _suite_files(suite_dir: Path) -> list[Path]:
    """The suite folder's files a bundle carries besides the records (`BundleIndex.suite_files`): data only. A suite's
    task copy also holds the shipped tasks' Python (`utils.py`), which lm-eval imports: that is never shipped, it is
    copied from this checkout's own tasks at install, so a bundle cannot carry code."""
    from distillbench.zoo.watermark_cost import COST_FILE

    tasks = sorted(p for p in (suite_dir / SUITE_TASKS).rglob("*") if p.is_file() and p.suffix != ".py"
                   and "__pycache__" not in p.parts)
    return [p for p in tasks if _allowed(p.relative_to(suite_dir).as_posix())] + \
        [p for p in [suite_dir / COST_FILE] if p.is_file()]


def _allowed(rel: str) -> bool:
    """Where a bundle may write in a suite folder: the task copy's YAML files and prompts, and the cost record."""
    from distillbench.zoo.watermark_cost import COST_FILE

    parts = rel.split("/")
    return rel == COST_FILE or rel == f"{SUITE_TASKS}/data/prompts.jsonl" or (
        len(parts) == 2 and parts[0] == SUITE_TASKS and parts[1].endswith(".yaml") and not parts[1].startswith("."))


def _install_suite_files(bundle_dir: Path, index: BundleIndex, suite_dir: Path) -> None:
    """The suite's own task copy and cost file, byte for byte as exported (the task copy's fingerprints are the
    records' keys), with the task code taken from this checkout's shipped tasks; a stale copy is removed first."""
    from distillbench.probe.tasks import tasks_dir

    shutil.rmtree(suite_dir / SUITE_TASKS, ignore_errors=True)
    for rel, digest in index.suite_files.items():
        src = bundle_dir / rel
        if not _allowed(rel) or not src.is_file() or sha256_file(src) != digest:
            shutil.rmtree(suite_dir / SUITE_TASKS, ignore_errors=True)
            raise DistillBenchError(f"{bundle_dir}/{rel} is not a file a bundle may install, or does not match its "
                                    "bundle index; the bundle is corrupted or edited")
        write_atomic(suite_dir / rel, src.read_bytes())
    if (suite_dir / SUITE_TASKS).is_dir():
        for code in sorted(tasks_dir().glob("*.py")):
            shutil.copyfile(code, suite_dir / SUITE_TASKS / code.name)


def install_bundle(bundle_dir: Path, ws: Workspace) -> Manifest:
    """Install a bundle into a workspace: evidence records, pool, teachers' files, then the manifest (last, so a
    half-installed suite never looks complete). Every file is checked against the bundle's hashes; a mismatch
    (an edited or corrupted bundle) stops with an error and leaves no manifest behind."""
    index = read_model(bundle_dir / "bundle.json", BundleIndex, "evidence bundle index")
    manifest = read_model(bundle_dir / "manifest.json", Manifest, "published manifest")
    if sha256_file(bundle_dir / "manifest.json") != index.manifest_sha256:
        raise DistillBenchError(f"{bundle_dir}/manifest.json does not match its bundle index; re-export the bundle")
    suite_dir = ws.suite_dir(index.suite)
    pool = pq.read_table(bundle_dir / "pool.parquet").to_pylist()
    pool_path = suite_dir / manifest.pool.path
    write_jsonl(pool_path, pool)
    if sha256_file(pool_path) != manifest.pool.sha256:
        raise DistillBenchError(f"{bundle_dir}/pool.parquet does not rebuild the manifest's pool; the bundle is corrupted")
    write_model_pools(suite_dir, manifest)
    _install_suite_files(bundle_dir, index, suite_dir)
    _check_tasks(index, suite_dir, manifest)
    store = EvidenceStore(ws.evidence_dir)
    for rec, meta in zip(_records(bundle_dir, index), index.records):
        path = store.path(rec.model_fingerprint, rec.task, rec.task_fingerprint)
        if not path.is_file() or sha256_file(path) != meta.sha256:
            store.put(rec)
        if sha256_file(path) != meta.sha256:
            path.unlink()
            raise DistillBenchError(f"published evidence in {bundle_dir} does not rebuild record {meta.task} of model "
                                    f"{meta.model_fingerprint[:12]} byte for byte; the bundle is corrupted or edited")
    for name in index.teachers:
        for fname in TEACHER_FILES:
            write_atomic(suite_dir / "teachers" / name / fname, (bundle_dir / "teachers" / name / fname).read_bytes())
    write_atomic(ws.manifest_path(index.suite), (bundle_dir / "manifest.json").read_bytes())
    write_atomic(suite_dir / "published.json", json.dumps({"bundle": str(bundle_dir), "bundle_sha256":
                                                           sha256_file(bundle_dir / "bundle.json")}) + "\n")
    return manifest


def published_fallback(ws: Workspace, suite: str, log=print) -> bool:  # noqa: ANN001
    """If `suite` is neither built nor installed in `ws` but published in this checkout, install it; True if so."""
    if ws.manifest_path(suite).is_file():
        return False
    bundle_dir = bundles_dir() / suite
    if not (bundle_dir / "bundle.json").is_file():
        return False
    log(f"suite {suite} is not built in {ws.home}; installing its published evidence from {bundle_dir} (no model is "
        "built or probed)")
    install_bundle(bundle_dir, ws)
    return True
