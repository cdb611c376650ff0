"""What one pair costs, measured by the harness, and the budget tiers a submission declares.

A query is one model answering one input: one sample of one prompt, one scored text, one context's top-k, one
text's hidden states, one read of the weights. The fixed evidence a detector reads counts too, at what collecting
it would cost for this pair: one query per probe prompt answered (`generations`), per pool text scored (`logliks`)
and per pool text's hidden state (`hidden`), for every model of the pair whose evidence holds it (teacher, student,
references), and per pool text a model generated (`pool`). So a detector that reads 48 greedy answers of ten models
costs 480 queries a pair, and one that asks nothing and reads nothing costs 0. The evidence a detector receives is
cut to the kinds it declares (`uses`), so what is counted is what it could read.

Tiers bound the total (evidence plus requests) per pair; the harness refuses the request that would cross the
limit, and the pair fails with a message that says which limit and by how much. The `evidence-only` tier makes no
requests at all (no client is handed over); its cost is what its evidence amounts to. Generated and scored tokens
are counted for requests (the evidence is counted in queries: its token counts depend on tokenizers the published
evidence does not ship).
"""

from __future__ import annotations

from enum import Enum

from pydantic import BaseModel, ConfigDict

from distillbench.errors import DistillBenchError


class Budget(str, Enum):
    EVIDENCE_ONLY = "evidence-only"
    Q1K = "1k"
    Q10K = "10k"
    Q100K = "100k"

    @property
    def queries(self) -> int | None:
        """The most queries (evidence + requests) a pair may cost; None: not bounded (evidence only, no requests)."""
        return {"evidence-only": None, "1k": 1_000, "10k": 10_000, "100k": 100_000}[self.value]

    @property
    def tokens(self) -> int | None:
        """The most generated + scored tokens a pair's requests may cost."""
        return None if self.queries is None else self.queries * 100

    @property
    def rank(self) -> int:
        return list(Budget).index(self)


MAX_CALLS = 2_000  # requests per pair, whatever the tier: a flood of tiny requests is refused, not served


class PairCost(BaseModel):
    """What one pair cost: the evidence read, then every request, by model role."""

    model_config = ConfigDict(extra="forbid")
    evidence_queries: int = 0
    calls: int = 0  # requests answered
    queries: dict[str, int] = {}  # role (teacher, student, reference) -> queries from requests
    generated_tokens: int = 0
    scored_tokens: int = 0

    @property
    def request_queries(self) -> int:
        return sum(self.queries.values())

    @property
    def total_queries(self) -> int:
        return self.evidence_queries + self.request_queries

    @property
    def tokens(self) -> int:
        return self.generated_tokens + self.scored_tokens


def evidence_queries(pair) -> int:  # noqa: ANN001 (PairEvidence)
    """The queries the fixed evidence a detector received would cost for this pair: every answer, score and hidden
    state of every model, and every pool text a model generated (the corpus texts are not model outputs). The view
    cuts a pair's evidence to the kinds a detector declares (`EvidenceView.pair(uses=...)`), so this counts what it
    could read, not what it says it reads."""
    models = [pair.teacher, pair.student, *pair.references]
    n = sum(len(m.generations) + len(m.logliks or {}) + len(m.hidden or {}) for m in models)
    return n + sum(1 for t in pair.pool if t.role != "corpus")


class Meter:
    """Counts one pair's cost and enforces its tier: `charge` before a request runs, `settle` with its tokens."""

    def __init__(self, budget: Budget, evidence: int = 0) -> None:
        self.budget = budget
        self.cost = PairCost(evidence_queries=evidence)

    def charge(self, role: str, queries: int, upper_tokens: int = 0, extra_call: bool = True) -> None:
        """Raise `BudgetExceeded` if this request would cross a limit; else count it. `upper_tokens`: the most tokens
        it can generate (checked before the model runs, so an oversized request costs no compute); `extra_call`:
        False for a charge that belongs to a request already counted (a large `weights` read)."""
        b, c = self.budget, self.cost
        if b is Budget.EVIDENCE_ONLY:
            raise BudgetExceeded("declared budget tier `evidence-only` makes no requests; declare a tier "
                                 f"({', '.join(t.value for t in Budget if t.queries)}) in submission.yaml `cost.budget`"
                                 " and on the class (`budget`)")
        if extra_call and c.calls + 1 > MAX_CALLS:
            raise BudgetExceeded(f"sent more than {MAX_CALLS:,} requests for one pair (a flood); batch prompts into "
                                 "fewer requests")
        total = c.total_queries + queries
        if total > b.queries:
            raise BudgetExceeded(
                f"budget tier `{b.value}` allows {b.queries:,} queries per pair; this request ({queries:,} queries) "
                f"would bring the pair to {total:,} ({c.evidence_queries:,} from evidence read, "
                f"{c.request_queries:,} asked before), over by {total - b.queries:,}")
        if c.tokens + upper_tokens > b.tokens:
            raise BudgetExceeded(
                f"budget tier `{b.value}` allows {b.tokens:,} generated + scored tokens per pair; this request may "
                f"generate up to {upper_tokens:,} (queries x max_new_tokens) on top of {c.tokens:,} used, over by "
                f"{c.tokens + upper_tokens - b.tokens:,}")
        if extra_call:
            c.calls += 1
        c.queries[role] = c.queries.get(role, 0) + queries

    def settle(self, generated: int = 0, scored: int = 0) -> None:
        c, b = self.cost, self.budget
        c.generated_tokens += generated
        c.scored_tokens += scored
        if b.tokens is not None and c.tokens > b.tokens:
            raise BudgetExceeded(f"budget tier `{b.value}` allows {b.tokens:,} generated + scored tokens per pair; "
                                 f"the pair reached {c.tokens:,}, over by {c.tokens - b.tokens:,}")


class BudgetExceeded(DistillBenchError):
    pass


class CostSummary(BaseModel):
    """A run's measured cost per pair (means over the pairs that ran), for verdicts and results files."""

    model_config = ConfigDict(extra="forbid")
    budget: Budget
    queries_per_pair: float  # evidence read + requests, all models
    max_queries_per_pair: int
    evidence_queries_per_pair: float
    request_queries_per_pair: dict[str, float]  # by role: teacher, student, reference
    tokens_per_pair: float  # generated + scored, requests only
    calls_per_pair: float
    model_calls: int | None = None  # answers this run computed with a model (the rest came from the cache)


def summarize(costs: list[PairCost], budget: Budget, model_calls: int | None = None) -> CostSummary:
    n = max(1, len(costs))
    roles = sorted({r for c in costs for r in c.queries})
    return CostSummary(
        budget=budget, queries_per_pair=round(sum(c.total_queries for c in costs) / n, 2),
        max_queries_per_pair=max((c.total_queries for c in costs), default=0),
        evidence_queries_per_pair=round(sum(c.evidence_queries for c in costs) / n, 2),
        request_queries_per_pair={r: round(sum(c.queries.get(r, 0) for c in costs) / n, 2) for r in roles},
        tokens_per_pair=round(sum(c.tokens for c in costs) / n, 2),
        calls_per_pair=round(sum(c.calls for c in costs) / n, 3), model_calls=model_calls,
    )


def describe(summary: CostSummary) -> str:
    """One line for logs: what a pair cost on average, and how many answers this run computed."""
    roles = ", ".join(f"{r} {q:,.0f}" for r, q in summary.request_queries_per_pair.items()) or "none"
    line = (f"measured cost per pair (budget {summary.budget.value}): {summary.queries_per_pair:,.0f} queries "
            f"(evidence read {summary.evidence_queries_per_pair:,.0f}; requests: {roles}), "
            f"{summary.tokens_per_pair:,.0f} tokens, {summary.calls_per_pair:,.1f} requests")
    if summary.model_calls is not None:
        line += f"; {summary.model_calls:,} model calls this run (the other answers came from the cache)"
    return line
