"""Tries to become root in a new user namespace (then to mount or reach the network from there)."""

import ctypes
import os


def misbehave(pair, config):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(0x10000000) != 0:  # CLONE_NEWUSER
        raise PermissionError(f"unshare(CLONE_NEWUSER): {os.strerror(ctypes.get_errno())}")
    raise RuntimeError("created a user namespace")
