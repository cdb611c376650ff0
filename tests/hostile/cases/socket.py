"""Tries the network: an outside address, then a port the test listens on on the host's loopback."""

import socket


def misbehave(pair, config):
    outcomes = []
    for host, port in (("1.1.1.1", 80), ("127.0.0.1", config["port"])):
        try:
            socket.create_connection((host, port), timeout=2).close()
            outcomes.append(f"{host}: connected")
        except OSError as exc:
            outcomes.append(f"{host}: {type(exc).__name__}")
    raise RuntimeError("network: " + ", ".join(outcomes))
