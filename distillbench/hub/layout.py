"""Where things live in a Hub repo, and which repo: the one place that names paths, repo types and env vars.

A models repo mirrors the workspace (`suites/<suite>/{manifest.json, pool.jsonl, tokenizer/, tokenizers/<name>/,
models/<name>/}`), so a snapshot of it is itself a usable workspace; an evidence repo holds
`evidence/<suite>/<bundle files>`. Each pushed suite folder carries `distillbench_push.json`, the sha256 index that
`fetch` checks before installing.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Literal

from distillbench.errors import DistillBenchError
from distillbench.zoo.splits import TEST_SUFFIX

Kind = Literal["models", "evidence"]

INDEX_NAME = "distillbench_push.json"
CARD_NAME = "README.md"

_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
# Suite names become folder names in the repo and in the workspace: no separators, no leading dot.
_SUITE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class Target:
    """One kind of thing that travels to the Hub: which repo type holds it, and how its repo id is configured."""

    kind: Kind
    repo_type: Literal["model", "dataset"]
    prefix: str  # top-level folder in the repo
    option: str  # CLI option naming the repo
    env_var: str  # its default

    def suite_root(self, suite: str) -> str:
        return f"{self.prefix}/{check_suite_name(suite)}"

    def in_repo(self, suite: str, rel: str) -> str:
        return f"{self.suite_root(suite)}/{rel}"

    def index_path(self, suite: str) -> str:
        return self.in_repo(suite, INDEX_NAME)


TARGETS: dict[str, Target] = {
    "models": Target("models", "model", "suites", "--models-repo", "DISTILLBENCH_HUB_MODELS_REPO"),
    "evidence": Target("evidence", "dataset", "evidence", "--evidence-repo", "DISTILLBENCH_HUB_EVIDENCE_REPO"),
}


def check_suite_name(suite: str) -> str:
    if not _SUITE.match(suite):
        raise DistillBenchError(f"suite name {suite!r} cannot name a folder on the Hub: expected letters, digits, '.', '_' "
                                "or '-', not starting with '.'")
    return suite


def resolve_repo_id(target: Target, given: str | None) -> str:
    """The repo from the option, else from the environment; never a built-in default, so nothing goes astray."""
    repo_id = given or os.environ.get(target.env_var)
    if not repo_id:
        raise DistillBenchError(f"no {target.repo_type} repo for the {target.kind}: pass {target.option} ORG/NAME "
                                f"or set ${target.env_var}")
    if not _REPO_ID.match(repo_id):
        raise DistillBenchError(f"{target.option} expects a Hub repo id ORG/NAME, got {repo_id!r}")
    return repo_id


def check_relpath(rel: str, what: str) -> str:
    """A file path inside a suite folder, as written in an index: relative, POSIX, nothing that climbs out."""
    p = PurePosixPath(rel)
    if (not rel or "\\" in rel or p.is_absolute() or p.as_posix() != rel
            or any(part in {"", ".", ".."} or part.startswith(".") for part in p.parts)):
        raise DistillBenchError(f"{what}: {rel!r} is not a plain relative path inside the suite folder")
    return rel


def refuse_hidden_split(suite: str, test_pairs: int = 0) -> None:
    """Hidden test pairs are what makes the `verified` mark mean something: they must never be published."""
    if suite.endswith(TEST_SUFFIX):
        raise DistillBenchError(f"suite {suite!r} is a hidden test suite (its name ends in '-test'); it is never pushed")
    if test_pairs:
        raise DistillBenchError(f"suite {suite!r} has {test_pairs} pairs in the hidden test split (split: test); "
                                "a suite with hidden pairs is never pushed")
