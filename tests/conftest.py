"""Shared fixtures: one micro suite built, probed through real lm-eval, detected and scored once per session."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from distillbench.cli import main


def run_cli(*argv: str) -> int:
    return main([*argv, "--no-progress"])


@pytest.fixture(scope="session")
def micro_home(tmp_path_factory) -> Path:
    """A workspace holding the micro suite after a full `distillbench run` (read-only for tests: copy to mutate).

    `$DISTILLBENCH_TEST_MICRO_HOME`: a workspace where that run was done already, for iterating on a few tests
    locally (CI never sets it; the run there is the real one)."""
    reuse = os.environ.get("DISTILLBENCH_TEST_MICRO_HOME")
    if reuse:
        assert run_cli("run", "--suite", "micro", "--home", reuse) == 0  # brings its evidence up to date
        return Path(reuse)
    home = tmp_path_factory.mktemp("micro")
    assert run_cli("run", "--suite", "micro", "--home", str(home)) == 0
    return home


@pytest.fixture
def micro_copy(micro_home, tmp_path) -> Path:
    """A private copy of the finished micro workspace, for tests that break things."""
    dst = tmp_path / "home"
    shutil.copytree(micro_home, dst)
    return dst


@pytest.fixture(scope="session")
def micro_view(micro_home):
    """What detectors see of the micro suite: the evidence view over its manifest, pool and store."""
    from distillbench.evidence.view import open_suite_view
    from distillbench.paths import Workspace

    return open_suite_view(Workspace(micro_home), "micro")


@pytest.fixture(scope="session")
def standard_home(tmp_path_factory) -> Path:
    """A fresh workspace after `distillbench evaluate` of two detectors on the committed `standard` dev evidence:
    what a method author gets from a clone, nothing built (read-only for tests)."""
    home = tmp_path_factory.mktemp("standard-dev")
    assert run_cli("evaluate", "--home", str(home), "--detector", "random", "--detector", "cross_likelihood") == 0
    return home
