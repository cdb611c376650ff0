"""The harness's side of the query channel: checks, meters, caches and answers one pair's requests.

Takes an evidence view (which models a pair's shown ids stand for), the suite's teacher API and a way to load each
model (default: the suite's built model directories through transformers); produces answers. A `PairSession` serves
one pair: it resolves `"teacher"`, `"student"` and the references' masked ids to models, refuses what the
detector's track forbids (`requests.refusal`), charges the pair's budget (`meter.Meter`), and answers from the
cache or the model. Its first refusal is the pair's failure, whatever the detector returns afterwards.

The cache (`query-cache/answers-v2.sqlite` in the workspace) is keyed by the model's fingerprint, the backend that
answers it and the request (without the id the detector used for the model, which changes per run), so a re-run, or
another pair asking the same model the same thing, makes no model call; `model_calls` counts the calls actually made.

Why hits are sometimes slowed down: a shared cache is a memory. An untrusted detector could write a note in one pair
(a request no one asked before, which makes an entry) and read it in another (the same request answers in a
millisecond instead of a forward pass), carrying what it learnt about one pair to the next. So each entry records
who made it: trusted code (the built-in detectors run in-process, `scope=None`) or one untrusted pair (a
submission's code hash and the pair's stable id). A hit on an entry that this pair itself made, or that trusted code
made, is answered at once; a hit on another untrusted pair's entry is answered only after the time its computation
took, so it looks like a miss. Answers are identical either way; a submission re-run on the same workspace is fast.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from pydantic import ValidationError

from distillbench.errors import DistillBenchError
from distillbench.fingerprint import sha256_json, versions
from distillbench.evidence.view import AccessLevel, EvidenceView, PairEvidence
from distillbench.query.backends import Backend, LoadedModels, TransformersBackend, Unanswerable
from distillbench.query.client import QueryClient, QueryError
from distillbench.query.meter import Budget, BudgetExceeded, Meter, evidence_queries
from distillbench.query.requests import ANSWER, REQUEST, Answer, refusal
from distillbench.zoo.manifest import PairRecord

CACHE_VERSION = 2
CACHE_DIR = "query-cache"
CACHE_FILE = "answers-v2.sqlite"
MAX_SERVING_SECONDS = 600.0  # the harness's own time one pair's requests may take, whatever the tier
log = logging.getLogger(__name__)


def _code_hash() -> str:
    """What an answer depends on besides the model and the request: the code that computes it."""
    from distillbench.zoo import sample

    here = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for path in (here / "backends.py", here / "remote.py", Path(sample.__file__)):
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


class AnswerCache:
    """Answers by (model fingerprint, backend, request), in one SQLite file, each with who made it and how long it
    took (see the module docstring); None: keep nothing."""

    def __init__(self, path: Path | None) -> None:
        self.db = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(path, check_same_thread=False, timeout=120)  # runs may share it
            self.db.execute("CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, answer TEXT NOT NULL, "
                            "origin TEXT, seconds REAL NOT NULL)")
        self._code = f"{sha256_json(versions())},code={_code_hash()}"

    def key(self, fingerprint: str, backend: str, request) -> str:  # noqa: ANN001
        body = request.model_dump(mode="json", exclude={"model"})
        raw = json.dumps([CACHE_VERSION, self._code, fingerprint, backend, body], sort_keys=True,
                         separators=(",", ":"))
        return hashlib.sha256(raw.encode()).hexdigest()

    def get(self, key: str) -> tuple[Answer, str | None, float] | None:
        if self.db is None:
            return None
        row = self.db.execute("SELECT answer, origin, seconds FROM answers WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        try:
            return ANSWER.validate_json(row[0]), row[1], float(row[2])
        except ValidationError:
            return None  # a damaged entry is recomputed, never trusted

    def put(self, key: str, answer: Answer, origin: str | None, seconds: float) -> None:
        if self.db is not None:
            self.db.execute("INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?)",
                            (key, ANSWER.dump_json(answer).decode(), origin, seconds))
            self.db.commit()


class QueryHarness:
    """Answers the requests of every pair of one suite. `load(name) -> Backend` overrides how a model is reached
    (an API, an lm-eval backend: `query.remote`); `fingerprint(name)` what its answers are cached under."""

    def __init__(self, view: EvidenceView, cache: Path | None, load: Callable[[str], Backend] | None = None,
                 device: str = "cpu", routes: dict[str, str] | None = None, pad_shared_hits: bool = True) -> None:
        self.view = view
        # False where no result is published (an author's own `submission run`/`validate`): the padding guards
        # published rankings against a memory between pairs, and costs a cold run the time of computing everything.
        self.pad_shared_hits = pad_shared_hits
        self.api = view.manifest.teacher_api
        # A chat suite's teacher API wraps every request in its template (`zoo.chat`), as it did for the distillers
        # and the probes; a detector asks in plain prompts, as a user of a chat API does.
        from distillbench.zoo.chat import manifest_template

        self.teacher_template = manifest_template(view.manifest)
        self.cache = AnswerCache(cache)
        self.device = device
        # Models answered by another backend (`--query-model NAME=SPEC`, `query.remote.backend_from_spec`).
        self.routes = dict(routes or {})
        self._models = LoadedModels(load or self._load)
        self.model_calls = 0  # answers computed by a model (cache misses)
        self.answered = 0  # answers handed out, from the cache or a model

    @classmethod
    def for_view(cls, view: EvidenceView, **kwargs) -> QueryHarness:  # noqa: ANN003
        """The harness of a suite in its workspace, with the workspace's answer cache."""
        return cls(view, view.store.root.parent / CACHE_DIR / CACHE_FILE, **kwargs)

    def model_dir(self, name: str) -> Path:
        return self.view.suite_dir / self.view.manifest.model(name).path

    def check_models(self, pairs: list[PairRecord]) -> None:
        """Raise unless every model these pairs' requests could reach is here (before any pair runs)."""
        names = {n for p in pairs for n in (p.teacher, p.student)} | set(self.view.reference_names)
        missing = sorted(n for n in names - set(self.routes) if not (self.model_dir(n) / "config.json").is_file())
        if missing:
            suite = self.view.manifest.suite
            raise DistillBenchError(
                f"detectors that query models need the models of suite {suite!r}, and {len(missing)} are not in "
                f"{self.view.suite_dir / 'models'} (e.g. {missing[0]}): build them (`distillbench zoo build --suite "
                f"{suite}`) or fetch them (`distillbench hub fetch models`); the published evidence has no weights. A "
                f"model behind a server or an API (a real suite's API teacher) is reached with --query-model "
                f"NAME=SPEC (docs/queries.md)")

    def _load(self, name: str) -> Backend:
        if name in self.routes:
            from distillbench.query.remote import backend_from_spec

            return backend_from_spec(self.routes[name], device=self.device)
        return TransformersBackend(self.model_dir(name), self.device, salt=self.view.manifest.model(name).fingerprint)

    def backend_id(self, name: str) -> str:
        return self.routes.get(name, f"transformers:{self.device}")

    def compute(self, name: str, request, scope: str | None = None) -> Answer:  # noqa: ANN001
        """The answer to `request` from model `name`, for a pair of `scope` (None: trusted code)."""
        key = self.cache.key(self.view.manifest.model(name).fingerprint, self.backend_id(name), request)
        hit = None if request.kind == "weights" else self.cache.get(key)  # weights: large, cheap, never kept
        if hit is not None:
            got, origin, seconds = hit
            if self.pad_shared_hits and origin is not None and origin != scope:
                time.sleep(seconds)  # another untrusted pair's entry: as slow as computing it (module docstring)
        else:
            start = time.perf_counter()
            got = self._models.get(name).answer(request)
            self.model_calls += 1
            if request.kind != "weights":
                self.cache.put(key, got, scope, time.perf_counter() - start)
        self.answered += 1
        return got

    def session(self, pair: PairRecord, evidence: PairEvidence, access: AccessLevel, budget: Budget,
                run_key: bytes | None = None, scope: str | None = None) -> PairSession:
        """Serves `pair`'s requests; `evidence` is what the detector received (its cost counts first). `scope`:
        who asks, for untrusted code (a submission's hash); None for trusted code (see the module docstring)."""
        own = None if scope is None else f"{scope}/{self.view.pair_id(pair)}"
        return PairSession(self, self.view.shown_models(pair, run_key), access,
                           Meter(budget, evidence_queries(evidence)), own)


class PairSession:
    def __init__(self, harness: QueryHarness, shown: dict[str, tuple[str, str]], access: AccessLevel,
                 meter: Meter, scope: str | None = None) -> None:
        self.harness, self.shown, self.access, self.meter, self.scope = harness, shown, access, meter, scope
        self.failure: str | None = None  # the first refusal: the pair's outcome
        self.serving = 0.0  # seconds the harness spent on this pair's requests

    @property
    def cost(self):  # noqa: ANN201 (meter.PairCost)
        return self.meter.cost

    def _refuse(self, message: str) -> QueryError:
        if self.failure is None:
            self.failure = f"query refused: {message}"
        return QueryError(message)

    def answer(self, request) -> Answer:  # noqa: ANN001
        if self.failure is not None:
            raise QueryError(f"no further requests after a refusal ({self.failure})")
        if request.model not in self.shown:
            raise self._refuse(f"no model {request.model[:40]!r} in this pair: ask 'teacher', 'student' or one of the "
                               f"{len(self.shown) - 2} references' model_id")
        name, role = self.shown[request.model]
        why = refusal(request.kind, role, self.access, self.harness.api)
        if why is not None:
            raise self._refuse(why)
        if self.serving > MAX_SERVING_SECONDS:
            raise self._refuse(f"the harness spent more than {MAX_SERVING_SECONDS:.0f} s answering this pair's "
                               "requests; ask for less")
        if role == "teacher" and self.harness.teacher_template is not None:
            request = _in_template(request, self.harness.teacher_template)
        start = time.perf_counter()
        try:
            self.meter.charge(role, request.queries, upper_tokens=_upper_tokens(request))
            try:
                got = self.harness.compute(name, request, self.scope)
            except Unanswerable as exc:  # our own message, about the request: safe to show
                raise self._refuse(f"the {role} could not answer this {request.kind!r} request: {exc}") from None
            except Exception as exc:  # noqa: BLE001 (a backend's own words may name a path or a server: kept here)
                detail = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
                log.warning("query harness: %s could not answer a %s request: %s", name, request.kind, detail)
                err = self._refuse(f"the {role} could not answer this {request.kind!r} request (a harness error, "
                                   "logged by the benchmark)")
                self.failure += f" [{type(exc).__name__}: {detail}]"  # for the run's record, not for the detector
                raise err from None
            extra = _weights_queries(got) - 1 if request.kind == "weights" else 0
            if extra > 0:
                self.meter.charge(role, extra, extra_call=False)
            self.meter.settle(generated=getattr(got, "generated_tokens", 0), scored=getattr(got, "scored_tokens", 0))
        except BudgetExceeded as exc:
            raise self._refuse(str(exc)) from None
        finally:
            self.serving += time.perf_counter() - start
        return got

    def client(self) -> QueryClient:
        """In-process: the detector calls the session directly (debugging, `dev.evaluate`, the detect stage)."""
        return QueryClient(self.answer)

    def answer_line(self, line: bytes) -> bytes:
        """Contained: one request line from the detector's process (untrusted) -> the reply frame's JSON."""
        try:
            message = json.loads(line)
            if not isinstance(message, dict) or message.get("kind") != "query" or set(message) != {"kind", "request"}:
                raise ValueError("expected {\"kind\": \"query\", \"request\": {...}}")
            request = REQUEST.validate_python(message["request"])
        except Exception as exc:  # noqa: BLE001 (untrusted bytes: deep nesting raises RecursionError, and so on)
            first = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            err = self._refuse(f"malformed request ({first})")
            return json.dumps({"ok": False, "error": str(err)}).encode()
        try:
            got = self.answer(request)
        except QueryError as exc:
            return json.dumps({"ok": False, "error": str(exc)}).encode()
        return b'{"ok":true,"answer":' + ANSWER.dump_json(got) + b"}"


WEIGHT_VALUES_PER_QUERY = 10_000


def _weights_queries(answer) -> int:  # noqa: ANN001
    """A `weights` read costs one query per 10,000 values returned (at least one)."""
    values = sum(len(v) for v in answer.values.values())
    return max(1, -(-values // WEIGHT_VALUES_PER_QUERY))


def _in_template(request, template):  # noqa: ANN001, ANN202 (a request, the same kind back)
    """`request` as a chat teacher's API receives it: every prompt or context rendered in the template (idempotent:
    text already in the template passes through). Weights and hidden states are never the teacher's to serve."""
    if request.kind == "generate":
        return request.model_copy(update={"prompts": [template.render(p) for p in request.prompts]})
    if request.kind == "score":
        return request.model_copy(update={"texts": [t.model_copy(update={"context": template.render(t.context)})
                                                    for t in request.texts]})
    if request.kind == "top_k":
        return request.model_copy(update={"contexts": [template.render(c) for c in request.contexts]})
    return request


def _upper_tokens(request) -> int:  # noqa: ANN001
    """The most tokens a request can make the model generate, charged before it runs."""
    return request.queries * request.max_new_tokens if request.kind == "generate" else 0
