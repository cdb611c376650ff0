"""The sandbox's system-call filter: no new user namespaces, no network families, no kernel interfaces a detector
never needs.

Produces the classic-BPF program bubblewrap loads with `--seccomp FD`. Why: as root, bubblewrap builds the sandbox
without a user namespace and the detector then runs as uid 65534, which the kernel would still let create user
namespaces of its own (a large kernel attack surface, the reason Ubuntu restricts them); `--disable-userns` only
exists for sandboxes that are themselves a user namespace. The filter refuses, with EPERM:
- `unshare` and `clone` with CLONE_NEWUSER;
- `socket` and `socketpair` for every address family but AF_UNIX (the first argument): the network namespace
  holds only loopback, but some families are not namespaced at all (AF_VSOCK reaches the hypervisor of a VM) and
  others (netlink, packet) are kernel attack surface; the worker itself needs only pipes;
- SysV IPC and POSIX message queues (`shmget`, `semget`, `msgget`, `mq_open`): their objects outlive the process
  that made them and sit outside the file system the zygote empties between pairs, so they would carry state
  from one pair to the next (POSIX shared memory and semaphores are files in /dev/shm, which is emptied);
- `ptrace`, `process_vm_readv`/`writev`, `pidfd_getfd`: the detector runs as the same user as the trusted
  zygote that forks it and must not reach into it (the zygote is also non-dumpable, which the kernel checks too);
- `prlimit64`, `sched_setaffinity`/`setscheduler`/`setparam`/`setattr`, `setpriority`, `ioprio_set` aimed at any
  process but the caller: a pair's process could otherwise set the zygote's limits or priority, which every later
  pair's process inherits;
- `keyctl`, `add_key`, `request_key` (the kernel keyring is not namespaced), `bpf`, `perf_event_open`,
  `userfaultfd`;
- any system call through another ABI (32-bit or x32 on x86-64), which would bypass the numbers checked here;
and answers `clone3` with ENOSYS (its flags sit in memory a filter cannot read; the C library then falls back to
`clone`, which is checked), as Docker's default profile does, and `io_uring_*` with ENOSYS (io_uring submits
socket and file operations that no system-call filter sees; libraries fall back to plain calls). Everything else
is allowed.
"""

from __future__ import annotations

import errno
import platform
import socket as _socket
import struct

# struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]
_NR, _ARCH, _ARG0_LOW, _ARG1_LOW = 0, 4, 16, 24
_LD_W_ABS, _JEQ_K, _JSET_K, _RET_K = 0x20, 0x15, 0x45, 0x06
_ALLOW = 0x7FFF0000
_ERRNO = 0x00050000
CLONE_NEWUSER = 0x10000000
AF_UNIX = int(_socket.AF_UNIX)
_X32_BIT = 0x40000000

# Per machine: (AUDIT_ARCH value, {name: number}); numbers from asm/unistd_64.h and asm-generic/unistd.h.
_TABLES = {
    "x86_64": (0xC000003E, {
        "clone": 56, "unshare": 272, "clone3": 435, "socket": 41, "socketpair": 53,
        "keyctl": 250, "add_key": 248, "request_key": 249, "bpf": 321, "perf_event_open": 298, "userfaultfd": 323,
        "shmget": 29, "semget": 64, "msgget": 68, "mq_open": 240,
        "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311, "pidfd_getfd": 438,
        "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
        "prlimit64": 302, "sched_setaffinity": 203, "sched_setscheduler": 144, "sched_setparam": 142,
        "sched_setattr": 314, "setpriority": 141, "ioprio_set": 251}),
    "aarch64": (0xC00000B7, {
        "clone": 220, "unshare": 97, "clone3": 435, "socket": 198, "socketpair": 199,
        "keyctl": 219, "add_key": 217, "request_key": 218, "bpf": 280, "perf_event_open": 241, "userfaultfd": 282,
        "shmget": 194, "semget": 190, "msgget": 186, "mq_open": 180,
        "ptrace": 117, "process_vm_readv": 270, "process_vm_writev": 271, "pidfd_getfd": 438,
        "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
        "prlimit64": 261, "sched_setaffinity": 122, "sched_setscheduler": 119, "sched_setparam": 118,
        "sched_setattr": 274, "setpriority": 140, "ioprio_set": 30}),
}
DENIED = ("keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd", "shmget", "semget", "msgget",
          "mq_open", "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd")
NOT_IMPLEMENTED = ("clone3", "io_uring_setup", "io_uring_enter", "io_uring_register")
# Calls that change another process's limits or scheduling: allowed on the caller only (pid 0), since every pair's
# process is forked from the zygote and would inherit whatever a previous pair set on it (a channel between pairs).
SELF_ONLY_PID0 = ("prlimit64", "sched_setaffinity", "sched_setscheduler", "sched_setparam", "sched_setattr")
PRIO_PROCESS, IOPRIO_WHO_PROCESS = 0, 1


def supported() -> bool:
    return platform.machine() in _TABLES


def _assemble(code: list[tuple]) -> bytes:
    """Instructions are (opcode, k, jump-if-true label, jump-if-false label) or a label string; jumps go forward."""
    labels, pos = {}, 0
    for item in code:
        if isinstance(item, str):
            labels[item] = pos
        else:
            pos += 1
    out, pos = [], 0
    for item in code:
        if isinstance(item, str):
            continue
        op, k, jt, jf = (*item, None, None)[:4]
        offsets = [0 if j is None else labels[j] - pos - 1 for j in (jt, jf)]
        if not all(0 <= o < 256 for o in offsets):
            raise ValueError("cBPF jumps are forward and shorter than 256 instructions")
        out.append(struct.pack("=HBBI", op, offsets[0], offsets[1], k))
        pos += 1
    return b"".join(out)


def program(machine: str | None = None) -> bytes:
    """The filter as bytes of `struct sock_filter`, for bubblewrap's --seccomp."""
    machine = machine or platform.machine()
    arch, nr = _TABLES[machine]
    code: list[tuple | str] = [
        (_LD_W_ABS, _ARCH),
        (_JEQ_K, arch, None, "deny"),  # another ABI: refuse everything
        (_LD_W_ABS, _NR),
    ]
    if machine == "x86_64":
        code.append((_JSET_K, _X32_BIT, "deny", None))
    code += [(_JEQ_K, nr["clone"], "flags", None), (_JEQ_K, nr["unshare"], "flags", None),
             (_JEQ_K, nr["socket"], "family", None), (_JEQ_K, nr["socketpair"], "family", None)]
    code += [(_JEQ_K, nr[name], "enosys", None) for name in NOT_IMPLEMENTED]
    code += [(_JEQ_K, nr[name], "self", None) for name in SELF_ONLY_PID0]
    code += [(_JEQ_K, nr["setpriority"], "prio", None), (_JEQ_K, nr["ioprio_set"], "ioprio", None)]
    code += [(_JEQ_K, nr[name], "deny", None) for name in DENIED]
    code += [
        (_RET_K, _ALLOW),
        "flags",
        (_LD_W_ABS, _ARG0_LOW),  # the flags: first argument of clone and unshare
        (_JSET_K, CLONE_NEWUSER, "deny", None),
        (_RET_K, _ALLOW),
        "family",
        (_LD_W_ABS, _ARG0_LOW),  # the address family: first argument, an int (the kernel reads the low 32 bits)
        (_JEQ_K, AF_UNIX, None, "deny"),
        (_RET_K, _ALLOW),
        "self",
        (_LD_W_ABS, _ARG0_LOW),  # the target pid: 0 is the caller
        (_JEQ_K, 0, None, "deny"),
        (_RET_K, _ALLOW),
        "prio",
        (_LD_W_ABS, _ARG0_LOW),  # which: only PRIO_PROCESS (a group or user would include the zygote)
        (_JEQ_K, PRIO_PROCESS, None, "deny"),
        (_LD_W_ABS, _ARG1_LOW),  # who: 0 is the caller
        (_JEQ_K, 0, None, "deny"),
        (_RET_K, _ALLOW),
        "ioprio",
        (_LD_W_ABS, _ARG0_LOW),
        (_JEQ_K, IOPRIO_WHO_PROCESS, None, "deny"),
        (_LD_W_ABS, _ARG1_LOW),
        (_JEQ_K, 0, None, "deny"),
        (_RET_K, _ALLOW),
        "enosys",
        (_RET_K, _ERRNO | errno.ENOSYS),
        "deny",
        (_RET_K, _ERRNO | errno.EPERM),
    ]
    return _assemble(code)
