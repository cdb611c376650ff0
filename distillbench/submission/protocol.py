"""Messages between the benchmark and the contained zygote: length-prefixed frames in, JSON lines out.

benchmark -> zygote (stdin), for each pair: the shared evidence blobs the zygote does not hold yet (a `BlobHeader`
    frame + a frame of the blob's JSON), a `PairRequest` frame naming the blobs that make up the pair's evidence,
    then one frame with the pair's private fields (the student's view) as JSON. Each frame is an 8-byte big-endian
    length and that many bytes, read exactly (no read-ahead), so the zygote knows which bytes it holds.
zygote -> benchmark (stdout): first a `Ready` or `LoadFailed`, then one `Reply` line per pair.

Queries (`distillbench.query`): while a detector scores its pair it may send request lines (`QUERY_PREFIX`, then
the request's JSON) instead of its reply; the zygote forwards each to the benchmark, which answers with one frame
(`{"ok": true, "answer": ...}` or `{"ok": false, "error": ...}`) that the zygote passes on to the detector's
process on a pipe of its own. The zygote never parses either; the benchmark checks every request
(`query.harness.PairSession.answer_line`).

Why blobs: most of a pair's evidence is shared with the other pairs of its teacher (the prompts, the teacher's pool
and view, the reference models' views; only the student's view is the pair's own), and encoding plus parsing all
of it as JSON for every pair was most of the cost of running contained (~1.1 MB and ~45 ms a pair on the standard
suite's white-box track). The `Encoder` sends each shared value once while consecutive pairs use it (so the
benchmark runs the pairs of one teacher together) and refers to it after that.

What a detector's process can find in memory: it is forked from the zygote, so it inherits the zygote's heap. The
zygote therefore holds only the shared blobs of the current pair (everything else is dropped before the fork), and
never decodes a pair's private fields: it reads their bytes into a buffer, forks, and zeroes the buffer; the child
decodes them. Bytes read for shared blobs are zeroed once decoded. Left: the decoded objects of an earlier teacher's
shared blobs are freed, not overwritten, so remnants may sit in freed heap memory a child could read through
/proc/self/mem (a fix: a sub-zygote per teacher, forked from a zygote that never decodes evidence).

Both ends of the stdin stream are trusted (the benchmark and the zygote, which never runs submitted code). The
lines the benchmark reads come from the zygote but their contents from the detector's process, so `parse_reply`
re-checks the schema, the pair id, that the score is finite and the p-value a probability (and absent on an
abstention).
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import struct
from functools import cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

MAX_REPLY_BYTES = 2 << 20  # one line: a verdict, or a query request (up to 256 prompts)
QUERY_PREFIX = b'{"kind":"query",'
MAX_MESSAGE_CHARS = 300
# Fields of `PairEvidence` that every pair of one teacher shares; any other field (the student's view, and any
# field added later) is the pair's own and only ever decoded in the pair's process.
SHARED_FIELDS = frozenset({"prompts", "pool", "teacher", "references", "teacher_secret"})
_LENGTH = struct.Struct(">Q")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Ready(_Strict):
    kind: Literal["ready"] = "ready"
    name: str
    access: str
    summary: str
    budget: str = "evidence-only"  # the class's declared query budget tier (`query.meter.Budget`)
    uses: list[str] = []  # the evidence kinds it reads: the benchmark sends it only these


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
    """The next frame is the JSON of one shared `PairEvidence` field's value (or one element of a list field)."""

    kind: Literal["blob"] = "blob"
    ref: int
    field: str
    element: bool = False


class PairRequest(_Strict):
    """The next frame is the JSON object of the pair's private fields."""

    kind: Literal["pair"] = "pair"
    values: dict[str, Any]  # fields sent inline (ids, the access level, None)
    refs: dict[str, int | list[int]]  # shared fields made of blobs: one ref, or one per element of a list
    seconds: float  # the zygote kills the detector's process after this long
    timeout_message: str


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
def frame(payload: bytes) -> bytes:
    return _LENGTH.pack(len(payload)) + payload


class FrameReader:
    """Reads frames from a descriptor exactly: no byte past the current frame is taken from the pipe."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def _fill(self, view: memoryview) -> bool:
        while len(view):
            n = os.readv(self.fd, [view])
            if n == 0:
                return False
            view = view[n:]
        return True

    def read(self) -> bytearray | None:
        """The next frame's payload (a buffer the caller may zero), or None at the end of the stream."""
        head = bytearray(_LENGTH.size)
        if not self._fill(memoryview(head)):
            return None
        payload = bytearray(_LENGTH.unpack(head)[0])
        if not self._fill(memoryview(payload)):
            return None
        return payload


def zero(buffer: bytearray) -> None:
    memoryview(buffer)[:] = bytes(len(buffer))


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
    """The benchmark's side: turns `PairEvidence` into request bytes, sending each shared blob once while
    consecutive pairs use it.

    Blobs are recognised by identity (the evidence view builds each shared value once and hands out the same
    objects); the encoder holds a reference to every blob the zygote holds, so an id is never reused meanwhile.
    The zygote keeps exactly the blobs of the last request, and so does the encoder's record of them."""

    def __init__(self) -> None:
        self._held: dict[Any, tuple[int, Any]] = {}  # identity key -> (ref, value)
        self._next = 0
        self.sent_bytes = 0

    @staticmethod
    def _key(value: Any) -> Any:
        # Building PairEvidence copies its lists and dicts but keeps the models and strings in them: a container is
        # known by the identity of what it holds.
        if isinstance(value, (list, tuple)):
            return ("seq", tuple(map(id, value)))
        if isinstance(value, dict):
            return ("map", tuple(map(id, value)), tuple(map(id, value.values())))
        return id(value)

    def _ref(self, field: str, value: Any, element: bool, out: list[bytes], used: dict[Any, tuple[int, Any]]) -> int:
        key = self._key(value)
        if key in self._held:
            ref = self._held[key][0]
        else:
            ref, self._next = self._next, self._next + 1
            out += [frame(BlobHeader(ref=ref, field=field, element=element).model_dump_json().encode()),
                    frame(_adapter(field, element).dump_json(value))]
        used[key] = (ref, value)
        return ref

    def encode(self, evidence: BaseModel, seconds: float, timeout_message: str) -> bytes:
        out: list[bytes] = []
        values: dict[str, Any] = {}
        refs: dict[str, int | list[int]] = {}
        private: list[bytes] = []
        used: dict[Any, tuple[int, Any]] = {}
        for field in type(evidence).model_fields:
            value = getattr(evidence, field)
            if not _is_blob(value):
                values[field] = value
            elif field not in SHARED_FIELDS:
                private.append(json.dumps(field).encode() + b":" + _adapter(field, False).dump_json(value))
            elif isinstance(value, list) and value and all(isinstance(v, BaseModel) for v in value) and len(value) <= 64:
                # A short list of models (the reference views): each element is shared on its own.
                refs[field] = [self._ref(field, v, True, out, used) for v in value]
            else:
                refs[field] = self._ref(field, value, False, out, used)
        self._held = used
        request = PairRequest(values=values, refs=refs, seconds=seconds, timeout_message=timeout_message)
        out += [frame(request.model_dump_json().encode()), frame(b"{" + b",".join(private) + b"}")]
        payload = b"".join(out)
        self.sent_bytes += len(payload)
        return payload


class Decoder:
    """The zygote's side: holds the shared blobs of the current pair and nothing else."""

    def __init__(self) -> None:
        self.blobs: dict[int, Any] = {}

    def blob(self, header: BlobHeader, data: bytearray) -> None:
        try:
            self.blobs[header.ref] = _adapter(header.field, header.element).validate_json(data)
        finally:
            zero(data)

    def shared(self, request: PairRequest) -> dict[str, Any]:
        """The pair's inline and shared fields; blobs this request does not use are dropped."""
        fields = dict(request.values)
        used = set()
        for field, ref in request.refs.items():
            refs = ref if isinstance(ref, list) else [ref]
            used.update(refs)
            fields[field] = [self.blobs[r] for r in refs] if isinstance(ref, list) else self.blobs[ref]
        self.blobs = {r: v for r, v in self.blobs.items() if r in used}
        return fields


def complete(shared: dict[str, Any], private: bytes | bytearray):  # noqa: ANN201 (PairEvidence; imported lazily)
    """In the pair's own process: the whole `PairEvidence`. Validating the assembled model checks the private and
    inline fields and passes the already-built shared models through without walking them again."""
    from distillbench.evidence.view import PairEvidence

    return PairEvidence.model_validate({**shared, **json.loads(private)})


def parse_request(payload: bytes | bytearray) -> BlobHeader | PairRequest:
    kind = json.loads(payload).get("kind")
    return BlobHeader.model_validate_json(payload) if kind == "blob" else PairRequest.model_validate_json(payload)


# -- replies ----------------------------------------------------------------------------------------------------
def parse_hello(line: bytes) -> Ready | LoadFailed | str:
    """The worker's first line, or a problem description."""
    for model in (Ready, LoadFailed):
        try:
            msg = model.model_validate_json(line)
        except (ValidationError, ValueError):
            continue
        if isinstance(msg, Ready):
            return Ready(name=clean(msg.name, 80), access=clean(msg.access, 40), summary=clean(msg.summary),
                         budget=clean(msg.budget, 20), uses=[clean(u, 20) for u in msg.uses[:8]])
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
