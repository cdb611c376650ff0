"""The contained worker: loads a submission's entry point and scores the pairs it is sent.

Runs inside the sandbox (`python -I -m distillbench.submission.worker ...`), as an unprivileged user, with only
the submission snapshot, the Python installation and the `distillbench` package visible. Takes `PairEvidence`
lines on stdin; produces one `Ready`/`LoadFailed` line, then one `Reply` line per pair, on stdout.

Before any submitted code is imported it lowers its own resource limits (hard limits too, so the detector cannot
raise them back) and moves stdout aside: the protocol keeps a private copy of the stdout pipe, and file
descriptor 1 is pointed at stderr, so a detector's prints (or C code writing to fd 1) land in the log stream,
which the benchmark caps, rather than corrupting replies.
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import resource
import sys
from typing import Any

from distillbench.detect.base import Detector, Verdict
from distillbench.evidence.view import AccessLevel, PairEvidence
from distillbench.submission.protocol import LoadFailed, Ready, Reply, clean


def describe(exc: BaseException, memory_mb: int | None = None) -> str:
    if isinstance(exc, MemoryError):
        return f"ran out of memory (MemoryError; the limit is {memory_mb} MiB)" if memory_mb else "ran out of memory (MemoryError)"
    if isinstance(exc, SystemExit):
        return f"called sys.exit({exc.code!r}); a detector must return a Verdict"
    first = str(exc).splitlines()[0] if str(exc) else ""
    return clean(f"raised {type(exc).__name__}: {first}" if first else f"raised {type(exc).__name__}")


def load_entry_point(folder: str, entry_point: str) -> tuple[Any, Ready]:
    """Import `module:Class` from the folder, check the detector interface, instantiate it."""
    module_name, class_name = entry_point.split(":")
    sys.path.insert(0, folder)
    sys.dont_write_bytecode = True  # the folder is read-only in the sandbox; in-process runs must not litter it
    try:
        module = importlib.import_module(module_name)
    except BaseException as exc:  # noqa: BLE001 (any failure of submitted code is reported, not raised)
        raise LoadError(f"entry_point `{entry_point}`: importing module {module_name!r} failed: {describe(exc)}") from exc
    cls = getattr(module, class_name, None)
    if not isinstance(cls, type):
        raise LoadError(f"entry_point `{entry_point}`: module {module_name!r} has no class {class_name!r}")
    missing = [a for a in (*getattr(Detector, "__annotations__", {}), "score") if not hasattr(cls, a)]
    if missing:
        raise LoadError(f"entry_point `{entry_point}`: {class_name} does not satisfy the detector interface: no "
                        f"`{'`, `'.join(missing)}` (see distillbench.detect.base.Detector)")
    if not callable(cls.score):
        raise LoadError(f"entry_point `{entry_point}`: {class_name}.score is not a method")
    try:
        access = AccessLevel(cls.access)
    except (ValueError, TypeError):
        raise LoadError(f"entry_point `{entry_point}`: {class_name}.access must be one of "
                        f"{', '.join(a.value for a in AccessLevel)}; got {clean(repr(cls.access), 60)}") from None
    if not isinstance(cls.name, str) or not isinstance(cls.summary, str):
        raise LoadError(f"entry_point `{entry_point}`: {class_name}.name and .summary must be strings")
    try:
        detector = cls()
    except BaseException as exc:  # noqa: BLE001
        raise LoadError(f"entry_point `{entry_point}`: {class_name}() failed: {describe(exc)}") from exc
    return detector, Ready(name=clean(cls.name, 80), access=access.value, summary=clean(cls.summary))


class LoadError(Exception):
    pass


def score_one(detector: Any, pair: PairEvidence, memory_mb: int | None = None) -> Reply:
    try:
        verdict = detector.score(pair)
    except BaseException as exc:  # noqa: BLE001
        return Reply(pair_id=pair.pair_id, error=describe(exc, memory_mb))
    if not isinstance(verdict, Verdict):
        return Reply(pair_id=pair.pair_id, error=f"score() returned {type(verdict).__name__}; expected a "
                                                 "distillbench.detect.base.Verdict")
    score, p = verdict.score, verdict.p_value
    # Verdict validates on construction, but model_construct() skips that: check again.
    if not isinstance(score, (int, float)) or not math.isfinite(score):
        return Reply(pair_id=pair.pair_id, error=f"returned a non-finite score ({clean(repr(score), 40)}); expected a finite number")
    if p is not None and (not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0):
        return Reply(pair_id=pair.pair_id, error=f"returned p_value {clean(repr(p), 40)}; expected a probability in [0, 1] or none")
    abstained = getattr(verdict, "abstained", False)
    if not isinstance(abstained, bool) or (abstained and p is not None):
        return Reply(pair_id=pair.pair_id, error=f"returned abstained={clean(repr(abstained), 40)} with p_value "
                                                 f"{clean(repr(p), 40)}; expected Verdict.abstain() or a verdict")
    return Reply(pair_id=pair.pair_id, score=float(score), p_value=None if p is None else float(p), abstained=abstained)


def _limit(kind: int, value: int) -> None:
    resource.setrlimit(kind, (value, value))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="distillbench.submission.worker")
    ap.add_argument("--folder", required=True)
    ap.add_argument("--entry-point", required=True)
    ap.add_argument("--memory-mb", type=int, required=True)
    ap.add_argument("--cpu-seconds", type=int, required=True)
    ap.add_argument("--max-processes", type=int, required=True)
    args = ap.parse_args(argv)

    proto_out = os.fdopen(os.dup(1), "wb", buffering=0)
    proto_in = os.fdopen(os.dup(0), "rb")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    def send(msg: Ready | LoadFailed | Reply) -> None:
        proto_out.write(msg.model_dump_json().encode() + b"\n")

    try:
        _limit(resource.RLIMIT_AS, args.memory_mb << 20)
        _limit(resource.RLIMIT_CPU, args.cpu_seconds)
        _limit(resource.RLIMIT_NPROC, args.max_processes)
        _limit(resource.RLIMIT_FSIZE, 1 << 20)
        _limit(resource.RLIMIT_CORE, 0)
        _limit(resource.RLIMIT_NOFILE, 256)
    except (ValueError, OSError) as exc:
        send(LoadFailed(error=f"the sandbox could not set resource limits ({exc}); refusing to run"))
        return 1
    try:
        detector, ready = load_entry_point(args.folder, args.entry_point)
    except LoadError as exc:
        send(LoadFailed(error=clean(str(exc))))
        return 0
    except BaseException as exc:  # noqa: BLE001 (e.g. a class attribute that raises when read)
        send(LoadFailed(error=f"entry_point `{args.entry_point}`: loading failed: {describe(exc)}"))
        return 0
    send(ready)
    for line in proto_in:
        try:
            pair = PairEvidence.model_validate_json(line)
        except ValueError as exc:
            send(Reply(pair_id="?", error=f"benchmark sent an unreadable pair ({clean(str(exc), 80)})"))
            continue
        send(score_one(detector, pair, args.memory_mb))
    return 0


if __name__ == "__main__":
    sys.exit(main())
