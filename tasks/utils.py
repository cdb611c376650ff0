"""Dataset loaders for the DistillBench probe tasks (lm-eval `custom_dataset` hooks).

lm-eval resolves relative `data_files` against the working directory, not the YAML, so the loaders locate data
next to this file instead. The text pool is suite-specific: pass its path as task metadata, from the CLI with
`--metadata '{"pool_path": "/abs/path/pool.jsonl"}'` or from Python with `TaskManager(metadata=...)`.
"""

import json
from pathlib import Path

import datasets

HERE = Path(__file__).resolve().parent


def _rows(path):
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def load_prompts(**_metadata):
    return {"test": datasets.Dataset.from_list(_rows(HERE / "data" / "prompts.jsonl"))}


def load_pool(pool_path=None, **_metadata):
    if not pool_path:
        raise ValueError(
            "distillbench_pool needs the suite's text pool: pass --metadata '{\"pool_path\": \"<suite>/pool.jsonl\"}'"
        )
    rows = _rows(Path(pool_path))
    # Only what the model must score travels into lm-eval; who generated each text stays in the pool file.
    return {"test": datasets.Dataset.from_list([{"id": r["id"], "context": r["context"], "continuation": r["continuation"]} for r in rows])}
