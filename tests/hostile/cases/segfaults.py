"""Dies of a signal, as a crash in C code would."""

import os
import signal


def misbehave(pair, config):
    os.kill(os.getpid(), signal.SIGSEGV)
