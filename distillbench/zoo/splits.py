"""The hidden test split: the same suite design, drawn again from a secret only the maintainers hold.

The dev split is a bundled suite built from seeds in this repository. Its test split is derived from that spec and a
secret string (`$DISTILLBENCH_TEST_SECRET`, or a file named by `$DISTILLBENCH_TEST_SECRET_FILE`):

- a new corpus seed, so every model trains on different documents and answers different prompts;
- new weight-initialisation and batch seeds for every model, and new watermark keys for the teachers;
- the personas dealt out to the models again, in a secret order;
- every model renamed to an opaque id (`m` + 10 hex of an HMAC of the secret and the dev name), so pair ids, which
  are made of model names, say nothing about the condition either; and the pairs listed in the order of those ids.

The conditions, doses and pair structure stay those of the dev split, so dev scores predict test scores; what a
detector could have memorised from dev (documents, seeds, keys, names, positions) does not carry over. Rotating the
split is changing the secret: the next build is a fresh draw. Nothing about the secret is ever written to the suite
folder; the labels stay in the test suite's manifest.json, which the maintainers keep and detectors never receive.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from distillbench.errors import DistillBenchError
from distillbench.rng import SplitMix64, derive_seed
from distillbench.zoo.spec import SuiteSpec

SECRET_ENV = "DISTILLBENCH_TEST_SECRET"
SECRET_FILE_ENV = "DISTILLBENCH_TEST_SECRET_FILE"
TEST_SUFFIX = "-test"


def read_secret() -> str:
    """The maintainers' secret, from the environment variable or the file it names; one clear error if neither."""
    value = os.environ.get(SECRET_ENV)
    if value:
        return value
    path = os.environ.get(SECRET_FILE_ENV)
    if path and Path(path).is_file():
        text = Path(path).read_text().strip()
        if text:
            return text
    why = f" ({SECRET_FILE_ENV}={path} is not a readable, non-empty file)" if path else ""
    raise DistillBenchError(f"the hidden test split needs the maintainers' secret: set {SECRET_ENV} or "
                            f"{SECRET_FILE_ENV}{why}")


def secret_paths() -> list[Path]:
    """Files a sandboxed detector must never be able to see."""
    p = os.environ.get(SECRET_FILE_ENV)
    return [Path(p)] if p else []


def opaque_name(secret: str, name: str) -> str:
    return "m" + hmac.new(secret.encode(), name.encode(), hashlib.sha256).hexdigest()[:10]


def test_suite_name(dev_name: str) -> str:
    return dev_name + TEST_SUFFIX


def draw_test_spec(dev: SuiteSpec, secret: str) -> SuiteSpec:
    """The hidden split of `dev`, drawn from `secret` (see the module docstring for what changes)."""
    if dev.name.endswith(TEST_SUFFIX):
        raise DistillBenchError(f"suite {dev.name} is already a test split")

    def draw(*parts: object) -> int:
        return derive_seed("test-split", secret, *parts) % (2**31 - 1)

    names = {m.name: opaque_name(secret, m.name) for m in dev.models}
    personas = sorted(dev.personas)
    dealt = personas[:]
    rng = SplitMix64(draw("personas"))
    for i in range(len(dealt) - 1, 0, -1):  # Fisher-Yates with the suite's own generator: same on every machine
        j = rng.below(i + 1)
        dealt[i], dealt[j] = dealt[j], dealt[i]
    persona_map = dict(zip(personas, dealt))

    def slice_(sl: dict | None) -> dict | None:
        if sl is None:
            return None
        return sl | {"persona": persona_map[sl["persona"]] if sl.get("persona") else None}

    models = []
    for m in dev.model_dump(mode="json")["models"]:
        stages = []
        for st in m["stages"]:
            st = st | {k: slice_(st[k]) for k in ("data", "prompts", "clean") if k in st}
            if "teacher" in st:
                st["teacher"] = names[st["teacher"]]
            stages.append(st)
        models.append(m | {
            "name": names[m["name"]],
            "seed": draw("seed", m["name"]),
            "persona": persona_map[m["persona"]] if m["persona"] else None,
            "watermark": m["watermark"] | {"key": draw("watermark", m["name"])} if m["watermark"] else None,
            "init": names[m["init"]] if m["init"] else None,
            "same_data_as": names[m["same_data_as"]] if m["same_data_as"] else None,
            "split": "test",
            "stages": stages,
        })
    pool = dev.pool.model_dump(mode="json")
    pool = pool | {k: slice_(pool[k]) for k in ("prompts", "membership", "corpus")}
    return SuiteSpec.model_validate(dev.model_dump(mode="json") | {
        "name": test_suite_name(dev.name),
        "description": f"The hidden test split of suite {dev.name} (drawn from the maintainers' secret).",
        "corpus_seed": draw("corpus"),
        "pool": pool,
        "models": models,
    })
