"""The query client a detector is handed with its pair: the models of that pair, metered, through the harness.

    class MyDetector:
        name, access, summary, uses = "mine", AccessLevel.BLACK_BOX, "...", frozenset()
        budget = Budget.Q1K                          # declared tier; evidence-only detectors omit it

        def score(self, pair, client):               # detectors with a budget get the client as a second argument
            answers = client.generate("teacher", prompts, max_new_tokens=24, temperature=0.0)
            ...

Models are named as the pair shows them: `"teacher"`, `"student"`, or `pair.references[i].model_id`. The client
never runs a model: each call is one request to the harness (over the contained worker's channel, or a function
call in-process for debugging), which checks it against the track and the budget, answers it from its cache or
the model, and counts what it cost. A refused request raises `QueryError`, and the pair fails with that message
whatever the detector does next: a budget overrun or a forbidden request is never something to catch and retry.
Batches larger than `requests.MAX_ITEMS` are split into several requests here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

from distillbench.query.requests import (
    MAX_ITEMS, Answer, Generate, Hidden, Score, TextPair, TopK, Weights, WeightsAnswer,
)


class QueryError(RuntimeError):
    """The harness refused a request (track, budget, malformed) or could not answer it."""


class TextScore(NamedTuple):
    total: float  # summed log-likelihood of the continuation, in nats
    per_token: list[float]


Transport = Callable[[object], Answer]  # a request model in, its answer out; raises QueryError


def _chunks(items: Sequence, size: int = MAX_ITEMS) -> list[Sequence]:
    return [items[i : i + size] for i in range(0, len(items), size)] or [items]


class QueryClient:
    def __init__(self, transport: Transport) -> None:
        self._send = transport

    def generate(self, model: str, prompts: Sequence[str], *, max_new_tokens: int = 32, temperature: float = 1.0,
                 n: int = 1, seed: int = 0) -> list[list[str]]:
        """Sampled completions: for each prompt, `n` samples (temperature 0: greedy, and `n` identical answers).
        The same request with the same seed gives the same samples, on every run."""
        out: list[list[str]] = []
        for k, chunk in enumerate(_chunks(list(prompts))):
            # Each chunk its own seed: the same draws for prompt j of every chunk would couple their samples.
            got = self._send(Generate(model=model, prompts=list(chunk), max_new_tokens=max_new_tokens,
                                      temperature=temperature, n=n, seed=(seed + k * 1_000_003) % 2**63))
            out += got.texts
        return out

    def score(self, model: str, texts: Sequence[tuple[str, str]]) -> list[TextScore]:
        """Log-likelihood of each (context, continuation) under `model`: summed and per continuation token."""
        out: list[TextScore] = []
        for chunk in _chunks(list(texts)):
            got = self._send(Score(model=model, texts=[TextPair(context=c, continuation=x) for c, x in chunk]))
            out += [TextScore(s, t) for s, t in zip(got.sums, got.per_token)]
        return out

    def top_k(self, model: str, contexts: Sequence[str], k: int = 5) -> list[list[tuple[str, float]]]:
        """The `k` most likely next tokens after each context, with their log-probs, most likely first."""
        out: list[list[tuple[str, float]]] = []
        for chunk in _chunks(list(contexts)):
            got = self._send(TopK(model=model, contexts=list(chunk), k=k))
            out += [list(zip(t, lp)) for t, lp in zip(got.tokens, got.logprobs)]
        return out

    def hidden(self, model: str, texts: Sequence[str], layers: Sequence[int] = (-1,)) -> list[list[list[float]]]:
        """For each text, for each layer (an index into the model's hidden states; 0: embeddings, -1: last), the mean
        hidden state over the text's tokens."""
        out: list[list[list[float]]] = []
        for chunk in _chunks(list(texts)):
            out += self._send(Hidden(model=model, texts=list(chunk), layers=list(layers))).vectors
        return out

    def weights(self, names: Sequence[str] | None = None, model: str = "student") -> WeightsAnswer:
        """The model's parameter shapes, and the values of the named parameters (flattened)."""
        return self._send(Weights(model=model, names=None if names is None else list(names)))
