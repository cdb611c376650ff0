"""`distillbench real serve`: one local Hugging Face model behind a small OpenAI-compatible HTTP server.

Takes a model directory (a zoo model, a `--local` stand-in, a downloaded snapshot); serves, on CPU and one request at
a time, the subset of the OpenAI API that lm-eval 0.4.13's `local-completions` and `local-chat-completions` backends
and `query.remote.OpenAIBackend` send (read from `lm_eval/models/openai_completions.py` and `api_models.py`):

- `POST /v1/completions`: `prompt` (a string, a list of strings, a list of token ids, or a list of such lists: lm-eval
  sends token ids), `max_tokens` (0 allowed with `echo`), `temperature` (0: greedy), `top_p`, `n`, `seed`, `stop`,
  `logprobs` (top-k per token, with `tokens`, `token_logprobs`, `top_logprobs`, `text_offset`) and `echo` (the
  prompt's own tokens and log-probs first; its first token has none, as on vLLM). This is what lm-eval's
  `loglikelihood` reads: `echo` + `logprobs: 1` + `max_tokens: 1`.
- `POST /v1/chat/completions`: `messages` rendered with the tokenizer's chat template (a tokenizer without one gets
  the messages' contents joined by blank lines: one user message is its own text), then the same generation. Text
  only, like the chat APIs it stands in for: no `logprobs`.
- `GET /v1/models`: the one model, under `--name` (default: the directory's name).

Anything else is a 404, a malformed request a 400 with an OpenAI-style `{"error": {"message": ...}}` body, as real
servers answer. Why it exists: `real probe --api` commands must fail here, in a test, before they fail against a
vendor's server; and a maintainer can try an API-teacher command on a laptop before renting GPUs. It is not a
production server: no batching, no streaming, no authentication (it listens on 127.0.0.1 unless told otherwise).
"""

from __future__ import annotations

import json
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from distillbench.errors import DistillBenchError


class BadRequest(ValueError):
    """A request this server cannot answer as sent: a 400 with the message."""


class CompletionModel:
    """The model and tokenizer, and the two operations a request needs: generate, and score tokens."""

    def __init__(self, model_dir: Path, name: str | None = None, device: str = "cpu") -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if not (model_dir / "config.json").is_file():
            raise DistillBenchError(f"{model_dir}: not a Hugging Face model directory (no config.json)")
        self.name = name or model_dir.name
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        self.model = AutoModelForCausalLM.from_pretrained(model_dir).to(device).eval()
        self.device = device
        self.max_positions = int(getattr(self.model.config, "max_position_embeddings", 0)
                                 or getattr(self.model.config, "n_positions", 0) or 2048)
        self.eos = self.tokenizer.eos_token_id
        self.lock = threading.Lock()  # torch on a shared CPU: one forward pass at a time
        self._torch = torch

    # -- inputs ---------------------------------------------------------------------------------------------------

    def prompts(self, prompt) -> list[tuple[list[int], str]]:  # noqa: ANN001 (JSON)
        """(token ids, text) per prompt, from any of the four forms the completions API accepts."""
        if isinstance(prompt, str):
            prompt = [prompt]
        if not isinstance(prompt, list) or not prompt:
            raise BadRequest("'prompt' must be a string, a list of strings, a list of token ids or a list of lists")
        if all(isinstance(t, int) for t in prompt):
            prompt = [prompt]
        if len(prompt) > MAX_PROMPTS:
            raise BadRequest(f"at most {MAX_PROMPTS} prompts per request, got {len(prompt)}")
        out = []
        for p in prompt:
            if isinstance(p, str):
                ids = self.tokenizer(p).input_ids
                if not ids:
                    raise BadRequest("a prompt is empty (no tokens): there is nothing to continue")
                out.append((ids, p))
            elif isinstance(p, list) and p and all(isinstance(t, int) and 0 <= t < len(self.tokenizer) for t in p):
                out.append((list(p), self.tokenizer.decode(p)))
            else:
                raise BadRequest("each prompt must be a non-empty string or list of token ids within the vocabulary")
        return out

    def chat_text(self, messages) -> str:  # noqa: ANN001 (JSON)
        if not isinstance(messages, list) or not messages or not all(
                isinstance(m, dict) and isinstance(m.get("content"), str) for m in messages):
            raise BadRequest("'messages' must be a non-empty list of {role, content} objects with string content")
        if getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return "\n\n".join(m["content"] for m in messages)

    # -- model ----------------------------------------------------------------------------------------------------

    def generate(self, ids: list[int], max_tokens: int, temperature: float, top_p: float, seed: int,
                 stop: list[str]) -> tuple[list[int], str, str]:
        """(new token ids, their text cut at the first stop string, finish reason). An end-of-text token the model
        chose stays among the ids (its log-prob is reported, as vLLM does; lm-eval's `loglikelihood` drops the last
        echoed token, expecting it to be the generated one) but not in the text."""
        if len(ids) + max_tokens > self.max_positions:
            raise BadRequest(f"this model's maximum context length is {self.max_positions} tokens; the prompt has "
                             f"{len(ids)} and {max_tokens} more were asked for (lm-eval: set max_length in "
                             "model_args to the server's context length)")
        if max_tokens == 0:
            return [], "", "length"
        torch = self._torch
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            torch.manual_seed(seed)
            sample = temperature > 0
            out = self.model.generate(
                torch.tensor([ids], device=self.device), attention_mask=torch.ones(1, len(ids), dtype=torch.long,
                                                                                  device=self.device),
                max_new_tokens=max_tokens, do_sample=sample, temperature=temperature if sample else None,
                top_p=top_p if sample else None, top_k=None if sample else None, eos_token_id=self.eos,
                pad_token_id=self.eos)
        new = out[0, len(ids):].tolist()
        reason = "length"
        if self.eos in new:
            new, reason = new[: new.index(self.eos) + 1], "stop"
        text = self.tokenizer.decode(new, skip_special_tokens=True)
        cuts = [i for i in (text.find(s) for s in stop if s) if i >= 0]
        if cuts:
            text, reason = text[: min(cuts)], "stop"
            # Keep the tokens that make up the text before the stop string (what the answer's logprobs describe).
            keep = next((k for k in range(len(new) + 1)
                         if len(self.tokenizer.decode(new[:k], skip_special_tokens=True)) >= len(text)), len(new))
            new = new[:keep]
        return new, text, reason

    def logprobs(self, ids: list[int], top: int) -> tuple[list[float | None], list[dict | None]]:
        """Each token's log-prob given the tokens before it (None for the first), and the `top` most likely tokens
        at each position as {token text: log-prob}."""
        torch = self._torch
        with torch.no_grad():
            logits = self.model(torch.tensor([ids], device=self.device)).logits[0].float()
        lp = torch.log_softmax(logits, dim=-1)
        token_lps: list[float | None] = [None]
        tops: list[dict | None] = [None]
        for i in range(1, len(ids)):
            token_lps.append(float(lp[i - 1, ids[i]]))
            values, idx = lp[i - 1].topk(max(1, top))
            tops.append({self.tokenizer.decode([int(t)]): float(v) for v, t in zip(values, idx)})
        return token_lps, tops

    def offsets(self, ids: list[int], start: int) -> list[int]:
        """Character offset of each token in the decoded text, counted from `start` (the text before `ids`)."""
        return [start + len(self.tokenizer.decode(ids[:i])) for i in range(len(ids))]


def _stops(value) -> list[str]:  # noqa: ANN001 (JSON)
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(s, str) for s in value):
        return value
    raise BadRequest("'stop' must be a string or a list of strings")


# What one request may ask for. A local stand-in for a vendor's API, not a production server: the bounds keep one
# request from holding the model (and its lock) for minutes or the process's memory.
MAX_BODY_BYTES = 1 << 20
MAX_N = 16
MAX_TOP_LOGPROBS = 20
MAX_NEW_TOKENS = 2048
MAX_PROMPTS = 256


def _number(body: dict, key: str, default, kind=float, low=None, high=None):  # noqa: ANN001, ANN202
    value = body.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or (kind is int and int(value) != value):
        raise BadRequest(f"'{key}' must be {'an integer' if kind is int else 'a number'}, got {value!r}")
    if low is not None and value < low:
        raise BadRequest(f"'{key}' must be at least {low}, got {value!r}")
    if high is not None and value > high:
        raise BadRequest(f"'{key}' must be at most {high}, got {value!r}")
    return kind(value)


def _sampling(body: dict) -> dict:
    return dict(max_tokens=_number(body, "max_tokens", 16, int, 0, MAX_NEW_TOKENS),
                temperature=_number(body, "temperature", 1.0, low=0, high=100),
                top_p=_number(body, "top_p", 1.0, low=0, high=1), seed=_number(body, "seed", 0, int, 0, 2**63 - 1),
                n=_number(body, "n", 1, int, 1, MAX_N), stop=_stops(body.get("stop")))


def complete(m: CompletionModel, body: dict) -> dict:
    """The answer to one `/v1/completions` request."""
    s = _sampling(body)
    echo = bool(body.get("echo", False))
    top = body.get("logprobs")
    if top is not None:
        top = _number(body, "logprobs", 0, int, 0, MAX_TOP_LOGPROBS)
    if s["max_tokens"] == 0 and not echo:
        raise BadRequest("'max_tokens' 0 is only meaningful with 'echo'")
    choices, n_prompt, n_completion = [], 0, 0
    for p, (ids, text) in enumerate(m.prompts(body.get("prompt"))):
        n_prompt += len(ids)
        for c in range(s["n"]):
            new, gen_text, reason = m.generate(ids, s["max_tokens"], s["temperature"], s["top_p"],
                                               s["seed"] + c, s["stop"])
            n_completion += len(new)
            choice = {"index": p * s["n"] + c, "text": (text if echo else "") + gen_text, "logprobs": None,
                      "finish_reason": reason}
            if top is not None:
                full = ids + new
                token_lps, tops = m.logprobs(full, top)
                shown = slice(0, len(full)) if echo else slice(len(ids), len(full))
                prompt_offsets = m.offsets(ids, 0)
                offsets = prompt_offsets + m.offsets(new, len(text))
                choice["logprobs"] = {"tokens": [m.tokenizer.decode([t]) for t in full[shown]],
                                      "token_logprobs": token_lps[shown], "top_logprobs": tops[shown],
                                      "text_offset": offsets[shown]}
            choices.append(choice)
    return {"id": f"cmpl-{time.time_ns()}", "object": "text_completion", "created": int(time.time()), "model": m.name,
            "choices": choices,
            "usage": {"prompt_tokens": n_prompt, "completion_tokens": n_completion,
                      "total_tokens": n_prompt + n_completion}}


def chat(m: CompletionModel, body: dict) -> dict:
    """The answer to one `/v1/chat/completions` request: text only."""
    s = _sampling(body)
    if body.get("logprobs"):
        raise BadRequest("this server's chat endpoint returns text only (like the chat APIs it stands in for)")
    if s["max_tokens"] == 0:
        raise BadRequest("'max_tokens' must be at least 1")
    text = m.chat_text(body.get("messages"))
    ids = m.tokenizer(text).input_ids
    if not ids:
        raise BadRequest("the messages are empty (no tokens): there is nothing to answer")
    choices, n_completion = [], 0
    for c in range(s["n"]):
        new, gen_text, reason = m.generate(ids, s["max_tokens"], s["temperature"], s["top_p"], s["seed"] + c,
                                           s["stop"])
        n_completion += len(new)
        choices.append({"index": c, "message": {"role": "assistant", "content": gen_text}, "finish_reason": reason})
    return {"id": f"chatcmpl-{time.time_ns()}", "object": "chat.completion", "created": int(time.time()),
            "model": m.name, "choices": choices,
            "usage": {"prompt_tokens": len(ids), "completion_tokens": n_completion,
                      "total_tokens": len(ids) + n_completion}}


def make_server(model: CompletionModel, host: str = "127.0.0.1", port: int = 0,
                log: bool = False) -> ThreadingHTTPServer:
    """A server for `model` bound to (host, port) (port 0: a free one; read `server.server_address`); call
    `serve_forever()` (in a thread, for tests) and `shutdown()` + `server_close()` to stop it."""
    routes = {"/v1/completions": complete, "/v1/chat/completions": chat}

    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, payload: dict) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, message: str) -> None:
            self._send(status, {"error": {"message": message, "type": HTTPStatus(status).phrase, "code": status}})

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            if self.path.rstrip("/") == "/v1/models":
                self._send(200, {"object": "list", "data": [{"id": model.name, "object": "model",
                                                              "owned_by": "distillbench"}]})
            else:
                self._error(404, f"no route {self.path}")

        def do_POST(self) -> None:  # noqa: N802
            handler = routes.get(self.path.rstrip("/"))
            if handler is None:
                self._error(404, f"no route {self.path}; this server answers /v1/completions and "
                                 "/v1/chat/completions")
                return
            try:
                length = int(self.headers.get("Content-Length", 0))
                if not 0 <= length <= MAX_BODY_BYTES:
                    self._error(413, f"the request body must be between 0 and {MAX_BODY_BYTES} bytes")
                    return
                body = json.loads(self.rfile.read(length) or b"null")
                if not isinstance(body, dict):
                    raise BadRequest("the request body must be a JSON object")
                if body.get("model") not in (None, model.name):
                    self._error(404, f"model {body.get('model')!r} does not exist; this server serves {model.name!r}")
                    return
                with model.lock:
                    answer = handler(model, body)
            except (BadRequest, ValueError) as exc:  # json errors are ValueErrors
                self._error(400, str(exc))
                return
            except Exception as exc:  # noqa: BLE001 (a bug or an input we did not foresee: an answer, not a dropped line)
                self._error(500, f"the server could not answer this request ({type(exc).__name__})")
                return
            self._send(200, answer)

        def log_message(self, fmt: str, *args) -> None:  # noqa: ANN002
            if log:
                super().log_message(fmt, *args)

    return ThreadingHTTPServer((host, port), Handler)


def serve(model_dir: Path, host: str, port: int, name: str | None, device: str = "cpu") -> None:
    """`distillbench real serve`: load the model, print the base URL, answer until interrupted."""
    model = CompletionModel(model_dir, name, device)
    try:
        server = make_server(model, host, port, log=True)
    except OSError as exc:
        raise DistillBenchError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    h, p = server.server_address[:2]
    print(f"serving {model.name} at http://{h}:{p}/v1 (completions: http://{h}:{p}/v1/completions, chat: "
          f"http://{h}:{p}/v1/chat/completions); Ctrl-C stops", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
