"""The probe tasks in `tasks/` as this package sees them: where they are, and a fingerprint of each.

A task's fingerprint covers its YAML, the shared loader code, the data it reads and the lm-eval version, so editing
any of them re-probes exactly the affected (model, task) records and nothing else.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from distillbench.errors import DistillBenchError
from distillbench.fingerprint import sha256_file, sha256_json

GROUP = "distillbench"
GENERATE_TASK = "distillbench_generate"
POOL_TASK = "distillbench_pool"
TASKS = (GENERATE_TASK, POOL_TASK)
# Not a probe: a real suite's teachers and references answer the pool prompts with it, and their answers become the
# pool (see `distillbench.real.pool`). It reads the prompts through the pool loader, passed as `pool_path`.
POOL_GENERATE_TASK = "distillbench_pool_generate"
# Generation tasks, each with the document field its prompt is in: their samples become `Generation` records.
GENERATION_PROMPT_FIELD = {GENERATE_TASK: "prompt", POOL_GENERATE_TASK: "context"}


def tasks_dir() -> Path:
    """`$DISTILLBENCH_TASKS`, else the repository's `tasks/` beside the package (editable install or checkout)."""
    path = Path(os.environ.get("DISTILLBENCH_TASKS") or Path(__file__).resolve().parents[2] / "tasks")
    if not (path / f"{GROUP}.yaml").is_file():
        raise DistillBenchError(f"probe tasks not found at {path}; install from a checkout (pip install -e .) or set DISTILLBENCH_TASKS")
    return path


# A suite whose probe prompts differ from the shipped ones (chat or reasoning suites, `probe.prompts.write_suite_tasks`)
# keeps its own copy of the task files here, in its suite directory, with its prompts as their data: the shipped task
# files (and the fingerprints of every other suite's evidence) stay untouched, and lm-eval runs the same tasks.
SUITE_TASKS = "tasks"


def suite_tasks_dir(pool_path: Path) -> Path | None:
    """The suite's own task copy for a pool file (the suite's pool.jsonl or one of its pools/<model>.jsonl), if any."""
    suite_dir = pool_path.parent.parent if pool_path.parent.name == "pools" else pool_path.parent
    own = suite_dir / SUITE_TASKS
    return own if (own / f"{GROUP}.yaml").is_file() else None


@dataclass(frozen=True)
class TaskSet:
    """The task files and the pool a model is probed with. A suite with its own task copy (`SUITE_TASKS`) is probed
    with that copy whatever `root` says, so every reader of its evidence computes the same fingerprints."""

    root: Path
    pool_path: Path

    def __post_init__(self) -> None:
        own = suite_tasks_dir(Path(self.pool_path))
        if own is not None:
            object.__setattr__(self, "root", own)

    def data_file(self, task: str) -> Path:
        return self.root / "data" / "prompts.jsonl" if task == GENERATE_TASK else self.pool_path

    def fingerprint(self, task: str) -> str:
        if not self.data_file(task).is_file():
            raise DistillBenchError(f"task {task}: data file {self.data_file(task)} does not exist")
        return sha256_json({
            "yaml": (self.root / f"{task}.yaml").read_text(),
            "loader": (self.root / "utils.py").read_text(),
            "data": sha256_file(self.data_file(task)),
            "lm_eval": metadata.version("lm_eval"),
        })

    def metadata(self) -> dict:
        return {"pool_path": str(self.pool_path)}
