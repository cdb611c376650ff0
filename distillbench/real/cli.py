"""`distillbench real ...`: list the real-model registry, probe a selection of it into a suite, serve a local model
behind an OpenAI-compatible API (to try API-teacher commands without a vendor).

`real probe` writes a suite that the ordinary stages read: `distillbench evaluate --suite NAME` follows. The exact
commands for a GPU machine and for API teachers are in docs/real_suites.md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from distillbench.errors import DistillBenchError
from distillbench.real.registry import DEFAULT_REGISTRY, DISTILL_TYPES


def _registry_path(args) -> Path:
    if args.registry:
        return Path(args.registry)
    # A checkout's docs/ (the package lives beside it in an editable install), else the working directory's.
    beside = Path(__file__).resolve().parents[2] / DEFAULT_REGISTRY
    return beside if beside.is_file() else Path(DEFAULT_REGISTRY)


def _pairs_of(values: list[str] | None, flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for v in values or []:
        key, sep, val = v.partition("=")
        if not sep or not key or not val:
            raise DistillBenchError(f"{flag} {v!r}: expected ID=VALUE")
        if key in out:
            raise DistillBenchError(f"{flag} names {key} twice")
        out[key] = val
    return out


def _model_args(text: str | None) -> dict:
    if not text:
        return {}
    from lm_eval.utils import simple_parse_args_string

    try:
        return simple_parse_args_string(text)
    except ValueError as exc:
        raise DistillBenchError(f"model args {text!r}: expected key=value,key=value ({exc})") from exc


def cmd_real_list(args) -> None:
    from distillbench.real.registry import load_registry

    path = _registry_path(args)
    reg = load_registry(path)
    pinned = {m.id: m.revision is not None for m in reg.models}
    rows = [p for p in reg.labelled() if not args.teacher or p.teacher in args.teacher]
    print(f"registry {path}: {len(reg.models)} models ({sum(pinned.values())} pinned), "
          f"{len(reg.positives)} positive and {len(reg.negatives)} negative pairs, {len(reg.references)} references")
    print(f"{'label':5s}  {'conditions':34s} {'teacher':40s} student")
    # How directly the source names a positive's teacher, and who else taught the student (recorded, not paired).
    how = {(p.teacher, p.student): p for p in reg.positives}
    for p in rows:
        pin = "" if pinned[p.teacher] and pinned[p.student] else "  [unpinned]"
        pos = how.get((p.teacher, p.student))
        extra = ""
        if pos is not None and pos.attribution != "stated":
            extra += f"  [teacher {pos.attribution.replace('_', ' ')}]"
        if pos is not None and pos.co_teachers:
            extra += f"  [co-teacher: {', '.join(c.model for c in pos.co_teachers)}]"
        print(f"{p.label:5d}  {','.join(p.conditions):34s} {p.teacher:40s} {p.student}{pin}{extra}")
    print("references: " + ", ".join(r + ("" if pinned[r] else " [unpinned]") for r in reg.references))


def cmd_real_probe(args) -> None:
    from distillbench.cli import _quiet_libraries
    from distillbench.real.pool import default_prompts_path
    from distillbench.real.registry import load_registry, select
    from distillbench.real.suite import build_real_suite, check_suite_name
    from distillbench.real.targets import GENERATION_ONLY_BACKENDS, ProbeOptions

    check_suite_name(args.suite)
    path = _registry_path(args)
    reg = load_registry(path)
    pairs = [tuple(v.split("=", 1)) for v in args.pair or []]
    if any(len(p) != 2 or not all(p) for p in pairs):
        raise DistillBenchError("--pair expects TEACHER_ID=STUDENT_ID")
    selection = select(reg, teachers=args.teacher, pairs=pairs, references=args.reference)
    api_args = {k: _model_args(v) for k, v in _pairs_of(args.api_args, "--api-args").items()}
    opts = ProbeOptions(
        backend=args.backend, model_args=_model_args(args.model_args), device=args.device, batch_size=args.batch_size,
        local={k: Path(v) for k, v in _pairs_of(args.local, "--local").items()}, api=_pairs_of(args.api, "--api"),
        api_args=api_args, allow_unpinned=args.allow_unpinned,
    )
    _quiet_libraries()
    start = time.perf_counter()
    prompts = Path(args.pool_prompts) if args.pool_prompts else default_prompts_path()
    manifest, reports = build_real_suite(args.suite, reg, path, selection, opts, args.ws, prompts,
                                         progress=not args.no_progress)
    n_pos = sum(p.label for p in manifest.pairs)
    print(f"real: suite {manifest.suite}: {len(manifest.models)} models, {len(manifest.pairs)} pairs "
          f"({n_pos} positive), {manifest.pool.n_texts} pool texts, {time.perf_counter() - start:.1f}s -> "
          f"{args.ws.manifest_path(manifest.suite)}")
    for step, r in reports.items():
        print(f"  {step}: {r.model_calls} model runs, {r.records_written} records written, {r.records_cached} cached")
    black_box = [m for m, b in opts.api.items() if b in GENERATION_ONLY_BACKENDS]
    if black_box:
        print(f"  note: {', '.join(black_box)} answered through a chat API: text only, no log-probabilities. Detectors "
              "that need the teacher's own log-probabilities abstain on its pairs; the others (black-box, and "
              "gray-/white-box ones that score its texts under the student and references) run as usual (see "
              "docs/real_suites.md, Teachers behind an API)")
    print(f"next: distillbench evaluate --suite {manifest.suite} --home {args.ws.home}")


def cmd_real_serve(args) -> None:
    from distillbench.real.serve import serve

    path = Path(args.model)
    if not path.is_dir():
        raise DistillBenchError(f"--model {path}: directory does not exist")
    serve(path, args.host, args.port, args.name, args.device)


def add_commands(sub, common: argparse.ArgumentParser) -> None:
    real = sub.add_parser(
        "real", help="real Hugging Face models with documented distillation: list the registry, probe a selection",
        description="Real suites: teacher -> student pairs between Hugging Face models, documented in a registry "
        f"({DEFAULT_REGISTRY}) with pinned commits, quoted evidence and matched hard negatives. `real probe` turns a "
        "selection into a suite that `distillbench evaluate --suite NAME` scores like any other. See "
        "docs/real_suites.md.",
    ).add_subparsers(dest="real_command", required=True)
    reg = argparse.ArgumentParser(add_help=False)
    reg.add_argument("--registry", help=f"registry YAML (default: {DEFAULT_REGISTRY} of the checkout)")
    choose = argparse.ArgumentParser(add_help=False)
    choose.add_argument("--teacher", action="append", metavar="ID",
                        help="every registry pair of this teacher (repeatable)")

    p = real.add_parser("list", parents=[common, reg, choose],
                        help="validate the registry and print its pairs: label, conditions, teacher, student, pins")
    p.set_defaults(func=cmd_real_list)

    types = "; ".join(f"{k}: {v}" for k, v in DISTILL_TYPES.items())
    p = real.add_parser(
        "probe", parents=[common, reg, choose],
        help="probe a registry selection through lm-eval and write it as a suite (manifest, pool, evidence)",
        description="Probe a selection of registry pairs and write it as suite NAME in the workspace: the teachers "
        "and references answer the pool prompts (the pool), every model runs the lm-eval probe tasks, students and "
        "references get the hidden-state pass. Evidence already stored is reused, so a re-run downloads and runs "
        f"nothing. Positive conditions are the distillation types ({types}); negatives carry their kind "
        "(student-base, same-data, weight-sharing, other-teacher, independent). Then: distillbench evaluate "
        "--suite NAME.",
    )
    p.add_argument("--suite", required=True, help="name for the real suite (a folder in the workspace), e.g. real-r1")
    p.add_argument("--pair", action="append", metavar="TEACHER=STUDENT", help="one registry pair (repeatable)")
    p.add_argument("--reference", action="append", metavar="ID",
                   help="reference model for the null (repeatable; default: every registry reference, at least two)")
    p.add_argument("--backend", default="hf",
                   help="lm-eval backend for open-weight models: hf (default) or vllm, or any local backend lm-eval "
                        "has")
    p.add_argument("--model-args", metavar="K=V,...",
                   help="extra model_args for that backend, e.g. dtype=bfloat16 (hf) or "
                        "tensor_parallel_size=4,data_parallel_size=2,gpu_memory_utilization=0.8 (vllm); the weights "
                        "(pretrained) are filled in per model")
    p.add_argument("--device", default="cpu", help="torch device for local backends and the hidden-state pass, e.g. "
                                                   "cuda (default: cpu)")
    p.add_argument("--batch-size", default="16", help="lm-eval batch size, or 'auto' (default: 16)")
    p.add_argument("--local", action="append", metavar="ID=DIR",
                   help="use the model directory DIR for registry model ID instead of downloading it (repeatable)")
    p.add_argument("--api", action="append", metavar="ID=BACKEND",
                   help="probe teacher ID through an lm-eval API backend (repeatable): local-completions for an "
                        "OpenAI-compatible server that echoes prompt logprobs (vLLM, SGLang, `distillbench real "
                        "serve`): generations and log-likelihoods; or a text-only chat API, local-chat-completions, "
                        "openai-chat-completions, anthropic-chat-completions: generations only, and detectors that "
                        "need the teacher's log-probabilities abstain. openai-completions gives log-likelihoods only "
                        "for OpenAI's babbage-002 and davinci-002")
    p.add_argument("--api-args", action="append", metavar="ID=K=V,...",
                   help="model_args of teacher ID's API backend, e.g. "
                        "ID=model=deepseek-reasoner,base_url=http://host:8000/v1/completions (repeatable)")
    p.add_argument("--allow-unpinned", action="store_true",
                   help="probe registry models without a pinned revision at today's head of main (the commit used "
                        "is recorded in the manifest)")
    p.add_argument("--pool-prompts", metavar="FILE",
                   help="pool prompts JSONL (id, context, continuation; default: tasks/data/real_pool_prompts.jsonl)")
    p.set_defaults(func=cmd_real_probe)

    p = real.add_parser(
        "serve", parents=[common],
        help="serve a local model directory through an OpenAI-compatible API (completions with echo/logprobs, chat)",
        description="Serve one Hugging Face model directory on CPU (or --device) with the subset of the OpenAI API "
        "that lm-eval's local-completions and local-chat-completions backends send: POST /v1/completions (prompt, "
        "max_tokens, temperature, seed, stop, logprobs, echo) and /v1/chat/completions (messages; text only). For "
        "trying `real probe --api` commands without a vendor; one request at a time, no authentication.",
    )
    p.add_argument("--model", required=True, metavar="DIR", help="Hugging Face model directory to serve")
    p.add_argument("--name", help="model name clients send as `model` (default: the directory's name)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default: 8000; 0: a free port, printed)")
    p.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    p.set_defaults(func=cmd_real_serve)
