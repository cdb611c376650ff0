from __future__ import annotations

import math
import re
from typing import ClassVar

import numpy as np
from scipy import stats

from distillbench.detect.base import Verdict
from distillbench.detect.baselines.token_agreement import holm
from distillbench.detect.registry import register
from distillbench.evidence.view import AccessLevel, PairEvidence
from distillbench.query.meter import Budget

# What the query detectors spend per pair: under the 1k tier with a margin, so that a pair with one more model than
# planned for still fits (prompts x samples x models <= QUERY_BUDGET).
QUERY_BUDGET = 960
MAX_NEW_TOKENS = 32  # the zoo's models see 64 tokens in all: a short prompt and 32 new tokens fit
PROMPT_CAP = 96  # greedy prompts per model on the standard suite (10 models: 960 queries)
WINDOW = 24  # tokens of each continuation compared
SEED = 0  # greedy answers do not depend on it; fixed so that identical requests hit the harness's answer cache

_TOKEN = re.compile(r"\w+|[^\w\s]")


def tokens(text: str) -> list[str]:
    """A tokenizer-free stand-in for model tokens: words and single punctuation marks (a black-box detector has no
    tokenizer, and the zoo's small models often emit strings such as 's.s.:s' with no spaces to split on)."""
    return _TOKEN.findall(text)


def query_prompts(pair: PairEvidence, limit: int) -> list[str]:
    """At most `limit` prompts, the same for every pair of one teacher (so the teacher's and references' answers
    come from the harness's cache after the first pair): the probe prompts by id, then the distinct contexts of the
    pool's corpus texts in text order (never ids, which are masked per run)."""
    out, seen = [], set()
    corpus = sorted({t.context for t in pair.pool if t.role == "corpus"})
    for text in [pair.prompts[i] for i in sorted(pair.prompts)] + corpus:
        if text.strip() and text not in seen:
            seen.add(text)
            out.append(text)
    return out[: max(0, limit)]


def greedy_answers(client, pair: PairEvidence, models: list[str], prompts: list[str]) -> dict[str, list[str]]:  # noqa: ANN001
    """Greedy (temperature 0) continuations of every prompt by every named model: one request per model."""
    return {m: [a[0] for a in client.generate(m, prompts, max_new_tokens=MAX_NEW_TOKENS, temperature=0.0, n=1,
                                              seed=SEED)] for m in models}


def match_rate(a: str, b: str, window: int = WINDOW) -> float:
    """Share of the first `window` token positions at which two continuations hold the same token (a position one
    of them does not reach counts as a mismatch; two empty continuations agree)."""
    ta, tb = tokens(a)[:window], tokens(b)[:window]
    n = max(len(ta), len(tb))
    return sum(x == y for x, y in zip(ta, tb)) / n if n else 1.0


def paired_greater_p(diff: np.ndarray) -> float:
    """One-sided p-value of H0 'mean difference <= 0' over paired prompts: a t-test on the per-prompt differences
    (the paper's z-test on match proportions, with the prompt as the unit and t quantiles for few prompts). When
    every difference is the same the t statistic is undefined: then an exact sign test."""
    diff = diff[np.isfinite(diff)]
    if diff.size == 0 or not np.any(diff):
        return 1.0
    sd = float(diff.std(ddof=1)) if diff.size > 1 else 0.0
    if sd == 0.0 or diff.size < 2:
        pos, n = int((diff > 0).sum()), int((diff != 0).sum())
        return float(stats.binomtest(pos, n, 0.5, alternative="greater").pvalue)
    t = float(diff.mean()) / (sd / math.sqrt(diff.size))
    return float(stats.t.sf(t, df=diff.size - 1))


@register
class ProvenanceTestDetector:
    """Model provenance testing with queries of its own: greedy continuations of teacher, student and every
    reference on sampled prompts, token agreement with the teacher tested against agreement with each reference.
    (Nikolic, Baluta and Saxena 2025, "Model Provenance Testing for Large Language Models", arXiv 2502.00706: a
    derived model matches its parent's output tokens more often than it matches unrelated models'; one test per
    reference model, Holm-Bonferroni across them, provenance claimed only when every test rejects.)

    Prompts: the pair's probe prompts, then the contexts of its corpus pool texts, up to what the 1k tier allows
    (960 queries / models: 96 prompts with eight references). For each prompt, the student's greedy continuation is
    compared position by position over its first 24 tokens with the teacher's and with each reference's (match
    rate). Per reference, a one-sided paired t-test over prompts of (match with teacher - match with that
    reference); Holm-Bonferroni across references; the pair's p-value is the largest adjusted p. The score is the
    mean agreement margin (over prompts and references).

    Departures from the paper: the prompts are the pair's own probe and corpus texts rather than prompts sampled
    from the models' vocabularies, and far fewer (the paper uses thousands; the tier allows about a hundred per
    model), with no entropy-guided prompt selection; tokens are words and punctuation marks of the decoded text (a
    black-box detector has no tokenizer); the unit of the test is the prompt, not the token, so positions within one
    continuation are not treated as independent. Like the paper's test, it is a test over prompts for these models,
    not over models: independent controls can still differ from the teacher in ways the references do not, and the
    calibration column measures how often.
    """

    name: ClassVar[str] = "provenance_test"
    access: ClassVar[AccessLevel] = AccessLevel.BLACK_BOX
    summary: ClassVar[str] = ("own prompts: greedy token matches with teacher vs each reference, paired t-tests + "
                              "Holm-Bonferroni")
    uses: ClassVar[frozenset[str]] = frozenset()
    budget: ClassVar[Budget] = Budget.Q1K

    def score(self, pair: PairEvidence, client=None) -> Verdict:  # noqa: ANN001
        if client is None or not pair.references:
            return Verdict.abstain()  # called without a query client (evidence-only path): nothing to judge by
        refs = [r.model_id for r in pair.references]
        models = ["teacher", "student", *refs]
        prompts = query_prompts(pair, min(PROMPT_CAP, QUERY_BUDGET // len(models)))
        if len(prompts) < 2:
            return Verdict.abstain()
        got = greedy_answers(client, pair, models, prompts)
        student = got["student"]
        to_teacher = np.array([match_rate(s, t) for s, t in zip(student, got["teacher"])])
        margins, p_values = [], []
        for ref in refs:
            diff = to_teacher - np.array([match_rate(s, r) for s, r in zip(student, got[ref])])
            margins.append(float(diff.mean()))
            p_values.append(paired_greater_p(diff))
        return Verdict(score=float(np.mean(margins)), p_value=max(holm(p_values)))
