"""Opens a socket of each address family the seccomp filter must refuse (and AF_UNIX, which it must allow)."""

import socket

FAMILIES = {"AF_VSOCK": 40, "AF_INET": 2, "AF_INET6": 10, "AF_NETLINK": 16, "AF_PACKET": 17, "AF_UNIX": 1}


def misbehave(pair, config):
    outcomes = []
    for name, family in FAMILIES.items():
        try:
            socket.socket(family, socket.SOCK_DGRAM if name != "AF_PACKET" else socket.SOCK_RAW).close()
            outcomes.append(f"{name}=opened")
        except OSError as exc:
            outcomes.append(f"{name}={type(exc).__name__}")
    try:
        socket.socketpair(socket.AF_INET).close()
        outcomes.append("socketpair(AF_INET)=opened")
    except OSError as exc:
        outcomes.append(f"socketpair(AF_INET)={type(exc).__name__}")
    raise RuntimeError("families: " + " ".join(outcomes))
