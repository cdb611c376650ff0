"""Limits on the whole sandbox, not on each process: one control group per sandbox.

Takes `Limits` (total memory, processes, CPUs); produces a `Cgroup` that the sandbox's first process joins before
it executes bubblewrap, so every process of the sandbox (the zygote, every detector process, anything they fork) is
counted together: N processes cannot hold N times the memory limit, a fork bomb stops at the process limit, and the
sandbox gets its share of the CPUs and no more. Files the detector writes to /tmp and /dev/shm are memory too, and
the kernel charges them to the same group.

Where the group lives, in order of preference:
- cgroup v2, when the unified hierarchy is mounted writable, the benchmark's own group offers the memory and pids
  controllers to its children (`cgroup.subtree_control`, e.g. a systemd unit with `Delegate=yes`) and a child can be
  created there;
- cgroup v1, when writable `memory` and `pids` hierarchies are mounted (`cpu` too, if present): as root on a hybrid
  host (Debian 10 and older, many container hosts);
- otherwise `CgroupUnavailable`: the benchmark fails closed, unless the caller opts out with
  `Limits(whole_sandbox_limits=False)`, in which case only the per-process rlimits hold and the run's isolation
  text says so.

Each group is made next to the benchmark's own group (`<its group>/distillbench-<pid>-<n>`), and removed when the
sandbox ends (its processes killed first), on errors too.
"""

from __future__ import annotations

import itertools
import os
import signal
from dataclasses import dataclass
from pathlib import Path

from distillbench.errors import DistillBenchError

PERIOD_US = 100_000
_counter = itertools.count()


class CgroupUnavailable(DistillBenchError):
    pass


@dataclass(frozen=True)
class Settings:
    memory_bytes: int
    processes: int
    cpus: float


def _mounts() -> list[tuple[str, str, set[str]]]:
    """(mount point, file system type, super options) of every cgroup mount this process sees."""
    out = []
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) >= 5 and len(tail) >= 3 and tail[0] in ("cgroup", "cgroup2"):
            point = fields[4].replace("\\040", " ")
            out.append((point, tail[0], set(tail[2].split(","))))
    return out


def _own_groups() -> dict[str, str]:
    """Controller (or "" for the unified hierarchy) -> this process's group path in that hierarchy."""
    out = {}
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        _, controllers, path = line.split(":", 2)
        for c in controllers.split(",") if controllers else [""]:
            out[c] = path
    return out


def _write(path: Path, value: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


class Cgroup:
    """One sandbox's group: one directory (v2) or one per controller hierarchy (v1)."""

    def __init__(self, version: int, dirs: dict[str, Path], settings: Settings) -> None:
        self.version, self.dirs, self.settings = version, dirs, settings
        # Paths opened in the child between fork and exec: prepared here so that the child allocates nothing.
        self._procs = [str(d / "cgroup.procs") for d in dict.fromkeys(dirs.values())]

    def enter(self) -> None:
        """Move the calling process into the group (writing 0 means "me"); for `subprocess.Popen(preexec_fn=...)`,
        so the sandbox is inside before bubblewrap, let alone submitted code, runs."""
        for path in self._procs:
            fd = os.open(path, os.O_WRONLY)
            try:
                os.write(fd, b"0")
            finally:
                os.close(fd)

    def pids(self) -> set[int]:
        out = set()
        for path in self._procs:
            try:
                out |= {int(x) for x in Path(path).read_text().split()}
            except (OSError, ValueError):
                pass
        return out

    def oom_kills(self) -> int:
        """How many processes of the group the kernel killed for exceeding its memory limit."""
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        try:
            text = (self.dirs["memory"] / name).read_text()
        except OSError:
            return 0
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return 0

    def describe(self) -> str:
        s = self.settings
        return (f"cgroup v{self.version} for the whole sandbox ({s.memory_bytes >> 20} MiB of memory, {s.processes} "
                f"processes, {s.cpus:g} CPUs)")

    def remove(self) -> None:
        """Kill whatever is left in the group and remove it; idempotent, never raises."""
        for d in dict.fromkeys(self.dirs.values()):
            if self.version == 2 and (d / "cgroup.kill").exists():
                try:
                    _write(d / "cgroup.kill", "1")
                except OSError:
                    pass
        for _ in range(1000):  # processes leave the group when they are reaped: a few rounds at most
            left = self.pids()
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            for d in list(dict.fromkeys(self.dirs.values())):
                try:
                    d.rmdir()
                except FileNotFoundError:
                    pass
                except OSError:
                    continue
            if not any(d.exists() for d in self.dirs.values()):
                return
            os.sched_yield()


def _v2(settings: Settings, name: str) -> Cgroup | str:
    unified = [m for m in _mounts() if m[1] == "cgroup2"]
    own = _own_groups().get("")
    if not unified or own is None:
        return "no cgroup v2 hierarchy"
    point = Path(unified[0][0])
    parent = point / own.lstrip("/")
    try:
        available = set((parent / "cgroup.controllers").read_text().split())
    except OSError as exc:
        return f"cgroup v2: cannot read {parent}/cgroup.controllers ({exc.strerror})"
    needed = {"memory", "pids"} | ({"cpu"} if "cpu" in available else set())
    if not {"memory", "pids"} <= available:
        return f"cgroup v2: {parent} offers the controllers {sorted(available) or 'none'}, not memory and pids"
    try:
        enabled = set((parent / "cgroup.subtree_control").read_text().split())
        if not needed <= enabled:
            _write(parent / "cgroup.subtree_control", " ".join(f"+{c}" for c in sorted(needed - enabled)))
        child = parent / name
        child.mkdir()
    except OSError as exc:
        return f"cgroup v2: cannot create a group under {parent} ({exc.strerror}; delegate it, e.g. a systemd unit with Delegate=yes)"
    group = Cgroup(2, {c: child for c in (*needed, "procs")}, settings)
    try:
        _write(child / "memory.max", str(settings.memory_bytes))
        if (child / "memory.swap.max").exists():
            _write(child / "memory.swap.max", "0")
        _write(child / "pids.max", str(settings.processes))
        if "cpu" in needed:
            _write(child / "cpu.max", f"{int(settings.cpus * PERIOD_US)} {PERIOD_US}")
    except OSError as exc:
        group.remove()
        return f"cgroup v2: cannot set limits in {child} ({exc.strerror})"
    return group


def _v1(settings: Settings, name: str) -> Cgroup | str:
    own = _own_groups()
    points = {}
    for point, fstype, options in _mounts():
        if fstype == "cgroup":
            for c in ("memory", "pids", "cpu"):
                if c in options and c not in points:
                    points[c] = Path(point)
    missing = [c for c in ("memory", "pids") if c not in points]
    if missing:
        return f"cgroup v1: no {' or '.join(missing)} hierarchy mounted"
    dirs: dict[str, Path] = {}
    group = Cgroup(1, dirs, settings)
    try:
        for c, point in points.items():
            d = point / own.get(c, "/").lstrip("/") / name
            d.mkdir()
            dirs[c] = d
        group._procs = [str(d / "cgroup.procs") for d in dirs.values()]
        mem = dirs["memory"]
        _write(mem / "memory.limit_in_bytes", str(settings.memory_bytes))
        if (mem / "memory.memsw.limit_in_bytes").exists():  # with swap accounting: no escape into swap either
            try:
                _write(mem / "memory.memsw.limit_in_bytes", str(settings.memory_bytes))
            except OSError:
                pass
        _write(dirs["pids"] / "pids.max", str(settings.processes))
        if "cpu" in dirs:
            _write(dirs["cpu"] / "cpu.cfs_period_us", str(PERIOD_US))
            _write(dirs["cpu"] / "cpu.cfs_quota_us", str(int(settings.cpus * PERIOD_US)))
    except OSError as exc:
        group.remove()
        return f"cgroup v1: cannot create or configure {exc.filename or 'a group'} ({exc.strerror})"
    return group


def create(settings: Settings) -> Cgroup:
    """A fresh group holding `settings`, or `CgroupUnavailable` saying why neither hierarchy could be used."""
    name = f"distillbench-{os.getpid()}-{next(_counter)}"
    reasons = []
    for attempt in (_v2, _v1):
        got = attempt(settings, name)
        if isinstance(got, Cgroup):
            return got
        reasons.append(got)
    raise CgroupUnavailable(
        "contained execution is unavailable: the sandbox needs a control group to limit its memory, processes and "
        f"CPU in total, and none could be made ({'; '.join(reasons)}). Run as root on a host with cgroup v1 "
        "memory+pids hierarchies, or give the benchmark a delegated cgroup v2 subtree (`systemd-run --user --scope "
        "-p Delegate=yes ...`); or opt out with Limits(whole_sandbox_limits=False), which leaves only per-process "
        "limits")
