"""Tries to reach into the trusted process that forked it (same user): its memory, its descriptors, ptrace."""

import ctypes
import os


def misbehave(pair, config):
    parent = os.getppid()
    outcomes = []
    for what, path in (("mem", f"/proc/{parent}/mem"), ("stdin", f"/proc/{parent}/fd/0"), ("environ", f"/proc/{parent}/environ")):
        try:
            with open(path, "rb") as f:
                f.read(1)
            outcomes.append(f"{what}=READ")
        except OSError as exc:
            outcomes.append(f"{what}={type(exc).__name__}")
    libc = ctypes.CDLL(None, use_errno=True)
    ctypes.set_errno(0)
    got = libc.ptrace(16, parent, None, None)  # PTRACE_ATTACH
    outcomes.append(f"ptrace={'attached' if got == 0 else os.strerror(ctypes.get_errno())}")
    raise RuntimeError("zygote: " + " ".join(outcomes))
