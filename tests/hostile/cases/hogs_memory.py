"""Holds memory in two processes, each under the per-process limit, together over the sandbox's limit."""

import os
import time


def misbehave(pair, config):
    mib = config["hog_mib"]
    pid = os.fork()  # first, so that neither process's address space holds the other's allocation
    if pid == 0:
        try:
            theirs = b"\x02" * (mib << 20)  # written, so every page is really held
            time.sleep(30)  # until the pair's time is up, unless the kernel kills it first
        finally:
            os._exit(0)
    mine = b"\x01" * (mib << 20)
    _, status = os.waitpid(pid, 0)
    raise RuntimeError(f"held {len(mine) >> 20} MiB here; the other process ended with status {status}")
