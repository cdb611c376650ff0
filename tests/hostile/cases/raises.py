"""Raises an exception."""

def misbehave(pair, config):
    return 1 / 0
