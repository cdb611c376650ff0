"""Detector registry: built-in baselines register on import; third-party packages through the entry-point group
`distillbench.detectors` (in their pyproject: `[project.entry-points."distillbench.detectors"] name = "pkg.mod:Class"`).
"""

from __future__ import annotations

from importlib.metadata import entry_points

from distillbench.detect.base import Detector
from distillbench.errors import DistillBenchError

ENTRY_POINT_GROUP = "distillbench.detectors"
_REGISTRY: dict[str, type] = {}


def register(cls: type) -> type:
    """Class decorator: adds a detector under its `name`; a second class under the same name is an error."""
    for attr in ("name", "access", "summary", "uses", "score"):
        if not hasattr(cls, attr):
            raise TypeError(f"{cls.__qualname__} is not a detector: it has no `{attr}`")
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"detector name {cls.name!r} is already registered by {_REGISTRY[cls.name].__qualname__}")
    _REGISTRY[cls.name] = cls
    return cls


def _load_all() -> None:
    import distillbench.detect.baselines  # noqa: F401  (registers the built-ins)

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name not in _REGISTRY:
            register(ep.load())


def available() -> list[str]:
    _load_all()
    return sorted(_REGISTRY)


def get_detector(name: str) -> Detector:
    _load_all()
    if name not in _REGISTRY:
        raise DistillBenchError(f"unknown detector {name!r}; known detectors: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]()
