"""Kills its own process."""

import os


def misbehave(pair, config):
    os._exit(3)
