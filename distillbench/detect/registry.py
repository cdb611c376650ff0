"""Detector registry: built-in baselines register on import; third-party packages through the entry-point group
`distillbench.detectors` (in their pyproject: `[project.entry-points."distillbench.detectors"] name = "pkg.mod:Class"`).

A detector need not be registered to be evaluated: `distillbench.dev.evaluate` takes any detector object.
"""

from __future__ import annotations

from importlib.metadata import entry_points

from distillbench.detect.base import EVIDENCE_KINDS, Detector, budget_of
from distillbench.errors import DistillBenchError

ENTRY_POINT_GROUP = "distillbench.detectors"
_REGISTRY: dict[str, type] = {}


def check_detector(obj: object) -> None:
    """Raises TypeError/ValueError unless `obj` (a class or an instance) has the detector attributes, and `uses` is a
    set of known evidence kinds (`EVIDENCE_KINDS`): the query cost of a pair is counted from it."""
    label = obj.__name__ if isinstance(obj, type) else type(obj).__name__
    for attr in ("name", "access", "summary", "uses", "score"):
        if not hasattr(obj, attr):
            raise TypeError(f"{label} is not a detector: it has no `{attr}` (see distillbench.detect.base.Detector)")
    uses = obj.uses
    try:
        kinds = set(uses) if not isinstance(uses, str) else None
    except TypeError:
        kinds = None
    if kinds is None or not all(isinstance(u, str) for u in kinds) or not kinds <= EVIDENCE_KINDS:
        raise ValueError(f"{label}.uses must be a set of evidence kinds from {', '.join(sorted(EVIDENCE_KINDS))}; "
                         f"got {uses!r}")
    try:
        budget_of(obj)
    except ValueError as exc:
        raise ValueError(f"{label}.{exc}") from None


def _origin(cls: type) -> tuple[str, str]:
    return cls.__module__, cls.__qualname__


def register(cls: type) -> type:
    """Class decorator: adds a detector under its `name`.

    Re-running the definition of the same class (a notebook cell, `importlib.reload`) replaces the earlier entry: it
    is recognised by its module and qualified name. A different class under a name already taken is an error. `uses`
    must be a set of known evidence kinds (`EVIDENCE_KINDS`): the query cost of a pair is counted from it.
    """
    check_detector(cls)
    old = _REGISTRY.get(cls.name)
    if old is not None and old is not cls and _origin(old) != _origin(cls):
        raise ValueError(f"detector name {cls.name!r} is already registered by {old.__module__}.{old.__qualname__}; "
                         "choose another `name`")
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
