"""The probe stage: each model runs once through lm-eval over every probe task it has no evidence for yet.

Takes a manifest (models) and the task set; produces evidence records in the store. Models are run through
lm-eval's Python API (`simple_evaluate` with a `TaskManager` limited to `tasks/`), so what is stored is exactly
what the `lm_eval` CLI computes for the same model and tasks, on any backend lm-eval supports.
"""

from __future__ import annotations

import contextlib
import io
import logging
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from tqdm.auto import tqdm

from distillbench.errors import DistillBenchError
from distillbench.evidence.schema import EvidenceRecord, Generation, Loglik
from distillbench.evidence.store import EvidenceStore
from distillbench.fingerprint import model_fingerprint
from distillbench.probe.tasks import GENERATION_PROMPT_FIELD, TASKS, TaskSet

log = logging.getLogger(__name__)


@dataclass
class ProbeTarget:
    """One model to probe: where lm-eval finds it and the fingerprint its evidence is keyed by.

    `tasks` narrows what it is asked (an API that returns no log-likelihoods answers the generation task only);
    `evaluate_args` go to `simple_evaluate` for this model alone (e.g. `apply_chat_template` for a chat model).
    """

    name: str
    model_args: dict
    fingerprint: str
    tasks: tuple[str, ...] = TASKS
    evaluate_args: dict = field(default_factory=dict)
    # The texts this model scores when it is not the task set's whole pool (`zoo.pools`).
    pool_path: Path | None = None

    @classmethod
    def local(cls, name: str, path: Path, pool_path: Path | None = None) -> ProbeTarget:
        return cls(name=name, model_args={"pretrained": str(path), "dtype": "float32"}, fingerprint=model_fingerprint(path),
                   pool_path=pool_path)


@dataclass
class ProbeReport:
    model_calls: int = 0  # lm-eval runs actually made (one per model that needed any task)
    records_written: int = 0
    records_cached: int = 0
    seconds_per_model: dict[str, float] = field(default_factory=dict)


def _records_from_samples(target: ProbeTarget, task: str, task_fp: str, samples: list[dict], backend: str) -> EvidenceRecord:
    common = dict(model_fingerprint=target.fingerprint, task=task, task_fingerprint=task_fp,
                  lm_eval_version=metadata.version("lm_eval"), backend=backend)
    samples = sorted(samples, key=lambda s: s["doc_id"])
    if task in GENERATION_PROMPT_FIELD:
        field_name = GENERATION_PROMPT_FIELD[task]
        gens = [Generation(id=s["doc"]["id"], prompt=s["doc"][field_name], response=s["filtered_resps"][0])
                for s in samples]
        return EvidenceRecord(kind="generate", generations=gens, **common)
    lls = []
    for s in samples:
        ll, greedy = s["filtered_resps"][0]
        lls.append(Loglik(id=s["doc"]["id"], loglik=float(ll), n_bytes=len(s["doc"]["continuation"].encode()),
                          is_greedy=bool(greedy)))
    return EvidenceRecord(kind="loglikelihood", logliks=lls, **common)


def probe_models(
    targets: list[ProbeTarget],
    taskset: TaskSet,
    store: EvidenceStore,
    backend: str = "hf",
    device: str = "cpu",
    batch_size: int | str = 16,
    progress: bool = True,
) -> ProbeReport:
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    for name in ("lm-eval", "lm_eval", "transformers"):
        logging.getLogger(name).setLevel(logging.ERROR)
    report = ProbeReport()
    # One task manager per pool file (0.04 s each): the pool a model scores is task metadata.
    managers: dict[Path, tuple] = {}
    for target in tqdm(targets, desc="probe", unit="model", disable=not progress):
        own = TaskSet(root=taskset.root, pool_path=target.pool_path or taskset.pool_path)
        if own.pool_path not in managers:
            managers[own.pool_path] = (
                TaskManager(include_path=str(own.root), include_defaults=False, metadata=own.metadata()), {})
        manager, fps = managers[own.pool_path]
        for t in target.tasks:
            fps.setdefault(t, own.fingerprint(t))
        missing = [t for t in target.tasks if not store.has(target.fingerprint, t, fps[t])]
        report.records_cached += len(target.tasks) - len(missing)
        if not missing:
            continue
        start = time.perf_counter()
        # lm-eval draws progress bars per request type on stderr; ours (one tick per model) is the one worth reading.
        # tqdm reads TQDM_DISABLE once, at import, so only redirecting works; our bar keeps the real stderr.
        try:
            with contextlib.redirect_stderr(io.StringIO()):
                out = simple_evaluate(
                    model=backend, model_args=dict(target.model_args), tasks=missing, task_manager=manager,
                    device=device, batch_size=batch_size, log_samples=True, bootstrap_iters=0, verbosity="ERROR",
                    **target.evaluate_args,
                )
        except Exception as exc:  # noqa: BLE001 (lm-eval and its backends raise anything: HTTP client errors,
            # RuntimeError from a server's reply, KeyError from a malformed one; the user gets one line naming the
            # model, the records of the models before it stay stored, and a re-run resumes here)
            first = (str(exc).splitlines() or [""])[0]
            raise DistillBenchError(f"probing {target.name} failed: {type(exc).__name__}: {first}") from exc
        report.model_calls += 1
        for task in missing:
            store.put(_records_from_samples(target, task, fps[task], out["samples"][task], backend))
            report.records_written += 1
        report.seconds_per_model[target.name] = time.perf_counter() - start
    return report


def probe_hidden_states(
    targets: list[ProbeTarget], pool_path: Path, store: EvidenceStore, device: str = "cpu", progress: bool = True
) -> ProbeReport:
    """White-box records (see `probe.hidden`) for local, open models: students and references, never teachers."""
    from distillbench.probe.hidden import HIDDEN_TASK, hidden_fingerprint, probe_hidden

    report = ProbeReport()
    for target in tqdm(targets, desc="hidden states", unit="model", disable=not progress):
        own_pool = target.pool_path or pool_path
        if store.has(target.fingerprint, HIDDEN_TASK, hidden_fingerprint(own_pool)):
            report.records_cached += 1
            continue
        store.put(probe_hidden(Path(target.model_args["pretrained"]), target.fingerprint, own_pool, device))
        report.model_calls += 1
        report.records_written += 1
    return report
