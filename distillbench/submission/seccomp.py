"""A small seccomp filter for the sandbox: no new user namespaces, no kernel interfaces a detector never needs.

Produces the classic-BPF program bubblewrap loads with `--seccomp FD`. Why: as root, bubblewrap builds the sandbox
without a user namespace and the detector then runs as uid 65534, which the kernel would still let create user
namespaces of its own (a large kernel attack surface, the reason Ubuntu restricts them); `--disable-userns` only
exists for sandboxes that are themselves a user namespace. The filter refuses, with EPERM:
- `unshare` and `clone` with CLONE_NEWUSER;
- `keyctl`, `add_key`, `request_key` (the kernel keyring is not namespaced), `bpf`, `perf_event_open`,
  `userfaultfd`;
- any system call through another ABI (32-bit or x32 on x86-64), which would bypass the numbers checked here;
and answers `clone3` with ENOSYS (its flags sit in memory a filter cannot read; the C library then falls back to
`clone`, which is checked), as Docker's default profile does. Everything else is allowed.
"""

from __future__ import annotations

import errno
import platform
import struct

# struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]
_NR, _ARCH, _ARG0_LOW = 0, 4, 16
_LD_W_ABS, _JEQ_K, _JSET_K, _RET_K = 0x20, 0x15, 0x45, 0x06
_ALLOW = 0x7FFF0000
_ERRNO = 0x00050000
CLONE_NEWUSER = 0x10000000
_X32_BIT = 0x40000000

# Per machine: (AUDIT_ARCH value, {name: number}).
_TABLES = {
    "x86_64": (0xC000003E, {"clone": 56, "unshare": 272, "clone3": 435, "keyctl": 250, "add_key": 248,
                            "request_key": 249, "bpf": 321, "perf_event_open": 298, "userfaultfd": 323}),
    "aarch64": (0xC00000B7, {"clone": 220, "unshare": 97, "clone3": 435, "keyctl": 219, "add_key": 217,
                             "request_key": 218, "bpf": 280, "perf_event_open": 241, "userfaultfd": 282}),
}
DENIED = ("keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd")


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
        assert all(0 <= o < 256 for o in offsets), "cBPF jumps are forward and short"
        out.append(struct.pack("=HBBI", op, offsets[0], offsets[1], k))
        pos += 1
    return b"".join(out)


def program() -> bytes:
    """The filter as bytes of `struct sock_filter`, for bubblewrap's --seccomp."""
    machine = platform.machine()
    arch, nr = _TABLES[machine]
    code: list[tuple | str] = [
        (_LD_W_ABS, _ARCH),
        (_JEQ_K, arch, None, "deny"),  # another ABI: refuse everything
        (_LD_W_ABS, _NR),
    ]
    if machine == "x86_64":
        code.append((_JSET_K, _X32_BIT, "deny", None))
    code += [(_JEQ_K, nr["clone"], "flags", None), (_JEQ_K, nr["unshare"], "flags", None),
             (_JEQ_K, nr["clone3"], "enosys", None)]
    code += [(_JEQ_K, nr[name], "deny", None) for name in DENIED]
    code += [
        (_RET_K, _ALLOW),
        "flags",
        (_LD_W_ABS, _ARG0_LOW),  # the flags: first argument of clone and unshare
        (_JSET_K, CLONE_NEWUSER, "deny", None),
        (_RET_K, _ALLOW),
        "enosys",
        (_RET_K, _ERRNO | errno.ENOSYS),
        "deny",
        (_RET_K, _ERRNO | errno.EPERM),
    ]
    return _assemble(code)
