"""Messages between the benchmark and the contained worker, one JSON object per line.

benchmark -> worker (stdin):  a `PairEvidence` per line, cut to the submission's track.
worker -> benchmark (stdout): first a `Ready` or `LoadFailed`, then one `Reply` per pair.

The worker shares its process with untrusted code, so the benchmark treats every line it sends as untrusted input:
`parse_reply` re-checks the schema, the pair id, and that the score is finite and the p-value a probability (and
absent on an abstention).
"""

from __future__ import annotations

import math
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

MAX_REPLY_BYTES = 64 << 10
MAX_MESSAGE_CHARS = 300
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


def clean(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """A message from untrusted code, made safe to store and print: one line, no control characters, bounded."""
    text = _CONTROL.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


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
