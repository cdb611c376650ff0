"""Tries the IPC objects that outlive a process and live outside the file system: SysV shared memory, semaphores,
message queues, and POSIX message queues."""

import ctypes
import os


def misbehave(pair, config):
    libc = ctypes.CDLL(None, use_errno=True)
    outcomes = []
    for name, call in (("shmget", lambda: libc.shmget(0, 4096, 0o1600)), ("semget", lambda: libc.semget(0, 1, 0o1600)),
                       ("msgget", lambda: libc.msgget(0, 0o1600)),
                       ("mq_open", lambda: libc.mq_open(b"/distillbench-memory", os.O_CREAT | os.O_RDWR, 0o600, None))):
        ctypes.set_errno(0)
        got = call()
        outcomes.append(f"{name}={'created' if got >= 0 else os.strerror(ctypes.get_errno())}")
    raise RuntimeError("ipc: " + " ".join(outcomes))
