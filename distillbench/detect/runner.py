"""The detect stage: runs detectors over every pair of a suite and writes one verdicts file per detector.

Takes the manifest (pairs, without reading labels), the evidence view and detector names; produces
`verdicts/<detector>.json`. A detector that raises or returns a non-finite score on a pair gets that pair recorded
as a failure with the reason; the other pairs and detectors carry on.

Each detector sees ids masked under its run key (`EvidenceView.pair`: by default derived from the evidence digest
and the detector's name); verdicts record the pair's stable id, which the scorer joins on. A detector's verdicts
depend only on its code, the evidence and that key, so they are cached under a hash of the three in the suite's
`detect-cache/verdicts/`: a repeated `evaluate` skips detection (`use_cache=False` recomputes, and refreshes the
cache).
"""

from __future__ import annotations

import hashlib
import inspect
import re
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from distillbench.detect.base import Verdict, budget_of, call_score
from distillbench.detect.registry import get_detector
from distillbench.errors import DistillBenchError
from distillbench.query.meter import Budget, CostSummary, PairCost, evidence_queries, summarize
from distillbench.evidence.view import CACHE_DIR, AccessLevel, EvidenceView
from distillbench.files import read_model, write_atomic, write_model
from distillbench.fingerprint import sha256_json
from distillbench.paths import Workspace

VERDICTS_SCHEMA_VERSION = 1
# Libraries the baselines compute with: a new version may change a score, so it invalidates cached verdicts.
LIBRARIES = ("numpy", "scipy", "scikit-learn", "transformers", "tokenizers", "torch", "pydantic")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PairVerdict(_Strict):
    pair_id: str  # the pair's stable id (`EvidenceView.pair_id`); the detector saw a masked one
    score: float | None
    p_value: float | None
    error: str | None = None
    abstained: bool = False  # Verdict.abstain(): the scorer leaves the pair out and reports coverage
    cost: PairCost | None = None  # measured by the harness (`query.meter`)


class VerdictFile(_Strict):
    schema_version: int = VERDICTS_SCHEMA_VERSION
    suite: str
    split: str
    detector: str
    access: str
    evidence_sha256: str
    seconds: float
    # Queries one pair cost (evidence read + requests, every model), measured (`query.meter`): the mean, rounded.
    queries_per_pair: int | None = None
    cost: CostSummary | None = None
    verdicts: list[PairVerdict]


@dataclass
class Detected:
    verdicts: VerdictFile
    cached: bool  # read from the verdict cache: the detector did not run


def run_detector(detector, view: EvidenceView, split: str = "dev", run_key: bytes | None = None,  # noqa: ANN001
                 access: AccessLevel | None = None, harness=None, progress: bool = False) -> VerdictFile:  # noqa: ANN001
    """Score every pair of `split` with a registered detector (by name) or any detector object (the notebook path,
    `distillbench.dev`), at `access` (default: its own), ids masked under `run_key` (default: `view.run_key(name)`).
    A detector with a query budget gets a client served by `harness` (default: the suite's own models, with the
    workspace's answer cache); every pair's cost is measured."""
    detector = get_detector(detector) if isinstance(detector, str) else detector
    name = str(detector.name)
    access = AccessLevel(detector.access) if access is None else access
    key = view.run_key(name) if run_key is None else run_key
    budget = budget_of(detector)
    pairs = [p for p in view.manifest.pairs if p.split == split]
    if budget is not Budget.EVIDENCE_ONLY and harness is None:
        from distillbench.query.harness import QueryHarness

        harness = QueryHarness.for_view(view)
        harness.check_models(pairs)
    calls_before = harness.model_calls if harness is not None else 0
    start = time.perf_counter()
    verdicts = []
    # A detector that queries models can take minutes on a cold answer cache: show it (evidence-only ones take seconds).
    from tqdm.auto import tqdm

    shown = progress and budget is not Budget.EVIDENCE_ONLY
    for pair in tqdm(pairs, desc=f"detect {name}", unit="pair", disable=not shown):
        evidence = view.pair(pair, access, key, uses=frozenset(detector.uses))
        stable = view.pair_id(pair)
        session = harness.session(pair, evidence, access, budget, key) if budget is not Budget.EVIDENCE_ONLY else None
        cost = session.cost if session is not None else PairCost(evidence_queries=evidence_queries(evidence))
        try:
            v = call_score(detector, evidence, session.client() if session is not None else None)
            if session is not None and session.failure is not None:
                raise _Refused(session.failure)
            if not isinstance(v, Verdict):
                raise TypeError(f"score() returned {type(v).__name__}; expected a distillbench.detect.base.Verdict")
            verdicts.append(PairVerdict(pair_id=stable, score=v.score, p_value=v.p_value, abstained=v.abstained,
                                        cost=cost))
        except Exception as exc:  # a detector's bug (or an invalid Verdict) must not sink the run
            if session is not None and session.failure is not None:
                error = session.failure  # a refused request is the pair's outcome, whatever the detector did next
            else:
                first = str(exc).splitlines()[0] if str(exc) else ""
                error = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
            verdicts.append(PairVerdict(pair_id=stable, score=None, p_value=None, error=error, cost=cost))
    summary = summarize([v.cost for v in verdicts], budget,
                        harness.model_calls - calls_before if harness is not None else None)
    return VerdictFile(
        suite=view.manifest.suite, split=split, detector=name, access=access.value,
        evidence_sha256=view.digest(), seconds=time.perf_counter() - start,
        queries_per_pair=round(summary.queries_per_pair), cost=summary, verdicts=verdicts,
    )


class _Refused(Exception):
    pass


_PACKAGE = Path(__file__).resolve().parents[1]  # distillbench/
_SOURCE_HASHES: dict[type, str | None] = {}
# What every detector's verdicts go through (the registry is not among them: it only finds classes).
_SHARED_SOURCES = [_PACKAGE / "detect" / f for f in ("base.py", "null.py", "runner.py")] + [
    _PACKAGE / "evidence" / "view.py"] + sorted((_PACKAGE / "query").glob("*.py"))


def _own_source(cls: type) -> bytes | None:
    """The file the detector class is defined in, or its own source where there is no file (a notebook)."""
    try:
        own = inspect.getsourcefile(cls)
        if own is not None and Path(own).is_file():
            return Path(own).read_bytes()
        return inspect.getsource(cls).encode()
    except (OSError, TypeError):
        return None


def detector_source_sha256(name: str) -> str | None:
    """A hash of what a detector's verdicts depend on besides evidence and key: its module's source, the detect
    stage's own modules and the baselines (which share helpers), the evidence view, and the versions of the
    libraries it computes with; None when its source cannot be read (then it is never cached).

    A third-party detector whose module imports helpers from elsewhere is covered only through its own module:
    after editing those, recompute with `--no-cache`.
    """
    cls = type(get_detector(name))
    if cls not in _SOURCE_HASHES:
        own = _own_source(cls)
        h = hashlib.sha256(f"{cls.__module__}.{cls.__qualname__}\0".encode() + hashlib.sha256(own or b"").digest())
        for f in _SHARED_SOURCES + sorted((_PACKAGE / "detect" / "baselines").glob("*.py")):
            h.update(f.relative_to(_PACKAGE).as_posix().encode() + b"\0" + hashlib.sha256(f.read_bytes()).digest())
        for lib in LIBRARIES:
            try:
                h.update(f"{lib}={metadata.version(lib)}\0".encode())
            except metadata.PackageNotFoundError:
                h.update(f"{lib}=none\0".encode())
        _SOURCE_HASHES[cls] = None if own is None else h.hexdigest()
    return _SOURCE_HASHES[cls]


def cache_key(name: str, view: EvidenceView, split: str, run_key: bytes) -> str | None:
    """What cached verdicts are filed under; None for a detector whose source cannot be read."""
    source = detector_source_sha256(name)
    if source is None:
        return None
    # A detector that queries models depends on their weights too, which the evidence digest does not cover.
    models = (sha256_json(sorted(m.fingerprint for m in view.manifest.models))
              if budget_of(get_detector(name)) is not Budget.EVIDENCE_ONLY else None)
    return sha256_json({"schema": VERDICTS_SCHEMA_VERSION, "detector": name, "source": source, "models": models,
                        "evidence": view.digest(), "split": split, "suite": view.manifest.suite,
                        # the key's hash, never the key: a random key stays secret
                        "run_key": hashlib.sha256(run_key).hexdigest()})


def cache_dir(workspace: Workspace, suite: str) -> Path:
    return workspace.suite_dir(suite) / CACHE_DIR / "verdicts"


def _cache_path(workspace: Workspace, suite: str, name: str, key: str) -> Path:
    return cache_dir(workspace, suite) / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}-{key[:32]}.json"


def detect(names: list[str], view: EvidenceView, workspace: Workspace, split: str = "dev",
           run_key: bytes | None = None, use_cache: bool = True, harness=None,  # noqa: ANN001
           progress: bool = False) -> list[Detected]:
    """Run each detector (or read its cached verdicts) and write `verdicts/<name>.json`.

    `run_key`: one key for every detector (e.g. `secrets.token_bytes(32)` for a run whose ids must not be
    reproducible); default, each detector's own `view.run_key(name)`.
    """
    out = []
    suite = view.manifest.suite
    for name in names:
        key = view.run_key(name) if run_key is None else run_key
        target = workspace.verdicts_dir(suite) / f"{name}.json"
        cached = None
        ck = cache_key(name, view, split, key)
        path = None if ck is None else _cache_path(workspace, suite, name, ck)
        if use_cache and path is not None and path.is_file():
            try:
                cached = read_model(path, VerdictFile, "cached verdicts")
            except DistillBenchError:
                path.unlink(missing_ok=True)  # a damaged cache entry is recomputed, never trusted
        if cached is not None:
            data = path.read_bytes()
            if not target.is_file() or target.read_bytes() != data:
                write_atomic(target, data)
            out.append(Detected(cached, cached=True))
            continue
        vf = run_detector(name, view, split, key, harness=harness, progress=progress)
        write_model(target, vf)
        if path is not None:
            _store(path, target)
        out.append(Detected(vf, cached=False))
    return out


def _store(path: Path, written: Path) -> None:
    """Keep one cache entry per detector (the newest); a cache that cannot be written only costs a re-run."""
    stem = path.name.rsplit("-", 1)[0]
    try:
        for old in path.parent.glob(f"{stem}-*.json"):
            if old != path and re.fullmatch(re.escape(stem) + r"-[0-9a-f]{32}\.json", old.name):
                old.unlink(missing_ok=True)
        write_atomic(path, written.read_bytes())
    except OSError:
        pass
