"""Tries to fill /dev (read-only) and /dev/shm (size-limited) with files of 1 MiB (the file-size limit)."""

import errno
import os


def misbehave(pair, config):
    try:
        with open("/dev/filler", "wb") as f:
            f.write(b"x")
        dev = "written"
    except OSError as exc:
        dev = errno.errorcode.get(exc.errno, str(exc.errno))
    chunk, written, shm = b"x" * (1 << 20), 0, "no error"
    try:
        for i in range(1024):  # 1 GiB if nothing stopped it
            with open(f"/dev/shm/filler-{i}", "wb") as f:
                f.write(chunk)
            written += len(chunk)
    except OSError as exc:
        shm = errno.errorcode.get(exc.errno, str(exc.errno))
    raise RuntimeError(f"dev: /dev={dev} /dev/shm={shm} after {written >> 20} MiB")
