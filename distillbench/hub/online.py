"""Letting one command reach the Hub, in a package that keeps it offline by default.

`distillbench/__init__.py` sets HF_HUB_OFFLINE=1 (and TRANSFORMERS_OFFLINE=1) unless the user set them, so no
default path touches the network. huggingface_hub reads that into `huggingface_hub.constants.HF_HUB_OFFLINE` once,
at import (falling back to TRANSFORMERS_OFFLINE when HF_HUB_OFFLINE is unset), and every request checks that
module attribute: changing the environment after import changes nothing, and unsetting HF_HUB_OFFLINE alone is
not enough while TRANSFORMERS_OFFLINE=1. So a real push or fetch needs an explicit yes — `--online`, or
HF_HUB_OFFLINE=0 in the environment — and `--online` sets both the variable (for anything imported later) and the
already-imported constant, for this process only.
"""

from __future__ import annotations

import os

from distillbench.errors import DistillBenchError


def hub_offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def allow_hub_access(online: bool, action: str) -> None:
    """With `online`, lift offline mode for this process; without it, refuse while offline mode is on."""
    from huggingface_hub import constants

    if online:
        os.environ["HF_HUB_OFFLINE"] = "0"  # "0" rather than unset: unset falls back to TRANSFORMERS_OFFLINE=1
        constants.HF_HUB_OFFLINE = False
    elif hub_offline():
        raise DistillBenchError(f"{action} contacts the Hugging Face Hub, and distillbench keeps it offline by default "
                                "(HF_HUB_OFFLINE=1): pass --online to allow it for this command, or export "
                                "HF_HUB_OFFLINE=0")


def hub_errors() -> tuple[type[BaseException], ...]:
    """What a failed Hub call raises (HTTP status, network, validation), whichever HTTP library this version uses.

    Only these become a one-line DistillBenchError; anything else from our own code keeps its traceback.
    """
    errors: list[type[BaseException]] = [OSError, ValueError]
    for module, name in (("httpx2", "HTTPError"), ("httpx", "HTTPError"), ("requests", "RequestException")):
        try:
            errors.append(getattr(__import__(module), name))
        except (ImportError, AttributeError):
            pass
    return tuple(errors)


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
