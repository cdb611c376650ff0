"""Loops forever."""

def misbehave(pair, config):
    while True:
        pass
