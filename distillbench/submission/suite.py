"""The built, probed suite a submission is run on: its manifest and the label-free evidence view.

Takes a workspace and a suite name (or a suite YAML path, whose `name` is used); produces an `EvidenceView`, or
one error saying which command makes what is missing.
"""

from __future__ import annotations

from distillbench.evidence.view import EvidenceView, open_suite_view
from distillbench.paths import Workspace
from distillbench.zoo.spec import suite_name


def open_view(ws: Workspace, suite: str) -> EvidenceView:
    """A suite given by name or YAML path: see `evidence.view.open_suite_view`."""
    return open_suite_view(ws, suite_name(suite))
