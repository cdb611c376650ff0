"""The evidence contract: what one model produced on one probe task, as stored and as detectors read it.

Records carry fingerprints, never model names, so nothing in evidence reveals how a model was made.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

EVIDENCE_SCHEMA_VERSION = 1


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Generation(_Strict):
    id: str
    prompt: str
    response: str


class Loglik(_Strict):
    id: str
    loglik: float  # summed natural-log likelihood of the continuation given its context
    n_bytes: int  # UTF-8 bytes of the continuation: normalises across tokenizers
    is_greedy: bool


class Hidden(_Strict):
    id: str
    vector: list[float]  # mean final-layer hidden state over the text's tokens


class EvidenceRecord(_Strict):
    schema_version: int = EVIDENCE_SCHEMA_VERSION
    model_fingerprint: str
    task: str
    task_fingerprint: str
    kind: Literal["generate", "loglikelihood", "hidden"]
    lm_eval_version: str
    backend: str
    generations: list[Generation] = []
    logliks: list[Loglik] = []
    hidden: list[Hidden] = []
