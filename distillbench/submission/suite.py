"""The built, probed suite a submission is run on: its manifest and the label-free evidence view.

Takes a workspace and a suite name (or a suite YAML path, whose `name` is used); produces an `EvidenceView`, or
one error saying which command makes what is missing.
"""

from __future__ import annotations

from pathlib import Path

from distillbench.errors import DistillBenchError
from distillbench.evidence.store import EvidenceStore
from distillbench.evidence.view import EvidenceView
from distillbench.paths import Workspace
from distillbench.probe.hidden import HIDDEN_TASK  # teachers are APIs: they have no hidden-state evidence
from distillbench.probe.tasks import TaskSet, tasks_dir
from distillbench.zoo.build import load_manifest


def suite_name(suite: str) -> str:
    if Path(suite).suffix in {".yaml", ".yml"}:
        from distillbench.zoo.spec import load_suite

        return load_suite(suite).name
    return suite


def open_view(ws: Workspace, suite: str) -> EvidenceView:
    name = suite_name(suite)
    manifest = load_manifest(ws, name)
    taskset = TaskSet(root=tasks_dir(), pool_path=ws.suite_dir(name) / manifest.pool.path)
    view = EvidenceView(manifest, taskset, EvidenceStore(ws.evidence_dir))
    missing = [m.name for m in manifest.models
               if m.role != "base" and not all(view.store.has(m.fingerprint, t, fp) for t, fp in view.fps.items()
                                               if not (t == HIDDEN_TASK and m.role == "teacher"))]
    if missing:
        raise DistillBenchError(f"no evidence for {', '.join(missing)} in {ws.home}; run `distillbench run --suite "
                                f"{suite}` (or `distillbench probe --suite {suite}`) first")
    return view
