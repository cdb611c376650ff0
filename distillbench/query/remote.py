"""Query backends for models that are not a local zoo directory: any lm-eval backend, or an OpenAI-compatible
completions server.

Takes a request (`query.requests`) and a model reached through lm-eval (`hf`, `vllm`, `local-completions`, ...) or
over HTTP (`vllm serve`, llama.cpp's server, SGLang, ...); produces the same answer types as
`query.backends.TransformersBackend`. `backend_from_spec` turns one `NAME=SPEC` string into a backend, for a
`QueryHarness(load=...)` hook on real suites.

What each backend serves (a request it cannot serve raises ValueError, which the harness turns into a refusal):

| backend | generate | score | top_k | hidden | weights |
| --- | --- | --- | --- | --- | --- |
| `TransformersBackend` (`hf:DIR`) | yes | sums and per token | yes | yes | yes |
| `LMEvalBackend` (`lm-eval:NAME:ARGS`) | yes | sums only (`per_token` empty) | no | no | no |
| `OpenAIBackend` (`openai:URL#MODEL`) | yes | sums and per token (server must echo prompt log-probs) | yes | no | no |
| `OpenAIChatBackend` (`openai-chat:URL#MODEL`) | yes (each prompt as one user message) | no | no | no | no |

Generations stop at a blank line (`corpus.DOC_SEPARATOR`), as the zoo's sampler and the probe tasks do, or at the
model's end of text. A greedy request (temperature 0) is sent once per prompt and its answer repeated `n` times.
"""

from __future__ import annotations

import inspect
import json
import os
import random
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from distillbench.corpus import DOC_SEPARATOR
from distillbench.errors import DistillBenchError
from distillbench.query.backends import Backend, TransformersBackend, Unanswerable
from distillbench.query.requests import Answer, Generate, GenerateAnswer, Score, ScoreAnswer, TopK, TopKAnswer
from distillbench.rng import derive_seed

_STOP = [DOC_SEPARATOR]


def _first_line(text: str, limit: int = 200) -> str:
    lines = text.strip().splitlines()
    return lines[0][:limit] if lines else ""


@contextmanager
def _seeded(seed: int):  # noqa: ANN202
    """Seeds torch, `random` and numpy for one call, then gives the caller its generators' states back."""
    import numpy as np
    import torch

    py_state, np_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed % 2**63)
        random.seed(seed)
        np.random.seed(seed % 2**32)
        try:
            yield
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)


class LMEvalBackend:
    """Any `lm_eval.api.model.LM` instance (`hf`, `vllm`, `local-completions`, ...), asked through lm-eval's own
    request API (`generate_until`, `loglikelihood`).

    - **generate**: one `generate_until` instance per sample (`n` samples of a prompt are `n` instances; a greedy
      prompt is one instance, repeated). Seeds: a backend that runs a torch model in this process (`hf`) is seeded
      (torch, `random`, numpy) before each sample from (request seed, prompt index, sample index) and called one
      sample at a time, so a sample depends on its seed, prompt and model only, not on how requests were batched;
      it samples by temperature alone (`top_k=0, top_p=1`), as `TransformersBackend` does. `batch_sampling=True`
      sends a request's samples as one batch seeded from the request seed instead: faster on a GPU, still the same
      answer for the same request, but a sample then depends on the rest of its batch. `vllm` gets each sample's
      seed in its sampling parameters (vLLM honours per-request seeds). Remote backends (`local-completions` and
      other API models) send lm-eval's own fixed seed, so the request seed may not be honoured: a server that
      ignores seeds gives a different sample each time it is asked (the harness's cache then keeps the first).
    - **score**: `loglikelihood` returns summed log-likelihoods only, so `per_token` is a list of empty lists.
      lm-eval tokenises `context + continuation` as one string and splits it at the context's token count, after
      moving the context's trailing spaces into the continuation; `TransformersBackend` tokenises the two parts
      separately. The sums agree when the continuation starts a word (`"... cat"`, `" sat"`) and may differ when
      the split falls inside a word. An empty context conditions on the model's prefix token (BOS/EOS), as ours
      does. `scored_tokens` counts context and continuation tokens when the LM exposes a tokenizer
      (`lm.tokenizer`, e.g. `hf`, `vllm`, API models with a `tokenizer_backend`), else 0.
    - **top_k**, **hidden**, **weights**: not served by lm-eval; they raise ValueError.
    """

    def __init__(self, lm, batch_sampling: bool = False) -> None:  # noqa: ANN001 (an lm_eval.api.model.LM)
        self.lm = lm
        self.batch_sampling = batch_sampling
        self.kind = self._kind(lm)

    @staticmethod
    def _kind(lm) -> str:  # noqa: ANN001
        import torch

        if isinstance(getattr(lm, "model", None), torch.nn.Module):
            return "torch"  # e.g. HFLM: samples with this process's torch generator
        if type(lm).__name__ == "VLLM" and "vllm" in type(lm).__module__:
            return "vllm"
        return "remote"

    def answer(self, request) -> Answer:  # noqa: ANN001
        if request.kind == "generate":
            return self._generate(request)
        if request.kind == "score":
            return self._score(request)
        raise Unanswerable(f"lm-eval backends do not serve {request.kind!r} requests (only 'generate' and 'score': "
                         "lm-eval's model API returns generated text and summed log-likelihoods)")

    def _call(self, method: str, instances: list, hint: str = "") -> list:
        fn = getattr(self.lm, method)
        kwargs = {"disable_tqdm": True} if "disable_tqdm" in inspect.signature(fn).parameters else {}
        try:
            out = fn(instances, **kwargs)
        except AssertionError as exc:  # lm-eval checks its inputs with asserts, which carry no message
            raise ValueError(f"lm-eval's {method} failed an assertion ({_first_line(str(exc)) or hint or 'no message'})"
                             ) from None
        if len(out) != len(instances):
            raise ValueError(f"lm-eval answered {len(out)} of {len(instances)} {method} instances")
        return out

    def _count(self, text: str) -> int:
        tok = getattr(self.lm, "tokenizer", None)
        if tok is None or not hasattr(tok, "encode") or not text:
            return 0
        try:
            return len(tok.encode(text, add_special_tokens=False))
        except TypeError:  # tiktoken's encode takes no add_special_tokens
            return len(tok.encode(text))

    def _generate(self, r: Generate) -> GenerateAnswer:
        from lm_eval.api.instance import Instance

        sample = r.temperature > 0
        per_prompt = r.n if sample else 1
        gen = {"until": list(_STOP), "max_gen_toks": r.max_new_tokens, "do_sample": sample,
               "temperature": r.temperature}
        if sample and self.kind == "torch":
            gen |= {"top_k": 0, "top_p": 1.0}
        keys = [(i, j) for i in range(len(r.prompts)) for j in range(per_prompt)]

        def seed_of(i: int, j: int) -> int:
            return derive_seed("query", r.seed, i, j)

        def instance(k: int, i: int, j: int) -> Instance:
            args = dict(gen)
            if sample and self.kind == "vllm":
                args["seed"] = seed_of(i, j) % 2**63
            return Instance(request_type="generate_until", doc={}, arguments=(r.prompts[i], args), idx=k)

        if sample and self.kind == "torch" and not self.batch_sampling:
            flat = []
            for k, (i, j) in enumerate(keys):
                with _seeded(seed_of(i, j)):
                    flat.extend(self._call("generate_until", [instance(k, i, j)]))
        else:
            with _seeded(derive_seed("query", r.seed)):
                flat = self._call("generate_until", [instance(k, i, j) for k, (i, j) in enumerate(keys)])
        flat = [str(t) for t in flat]
        texts = [flat[i * per_prompt : (i + 1) * per_prompt] * (1 if sample else r.n) for i in range(len(r.prompts))]
        return GenerateAnswer(texts=texts, generated_tokens=sum(self._count(t) for row in texts for t in row))

    def _score(self, r: Score) -> ScoreAnswer:
        from lm_eval.api.instance import Instance

        instances = [Instance(request_type="loglikelihood", doc={}, arguments=(t.context, t.continuation), idx=k)
                     for k, t in enumerate(r.texts)]
        out = self._call("loglikelihood", instances,
                         hint="a continuation may have no tokens of its own once lm-eval tokenises context + "
                              "continuation as one string and cuts it at the context's token count")
        sums = [float(x[0] if isinstance(x, (tuple, list)) else x) for x in out]
        scored = 0
        if getattr(self.lm, "tokenizer", None) is not None:  # an empty context is scored after one prefix token
            scored = sum(max(1, self._count(t.context)) + self._count(t.continuation) for t in r.texts)
        return ScoreAnswer(sums=sums, per_token=[[] for _ in sums], scored_tokens=scored)


class _HTTPStatusError(ValueError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class OpenAIBackend:
    """An OpenAI-compatible completions server (`vllm serve`, SGLang, llama.cpp's server, ...), over HTTP with the
    standard library: POST `{base_url}/completions` (`base_url` as the server prints it, e.g.
    `http://localhost:8000/v1`).

    - **generate**: `prompt` (a list), `max_tokens`, `temperature`, `n`, `seed` (the request's: vLLM honours it;
      a server that does not gives a different sample each time), `stop` at a blank line; greedy requests send
      `n=1` and repeat the answer (vLLM refuses `n>1` without sampling). `generated_tokens` is the server's
      `usage.completion_tokens` (0 when it sends no usage).
    - **score**: `echo` with `logprobs: 1` and `max_tokens: 0` on `context + continuation` (a server that refuses
      0 is asked for 1 token from then on, and that token is ignored). The continuation's tokens are those whose
      `text_offset` is at or after the end of the context, in the server's own tokenisation: a token that spans
      the boundary belongs to the context. The first token of a prompt has no log-prob (null) and is skipped, so
      with an empty context a model that adds no BOS (GPT-2) has its first continuation token unscored and the
      rest conditioned on nothing before the text, where `TransformersBackend` puts end-of-text first: such sums
      are not comparable across the two. `scored_tokens`: the server's `usage.prompt_tokens`.
    - **top_k**: `max_tokens: 1, logprobs: k`, read from `logprobs.top_logprobs[0]` (tokens as the server decodes
      them; OpenAI's own API caps `logprobs` at 5).
    - **hidden**, **weights**: an API serves neither; ValueError.

    Any failure (an HTTP status, a timeout, a body that is not the expected JSON) raises ValueError with the status
    and the first line of the body. There are no retries: the harness caches answers, and a failed request fails
    its pair.
    """

    def __init__(self, base_url: str, model: str, api_key: str | None = None, timeout: float = 60) -> None:
        self.url = base_url.rstrip("/") + "/completions"
        self.model = model
        self.api_key = api_key
        self.timeout = timeout
        self._score_max_tokens = 0

    def answer(self, request) -> Answer:  # noqa: ANN001
        handler = {"generate": self._generate, "score": self._score, "top_k": self._top_k}.get(request.kind)
        if handler is None:
            raise Unanswerable(f"an OpenAI-compatible API does not serve {request.kind!r} requests (only 'generate', "
                             "'score' and 'top_k')")
        return handler(request)

    def _post(self, payload: dict) -> dict:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        body = json.dumps({"model": self.model, **payload}).encode()
        req = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            try:
                text = exc.read().decode("utf-8", "replace")
            except OSError:
                text = ""
            raise _HTTPStatusError(exc.code, f"{self.url} answered HTTP {exc.code}: "
                                             f"{_first_line(text) or exc.reason}") from None
        except urllib.error.URLError as exc:
            raise ValueError(f"{self.url} could not be reached: {exc.reason}") from None
        except (TimeoutError, OSError) as exc:  # a read that times out is a bare socket timeout
            raise ValueError(f"{self.url} did not answer within {self.timeout:g} s: "
                             f"{exc or type(exc).__name__}") from None
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise ValueError(f"{self.url} answered with malformed JSON: "
                             f"{_first_line(raw[:400].decode('utf-8', 'replace'))!r}") from None
        if not isinstance(data, dict) or not isinstance(data.get("choices"), list):
            err = data.get("error") if isinstance(data, dict) else None
            why = (err.get("message") if isinstance(err, dict) else err) or "no 'choices' list"
            raise ValueError(f"{self.url} answered without completions: {_first_line(str(why))}")
        return data

    def _choices(self, data: dict, expected: int) -> list[dict]:
        try:
            choices = sorted(data["choices"], key=lambda c: int(c["index"]))
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"{self.url} answered choices without an integer 'index'") from None
        if len(choices) != expected:
            raise ValueError(f"{self.url} answered {len(choices)} choices; {expected} were asked for")
        return choices

    def _usage(self, data: dict, key: str) -> int:
        usage = data.get("usage")
        value = usage.get(key) if isinstance(usage, dict) else None
        return int(value) if isinstance(value, int) else 0

    def _generate(self, r: Generate) -> GenerateAnswer:
        sample = r.temperature > 0
        n = r.n if sample else 1
        data = self._post({"prompt": list(r.prompts), "max_tokens": r.max_new_tokens, "temperature": r.temperature,
                           "n": n, "seed": r.seed, "stop": list(_STOP)})
        choices = self._choices(data, len(r.prompts) * n)
        try:
            flat = [c["text"] for c in choices]
        except (KeyError, TypeError):
            raise ValueError(f"{self.url} answered a choice without 'text'") from None
        if not all(isinstance(t, str) for t in flat):
            raise ValueError(f"{self.url} answered a choice whose 'text' is not a string")
        texts = [flat[i * n : (i + 1) * n] * (1 if sample else r.n) for i in range(len(r.prompts))]
        return GenerateAnswer(texts=texts, generated_tokens=self._usage(data, "completion_tokens") * (1 if sample else r.n))

    def _score(self, r: Score) -> ScoreAnswer:
        prompts = [t.context + t.continuation for t in r.texts]

        def ask() -> dict:
            return self._post({"prompt": prompts, "max_tokens": self._score_max_tokens, "echo": True, "logprobs": 1,
                               "temperature": 0})

        try:
            data = ask()
        except _HTTPStatusError as exc:
            if self._score_max_tokens != 0 or exc.status not in (400, 422):
                raise
            self._score_max_tokens = 1  # this server wants at least one new token; its log-prob is ignored below
            data = ask()
        sums, per = [], []
        for t, prompt, choice in zip(r.texts, prompts, self._choices(data, len(prompts))):
            try:
                lp = choice["logprobs"]
                pairs = list(zip(lp["text_offset"], lp["token_logprobs"], strict=True))
            except (KeyError, TypeError, ValueError):
                raise ValueError(f"{self.url} answered no prompt log-probs (it must support 'echo' with "
                                 "'logprobs' on completions)") from None
            got = [float(x) for offset, x in pairs if x is not None and len(t.context) <= offset < len(prompt)]
            if not got:
                raise ValueError(f"continuation {t.continuation[:40]!r} has no token of its own in the server's "
                                 "tokenisation of context + continuation")
            per.append([round(x, 6) for x in got])
            sums.append(float(sum(got)))
        return ScoreAnswer(sums=sums, per_token=per, scored_tokens=self._usage(data, "prompt_tokens"))

    def _top_k(self, r: TopK) -> TopKAnswer:
        data = self._post({"prompt": list(r.contexts), "max_tokens": 1, "logprobs": r.k, "temperature": 0})
        tokens, values = [], []
        for choice in self._choices(data, len(r.contexts)):
            try:
                top = choice["logprobs"]["top_logprobs"][0]
                ranked = sorted(((str(k), float(v)) for k, v in top.items()), key=lambda kv: -kv[1])[: r.k]
            except (KeyError, TypeError, IndexError, ValueError, AttributeError):
                raise ValueError(f"{self.url} answered no top log-probs for the next token") from None
            tokens.append([k for k, _ in ranked])
            values.append([round(v, 6) for _, v in ranked])
        return TopKAnswer(tokens=tokens, logprobs=values, scored_tokens=self._usage(data, "prompt_tokens"))


class OpenAIChatBackend(OpenAIBackend):
    """A text-only chat API (`/chat/completions`: vendors' chat endpoints, `vllm serve`, `distillbench real serve`):
    `generate` only, each prompt sent as one user message (one request per prompt; chat APIs take one conversation
    each), `n`, `seed`, `stop` at a blank line as for completions. `score`/`top_k` raise `Unanswerable`: a chat API
    returns no prompt log-probs (the same reason a text-only teacher has no pool log-likelihoods)."""

    def __init__(self, base_url: str, model: str, api_key: str | None = None, timeout: float = 60) -> None:
        super().__init__(base_url, model, api_key, timeout)
        self.url = base_url.rstrip("/") + "/chat/completions"

    def answer(self, request) -> Answer:  # noqa: ANN001
        if request.kind != "generate":
            raise Unanswerable(f"a chat API returns text only: it does not serve {request.kind!r} requests (only "
                               "'generate')")
        return self._generate(request)

    def _generate(self, r: Generate) -> GenerateAnswer:
        sample = r.temperature > 0
        n = r.n if sample else 1
        texts, tokens = [], 0
        for prompt in r.prompts:
            data = self._post({"messages": [{"role": "user", "content": prompt}], "max_tokens": r.max_new_tokens,
                               "temperature": r.temperature, "n": n, "seed": r.seed, "stop": list(_STOP)})
            try:
                got = [c["message"]["content"] for c in self._choices(data, n)]
            except (KeyError, TypeError):
                raise ValueError(f"{self.url} answered a choice without 'message.content'") from None
            if not all(isinstance(x, str) for x in got):
                raise ValueError(f"{self.url} answered a choice whose content is not a string")
            texts.append(got * (1 if sample else r.n))
            tokens += self._usage(data, "completion_tokens") * (1 if sample else r.n)
        return GenerateAnswer(texts=texts, generated_tokens=tokens)


def backend_from_spec(spec: str, device: str = "cpu", batch_size: int | str = 8) -> Backend:
    """A backend from one spec string (the `SPEC` of `--query-model NAME=SPEC`):

    - `hf:DIR`: a local Hugging Face model directory through transformers (`TransformersBackend`, on `device`).
    - `lm-eval:MODEL:ARGS`: an lm-eval model by its registry name and `model_args` string, e.g.
      `lm-eval:hf:pretrained=DIR,dtype=float32`, `lm-eval:vllm:pretrained=ORG/NAME,tensor_parallel_size=2`,
      `lm-eval:local-completions:model=NAME,base_url=http://localhost:8000/v1/completions,tokenizer_backend=huggingface`
      (ARGS may be empty; it may contain colons). `device` and `batch_size` are passed as lm-eval's CLI passes them.
    - `openai:URL#MODEL`: an OpenAI-compatible completions server at base URL `URL` (e.g.
      `openai:http://localhost:8000/v1#deepseek-ai/DeepSeek-R1`), with `$OPENAI_API_KEY` when set.
    - `openai-chat:URL#MODEL`: the same server's (or a vendor's) chat endpoint, `URL/chat/completions`: text only.
    """
    scheme, sep, rest = spec.partition(":")
    if not sep or not rest:
        scheme = ""
    if scheme == "hf":
        return TransformersBackend(Path(rest).expanduser(), device)
    if scheme == "lm-eval":
        name, _, args = rest.partition(":")
        if not name:
            raise DistillBenchError(f"query model spec {spec!r} names no lm-eval model: expected lm-eval:MODEL:ARGS")
        from lm_eval.api.registry import get_model

        try:
            cls = get_model(name)
        except ValueError as exc:
            raise DistillBenchError(f"query model spec {spec!r}: {_first_line(str(exc))}") from None
        return LMEvalBackend(cls.create_from_arg_string(args, {"device": device, "batch_size": batch_size}))
    if scheme in ("openai", "openai-chat"):
        url, sep, model = rest.rpartition("#")
        if not sep or not url or not model:
            raise DistillBenchError(f"query model spec {spec!r} has no model name: expected {scheme}:URL#MODEL")
        cls = OpenAIBackend if scheme == "openai" else OpenAIChatBackend
        return cls(url, model, api_key=os.environ.get("OPENAI_API_KEY") or None)
    raise DistillBenchError(f"query model spec {spec!r} is not one of hf:DIR, lm-eval:MODEL:ARGS, openai:URL#MODEL, "
                            "openai-chat:URL#MODEL")
