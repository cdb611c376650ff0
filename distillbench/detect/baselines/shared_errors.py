from __future__ import annotations

from collections import Counter
from typing import ClassVar

from distillbench.detect.base import Verdict
from distillbench.detect.baselines.provenance import PROMPT_CAP, QUERY_BUDGET, greedy_answers, query_prompts, tokens
from distillbench.detect.null import z_against_null
from distillbench.detect.registry import register
from distillbench.evidence.view import AccessLevel, PairEvidence
from distillbench.query.meter import Budget

ANSWER_TOKENS = 4  # an answer is the first few tokens of a greedy continuation: what a short reply commits to


def answer(text: str) -> str:
    return " ".join(tokens(text.lower())[:ANSWER_TOKENS])


def idiosyncratic(teacher: list[str], others: list[list[str]]) -> list[int]:
    """Prompts on which the teacher's answer is not among the most common answers of `others` (a consensus of the
    other models; where they all differ, every answer they give is tied for most common, so the teacher is
    idiosyncratic there exactly when none of them gives its answer)."""
    out = []
    for i, t in enumerate(teacher):
        counts = Counter(o[i] for o in others)
        top = max(counts.values())
        if counts.get(t, 0) < top:
            out.append(i)
    return out


def reproduction_rate(model: list[str], teacher: list[str], prompts: list[int]) -> float:
    """Share of the teacher's idiosyncratic prompts on which `model` gives the teacher's answer."""
    return sum(model[i] == teacher[i] for i in prompts) / len(prompts) if prompts else float("nan")


@register
class SharedErrorsDetector:
    """Does the student repeat the teacher's idiosyncratic answers, more than independent models do?
    (After the shared-mistakes idea of QuRD, arXiv 2412.13021, and of error-based traceability such as ErrorTrace:
    a model trained on another's outputs inherits the answers on which that model departs from everyone else, not
    only the answers every model gives. The paper's text could not be consulted where this was written, so the
    construction below is this benchmark's, not a reproduction of its procedure.)

    Queries: greedy continuations of teacher, student and every reference on the pair's probe prompts and corpus
    contexts (the same requests as `provenance_test`, so the harness answers one from the other's cache), up to the
    1k tier. An answer is the first four tokens (words, punctuation) of a continuation, lower-cased. A prompt is a
    teacher idiosyncrasy, relative to a set of other models, when the teacher's answer is not among their most
    common answers. The statistic of a model X is its rate of giving the teacher's answer on the teacher's
    idiosyncrasies relative to the other non-teacher models (student and references, X left out), so X never sits
    in the consensus it is judged against, and the student and the references are treated alike: under H0 (the
    student is one more independent model) the k + 1 statistics are exchangeable.

    Score and p-value: the student's statistic as a z-score against the references' (`detect.null.z_against_null`:
    a one-sided t prediction interval with k - 1 degrees of freedom). Why not the alternatives: the rank p-value
    (1 + #references at or above the student) / (1 + k) is exact under exchangeability but cannot go below
    1 / (k + 1), 0.11 with eight references, so it could never claim significance at 0.05; a binomial test of the
    student's matches against the pooled reference rate treats prompts as independent draws at one shared rate and
    ignores how much independent models differ from each other, the per-sequence miscalibration this benchmark's
    model-level nulls exist to avoid. The t interval is a model-level null that can go below 1 / (k + 1), at the
    cost of assuming the references' rates are roughly normal. Abstains with fewer than two references or when the
    teacher has no idiosyncrasies.
    """

    name: ClassVar[str] = "shared_errors"
    access: ClassVar[AccessLevel] = AccessLevel.BLACK_BOX
    summary: ClassVar[str] = ("own prompts: student's rate of repeating the teacher's off-consensus greedy answers, "
                              "vs references")
    uses: ClassVar[frozenset[str]] = frozenset()
    budget: ClassVar[Budget] = Budget.Q1K

    def score(self, pair: PairEvidence, client=None) -> Verdict:  # noqa: ANN001
        if client is None or len(pair.references) < 2:
            return Verdict.abstain()
        refs = [r.model_id for r in pair.references]
        models = ["teacher", "student", *refs]
        prompts = query_prompts(pair, min(PROMPT_CAP, QUERY_BUDGET // len(models)))
        if len(prompts) < 2:
            return Verdict.abstain()
        got = {m: [answer(t) for t in texts] for m, texts in greedy_answers(client, pair, models, prompts).items()}
        teacher = got["teacher"]
        field = ["student", *refs]
        rates = {}
        for x in field:
            chosen = idiosyncratic(teacher, [got[o] for o in field if o != x])
            rates[x] = reproduction_rate(got[x], teacher, chosen)
        null = [rates[r] for r in refs]
        if rates["student"] != rates["student"]:  # nan: the teacher agrees with the consensus everywhere
            return Verdict.abstain()
        # A rate over n prompts cannot resolve differences below 1/n: references that happen to agree exactly must
        # not make a small deviation infinitely significant.
        z, p = z_against_null(rates["student"], null, min_sd=1.0 / len(prompts))
        return Verdict(score=z, p_value=p)
