"""Prints far more output than allowed."""

def misbehave(pair, config):
    for _ in range(100):
        print("x" * 100_000)
