"""Models that answer query requests, on the harness's side: a local Hugging Face directory through transformers.

Takes a request (`query.requests`) and a model directory; produces its answer. Sampling is seeded per request
(`zoo.sample.sample_completions`, the sampler the zoo's teacher API uses, so a teacher that watermarks what it
serves watermarks these answers too): the same request gives the same answer whatever came before it. A batch is
one request's prompts, so how requests were batched cannot change an answer either.

Windows: the zoo's models see at most their context length. Scored texts and hidden-state inputs that do not fit
keep their last tokens (the left of the context is dropped first; a continuation longer than the window is scored
on its last tokens only, and `per_token` is that much shorter).

Backends for API models and any lm-eval backend are in `query.remote`.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Protocol

from distillbench.errors import DistillBenchError
from distillbench.query.requests import (
    MAX_WEIGHT_VALUES, Answer, Generate, GenerateAnswer, Hidden, HiddenAnswer, Score, ScoreAnswer, TopK, TopKAnswer,
    Weights, WeightsAnswer,
)


class Backend(Protocol):
    def answer(self, request) -> Answer: ...  # noqa: ANN001 (a request model); raises when it cannot


class Unanswerable(ValueError):
    """A request this model cannot answer, in words about the request alone (safe to show the detector); any other
    exception a backend raises may name paths or servers and is kept from it (`harness.PairSession.answer`)."""


class TransformersBackend:
    """One local model directory, loaded once, on the CPU (or `device`). `salt` (the model's fingerprint) goes into
    every sampling seed, so the same request to two models draws independent samples rather than the same random
    numbers (which would make two models that share a tokenizer look alike)."""

    def __init__(self, path: Path, device: str = "cpu", salt: str = "") -> None:
        import torch  # noqa: F401 (imported here: the harness is importable without torch)
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # a bar per model loaded would bury the run's own progress
        hf_logging.set_verbosity_error()  # and so would a generation warning per request

        if not path.is_dir():
            raise DistillBenchError(f"model directory {path} does not exist")
        self.tok = AutoTokenizer.from_pretrained(path)
        if self.tok.pad_token is None:
            self.tok.pad_token = self.tok.eos_token
        self.model = AutoModelForCausalLM.from_pretrained(path).eval().to(device)
        # A SynthID teacher serves marked text, as its API did for the distillers (green lists are reapplied by
        # transformers from generation_config.json itself).
        from distillbench.zoo.watermarks import attach

        attach(self.model, Path(path))
        self.device = device
        self.salt = salt
        cfg = self.model.config
        self.window = getattr(cfg, "n_positions", None) or getattr(cfg, "max_position_embeddings", None) or 1024

    def answer(self, request) -> Answer:  # noqa: ANN001
        import torch

        handler = {"generate": self._generate, "score": self._score, "top_k": self._top_k, "hidden": self._hidden,
                   "weights": self._weights}[request.kind]
        # One thread: the same numbers on every machine, and no spinning threads fighting the detector's process.
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return handler(request)
        finally:
            torch.set_num_threads(threads)

    # -- requests ---------------------------------------------------------------------------------------------
    def _generate(self, r: Generate) -> GenerateAnswer:
        from distillbench.zoo.sample import sample_completions

        # A prompt longer than the window keeps its last tokens (a learned-position model has no position past it).
        prompts = [p if len(ids := self._ids(p)) < self.window else self.tok.decode(ids[-(self.window - 1):])
                   for p in r.prompts]
        flat = [p for p in prompts for _ in range(r.n)]
        if r.temperature == 0:  # greedy: the n answers are one answer
            flat = list(prompts)
        texts = sample_completions(self.model, self.tok, flat, r.temperature, r.max_new_tokens,
                                   seed_label=("query", self.salt, r.seed))
        if r.temperature == 0:
            texts = [t for t in texts for _ in range(r.n)]
        generated = sum(len(ids) for ids in self.tok(texts, add_special_tokens=False)["input_ids"]) if texts else 0
        return GenerateAnswer(texts=[texts[i * r.n : (i + 1) * r.n] for i in range(len(r.prompts))],
                              generated_tokens=generated)

    def _ids(self, text: str) -> list[int]:
        return self.tok(text, add_special_tokens=False)["input_ids"]

    def _forward(self, sequences: list[list[int]], hidden: bool = False):  # noqa: ANN202
        """Logits (and hidden states) of right-padded sequences, each already cut to the window."""
        import torch

        width = max(len(s) for s in sequences)
        pad = self.tok.pad_token_id
        ids = torch.tensor([s + [pad] * (width - len(s)) for s in sequences], device=self.device)
        mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in sequences], device=self.device)
        with torch.no_grad():
            return self.model(input_ids=ids, attention_mask=mask, output_hidden_states=hidden), mask

    def _score(self, r: Score) -> ScoreAnswer:
        import torch

        seqs, starts = [], []
        for t in r.texts:
            ctx = self._ids(t.context) or [self.tok.eos_token_id]  # an empty context conditions on end-of-text
            cont = self._ids(t.continuation)
            if not cont:
                raise Unanswerable(f"continuation {t.continuation[:40]!r} has no tokens")
            seq = (ctx + cont)[-self.window :]
            # The first token of what is kept has no context left to be predicted from.
            starts.append(max(1, len(seq) - len(cont)))
            seqs.append(seq)
        out, _ = self._forward(seqs)
        logp = torch.log_softmax(out.logits.float(), dim=-1)
        sums, per = [], []
        for i, (seq, start) in enumerate(zip(seqs, starts)):
            target = torch.tensor(seq[start:], device=self.device)
            got = logp[i, start - 1 : len(seq) - 1].gather(1, target[:, None])[:, 0].tolist()
            per.append([round(x, 6) for x in got])
            sums.append(float(sum(got)))
        return ScoreAnswer(sums=sums, per_token=per, scored_tokens=sum(len(s) for s in seqs))

    def _top_k(self, r: TopK) -> TopKAnswer:
        import torch

        seqs = [(self._ids(c) or [self.tok.eos_token_id])[-self.window :] for c in r.contexts]
        out, _ = self._forward(seqs)
        logp = torch.log_softmax(out.logits.float(), dim=-1)
        tokens, values = [], []
        for i, seq in enumerate(seqs):
            top = torch.topk(logp[i, len(seq) - 1], k=min(r.k, logp.shape[-1]))
            tokens.append([self.tok.decode([j]) for j in top.indices.tolist()])
            values.append([round(x, 6) for x in top.values.tolist()])
        return TopKAnswer(tokens=tokens, logprobs=values, scored_tokens=sum(len(s) for s in seqs))

    def _hidden(self, r: Hidden) -> HiddenAnswer:
        seqs = [(self._ids(t) or [self.tok.eos_token_id])[-self.window :] for t in r.texts]
        out, mask = self._forward(seqs, hidden=True)
        states = out.hidden_states
        for layer in r.layers:
            if not -len(states) <= layer < len(states):
                raise Unanswerable(f"layer {layer} does not exist: this model has hidden states 0..{len(states) - 1} "
                                   "(0: embeddings)")
        m = mask.unsqueeze(-1).float()
        means = [((states[layer].float() * m).sum(1) / m.sum(1).clamp(min=1)) for layer in r.layers]
        vectors = [[[round(x, 5) for x in means[j][i].tolist()] for j in range(len(r.layers))] for i in range(len(seqs))]
        return HiddenAnswer(vectors=vectors, scored_tokens=sum(len(s) for s in seqs))

    def _weights(self, r: Weights) -> WeightsAnswer:
        state = self.model.state_dict()
        shapes = {k: list(v.shape) for k, v in state.items()}
        values: dict[str, list[float]] = {}
        if r.names is not None:
            unknown = [n for n in r.names if n not in state]
            if unknown:
                raise Unanswerable(f"no parameter named {unknown[0][:80]!r}; ask with names=None for the list")
            total = sum(state[n].numel() for n in r.names)
            if total > MAX_WEIGHT_VALUES:
                raise Unanswerable(f"{total:,} values asked for in one request; the most is {MAX_WEIGHT_VALUES:,}")
            values = {n: state[n].float().flatten().tolist() for n in r.names}
        return WeightsAnswer(shapes=shapes, values=values)


class LoadedModels:
    """The last `size` backends used, so a teacher's pairs reuse its model and its references' while students
    come and go."""

    def __init__(self, load, size: int = 12) -> None:  # noqa: ANN001 (name -> Backend)
        self._load, self._size = load, size
        self._held: OrderedDict[str, Backend] = OrderedDict()

    def get(self, name: str) -> Backend:
        if name in self._held:
            self._held.move_to_end(name)
        else:
            while len(self._held) >= self._size:
                self._held.popitem(last=False)
            self._held[name] = self._load(name)
        return self._held[name]
