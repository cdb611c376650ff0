"""The detector interface: a declared access level and `score(PairEvidence) -> Verdict`.

A detector is any class with these attributes; it need not inherit from anything. Higher scores mean "more likely
distilled from this teacher". A p-value, when given, claims: under the null that the student did not learn from
the teacher, P(score at least this high) <= p; the scorer checks that claim on the negatives. A detector that has
no evidence to judge a pair by (e.g. a watermark test when the teacher has no watermark) returns `Verdict.abstain()`:
the scorer leaves that pair out of its metrics and reports coverage, instead of ranking a placeholder score.

A detector that chooses its own queries declares a budget tier (`budget`, a `query.meter.Budget` above
`evidence-only`) and takes a second argument, `score(pair, client)`: a `query.client.QueryClient` cut to its track
and pair. Without `budget` it is evidence-only and `score(pair)` is called as before.
"""

from __future__ import annotations

import math
from typing import ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from distillbench.evidence.view import EVIDENCE_KINDS, AccessLevel, PairEvidence  # noqa: F401 (re-exported)
from distillbench.query.meter import Budget


class Verdict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    score: float
    p_value: float | None = None
    abstained: bool = False

    @classmethod
    def abstain(cls) -> Verdict:
        """No verdict on this pair: left out of every metric (and counted against coverage), never a tied score."""
        return cls(score=0.0, p_value=None, abstained=True)

    @field_validator("score")
    @classmethod
    def _finite(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError(f"score must be a finite number, got {v}")
        return v

    @field_validator("p_value")
    @classmethod
    def _probability(cls, v: float | None) -> float | None:
        if v is not None and not (0.0 <= v <= 1.0):
            raise ValueError(f"p_value must lie in [0, 1], got {v}")
        return v

    @model_validator(mode="after")
    def _abstention_claims_nothing(self) -> Verdict:
        if self.abstained and self.p_value is not None:
            raise ValueError(f"an abstaining verdict makes no claim, so it has no p-value; got p_value={self.p_value}")
        return self


# Kinds of fixed evidence a detector may read (`evidence.view.EVIDENCE_KINDS`, which cuts a pair's evidence to them).


@runtime_checkable
class Detector(Protocol):
    name: ClassVar[str]
    access: ClassVar[AccessLevel]
    # One line for tables; the class docstring cites the method and says where the implementation departs from it.
    summary: ClassVar[str]
    # Which fixed evidence it reads (subset of EVIDENCE_KINDS): it receives only these, and they count in its cost.
    uses: ClassVar[frozenset[str]]

    def score(self, pair: PairEvidence) -> Verdict: ...


def budget_of(detector: object) -> Budget:
    """The budget tier a detector (class or instance) declares; evidence-only when it declares none."""
    value = getattr(detector, "budget", Budget.EVIDENCE_ONLY)
    try:
        return Budget(value)
    except ValueError:
        raise ValueError(f"budget must be one of {', '.join(b.value for b in Budget)}; got {value!r}") from None


def call_score(detector: object, pair: PairEvidence, client: object = None) -> object:
    """`detector.score(pair)`, or `score(pair, client)` for a detector with a query budget."""
    if budget_of(detector) is Budget.EVIDENCE_ONLY:
        return detector.score(pair)
    return detector.score(pair, client)
