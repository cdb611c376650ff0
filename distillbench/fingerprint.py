"""Content hashes: files, model directories, and the versions of everything that shaped a result."""

from __future__ import annotations

import hashlib
import json
import platform
from importlib import metadata
from pathlib import Path

from distillbench.errors import DistillBenchError

# The files that define a Hugging Face model's behaviour; README or training logs do not.
MODEL_FILES = ("config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_json(data: object) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def model_fingerprint(model_dir: Path) -> str:
    """sha256 over the behaviour-defining files of a saved model (weights, config, tokenizer)."""
    if not model_dir.is_dir():
        raise DistillBenchError(f"model directory {model_dir} does not exist; build the suite first (distillbench zoo build)")
    present = {name: sha256_file(model_dir / name) for name in MODEL_FILES if (model_dir / name).is_file()}
    if "config.json" not in present:
        raise DistillBenchError(f"{model_dir} is not a Hugging Face model directory (no config.json)")
    return sha256_json(present)


def versions() -> dict[str, str]:
    """Versions of the interpreter and of every package whose behaviour can change a number we publish."""
    out = {"python": platform.python_version()}
    for dist in ("distillbench", "lm_eval", "torch", "transformers", "tokenizers", "datasets", "scikit-learn", "numpy", "scipy"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out
