"""Messages between the benchmark and the contained zygote, one JSON object per line.

benchmark -> zygote (stdin): for each pair, the evidence blobs the zygote does not hold yet (`BlobHeader` line +
    the blob's JSON line), then one `PairRequest` naming the blobs that make up the pair's `PairEvidence`.
zygote -> benchmark (stdout): first a `Ready` or `LoadFailed`, then one `Reply` per pair.

Why blobs: most of a pair's evidence is shared with other pairs (the prompts, the teacher's pool, the reference
models' views; only the student's view is the pair's own), and encoding plus parsing it as JSON for every pair was
most of the cost of running contained (~1.1 MB and ~45 ms a pair on the standard suite's white-box track). The
`Encoder` sends each distinct value once per zygote and refers to it after that; the `Decoder` rebuilds the
`PairEvidence`, which the zygote's child process for that pair inherits in memory, so nothing is copied again.

Both ends of the stdin stream are trusted (the benchmark and the zygote, which never runs submitted code). The
lines the benchmark reads come from the zygote but their contents from the detector's process, so `parse_reply`
re-checks the schema, the pair id, that the score is finite and the p-value a probability (and absent on an
abstention).
"""

from __future__ import annotations

import json
import math
import re
import signal
from collections import OrderedDict
from functools import cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

MAX_REPLY_BYTES = 64 << 10
MAX_MESSAGE_CHARS = 300
CACHE_BYTES = 32 << 20  # JSON bytes of blobs the zygote keeps; the standard suite's teacher groups fit many times
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Ready(_Strict):
    kind: Literal["ready"] = "ready"
    name: str
    access: str
    summary: str


class LoadFailed(_Strict):
    kind: Literal["load_failed"] = "load_failed"
    error: str


class Reply(_Strict):
    kind: Literal["reply"] = "reply"
    pair_id: str
    score: float | None = None
    p_value: float | None = None
    error: str | None = None
    abstained: bool = False  # Verdict.abstain(): no verdict on this pair (the scorer reports coverage)


class BlobHeader(_Strict):
    """The next line is the JSON of one `PairEvidence` field's value (or one element of a list field)."""

    kind: Literal["blob"] = "blob"
    ref: int
    field: str
    element: bool = False


class PairRequest(_Strict):
    kind: Literal["pair"] = "pair"
    values: dict[str, Any]  # fields sent inline (ids, the access level, None)
    refs: dict[str, int | list[int]]  # fields made of blobs: one ref, or one per element of a list
    seconds: float  # the zygote kills the detector's process after this long
    timeout_message: str
    drop: list[int] = []  # blobs the zygote may forget


def clean(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """A message from untrusted code, made safe to store and print: one line, no control characters, bounded."""
    text = _CONTROL.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def signal_name(num: int) -> str:
    try:
        return signal.Signals(num).name
    except ValueError:
        return f"signal {num}"


def crash_message(code: int | None, signum: int | None, last_output: str = "") -> str:
    """What to record when the detector's process ended without replying."""
    if signum is not None:
        name = signal_name(signum)
        why = {"SIGXCPU": " (the CPU-time limit)", "SIGKILL": " (likely the memory or process limit)"}.get(name, "")
        msg = f"crashed: the worker process was killed by {name}{why}"
    else:
        msg = f"crashed: the worker process exited with code {code} before replying"
    return msg + (f"; last output: {last_output!r}" if last_output else "")


# -- evidence blobs ---------------------------------------------------------------------------------------------
@cache
def _adapter(field: str, element: bool) -> TypeAdapter:
    from distillbench.evidence.view import PairEvidence

    annotation = PairEvidence.model_fields[field].annotation
    if element:
        annotation = annotation.__args__[0]  # list[X] -> X
    return TypeAdapter(annotation)


def _is_blob(value: Any) -> bool:
    return isinstance(value, (BaseModel, list, dict, tuple))


class Encoder:
    """The benchmark's side: turns `PairEvidence` into request bytes, sending each distinct blob once.

    Blobs are recognised by identity (the evidence view builds each shared value once and hands out the same
    object); the encoder holds a reference to every blob it sent so an id is never reused while the zygote holds
    it. At most `CACHE_BYTES` of blobs are kept on both sides, least recently used first out."""

    def __init__(self, cache_bytes: int = CACHE_BYTES) -> None:
        self.cache_bytes = cache_bytes
        self._sent: OrderedDict[int, tuple[int, Any, int]] = OrderedDict()  # id(value) -> (ref, value, size)
        self._held = 0
        self._next = 0
        self.sent_bytes = 0

    def _ref(self, field: str, value: Any, element: bool, out: list[bytes], used: set[int]) -> int:
        key = id(value)
        if key in self._sent:
            self._sent.move_to_end(key)
            ref = self._sent[key][0]
        else:
            data = _adapter(field, element).dump_json(value)
            ref, self._next = self._next, self._next + 1
            out += [BlobHeader(ref=ref, field=field, element=element).model_dump_json().encode(), b"\n", data, b"\n"]
            self._sent[key] = (ref, value, len(data))
            self._held += len(data)
        used.add(ref)
        return ref

    def encode(self, evidence: BaseModel, seconds: float, timeout_message: str) -> bytes:
        out: list[bytes] = []
        values: dict[str, Any] = {}
        refs: dict[str, int | list[int]] = {}
        used: set[int] = set()
        for field in type(evidence).model_fields:
            value = getattr(evidence, field)
            if isinstance(value, list) and value and all(isinstance(v, BaseModel) for v in value) and len(value) <= 64:
                # A short list of models (the reference views): each element is shared on its own.
                refs[field] = [self._ref(field, v, True, out, used) for v in value]
            elif _is_blob(value):
                refs[field] = self._ref(field, value, False, out, used)
            else:
                values[field] = value
        drop = []
        while self._held > self.cache_bytes:
            key = next((k for k, v in self._sent.items() if v[0] not in used), None)
            if key is None:
                break
            ref, _, size = self._sent.pop(key)
            self._held -= size
            drop.append(ref)
        request = PairRequest(values=values, refs=refs, seconds=seconds, timeout_message=timeout_message, drop=drop)
        out += [request.model_dump_json().encode(), b"\n"]
        payload = b"".join(out)
        self.sent_bytes += len(payload)
        return payload


class Decoder:
    """The zygote's side: holds the blobs and rebuilds a `PairEvidence` per request."""

    def __init__(self) -> None:
        self.blobs: dict[int, Any] = {}

    def blob(self, header: BlobHeader, data: bytes) -> None:
        self.blobs[header.ref] = _adapter(header.field, header.element).validate_json(data)

    def pair(self, request: PairRequest):  # noqa: ANN201 (PairEvidence; imported lazily)
        from distillbench.evidence.view import PairEvidence

        fields = dict(request.values)
        for field, ref in request.refs.items():
            fields[field] = [self.blobs[r] for r in ref] if isinstance(ref, list) else self.blobs[ref]
        for ref in request.drop:
            self.blobs.pop(ref, None)
        # The blobs were validated when they arrived; validating the assembled model checks the inline fields and
        # passes the already-built models through without walking them again.
        return PairEvidence.model_validate(fields)


def parse_request(line: bytes) -> BlobHeader | PairRequest:
    kind = json.loads(line).get("kind")
    return BlobHeader.model_validate_json(line) if kind == "blob" else PairRequest.model_validate_json(line)


# -- replies ----------------------------------------------------------------------------------------------------
def parse_hello(line: bytes) -> Ready | LoadFailed | str:
    """The worker's first line, or a problem description."""
    for model in (Ready, LoadFailed):
        try:
            msg = model.model_validate_json(line)
        except (ValidationError, ValueError):
            continue
        if isinstance(msg, Ready):
            return Ready(name=clean(msg.name, 80), access=clean(msg.access, 40), summary=clean(msg.summary))
        return LoadFailed(error=clean(msg.error))
    return f"sent a malformed first message ({clean(line.decode('utf-8', 'replace'), 80)!r}); expected `ready`"


def parse_reply(line: bytes, pair_id: str) -> tuple[float, float | None, bool] | str:
    """(score, p_value, abstained) for a good reply, else the failure message to record for the pair."""
    try:
        reply = Reply.model_validate_json(line)
    except (ValidationError, ValueError):
        return f"sent a malformed reply ({clean(line.decode('utf-8', 'replace'), 80)!r}); expected one verdict line"
    if reply.pair_id != pair_id:
        return f"replied for pair {clean(reply.pair_id, 20)!r} when asked for {pair_id!r}"
    if reply.error is not None:
        return clean(reply.error)
    if reply.score is None or not math.isfinite(reply.score):
        return f"returned a non-finite score ({reply.score}); expected a finite number"
    if reply.p_value is not None and not (0.0 <= reply.p_value <= 1.0):
        return f"returned p_value {reply.p_value}; expected a probability in [0, 1] or none"
    if reply.abstained and reply.p_value is not None:
        return f"abstained with p_value {reply.p_value}; an abstention carries no p-value"
    return reply.score, reply.p_value, reply.abstained
