"""A fork bomb: every process forks as fast as it can; reports how many processes it could see."""

import os
import time


def misbehave(pair, config):
    first = os.fork()
    if first == 0:
        while True:
            try:
                os.fork()
            except OSError:
                time.sleep(0.01)
    deadline = time.monotonic() + config["bomb_seconds"]
    most = 0
    while time.monotonic() < deadline:
        most = max(most, sum(name.isdigit() for name in os.listdir("/proc")))
        time.sleep(0.05)
    raise RuntimeError(f"forkbomb: at most {most} processes")
