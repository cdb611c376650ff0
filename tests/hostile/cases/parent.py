"""Changes the zygote's limits and scheduling, which every later pair's process would inherit (a channel between
pairs); the filter must refuse each, while the same calls on the detector's own process still work."""

import os
import resource


def misbehave(pair, config):
    parent = os.getppid()
    attempts = {
        "prlimit(parent)": lambda: resource.prlimit(parent, resource.RLIMIT_STACK, resource.getrlimit(resource.RLIMIT_STACK)),
        "setpriority(parent)": lambda: os.setpriority(os.PRIO_PROCESS, parent, 5),
        "setpriority(user)": lambda: os.setpriority(os.PRIO_USER, 0, 5),
        "sched_setaffinity(parent)": lambda: os.sched_setaffinity(parent, os.sched_getaffinity(0)),
        "prlimit(self)": lambda: resource.prlimit(0, resource.RLIMIT_STACK, resource.getrlimit(resource.RLIMIT_STACK)),
        # its own value again: lowering a nice value needs a privilege whatever the filter says
        "setpriority(self)": lambda: os.setpriority(os.PRIO_PROCESS, 0, os.getpriority(os.PRIO_PROCESS, 0)),
    }
    outcomes = []
    for name, call in attempts.items():
        try:
            call()
            outcomes.append(f"{name}=ok")
        except OSError as exc:
            outcomes.append(f"{name}={type(exc).__name__}")
    raise RuntimeError("parent: " + " ".join(outcomes))
