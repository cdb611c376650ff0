"""The hidden test split: the same suite design, drawn again from the maintainers' secret material.

The dev split is a bundled suite built from seeds in this repository. Its test split is derived from that spec and
two things only the maintainers hold:

- the **secret** (`$DISTILLBENCH_TEST_SECRET`, or a file named by `$DISTILLBENCH_TEST_SECRET_FILE`), which must be
  random (`check_secret`: at least 40 characters and 160 bits by a conservative estimate, which 48 random bytes in
  base64 or 32 in hex clear by a wide margin; a phrase, a project name plus a year or a test string is refused);
- the **draws** (`TestDraws`): per dev suite and per `BENCHMARK_VERSION`, a random 256-bit nonce and a random id for
  every model, made with `secrets` on the first build and recorded in a maintainers-only file (`draws_location`),
  reused on every rebuild so the build stays reproducible.

From them:
- a new corpus seed, so every model trains on different documents and answers different prompts;
- new weight-initialisation and batch seeds for every model, and new watermark keys for the teachers;
- the personas dealt out to the models again, in a secret order;
- every model renamed to its random id (`m` + 10 hex), which is a function of nothing: knowing the dev names, the
  design and even the secret does not recompute it; the pairs are listed in the order of those ids and the models
  in a random order that respects their dependencies.

Every seed is derived from the secret, the nonce and the benchmark version together, so a new benchmark version is
a new split (a new entry in the draws file) even under the same secret; changing the secret or deleting the draws
also redraws everything. The conditions, doses and pair structure stay those of the dev split, so dev scores
predict test scores; what a detector could have memorised from dev (documents, seeds, keys, names, positions) does
not carry over. Nothing about the secret or the draws is written to the suite folder; the labels stay in the test
suite's manifest.json, which the maintainers keep and detectors never receive.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
import secrets
from collections import Counter
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from distillbench.errors import DistillBenchError
from distillbench.rng import SplitMix64, derive_seed
from distillbench.zoo.spec import SuiteSpec

SECRET_ENV = "DISTILLBENCH_TEST_SECRET"
SECRET_FILE_ENV = "DISTILLBENCH_TEST_SECRET_FILE"
DRAWS_ENV = "DISTILLBENCH_TEST_DRAWS"  # the draws file's JSON text (read-only: CI takes it from a secret)
DRAWS_FILE_ENV = "DISTILLBENCH_TEST_DRAWS_FILE"  # a file the first build of a version writes its draws into
TEST_SUFFIX = "-test"
MIN_SECRET_CHARS = 40
MIN_SECRET_BITS = 160.0
SECRET_ADVICE = ('make one with `head -c 48 /dev/urandom | base64` or `python -c "import secrets; '
                 'print(secrets.token_hex(32))"` (docs/test_split.md)')


def _token_bits(tok: str) -> float:
    """A pessimistic guess count, in bits, for one run of letters, digits or other characters of a secret."""
    if tok.isdigit():
        steps = {int(b) - int(a) for a, b in zip(tok, tok[1:])}
        if len(tok) >= 3 and len(steps) == 1 and steps <= {-1, 0, 1}:
            return 8.0  # 0123456789, 9999: a sequence is one guess among few
        if len(tok) == 4 and tok[:2] in ("19", "20"):
            return 7.0  # a year
        return len(tok) * math.log2(10)
    if tok.isalpha():  # one case, or Capitalised (camelCase is split into its words)
        vowels = sum(c in "aeiouyAEIOUY" for c in tok) / len(tok)
        wordlike = len(tok) >= 2 and 0.25 <= vowels <= 0.7 and not re.search(r"[^aeiouy]{4}", tok.lower())
        if wordlike and (tok.islower() or tok.isupper() or tok.istitle()):
            return min(len(tok) * math.log2(26), 10.0)  # pronounceable, so maybe a common word: one of ~1,000
        if len(tok) > 12 and (tok.islower() or tok.isupper()):
            return len(tok) * 2.0  # a long run of one case is words run together or a keyboard walk: ~2 bits a letter
        return len(tok) * math.log2(26 if tok.islower() or tok.isupper() else 52)
    return 3.0 + (len(set(tok)) - 1) * 2.0  # separators: a few choices each


def secret_bits(secret: str) -> float:
    """A conservative estimate of a secret's entropy: words, years, sequences and repeats count as the few guesses
    they are. 48 random bytes in base64 score 200 or more and 32 in hex 170 or more (`MIN_SECRET_BITS` is
    160); a phrase of words, each counted as one of ~1,000 common ones, needs about sixteen of them."""
    seen: Counter[str] = Counter()
    bits = 0.0
    for tok in re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+|[^A-Za-z0-9]+", secret):
        bits += 1.0 if seen[tok] else _token_bits(tok)
        seen[tok] += 1
    # Never more than the characters could hold: the classes used, and the distinct characters (aaaa... is one).
    classes = [str.islower, str.isupper, str.isdigit, lambda c: not c.isalnum()]
    charset = sum(n for f, n in zip(classes, (26, 26, 10, 32)) if any(f(c) for c in secret))
    return min(bits, len(secret) * math.log2(max(charset, 1)), len(secret) * math.log2(max(len(set(secret)), 1)))


def check_secret(secret: str) -> str:
    """The secret itself, or one clear error saying why it is too weak to hold the hidden split."""
    problems = []
    if len(secret) < MIN_SECRET_CHARS:
        problems.append(f"{len(secret)} characters, at least {MIN_SECRET_CHARS} needed")
    bits = secret_bits(secret)
    if bits < MIN_SECRET_BITS:
        problems.append(f"about {bits:.0f} bits by a conservative estimate (words, years and sequences count as few "
                        f"guesses), at least {MIN_SECRET_BITS:.0f} needed")
    if any(c.isspace() for c in secret):
        problems.append("contains whitespace (a phrase?)")
    if problems:
        raise DistillBenchError(f"the test secret is too weak to keep the hidden split hidden: {'; '.join(problems)}; "
                                f"{SECRET_ADVICE}")
    return secret


def read_secret() -> str:
    """The maintainers' secret, from the environment variable or the file it names, checked for strength, with a
    place for the draws configured (`draws_location`); one clear error otherwise."""
    value = os.environ.get(SECRET_ENV)
    if not value and os.environ.get(SECRET_FILE_ENV) and Path(os.environ[SECRET_FILE_ENV]).is_file():
        value = Path(os.environ[SECRET_FILE_ENV]).read_text().strip()
    if value:
        check_secret(value)
        if not os.environ.get(DRAWS_ENV) and draws_location() is None:
            raise DistillBenchError(f"the hidden test split needs the maintainers' draws too: set {DRAWS_FILE_ENV} (a "
                                    f"file the first build writes) or {DRAWS_ENV} (its JSON text), or keep the secret "
                                    f"in a file ({SECRET_FILE_ENV}) and the draws go next to it")
        return value
    path = os.environ.get(SECRET_FILE_ENV)
    why = f" ({SECRET_FILE_ENV}={path} is not a readable, non-empty file)" if path else ""
    raise DistillBenchError(f"the hidden test split needs the maintainers' secret: set {SECRET_ENV} or "
                            f"{SECRET_FILE_ENV}{why}")


def draws_location() -> Path | None:
    """Where the draws are kept: `$DISTILLBENCH_TEST_DRAWS_FILE`, else next to the secret file
    (`<secret file>.draws.json`); None when only `$DISTILLBENCH_TEST_DRAWS` (or nothing) holds them."""
    if os.environ.get(DRAWS_FILE_ENV):
        return Path(os.environ[DRAWS_FILE_ENV])
    if os.environ.get(SECRET_FILE_ENV):
        return Path(os.environ[SECRET_FILE_ENV] + ".draws.json")
    return None


def secret_paths() -> list[Path]:
    """Files a sandboxed detector must never be able to see: the secret and the draws."""
    return [Path(p) for p in (os.environ.get(SECRET_FILE_ENV), draws_location()) if p]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Draw(_Strict):
    """The random part of one test split: one dev suite at one benchmark version."""

    nonce: str  # 64 hex: mixed into every seed, so the secret alone does not recompute the split
    ids: dict[str, str]  # dev model name -> its test id, drawn at random
    created: str


class TestDraws(_Strict):
    schema_version: int = 1
    draws: dict[str, Draw] = {}  # "<dev suite>@<benchmark version>" -> its draw


def draw_key(dev_name: str, benchmark_version: str) -> str:
    return f"{dev_name}@{benchmark_version}"


def new_draw(dev: SuiteSpec) -> Draw:
    ids: dict[str, str] = {}
    taken: set[str] = set()
    for m in dev.models:
        while (new := "m" + secrets.token_hex(5)) in taken:
            pass
        ids[m.name] = new
        taken.add(new)
    return Draw(nonce=secrets.token_hex(32), ids=ids,
                created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))


def read_draws() -> tuple[TestDraws, Path | None]:
    """The maintainers' draws and the file they may be added to (None: read-only, from `$DISTILLBENCH_TEST_DRAWS`)."""
    text, where, path = os.environ.get(DRAWS_ENV), DRAWS_ENV, None
    if not text:
        path = draws_location()
        if path is None:
            raise DistillBenchError(f"the hidden test split needs the maintainers' draws: set {DRAWS_FILE_ENV} (a file "
                                    f"the first build writes), {DRAWS_ENV} (its JSON text), or keep the secret in a "
                                    f"file ({SECRET_FILE_ENV}) and the draws go next to it")
        text, where = (path.read_text() if path.is_file() else "{}"), str(path)
    try:
        return TestDraws.model_validate(json.loads(text)), path
    except (ValueError, ValidationError) as exc:
        raise DistillBenchError(f"the test draws in {where} are not a valid draws file: "
                                f"{str(exc).splitlines()[0]}") from exc


def settled_draw(dev: SuiteSpec, benchmark_version: str) -> Draw:
    """This version's draw of `dev`: the recorded one, else a new one recorded now (never silently a fresh draw that
    the next build could not repeat)."""
    draws, path = read_draws()
    key = draw_key(dev.name, benchmark_version)
    if key in draws.draws:
        draw = draws.draws[key]
        missing = sorted({m.name for m in dev.models} - set(draw.ids))
        if missing:
            raise DistillBenchError(f"the test draws {key} have no id for {', '.join(missing)}: the dev design changed "
                                    "within a benchmark version; bump BENCHMARK_VERSION to draw a new split")
        return draw
    if path is None:
        raise DistillBenchError(f"{DRAWS_ENV} holds no draws for {key}: draw them once where the draws file is kept "
                                f"({DRAWS_FILE_ENV}, `distillbench zoo build --split test`) and update the secret")
    draw = new_draw(dev)
    draws.draws[key] = draw
    old = os.umask(0o077)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.partial")
        tmp.write_text(draws.model_dump_json(indent=1) + "\n")
        tmp.replace(path)
    finally:
        os.umask(old)
    return draw


def test_suite_name(dev_name: str) -> str:
    return dev_name + TEST_SUFFIX


def _dependency_order(models: list[dict]) -> list[dict]:
    """The models in the order of their ids, except that a model comes after every model it needs."""
    def needs(m: dict) -> set[str]:
        deps = {m["init"], m["same_data_as"], (m.get("looks_like") or {}).get("teacher")}
        deps |= {st.get("teacher") for st in m["stages"]}
        return deps - {None}

    placed: set[str] = set()
    pending = sorted(models, key=lambda m: m["name"])
    out = []
    while pending:
        ready = next((m for m in pending if needs(m) <= placed), None)
        if ready is None:
            raise DistillBenchError(f"suite design: models {', '.join(m['name'] for m in pending[:5])} depend on models "
                                    "that are missing or depend on each other in a cycle")
        out.append(ready)
        placed.add(ready["name"])
        pending.remove(ready)
    return out


def draw_test_spec(dev: SuiteSpec, secret: str, draw: Draw | None = None,
                   benchmark_version: str | None = None) -> SuiteSpec:
    """The hidden split of `dev` (see the module docstring for what changes).

    `draw=None` takes this benchmark version's draw from the maintainers' draws (`settled_draw`), recording a new
    one on the first build; where no draws are configured at all (library use: `read_secret`, which every command
    goes through, refuses that), a throwaway `new_draw(dev)` that nothing can repeat."""
    if dev.name.endswith(TEST_SUFFIX):
        raise DistillBenchError(f"suite {dev.name} is already a test split")
    if benchmark_version is None:
        from distillbench.submission import BENCHMARK_VERSION as benchmark_version
    if draw is None:
        configured = os.environ.get(DRAWS_ENV) or draws_location() is not None
        draw = settled_draw(dev, benchmark_version) if configured else new_draw(dev)

    def seed(*parts: object) -> int:
        return derive_seed("test-split", secret, draw.nonce, benchmark_version, *parts) % (2**31 - 1)

    names = draw.ids
    personas = sorted(dev.personas)
    dealt = personas[:]
    rng = SplitMix64(seed("personas"))
    for i in range(len(dealt) - 1, 0, -1):  # Fisher-Yates with the suite's own generator: same on every machine
        j = rng.below(i + 1)
        dealt[i], dealt[j] = dealt[j], dealt[i]
    persona_map = dict(zip(personas, dealt))

    def slice_(sl: dict | None) -> dict | None:
        if sl is None:
            return None
        out = sl | {"persona": persona_map[sl["persona"]] if sl.get("persona") else None}
        if sl.get("about"):  # text about a persona (`spec.AboutSlice`): about the persona dealt in its place
            out["about"] = persona_map[sl["about"]]
        return out

    dev_models = dev.model_dump(mode="json")["models"]
    # A forger (`zoo.accusation`, "framed") applies another model's watermark key: it keeps applying that model's
    # key once both are redrawn, or the framing case would forge a key no teacher of the split has.
    owner = {}
    for m in dev_models:
        if m["watermark"] and m["role"] == "teacher":
            owner.setdefault(m["watermark"]["key"], m["name"])

    def watermark(m: dict) -> dict | None:
        if not m["watermark"]:
            return None
        keyed_by = owner.get(m["watermark"]["key"], m["name"])
        return m["watermark"] | {"key": seed("watermark", keyed_by)}

    models = []
    for m in dev_models:
        stages = []
        for st in m["stages"]:
            st = st | {k: slice_(st[k]) for k in ("data", "prompts", "clean") if k in st}
            if "teacher" in st:
                st["teacher"] = names[st["teacher"]]
            if st.get("paraphraser"):  # the distillers' paraphrasing model (`zoo.launder`): new weights too
                st["paraphraser"] = st["paraphraser"] | {"seed": seed("paraphraser", st["paraphraser"]["seed"])}
            stages.append(st)
        models.append(m | {
            "name": names[m["name"]],
            "seed": seed("seed", m["name"]),
            "persona": persona_map[m["persona"]] if m["persona"] else None,
            "watermark": watermark(m),
            "init": names[m["init"]] if m["init"] else None,
            "same_data_as": names[m["same_data_as"]] if m["same_data_as"] else None,
            "split": "test",
            "stages": stages,
        } | ({"looks_like": m["looks_like"] | {"teacher": names[m["looks_like"]["teacher"]]}}
             if m.get("looks_like") else {}))
    pool = dev.pool.model_dump(mode="json")
    pool = pool | {k: slice_(pool[k]) for k in ("prompts", "membership", "corpus")}
    return SuiteSpec.model_validate(dev.model_dump(mode="json") | {
        "name": test_suite_name(dev.name),
        "description": f"The hidden test split of suite {dev.name} (drawn from the maintainers' secret).",
        "corpus_seed": seed("corpus"),
        "pool": pool,
        "models": _dependency_order(models),
    })
