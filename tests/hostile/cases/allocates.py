"""Allocates without bound (bytes() is calloc'd: the address space fills fast)."""

def misbehave(pair, config):
    hoard = []
    while True:
        hoard.append(bytes(64 << 20))
