"""Holds memory in two processes, each under the per-process limit, together over the sandbox's limit."""

import os
import time


def misbehave(pair, config):
    mib = config["hog_mib"]
    mine = b"\x01" * (mib << 20)  # written, so every page is really held
    pid = os.fork()
    if pid == 0:
        theirs = b"\x02" * (mib << 20)
        time.sleep(30)
        os._exit(len(theirs) & 1)
    time.sleep(30)
    os.waitpid(pid, 0)
    raise RuntimeError(f"held {2 * mib} MiB in two processes ({len(mine)})")
