"""Contained execution: a submitted detector runs inside a bubblewrap sandbox, one fresh process per pair.

Takes a submission snapshot, its entry point and `Limits`; produces a `WorkerProcess` (the sandbox, running the
trusted zygote of `worker.py`) to exchange protocol lines with, which enforces time and output limits on every
exchange and reports any failure as one message. The zygote forks a fresh process per pair and cleans up after it,
so what a detector keeps (globals, files, processes, IPC, its limits and priority) does not reach the next pair;
see worker.py. Residual channels, documented, not closed: freed zygote memory may still hold decoded evidence of an
earlier teacher (protocol.py), the PID counter and /tmp's timestamps carry a few bits, and a crash message's last
output line (at most 160 characters) is an immutable string the zygote cannot zero.

What the sandbox is (bubblewrap, `bwrap`, verified on Debian 12 / Linux 6.x; see CONTRIBUTING.md):
- new mount, PID, network, IPC, UTS and cgroup namespaces: the network namespace holds only a loopback device, so
  no connection leaves it (not even to the host's 127.0.0.1); the PID namespace sees only the sandbox's processes
  and dies with it;
- a fresh root file system holding, read-only, only /usr (+ the /bin, /lib links), the Python installation, the
  virtual environment, the `distillbench` package and the submission snapshot; a 64 MiB /tmp; a read-only /dev
  holding only null, zero, full, random and urandom, with a 64 MiB /dev/shm; no workspace, evidence store,
  manifest, labels, results folder, secret file, /etc, /home or /root;
- an empty environment (the benchmark's own environment, which may hold DISTILLBENCH_TEST_SECRET, is not passed
  even to bwrap itself), and `--new-session` so the sandbox cannot inject input into the terminal;
- as root: the detector runs as uid/gid 65534 (nobody) with every capability dropped and no_new_privs (through
  `setpriv`); as another user: inside a user namespace with further user namespaces disabled;
- a seccomp filter (`seccomp.py`, x86-64 and arm64): no new user namespaces, no sockets but AF_UNIX, no SysV IPC or
  message queues, no ptrace, keyrings, bpf, perf events, userfaultfd or io_uring, no other syscall ABIs;
- limits for the whole sandbox in one control group (`cgroup.py`: memory, processes, CPUs), joined before bwrap
  executes; per-process rlimits the zygote sets before forking (address space, CPU seconds, processes, file size,
  open files, no core dumps); the zygote's per-pair wall-clock limit, with the benchmark's own per-pair and total
  limits as a backstop, and caps on bytes of output.

If bubblewrap is missing or cannot create the namespaces, `check()` fails closed with one clear error (it starts a
sandbox and checks from inside: uid, network interfaces, /etc absent, seccomp active, user namespaces and AF_INET
sockets refused); so does `start()` when no control group can be made, unless `Limits(whole_sandbox_limits=False)`
says to do without one. Nothing runs unconfined unless the caller explicitly asks for `--unsafe-in-process`.
"""

from __future__ import annotations

import ast
import os
import selectors
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

import distillbench
from distillbench.errors import DistillBenchError
from distillbench.submission import cgroup, imports, seccomp
from distillbench.submission.protocol import MAX_REPLY_BYTES, clean, crash_message

SANDBOX_UID = 65534
SNAPSHOT_MOUNT = "/submission"
TMP_BYTES = 64 << 20
SHM_BYTES = 64 << 20
DEV_BYTES = 64 << 10
DEV_NODES = ("null", "zero", "full", "random", "urandom")  # what Python, numpy and torch open; no tty, no pts
# The zygote's own start (Python + the preloaded packages, e.g. torch) and its work around each pair (decoding the
# evidence, forking, cleaning up) are trusted and fast; the benchmark waits this much longer than the detector's
# limits before it gives up on the whole sandbox.
ZYGOTE_START_SECONDS = 120.0
ZYGOTE_GRACE_SECONDS = 15.0

_ENV = {
    "PATH": "/usr/bin:/bin", "HOME": "/tmp", "TMPDIR": "/tmp", "LANG": "C.UTF-8",
    # One thread per library keeps a detector to its share of the CPU and its address space small.
    "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "JOBLIB_MULTIPROCESSING": "0",
    "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
}


class Limits(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    pair_seconds: float = Field(60.0, gt=0, description="wall-clock limit for one pair")
    total_seconds: float = Field(1800.0, gt=0, description="wall-clock limit for the whole split")
    startup_seconds: float = Field(60.0, gt=0, description="wall-clock limit for loading the entry point")
    memory_mb: int = Field(2048, ge=256, description="address-space limit of the detector process")
    output_bytes: int = Field(1 << 20, ge=1024, description="stdout+stderr bytes allowed per pair")
    max_processes: int = Field(256, ge=8, description="processes and threads of the sandbox user")
    total_memory_mb: int | None = Field(None, ge=256, description="memory of the whole sandbox (its cgroup: every "
                                        "process, /tmp and /dev/shm); default twice memory_mb (the zygote + a pair)")
    total_processes: int | None = Field(None, ge=8, description="processes and threads of the whole sandbox (its "
                                        "cgroup); default max_processes")
    cpus: float = Field(1.0, gt=0, le=512, description="CPUs the whole sandbox may use at once (its cgroup)")
    whole_sandbox_limits: bool = Field(True, description="false: run without a cgroup (per-process limits only), "
                                       "where none can be made; the run's isolation text says so")

    def cgroup_settings(self) -> cgroup.Settings:
        return cgroup.Settings(memory_bytes=(self.total_memory_mb or 2 * self.memory_mb) << 20,
                               processes=self.total_processes or self.max_processes, cpus=self.cpus)


class WorkerProcess:
    """One contained worker; every exchange either returns a line or kills the process and returns why."""

    def __init__(self, argv: list[str], limits: Limits, pass_fds: tuple[int, ...] = (),
                 group: cgroup.Cgroup | None = None) -> None:
        self.limits = limits
        self.cgroup = group
        try:
            # The child joins the group between fork and exec: bwrap, and everything it starts, is inside from its
            # first instruction.
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(_ENV), cwd="/",
                start_new_session=True, close_fds=True, pass_fds=pass_fds,
                preexec_fn=None if group is None else group.enter,
            )
        except BaseException:
            if group is not None:
                group.remove()
            raise
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            os.set_blocking(stream.fileno(), False)
        self._out = bytearray()
        self._tail = bytearray()
        self.dead = False

    # -- exchanges ----------------------------------------------------------------------------------------------
    def exchange(self, request: bytes | None, timeout: float, timeout_message: str) -> bytes | str:
        """Send `request` (if any), wait for one reply line. Returns the line, or a failure message."""
        if self.dead:
            return "worker process is gone"
        deadline = time.monotonic() + timeout
        pending = memoryview(request) if request else None
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ, "out")
        sel.register(self.proc.stderr, selectors.EVENT_READ, "err")
        if pending is not None:
            sel.register(self.proc.stdin, selectors.EVENT_WRITE, "in")
        logged = 0
        try:
            while True:
                if b"\n" in self._out:
                    line, _, rest = bytes(self._out).partition(b"\n")
                    self._out = bytearray(rest)
                    return line
                if len(self._out) > MAX_REPLY_BYTES:
                    return self.fail(f"sent a reply longer than {MAX_REPLY_BYTES} bytes (process killed)")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return self.fail(timeout_message)
                for key, _ in sel.select(remaining):
                    if key.data == "in":
                        try:
                            n = os.write(self.proc.stdin.fileno(), pending[:1 << 16])
                        except BlockingIOError:
                            continue
                        except (BrokenPipeError, ConnectionResetError):
                            n, pending = 0, memoryview(b"")  # it died; stdout's end of file says how
                        pending = pending[n:]
                        if not pending:
                            sel.unregister(self.proc.stdin)
                    elif key.data == "out":
                        chunk = self._read(self.proc.stdout)
                        if chunk == b"":
                            if b"\n" in self._out:
                                break
                            return self._died()
                        self._out += chunk or b""
                    else:
                        chunk = self._read(self.proc.stderr)
                        if chunk == b"":
                            sel.unregister(self.proc.stderr)
                            continue
                        logged += len(chunk or b"")
                        self._tail = (self._tail + (chunk or b""))[-4096:]
                        if logged > self.limits.output_bytes:
                            return self.fail(f"wrote more than {self.limits.output_bytes} bytes of output to "
                                             "stdout/stderr (process killed)")
        finally:
            sel.close()

    @staticmethod
    def _read(stream) -> bytes | None:  # noqa: ANN001
        try:
            return os.read(stream.fileno(), 1 << 16)
        except BlockingIOError:
            return None

    def last_output_line(self) -> str:
        lines = [ln for ln in self._tail.decode("utf-8", "replace").splitlines() if ln.strip()]
        return clean(lines[-1], 160) if lines else ""

    def _died(self) -> str:
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()
            code = self.proc.returncode
        self._drain_stderr()
        self.kill()
        # bwrap reports a command killed by signal N as exit code 128 + N (negative: bwrap itself was signalled).
        signum = -code if code is not None and code < 0 else code - 128 if code is not None and code > 128 else None
        return crash_message(code, signum, self.last_output_line())

    def _drain_stderr(self) -> None:
        try:
            while chunk := self._read(self.proc.stderr):
                self._tail = (self._tail + chunk)[-4096:]
        except (OSError, ValueError):
            pass

    def fail(self, message: str) -> str:
        self.kill()
        return message

    def kill(self) -> None:
        """Kill the sandbox: bwrap's child runs with --die-with-parent, and its PID namespace dies with it; then
        whatever is left in its control group, and the group."""
        if self.dead:
            return
        self.dead = True
        try:
            self._kill()
        finally:
            if self.cgroup is not None:
                self.cgroup.remove()

    def _kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.kill()
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                stream.close()
            except OSError:
                pass


def _imported(tree: ast.AST) -> list[str]:
    """Every absolute import in a module, function-level ones included."""
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names += [node.module, *(f"{node.module}.{a.name}" for a in node.names if a.name != "*")]
    return names


def _parse(path: Path) -> ast.AST | None:
    try:
        return ast.parse(path.read_bytes())
    except (SyntaxError, ValueError, RecursionError, MemoryError, OSError):
        return None


def preload_modules(folder: Path) -> list[str]:
    """The modules of allowed packages that the submission's files import (read with `ast`, nothing executed):
    the zygote imports them once, so each per-pair fork finds them loaded. For a `distillbench` module, the
    imports inside it are added too, function-level ones included (a baseline that imports transformers inside
    `score` would otherwise import it afresh on every pair). A name the folder itself provides is left to the
    child, so the submission's own module wins as it would in-process."""
    own = {p.stem for p in folder.glob("*.py")} | {p.name for p in folder.iterdir() if p.is_dir()}
    package = Path(distillbench.__file__).resolve().parent
    found: dict[str, None] = {}
    for path in sorted(folder.rglob("*.py")):
        tree = _parse(path)
        for name in _imported(tree) if tree is not None else []:
            top = name.split(".")[0]
            if top in imports.ALLOWED_PACKAGES and top not in own:
                found[name] = None
    for name in [n for n in found if n.split(".")[0] == "distillbench"]:
        rel = Path(*name.split(".")[1:])
        for path in (package / rel.with_suffix(".py"), package / rel / "__init__.py"):
            tree = _parse(path) if path.is_file() else None
            for inner in _imported(tree) if tree is not None else []:
                if inner.split(".")[0] in imports.ALLOWED_PACKAGES:
                    found[inner] = None
    return list(found)


class Bubblewrap:
    """The sandbox. `forbidden` lists paths that must not be reachable inside it (workspace, results, secret)."""

    name = "bubblewrap"

    def __init__(self, forbidden: Sequence[Path] = ()) -> None:
        self.forbidden = [Path(p).resolve() for p in forbidden]
        self.bwrap = shutil.which("bwrap")
        self.as_root = os.geteuid() == 0
        self.setpriv = shutil.which("setpriv")

    # -- what is visible ---------------------------------------------------------------------------------------
    def _python_binds(self) -> list[Path]:
        paths = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)}
        paths.add(Path(os.path.realpath(sys.executable)).parent)
        paths.add(Path(distillbench.__file__).resolve().parent)
        # Binding a folder inside one already bound is redundant; keep the outermost.
        out = []
        for p in sorted(paths, key=lambda x: len(x.parts)):
            if not any(p.is_relative_to(q) for q in out):
                out.append(p)
        return out

    def _check_forbidden(self, binds: list[Path]) -> None:
        for bound in binds:
            for f in self.forbidden:
                if f.is_relative_to(bound) or f == bound:
                    raise DistillBenchError(f"refusing to run a submission: the sandbox would expose {f} (it lies inside "
                                            f"{bound}, which the sandbox mounts); move it elsewhere")

    def argv(self, snapshot: Path | None, command: list[str], seccomp_fd: int | None = None) -> list[str]:
        if self.bwrap is None:
            raise DistillBenchError(self._unavailable("bubblewrap (`bwrap`) is not installed"))
        binds = self._python_binds()
        self._check_forbidden(binds)
        args = [self.bwrap, "--die-with-parent", "--new-session", "--unshare-net", "--unshare-pid", "--unshare-ipc",
                "--unshare-uts", "--unshare-cgroup-try", "--hostname", "sandbox", "--clearenv"]
        if not self.as_root:
            args += ["--unshare-user", "--disable-userns", "--cap-drop", "ALL"]
        if seccomp_fd is not None:
            args += ["--seccomp", str(seccomp_fd)]
        for key, value in _ENV.items():
            args += ["--setenv", key, value]
        args += ["--ro-bind", "/usr", "/usr"]
        for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
            if os.path.islink(top):
                args += ["--symlink", os.readlink(top), top]
            elif os.path.isdir(top):
                args += ["--ro-bind", top, top]
        # /tmp first: a virtual environment or checkout under /tmp is then bound on top of it, not hidden by it.
        args += ["--size", str(TMP_BYTES), "--perms", "1777", "--tmpfs", "/tmp"]
        made: set[str] = {"/tmp"}
        for path in [*binds, Path(SNAPSHOT_MOUNT)]:
            # bwrap creates missing parents 0700, which the unprivileged sandbox user could not traverse.
            for parent in reversed(path.parents[:-1]):
                if str(parent) not in made and not str(parent).startswith("/usr"):
                    made.add(str(parent))
                    args += ["--perms", "0755", "--dir", str(parent)]
        for path in binds:
            if not str(path).startswith("/usr/"):
                args += ["--ro-bind", str(path), str(path)]
        if snapshot is not None:
            args += ["--ro-bind", str(snapshot), SNAPSHOT_MOUNT]
        args += ["--proc", "/proc"]
        # /dev: a small read-only tmpfs with the few device nodes a detector needs (bwrap's own --dev is an
        # unbounded tmpfs, writable inside a user namespace), and a size-limited /dev/shm.
        args += ["--size", str(DEV_BYTES), "--tmpfs", "/dev"]
        for node in DEV_NODES:
            if os.path.exists(f"/dev/{node}"):
                args += ["--dev-bind", f"/dev/{node}", f"/dev/{node}"]
        args += ["--size", str(SHM_BYTES), "--perms", "1777", "--tmpfs", "/dev/shm",
                 "--symlink", "/proc/self/fd", "/dev/fd", "--symlink", "/proc/self/fd/0", "/dev/stdin",
                 "--symlink", "/proc/self/fd/1", "/dev/stdout", "--symlink", "/proc/self/fd/2", "/dev/stderr",
                 "--remount-ro", "/dev"]
        args += ["--remount-ro", "/", "--chdir", "/tmp", "--"]
        if self.as_root:
            if self.setpriv is None:
                raise DistillBenchError(self._unavailable("`setpriv` (util-linux) is not installed, so the sandbox "
                                                          "cannot drop root"))
            args += [self.setpriv, f"--reuid={SANDBOX_UID}", f"--regid={SANDBOX_UID}", "--clear-groups",
                     "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]
        return args + command

    def worker_command(self, entry_point: str, limits: Limits, preload: Sequence[str] = ()) -> list[str]:
        cpu = int(limits.total_seconds + ZYGOTE_START_SECONDS) + 10
        return [os.path.abspath(sys.executable), "-I", "-m", "distillbench.submission.worker", "--folder", SNAPSHOT_MOUNT,
                "--entry-point", entry_point, "--memory-mb", str(limits.memory_mb), "--cpu-seconds", str(cpu),
                "--max-processes", str(limits.max_processes), "--startup-seconds", str(limits.startup_seconds),
                "--output-bytes", str(limits.output_bytes), "--preload", ",".join(preload)]

    def _seccomp_pipe(self) -> int | None:
        """A pipe holding the seccomp program; bwrap reads it from the inherited descriptor."""
        if not seccomp.supported():
            return None
        read_fd, write_fd = os.pipe()
        os.write(write_fd, seccomp.program())  # a few hundred bytes: fits the pipe buffer
        os.close(write_fd)
        return read_fd

    def start(self, snapshot: Path, entry_point: str, limits: Limits) -> WorkerProcess:
        """Start the sandbox's zygote; raises `cgroup.CgroupUnavailable` (fail closed) when no group can be made
        and the limits do not opt out."""
        command = self.worker_command(entry_point, limits, preload_modules(snapshot))
        self.argv(snapshot, command)  # a missing bwrap or a forbidden path fails before anything is made
        group = cgroup.create(limits.cgroup_settings()) if limits.whole_sandbox_limits else None
        fd = None
        try:
            fd = self._seccomp_pipe()
            return WorkerProcess(self.argv(snapshot, command, fd), limits, () if fd is None else (fd,), group)
        except BaseException:
            if group is not None:
                group.remove()
            raise
        finally:
            if fd is not None:
                os.close(fd)

    # -- fail closed -------------------------------------------------------------------------------------------
    def _unavailable(self, why: str) -> str:
        return (f"contained execution is unavailable: {why}. Install bubblewrap (`apt-get install bubblewrap`); as a "
                "non-root user on Ubuntu 24.04 also allow user namespaces (`sysctl "
                "kernel.apparmor_restrict_unprivileged_userns=0`) or run as root. `--unsafe-in-process` runs a "
                "detector unconfined, for debugging your own code only")

    _checked: dict[tuple, str] = {}

    def check(self, limits: Limits | None = None) -> None:
        """Start a sandbox once and verify, from inside, that it is what this module promises; with `limits`, also
        that a control group can be made (unless they opt out). Else raise."""
        if limits is not None and limits.whole_sandbox_limits:
            cgroup.create(limits.cgroup_settings()).remove()
        key = (self.bwrap, self.as_root, tuple(self._python_binds()))
        if key in Bubblewrap._checked:
            return
        # The interfaces come from /proc/net/dev (socket.if_nameindex() needs a netlink socket, which is refused).
        probe = ("import ctypes, os, socket, distillbench.submission.worker; "
                 "userns = ctypes.CDLL(None, use_errno=True).unshare(0x10000000); "
                 "ifs = sorted(ln.split(':')[0].strip() for ln in open('/proc/net/dev').read().splitlines()[2:]); "
                 "inet = 'allowed'\n"
                 "try: socket.socket(socket.AF_INET).close()\n"
                 "except OSError: inet = 'refused'\n"
                 "print(os.getuid(), ','.join(ifs), int(os.path.exists('/etc')), "
                 "open('/proc/self/status').read().split('Seccomp:')[1].split()[0], userns, inet)")
        fd = self._seccomp_pipe()
        argv = self.argv(None, [os.path.abspath(sys.executable), "-I", "-c", probe], fd)
        try:
            done = subprocess.run(argv, capture_output=True, env=dict(_ENV), cwd="/", timeout=120, text=True,
                                  pass_fds=() if fd is None else (fd,))
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise DistillBenchError(self._unavailable(f"starting bwrap failed ({exc})")) from exc
        finally:
            if fd is not None:
                os.close(fd)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise DistillBenchError(self._unavailable(f"bwrap could not create the sandbox ({clean(last, 160)})"))
        uid, interfaces, has_etc, filtered, userns, inet = done.stdout.split()
        expected_filter, expected_inet = ("2", "refused") if seccomp.supported() else (filtered, inet)
        if (interfaces != "lo" or (self.as_root and int(uid) != SANDBOX_UID) or has_etc != "0"
                or filtered != expected_filter or userns != "-1" or inet != expected_inet):
            raise DistillBenchError(self._unavailable(
                f"the sandbox is not isolated as expected (uid {uid}, network interfaces {interfaces}, /etc visible "
                f"{has_etc}, seccomp mode {filtered}, new user namespace {'refused' if userns == '-1' else 'allowed'}, "
                f"AF_INET sockets {inet})"))
        Bubblewrap._checked[key] = done.stdout

    def describe(self, limits: Limits | None = None) -> str:
        version = "bwrap"
        try:
            version = subprocess.run([self.bwrap, "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, TypeError, subprocess.TimeoutExpired):
            pass
        user = f"uid {SANDBOX_UID} via setpriv, no capabilities" if self.as_root else "user namespace, no capabilities"
        filt = ("seccomp (no user namespaces, sockets but AF_UNIX, SysV IPC, ptrace, keyrings, bpf, perf, io_uring)"
                if seccomp.supported() else "no seccomp filter")
        if limits is None:
            whole = ""
        elif limits.whole_sandbox_limits:
            s = limits.cgroup_settings()
            whole = (f"; a cgroup for the whole sandbox ({s.memory_bytes >> 20} MiB, {s.processes} processes, "
                     f"{s.cpus:g} CPUs)")
        else:
            whole = "; NO cgroup (whole_sandbox_limits=False): memory, processes and CPU are limited per process only"
        return (f"{version}: mount/pid/net/ipc/uts namespaces, loopback-only network, read-only system and "
                f"submission, 64 MiB /tmp, read-only /dev with 64 MiB /dev/shm, empty environment, {user}, {filt}; "
                f"a fresh process per pair, nothing kept between pairs; rlimits on memory, CPU, processes, files"
                f"{whole}")
