"""Query backends beyond local directories (`query.remote`), on a tiny GPT-2 built here: a real lm-eval `hf` model,
and a real HTTP server in a thread that speaks the `/completions` subset `vllm serve` does, answering from
`TransformersBackend` on the same model (a stand-in for vLLM, which needs a GPU). No network, no mocks of lm-eval.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from distillbench.errors import DistillBenchError
from distillbench.query.backends import TransformersBackend
from distillbench.query.remote import LMEvalBackend, OpenAIBackend, backend_from_spec
from distillbench.query.requests import Generate, Hidden, Score, TextPair, TopK, Weights

PROMPTS = ["The cat sat on", "A dog ran", "Once upon a time there"]
# Word-boundary pairs: the continuation starts a word, so every tokenisation of context + continuation splits there.
BOUNDARY = [TextPair(context="The cat", continuation=" sat on the mat."),
            TextPair(context="A dog ran to the", continuation=" park and back"),
            TextPair(context="Once upon a time", continuation=" there was a fox")]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    from distillbench.zoo.tokenizer import EOS, train_tokenizer

    out = tmp_path_factory.mktemp("tiny-gpt2")
    corpus = ["The cat sat on the mat. A dog ran to the park and back.\n\nOnce upon a time there was a fox.",
              "The park was green and the fox was red. The dog sat and the cat ran.\n\nThe end."] * 20
    tok = train_tokenizer(corpus, vocab_size=320, out_dir=out)
    eos = tok.convert_tokens_to_ids(EOS)
    torch.manual_seed(0)
    # A wide initial range gives peaked logits, so greedy choices are not near-ties that batching could flip.
    config = GPT2Config(vocab_size=len(tok), n_embd=32, n_layer=1, n_head=2, n_positions=64, initializer_range=0.3,
                        bos_token_id=eos, eos_token_id=eos, pad_token_id=eos)
    GPT2LMHeadModel(config).save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def local(tiny_dir):
    return TransformersBackend(tiny_dir)


@pytest.fixture(scope="module")
def lmeval(tiny_dir):
    from lm_eval.api.registry import get_model

    lm = get_model("hf").create_from_arg_string(f"pretrained={tiny_dir},dtype=float32",
                                                {"device": "cpu", "batch_size": 8})
    return LMEvalBackend(lm)


# -- lm-eval ------------------------------------------------------------------------------------------------------
def test_lmeval_greedy_generation_matches_transformers(lmeval, local):
    r = Generate(model="m", prompts=PROMPTS, max_new_tokens=12, temperature=0, n=2)
    got = lmeval.answer(r)
    assert got == lmeval.answer(r)
    assert [len(row) for row in got.texts] == [2, 2, 2] and all(a == b for a, b in got.texts)
    assert got == local.answer(r)  # same texts, same token count
    assert got.generated_tokens > 0


def test_lmeval_sampling_is_seeded_per_sample(lmeval):
    r = Generate(model="m", prompts=PROMPTS, max_new_tokens=10, temperature=1.0, n=3, seed=5)
    a = lmeval.answer(r)
    assert [len(row) for row in a.texts] == [3, 3, 3]
    assert a == lmeval.answer(r)
    assert len({t for row in a.texts for t in row}) > 3  # samples differ from each other
    assert lmeval.answer(r.model_copy(update={"seed": 6})).texts != a.texts
    # A sample depends on (seed, prompt index, sample index), not on what else was in the request.
    alone = lmeval.answer(r.model_copy(update={"prompts": PROMPTS[:1]}))
    assert alone.texts == a.texts[:1]


def test_lmeval_scores_sum_like_transformers(lmeval, local):
    r = Score(model="m", texts=[*BOUNDARY, TextPair(context="", continuation="The cat sat.")])
    got, want = lmeval.answer(r), local.answer(r)
    assert got.sums == pytest.approx(want.sums, abs=1e-3)
    assert got.per_token == [[], [], [], []]  # lm-eval returns sums only
    assert got.scored_tokens == want.scored_tokens > 0


def test_lmeval_tokenises_the_joined_text(lmeval, local):
    """lm-eval moves a context's trailing spaces into the continuation and splits the joined text's tokens at the
    context's token count (the continuation is what is left, scored after the context's own tokens);
    TransformersBackend tokenises the parts apart. What holds: lm-eval's sum is ours for the tokens it scores."""
    import torch

    trailing = TextPair(context="The cat ", continuation="sat on")
    moved = TextPair(context="The cat", continuation=" sat on")
    got = lmeval.answer(Score(model="m", texts=[trailing])).sums[0]
    assert got == pytest.approx(local.answer(Score(model="m", texts=[moved])).sums[0], abs=1e-3)

    # A split inside a word: lm-eval cuts "The cat sat on the mat" (6 tokens) after the 4 tokens of "The cat s"
    # ("The", " cat", " ", "s"), so it scores " the mat" after the context's own tokens, where we score
    # "at on the mat".
    mid = TextPair(context="The cat s", continuation="at on the mat")
    ctx = local._ids(mid.context)
    seq = ctx + local._ids(mid.context + mid.continuation)[len(ctx):]
    out, _ = local._forward([seq])
    logp = torch.log_softmax(out.logits[0].float(), -1)
    joined = sum(logp[i - 1, seq[i]].item() for i in range(len(ctx), len(seq)))
    assert lmeval.answer(Score(model="m", texts=[mid])).sums[0] == pytest.approx(joined, abs=1e-3)
    assert abs(joined - local.answer(Score(model="m", texts=[mid])).sums[0]) > 1e-2
    # "The ca" is 4 tokens, "The cat sat" 3: nothing is left to the continuation, and lm-eval's assert says nothing.
    with pytest.raises(ValueError, match="failed an assertion .*no tokens of its own"):
        lmeval.answer(Score(model="m", texts=[TextPair(context="The ca", continuation="t sat")]))


@pytest.mark.parametrize("request_", [TopK(model="m", contexts=["The cat"]), Hidden(model="m", texts=["The cat"]),
                                      Weights()], ids=["top_k", "hidden", "weights"])
def test_lmeval_refuses_what_lm_eval_does_not_serve(lmeval, request_):
    with pytest.raises(ValueError, match=f"lm-eval backends do not serve '{request_.kind}' requests"):
        lmeval.answer(request_)


# -- an OpenAI-compatible server ----------------------------------------------------------------------------------
class _Completions(BaseHTTPRequestHandler):
    """The `/v1/completions` subset `vllm serve` answers, computed by `TransformersBackend`. The model name picks a
    behaviour: "tiny" (vLLM), "no-zero" (refuses max_tokens 0), "broken" (HTTP 500), "garbage" (not JSON)."""

    backend: TransformersBackend
    seen: list

    def log_message(self, *args) -> None:  # noqa: ANN002
        pass

    def _send(self, status: int, body: bytes, kind: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.seen.append(body)
        model = body["model"]
        if self.path != "/v1/completions":
            return self._send(404, b'{"error": {"message": "no such route"}}')
        if model == "broken":
            return self._send(500, b"CUDA out of memory\nTraceback (most recent call last): ...", "text/plain")
        if model == "garbage":
            return self._send(200, b"<html>\n<body>gateway</body>", "text/html")
        if body.get("echo"):
            if body["max_tokens"] == 0 and model == "no-zero":
                return self._send(400, b'{"error": {"message": "max_tokens must be at least 1"}}')
            answer = self._echo(body["prompt"], body["max_tokens"])
        elif body.get("logprobs"):
            answer = self._top(body["prompt"], body["logprobs"])
        else:
            answer = self._generate(body)
        return self._send(200, json.dumps(answer).encode())

    def _generate(self, body: dict) -> dict:
        r = Generate(model="m", prompts=body["prompt"], max_new_tokens=body["max_tokens"],
                     temperature=body["temperature"], n=body["n"], seed=body["seed"])
        got = self.backend.answer(r)
        flat = [t for row in got.texts for t in row]
        # Served in reverse: the client must order choices by their index.
        choices = [{"index": k, "text": t, "finish_reason": "stop"} for k, t in enumerate(flat)][::-1]
        return {"choices": choices, "usage": {"completion_tokens": got.generated_tokens}}

    def _echo(self, prompts: list[str], max_tokens: int) -> dict:
        import torch

        b, choices, n_prompt = self.backend, [], 0
        for k, p in enumerate(prompts):
            ids = b._ids(p)
            out, _ = b._forward([ids])
            logp = torch.log_softmax(out.logits[0].float(), -1)
            lps = [None] + [logp[i - 1, ids[i]].item() for i in range(1, len(ids))]
            offsets = [len(b.tok.decode(ids[:i])) for i in range(len(ids))]
            tokens = [b.tok.decode([i]) for i in ids]
            if max_tokens:  # the one generated token a server that refuses 0 adds after the prompt
                nxt = int(logp[-1].argmax())
                lps, offsets, tokens = lps + [logp[-1, nxt].item()], offsets + [len(p)], tokens + [b.tok.decode([nxt])]
            n_prompt += len(ids)
            choices.append({"index": k, "text": p, "logprobs": {"tokens": tokens, "token_logprobs": lps,
                                                                 "text_offset": offsets, "top_logprobs": None}})
        return {"choices": choices, "usage": {"prompt_tokens": n_prompt}}

    def _top(self, prompts: list[str], k: int) -> dict:
        got = self.backend.answer(TopK(model="m", contexts=prompts, k=k))
        choices = []
        for i, (toks, lps) in enumerate(zip(got.tokens, got.logprobs)):
            top: dict[str, float] = {}
            for t, v in zip(toks, lps):
                top.setdefault(t, v)  # tokens that decode alike share one key, as in vLLM's answer
            choices.append({"index": i, "text": toks[0], "logprobs": {"tokens": [toks[0]], "token_logprobs": [lps[0]],
                                                                       "text_offset": [len(prompts[i])],
                                                                       "top_logprobs": [top]}})
        return {"choices": choices, "usage": {"prompt_tokens": got.scored_tokens}}


@pytest.fixture(scope="module")
def server(local):
    handler = type("Handler", (_Completions,), {"backend": local, "seen": []})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1", handler.seen
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


def test_openai_generation_matches_transformers(server, local):
    url, seen = server
    api = OpenAIBackend(url, "tiny")
    greedy = Generate(model="m", prompts=PROMPTS, max_new_tokens=12, temperature=0, n=3)
    assert api.answer(greedy) == local.answer(greedy)
    assert seen[-1]["n"] == 1 and seen[-1]["stop"] == ["\n\n"]  # greedy: asked once per prompt
    sampled = Generate(model="m", prompts=PROMPTS, max_new_tokens=10, temperature=1.0, n=2, seed=9)
    assert api.answer(sampled) == local.answer(sampled)
    assert seen[-1]["seed"] == 9 and seen[-1]["n"] == 2


def test_openai_scores_match_transformers(server, local):
    url, seen = server
    r = Score(model="m", texts=BOUNDARY)
    got, want = OpenAIBackend(url, "tiny").answer(r), local.answer(r)
    assert seen[-1]["max_tokens"] == 0 and seen[-1]["echo"] is True
    assert got.sums == pytest.approx(want.sums, abs=1e-3)
    for a, b in zip(got.per_token, want.per_token):
        assert a == pytest.approx(b, abs=1e-4)
    assert got.scored_tokens == want.scored_tokens
    # An empty context: the server has no log-prob for a prompt's first token (this model adds no BOS), so that
    # token is not scored, and the rest are not conditioned on the end-of-text token TransformersBackend puts first.
    empty = Score(model="m", texts=[TextPair(context="", continuation="The cat sat.")])
    got, want = OpenAIBackend(url, "tiny").answer(empty), local.answer(empty)
    assert len(got.per_token[0]) == len(want.per_token[0]) - 1


def test_openai_scores_when_the_server_refuses_zero_new_tokens(server, local):
    url, seen = server
    api = OpenAIBackend(url, "no-zero")
    r = Score(model="m", texts=BOUNDARY)
    assert api.answer(r).sums == pytest.approx(local.answer(r).sums, abs=1e-3)  # the generated token is left out
    assert [b["max_tokens"] for b in seen[-2:]] == [0, 1]
    api.answer(r)
    assert seen[-1]["max_tokens"] == 1  # remembered: no second refusal


def test_openai_top_k_matches_transformers(server, local):
    url, _ = server
    r = TopK(model="m", contexts=["The cat", "A dog ran to the"], k=5)
    got, want = OpenAIBackend(url, "tiny").answer(r), local.answer(r)
    for toks, lps, wt, wl in zip(got.tokens, got.logprobs, want.tokens, want.logprobs):
        first = {t: v for t, v in reversed(list(zip(wt, wl)))}  # alike tokens keep their best log-prob
        assert toks == list(dict.fromkeys(wt)) and lps == pytest.approx([first[t] for t in toks], abs=1e-6)
    assert got.scored_tokens == want.scored_tokens


@pytest.mark.parametrize("request_", [Hidden(model="m", texts=["The cat"]), Weights()], ids=["hidden", "weights"])
def test_openai_refuses_hidden_and_weights(request_):
    with pytest.raises(ValueError, match=f"does not serve '{request_.kind}'"):
        OpenAIBackend("http://127.0.0.1:9/v1", "tiny").answer(request_)


def test_openai_failures_are_value_errors(server):
    url, _ = server
    r = Generate(model="m", prompts=["The cat"], max_new_tokens=4, temperature=0)
    with pytest.raises(ValueError, match=r"answered HTTP 500: CUDA out of memory$"):
        OpenAIBackend(url, "broken").answer(r)
    with pytest.raises(ValueError, match="malformed JSON: '<html>'"):
        OpenAIBackend(url, "garbage").answer(r)
    with pytest.raises(ValueError, match="HTTP 404: .*no such route"):
        OpenAIBackend(url.removesuffix("/v1"), "tiny").answer(r)
    with pytest.raises(ValueError, match="could not be reached"):
        OpenAIBackend("http://127.0.0.1:9/v1", "tiny", timeout=5).answer(r)


# -- specs --------------------------------------------------------------------------------------------------------
def test_backend_from_spec(tiny_dir, server, local):
    url, _ = server
    assert isinstance(backend_from_spec(f"hf:{tiny_dir}"), TransformersBackend)
    via = backend_from_spec(f"lm-eval:hf:pretrained={tiny_dir},dtype=float32")
    assert isinstance(via, LMEvalBackend) and via.kind == "torch"
    r = Score(model="m", texts=BOUNDARY[:1])
    assert via.answer(r).sums == pytest.approx(local.answer(r).sums, abs=1e-3)
    api = backend_from_spec(f"openai:{url}#deepseek-ai/DeepSeek-R1")
    assert isinstance(api, OpenAIBackend) and api.url == f"{url}/completions" and api.model == "deepseek-ai/DeepSeek-R1"
    with pytest.raises(DistillBenchError, match="not one of hf:DIR, lm-eval:MODEL:ARGS, openai:URL#MODEL"):
        backend_from_spec("vllm:foo")
    with pytest.raises(DistillBenchError, match="no model name"):
        backend_from_spec(f"openai:{url}")
    with pytest.raises(DistillBenchError, match="no model for this name"):
        backend_from_spec("lm-eval:no-such-backend:")
