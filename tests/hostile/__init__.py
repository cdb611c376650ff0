"""Hostile submissions for the containment tests: write a real submission folder around misbehaving code.

`cases/` holds one misbehaviour per file (`misbehave(pair, config)`). `hostile_submission` writes a submission whose
detector applies a plan {opaque pair id: case} and scores every other pair normally, so one contained run shows
each misbehaviour recorded on its own pair and every other pair intact. `config` carries test-specific values
(paths the sandbox must hide, a port to probe).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

CASES = Path(__file__).parent / "cases"

BASE_META = {
    "schema_version": 1,
    "name": "Hostile test detector",
    "slug": "placeholder",
    "version": "1.0.0",
    "description": "A detector that misbehaves on purpose.",
    "authors": [{"name": "Test Author", "affiliation": "Test Lab"}],
    "contact": "test@example.org",
    "license": "MIT",
    "track": "black-box",
    "entry_point": "detector:Hostile",
    "cost": {"budget": "evidence-only", "cpu_seconds_per_pair": 0.01},
    "benchmark_data": {"trained_or_tuned": False},
    "seeds": [],
}

DETECTOR = '''"""A detector that misbehaves on the pairs of PLAN and scores every other pair from its id."""

import importlib

from distillbench.detect.base import Verdict
from distillbench.evidence.view import AccessLevel

PLAN = __PLAN__
CONFIG = __CONFIG__


class Hostile:
    name = "hostile"
    access = AccessLevel.BLACK_BOX
    summary = "misbehaves on purpose"
    uses = frozenset({"generations"})

    def score(self, pair):
        if pair.pair_id in PLAN:
            return importlib.import_module("hostile_cases." + PLAN[pair.pair_id]).misbehave(pair, CONFIG)
        return Verdict(score=float(sum(map(ord, pair.pair_id)) % 97), p_value=None)
'''


MEMORY_DETECTOR = '''"""A detector that tries to remember every pair it sees, five ways, and scores what it finds of earlier pairs.

score = 1 (a module global) + 2 (a class attribute) + 4 (a file in /tmp) + 8 (a file in /dev/shm) + 16 (a process
left running) for each way that showed a trace of an earlier pair; a negative score if it could not leave its own
marks (then the test would prove nothing).
"""

import os
import time

from distillbench.detect.base import Verdict
from distillbench.evidence.view import AccessLevel

SEEN = []
MARK = "distillbench-memory"


def _strangers():
    """Processes besides this one, its parent (the zygote) and the sandbox's init."""
    mine = {1, os.getpid(), os.getppid()}
    return [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in mine]


class Hostile:
    name = "remembers"
    access = AccessLevel.BLACK_BOX
    summary = "tries to remember pairs"
    uses = frozenset({"generations"})
    seen = []

    def score(self, pair):
        found = 0
        found += 1 if SEEN else 0
        found += 2 if Hostile.seen else 0
        found += 4 if os.path.exists(f"/tmp/{MARK}") else 0
        found += 8 if os.path.exists(f"/dev/shm/{MARK}") else 0
        found += 16 if _strangers() else 0
        SEEN.append(pair.pair_id)
        Hostile.seen.append(pair.pair_id)
        for folder in ("/tmp", "/dev/shm"):
            with open(f"{folder}/{MARK}", "a") as f:
                f.write(pair.pair_id + "\\n")
        if os.fork() == 0:  # a background process that outlives the pair, in a session of its own
            os.setsid()
            if os.fork() == 0:
                time.sleep(600)
            os._exit(0)
        made = (len(SEEN) == len(Hostile.seen) == 1 and all(os.path.exists(f"{d}/{MARK}") for d in ("/tmp", "/dev/shm"))
                and _strangers())
        return Verdict(score=float(found if made else -1 - found), p_value=None)
'''


QUERY_DETECTOR = '''"""A white-box detector with a 10k query budget that abuses the query channel on the pairs of PLAN and, on every
other pair, asks the teacher and the student one greedy question each and scores their agreement."""

from distillbench.detect.base import Verdict
from distillbench.evidence.view import AccessLevel
from distillbench.query.client import QueryError

PLAN = __PLAN__
PROMPTS = ["the sea is", "in the garden"]


def misbehave(case, pair, client):
    if case == "overruns":  # 256 prompts x 4 samples x 10 = 10,240 queries: the 10k tier refuses the request
        for _ in range(10):
            client.generate("student", [f"p{i}" for i in range(256)], max_new_tokens=1, n=4, seed=1)
    elif case == "floods":  # more requests than any tier serves for one pair (MAX_CALLS), each tiny
        for _ in range(3000):
            client.generate("teacher", ["x"], max_new_tokens=1, temperature=0.0)
    elif case == "teacher_hidden":  # the teacher is an API below the teacher-side track
        client.hidden("teacher", ["a text"])
    elif case == "teacher_logprobs":  # the test's harness says this teacher API serves no log-probs
        client.score("teacher", [("a", " text")])
    elif case == "names_model":  # a model's name, as in the manifest, instead of an id the pair shows
        client.generate("ref-1", ["hello"])
    elif case == "other_student":  # another pair's student, by the id it had there
        client.generate("a-seq", ["hello"])
    elif case == "swallows":  # catches the refusal and answers anyway: the pair still fails
        try:
            client.weights(model=pair.references[0].model_id)
        except QueryError:
            return Verdict(score=1.0)
    return Verdict(score=0.0)


class Hostile:
    name = "hostile-queries"
    access = AccessLevel.WHITE_BOX
    summary = "abuses the query channel on purpose"
    uses = frozenset()
    budget = "10k"

    def score(self, pair, client):
        if pair.pair_id in PLAN:
            return misbehave(PLAN[pair.pair_id], pair, client)
        t = client.generate("teacher", PROMPTS, max_new_tokens=8, temperature=0.0)
        s = client.generate("student", PROMPTS, max_new_tokens=8, temperature=0.0)
        return Verdict(score=sum(a[0] == b[0] for a, b in zip(t, s)) + 0.01 * len(" ".join(x[0] for x in s)))
'''


def write_submission(root: Path, slug: str, source: str | None = None, meta: dict | None = None,
                     yaml_text: str | None = None) -> Path:
    folder = root / slug
    folder.mkdir(parents=True, exist_ok=True)
    data = {**BASE_META, "slug": slug, **(meta or {})}
    (folder / "submission.yaml").write_text(yaml_text if yaml_text is not None else yaml.safe_dump(data, sort_keys=False))
    if source is not None:
        (folder / "detector.py").write_text(source)
    return folder


def hostile_submission(root: Path, slug: str, plan: dict[str, str], meta: dict | None = None, **config: object) -> Path:
    source = DETECTOR.replace("__PLAN__", json.dumps(plan)).replace("__CONFIG__", json.dumps(config))
    folder = write_submission(root, slug, source, meta)
    shutil.copytree(CASES, folder / "hostile_cases", ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True)
    return folder
