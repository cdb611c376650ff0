"""The contained zygote: a trusted process that forks one fresh process per pair to run the submitted detector.

Runs inside the sandbox (`python -I -m distillbench.submission.worker ...`), as an unprivileged user, with only
the submission snapshot, the Python installation and the `distillbench` package visible. Takes evidence requests
on stdin (`protocol.Encoder`); produces one `Ready`/`LoadFailed` line, then one `Reply` line per pair, on stdout.

The zygote itself never runs submitted code: it imports only `distillbench` and the allowed packages the
submission's files import (`--preload`, found by the benchmark with `ast`), so each fork starts warm. Why fork per
pair: a detector must judge one pair the way a real investigation would, without remembering the students of
other pairs. For every pair the zygote
1. forks a child, which closes every descriptor of the zygote's (the protocol pipes above all), points stdout and
   stderr at a pipe the zygote reads and caps, lowers its CPU limit to the pair's, imports the entry point,
   instantiates the class, scores the one pair, writes one reply line on a pipe of its own and exits;
2. kills the child when the pair's time, output or reply size is used up, and reports a crash when it dies;
3. then, before it forwards the reply, kills every other process of the sandbox (`kill(-1, SIGKILL)` as the
   sandbox user spares only the caller and the PID namespace's init; the zygote is a child subreaper, so it reaps
   them all), and empties every place a process could write (`SCRATCH`: /tmp and /dev/shm; /dev is read-only and
   the rest of the file system too). SysV IPC and POSIX message queues, which live outside the file system, are
   refused by the seccomp filter. If the scrub fails, the zygote exits without replying: the sandbox is replaced
   and that pair is recorded as failed, rather than the next pair running on a dirty sandbox.
A first child at start-up only loads the entry point, so a broken submission fails once, as `LoadFailed`.

A child inherits the zygote's memory, so the zygote holds no more than the pair may see: the evidence its teacher's
pairs share (kept while consecutive pairs use it) and the bytes of this pair's private fields, which it never
decodes and zeroes once the child has forked (protocol.py). What it held for an earlier teacher is dropped, though
freed memory is not scrubbed (see protocol.py).

The zygote is non-dumpable (and the seccomp filter refuses ptrace and process_vm_*), so a child running as the same
user cannot read or write its memory or open its descriptors through /proc. Resource limits are lowered (hard
limits too) before anything is forked; the child's memory limit is per process, and the whole sandbox's memory,
processes and CPU are limited together by its control group (`cgroup.py`), set up by the benchmark. A child
prefers itself as the kernel's out-of-memory victim (`oom_score_adj` 1000), so the zygote normally survives a
memory-hungry detector.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import importlib
import math
import os
import resource
import select
import signal
import stat
from pathlib import Path
import sys
import time
from typing import Any

from distillbench.detect.base import Detector, Verdict, budget_of, call_score
from distillbench.detect.registry import check_detector
from distillbench.evidence.view import AccessLevel, PairEvidence
from distillbench.submission.protocol import (
    MAX_REPLY_BYTES, QUERY_PREFIX, BlobHeader, Decoder, FrameReader, LoadFailed, Ready, Reply, clean, complete,
    crash_message, parse_request, zero,
)

SCRATCH = ("/tmp", "/dev/shm")  # the writable places of the sandbox (sandbox.py mounts them)
_PR_SET_DUMPABLE, _PR_SET_CHILD_SUBREAPER = 4, 36


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
    # The folder is read-only in the sandbox; in-process runs must not litter it (set back below: a debugging run
    # shares the benchmark's interpreter).
    was, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        module = importlib.import_module(module_name)
    except BaseException as exc:  # noqa: BLE001 (any failure of submitted code is reported, not raised)
        raise LoadError(f"entry_point `{entry_point}`: importing module {module_name!r} failed: {describe(exc)}") from exc
    finally:
        sys.dont_write_bytecode = was
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
        # `uses` decides what a pair costs; a value the static review could not read (not a literal) is checked here.
        check_detector(cls)
    except (TypeError, ValueError) as exc:
        raise LoadError(f"entry_point `{entry_point}`: {clean(str(exc))}") from None
    except BaseException as exc:  # noqa: BLE001 (e.g. a `uses` property that raises)
        raise LoadError(f"entry_point `{entry_point}`: reading {class_name}.uses failed: {describe(exc)}") from exc
    try:
        detector = cls()
    except BaseException as exc:  # noqa: BLE001
        raise LoadError(f"entry_point `{entry_point}`: {class_name}() failed: {describe(exc)}") from exc
    return detector, Ready(name=clean(cls.name, 80), access=access.value, summary=clean(cls.summary),
                           budget=budget_of(cls).value, uses=sorted(cls.uses))


class LoadError(Exception):
    pass


def score_one(detector: Any, pair: PairEvidence, memory_mb: int | None = None, client: Any = None) -> Reply:
    try:
        verdict = call_score(detector, pair, client)
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


def _prctl(option: int, value: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(option, value, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option}, {value}): {os.strerror(ctypes.get_errno())}")


def preload(modules: list[str]) -> None:
    """Import the trusted modules the submission will import, so that every fork finds them loaded."""
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            # `from package import name` may name an attribute, which a lazy package (transformers) loads only
            # when it is read.
            parent, _, attr = name.rpartition(".")
            try:
                getattr(importlib.import_module(parent), attr) if parent else None
            except BaseException:  # noqa: BLE001 (the child imports it again and reports the failure on its pair)
                pass
        except BaseException:  # noqa: BLE001
            pass


# -- between pairs ------------------------------------------------------------------------------------------------
def kill_leftovers() -> None:
    """Kill every other process the sandbox user has in this PID namespace and reap them (we are their subreaper)."""
    while True:
        try:
            os.kill(-1, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):  # none left; or only the namespace's root-owned init
            pass
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def _mounts() -> set[str]:
    """Mount points of this sandbox: binds of the benchmark's own files may sit under /tmp (a checkout or virtual
    environment in /tmp/...), read-only, and are not the detector's to remove."""
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        # Field 5 is the mount point, with spaces and the like written as octal escapes.
        return {line.split()[4].encode().decode("unicode_escape") for line in f if len(line.split()) > 4}


def _empty(path: str, mounts: set[str], keep: set[str]) -> None:
    """Remove everything under `path` but the mount points in it and the folders that lead to them (`keep`), whose
    contents are emptied the same way."""
    with os.scandir(path) as entries:
        items = list(entries)
    for entry in items:
        if entry.path in mounts:
            continue
        if entry.is_dir(follow_symlinks=False):
            if entry.path not in keep:  # those lead to a bind and belong to the sandbox's builder, not to us
                os.chmod(entry.path, stat.S_IRWXU)  # a directory made unreadable (mode 000) is still ours to open
            _empty(entry.path, mounts, keep)
            if entry.path not in keep:
                os.rmdir(entry.path)
        else:
            os.unlink(entry.path)


def scrub(places: tuple[str, ...] = SCRATCH) -> None:
    """Leave nothing a child made for the next child: no process, no file. Raises if anything is left."""
    kill_leftovers()
    mounts = _mounts()
    for place in places:
        if os.path.isdir(place):
            inside = {m for m in mounts if m.startswith(place.rstrip("/") + "/")}
            keep = {str(parent) for m in inside for parent in Path(m).parents if str(parent).startswith(place + "/")}
            _empty(place, inside, keep)
            left = [p for p in _walk(place) if p not in inside and p not in keep]
            if left:
                raise OSError(f"{place} is not empty after cleaning ({left[0]} is left)")


def _walk(place: str) -> list[str]:
    out = []
    for dirpath, dirnames, filenames in os.walk(place):
        out += [os.path.join(dirpath, n) for n in dirnames + filenames]
        dirnames[:] = [d for d in dirnames if not os.path.ismount(os.path.join(dirpath, d))]
    return out


# -- one child ----------------------------------------------------------------------------------------------------
def _close_inherited(keep: set[int]) -> None:
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


def _pipe_client(reply_fd: int, answer_fd: int):  # noqa: ANN202 (query.client.QueryClient)
    """The detector's query client in a contained process: a request line out on the reply pipe, an answer frame in."""
    import json

    from distillbench.query.client import QueryClient, QueryError
    from distillbench.query.requests import ANSWER

    reader = FrameReader(answer_fd)

    def send(request):  # noqa: ANN001, ANN202
        line = QUERY_PREFIX + b'"request":' + request.model_dump_json().encode() + b"}\n"
        while line:
            line = line[os.write(reply_fd, line):]
        payload = reader.read()
        if payload is None:
            raise QueryError("the harness closed the query channel")
        message = json.loads(payload)
        if not message.get("ok"):
            raise QueryError(str(message.get("error", "refused")))
        return ANSWER.validate_python(message["answer"])

    return QueryClient(send)


def _child(args: argparse.Namespace, reply_fd: int, out_fd: int, job: tuple[dict, bytearray] | None,
           seconds: float, answer_fd: int | None = None) -> None:
    """In the forked child: become a detector process for one job, write one line, exit. Never returns."""
    code = 0
    try:
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(out_fd, 1)
        os.dup2(out_fd, 2)
        _close_inherited({0, 1, 2, reply_fd, *(() if answer_fd is None else (answer_fd,))})
        cpu = int(math.ceil(seconds)) + 1
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
        try:
            # A non-dumpable process's /proc/self belongs to root; the child holds no secret of the zygote's, and
            # must be able to name itself the first victim when the sandbox runs out of memory.
            _prctl(_PR_SET_DUMPABLE, 1)
            with open("/proc/self/oom_score_adj", "w") as f:
                f.write("1000")
        except OSError:
            pass
        pair = None
        if job is not None:
            try:
                pair = complete(*job)
            except ValueError as exc:
                pair_id = job[0].get("pair_id", "?")
                line = Reply(pair_id=pair_id, error=f"benchmark sent an unreadable pair ({clean(str(exc), 80)})")
                os.write(reply_fd, line.model_dump_json().encode() + b"\n")
                os._exit(0)
            del job
        try:
            detector, ready = load_entry_point(args.folder, args.entry_point)
        except LoadError as exc:
            msg: Ready | LoadFailed | Reply = LoadFailed(error=clean(str(exc)))
        except BaseException as exc:  # noqa: BLE001 (e.g. a class attribute that raises when read)
            msg = LoadFailed(error=f"entry_point `{args.entry_point}`: loading failed: {describe(exc)}")
        else:
            client = _pipe_client(reply_fd, answer_fd) if pair is not None and answer_fd is not None else None
            msg = ready if pair is None else score_one(detector, pair, args.memory_mb, client)
        if pair is not None and isinstance(msg, LoadFailed):
            msg = Reply(pair_id=pair.pair_id, error=msg.error)
        line = msg.model_dump_json().encode() + b"\n"
        while line:
            line = line[os.write(reply_fd, line):]
    except BaseException:  # noqa: BLE001 (nothing may escape a forked child into the zygote's loop)
        code = 70
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:  # noqa: BLE001
                pass
        os._exit(code)


# Bytes a child sent land only in bytearrays, which are zeroed once the pair is done: the next child is forked from
# this process's memory, and freed-but-not-overwritten bytes would otherwise carry one pair's words to the next.
_CHUNK = bytearray(1 << 16)


def _read(fd: int) -> memoryview | None:
    """What the pipe holds (a view of `_CHUNK`, valid until the next read); b"" at end of file."""
    try:
        n = os.readv(fd, [_CHUNK])
    except BlockingIOError:
        return None
    return memoryview(_CHUNK)[:n]


def run_child(args: argparse.Namespace, job: tuple[dict, bytearray] | None, seconds: float,
              timeout_message: str, relay=None) -> bytearray | str:  # noqa: ANN001
    """Fork a child for one job (None: only load the entry point; else the pair's shared fields and the bytes of its
    private ones, which the zygote zeroes as soon as the child holds its copy); its reply line (untrusted bytes),
    or what went wrong.

    `relay(line) -> bytearray`: passes one query request line to the benchmark and returns its answer frame's
    payload, which goes to the child on its answer pipe. The time spent waiting for the benchmark is not the
    detector's: its deadline moves by as much."""
    reply_r, reply_w = os.pipe()
    out_r, out_w = os.pipe()
    answer_r, answer_w = os.pipe() if job is not None else (None, None)
    gc.freeze()  # the child's garbage collector then leaves the zygote's pages shared
    pid = os.fork()
    if pid == 0:
        os.close(reply_r)
        os.close(out_r)
        if answer_w is not None:
            os.close(answer_w)
        _child(args, reply_w, out_w, job, seconds, answer_r)
    if job is not None:
        zero(job[1])
        os.close(answer_r)
        os.set_blocking(answer_w, False)
    os.close(reply_w)
    os.close(out_w)
    deadline = time.monotonic() + seconds
    reply, tail, logged, status = bytearray(), bytearray(), 0, None
    pending = bytearray()  # an answer frame not yet taken by the child
    sent = 0
    exited = None  # the child's wait status once it is gone
    try:
        try:
            pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            pidfd = None  # before Linux 5.3: poll for the exit below
        for fd in (reply_r, out_r):
            os.set_blocking(fd, False)
        poller = select.poll()
        for fd in (reply_r, out_r, pidfd):
            if fd is not None:
                poller.register(fd, select.POLLIN)
        while True:
            if (end := reply.find(b"\n")) >= 0:
                line = reply[:end]
                del reply[: end + 1]
                if not line.startswith(QUERY_PREFIX) or answer_w is None:
                    return line  # a copy, which the caller zeroes once it is sent
                if exited is not None:  # a query from a process that is gone: nobody to answer
                    zero(line)
                    status = exited
                    continue
                if pending or relay is None:
                    zero(line)
                    return "sent a query before taking the answer to its last one (process killed)"
                waited = time.monotonic()
                answer = relay(line)
                zero(line)
                deadline += time.monotonic() - waited
                # The frame (protocol.frame) built in one buffer of its final size, so no copy of the answer is left
                # behind in freed memory for the next pair's process to inherit.
                pending = bytearray(8 + len(answer))
                pending[:8] = len(answer).to_bytes(8, "big")
                pending[8:] = answer
                zero(answer)
                sent = 0
                poller.register(answer_w, select.POLLOUT)
                continue
            if len(reply) > MAX_REPLY_BYTES:
                return f"sent a reply longer than {MAX_REPLY_BYTES} bytes (process killed)"
            if logged > args.output_bytes:
                return f"wrote more than {args.output_bytes} bytes of output to stdout/stderr (process killed)"
            if status is not None:
                code = os.waitstatus_to_exitcode(status)
                last = [ln for ln in tail.decode("utf-8", "replace").splitlines() if ln.strip()]
                msg = crash_message(code if code >= 0 else None, -code if code < 0 else None,
                                    clean(last[-1], 160) if last else "")
                return msg
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return timeout_message
            events = poller.poll(min(remaining, 0.05 if pidfd is None else remaining) * 1000)
            for fd, ev in events:
                if fd == reply_r:
                    reply += _read(reply_r) or b""
                elif fd == answer_w:
                    try:
                        sent += os.write(answer_w, memoryview(pending)[sent : sent + (1 << 16)])
                    except BlockingIOError:
                        continue
                    except BrokenPipeError:
                        sent = len(pending)
                    if sent >= len(pending):
                        zero(pending)
                        pending = bytearray()
                        poller.unregister(answer_w)
                elif fd == out_r:
                    chunk = _read(out_r)
                    if chunk is not None and not chunk:
                        poller.unregister(out_r)
                    elif chunk:
                        logged += len(chunk)
                        tail += chunk
                        if len(tail) > 4096:
                            zero(tail[:-4096])
                            del tail[:-4096]
            if pidfd is None or any(fd == pidfd for fd, _ in events):
                got, st = os.waitpid(pid, os.WNOHANG)
                if got == pid:
                    # Its reply may still sit in the pipe: read what is there before calling it a crash.
                    while (chunk := _read(reply_r)) and len(reply) <= MAX_REPLY_BYTES:
                        reply += chunk
                    exited = st
                    status = st if b"\n" not in reply else None
                    if pidfd is not None:
                        poller.unregister(pidfd)
                        os.close(pidfd)
                        pidfd = -1
    finally:
        zero(reply)
        zero(tail)
        zero(pending)
        zero(_CHUNK)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        for fd in (reply_r, out_r, *(() if pidfd in (None, -1) else (pidfd,)), *(() if answer_w is None else (answer_w,))):
            os.close(fd)


# -- the zygote -------------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="distillbench.submission.worker")
    ap.add_argument("--folder", required=True)
    ap.add_argument("--entry-point", required=True)
    ap.add_argument("--memory-mb", type=int, required=True)
    ap.add_argument("--cpu-seconds", type=int, required=True)
    ap.add_argument("--max-processes", type=int, required=True)
    ap.add_argument("--startup-seconds", type=float, default=60.0)
    ap.add_argument("--output-bytes", type=int, default=1 << 20)
    ap.add_argument("--preload", default="", help="comma-separated trusted modules to import before forking")
    args = ap.parse_args(argv)

    proto_out = os.fdopen(os.dup(1), "wb", buffering=0)
    proto_in = FrameReader(os.dup(0))
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    def send(msg: Ready | LoadFailed | Reply | bytearray) -> None:
        if isinstance(msg, bytearray):
            proto_out.write(msg)  # not `msg + b"\n"`: that copy would outlive the pair, unzeroed
            proto_out.write(b"\n")
            zero(msg)
        else:
            proto_out.write(msg.model_dump_json().encode() + b"\n")

    try:
        _prctl(_PR_SET_DUMPABLE, 0)
        _prctl(_PR_SET_CHILD_SUBREAPER, 1)
        _limit(resource.RLIMIT_AS, args.memory_mb << 20)
        _limit(resource.RLIMIT_CPU, args.cpu_seconds)
        _limit(resource.RLIMIT_NPROC, args.max_processes)
        _limit(resource.RLIMIT_FSIZE, 1 << 20)
        _limit(resource.RLIMIT_CORE, 0)
        _limit(resource.RLIMIT_NOFILE, 256)
    except (ValueError, OSError) as exc:
        send(LoadFailed(error=f"the sandbox could not set resource limits ({exc}); refusing to run"))
        return 1
    preload([m for m in args.preload.split(",") if m])

    hello = run_child(args, None, args.startup_seconds,
                      f"did not finish loading within {args.startup_seconds:.0f} s (process killed)")
    scrub()
    if isinstance(hello, str):
        send(LoadFailed(error=f"failed to start: {hello}"))
        return 0
    send(hello)
    decoder = Decoder()

    def relay(line: bytearray) -> bytearray:
        """A query line to the benchmark, its answer frame back (the benchmark always answers, or kills us)."""
        proto_out.write(line)  # no bytes() copy: every byte the child sent stays in buffers we zero
        proto_out.write(b"\n")
        answer = proto_in.read()
        if answer is None:
            os._exit(0)  # the benchmark is gone
        return answer

    while (payload := proto_in.read()) is not None:
        request = parse_request(payload)
        data = proto_in.read()
        if data is None:
            break
        if isinstance(request, BlobHeader):
            decoder.blob(request, data)
            continue
        got = run_child(args, (decoder.shared(request), data), request.seconds, request.timeout_message, relay)
        try:
            scrub()
        except (OSError, RecursionError) as exc:
            print(f"sandbox: could not clean up after the pair ({clean(str(exc), 120)}); stopping", file=sys.stderr,
                  flush=True)
            os._exit(75)
        send(got if isinstance(got, bytearray) else Reply(pair_id=request.values.get("pair_id", "?"), error=got))
    return 0


if __name__ == "__main__":
    sys.exit(main())
