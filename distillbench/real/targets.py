"""How each model of a real suite is reached, and the fingerprint its evidence is stored under.

Takes the selection, the registry entries and the command line's choices; produces one `RealTarget` per model:
- a local stand-in (`--local ID=DIR`): a Hugging Face model directory, fingerprinted by its files, exactly like a
  synthetic suite's models (tests use tiny random models this way; maintainers use it for pre-downloaded weights);
- a Hub model: downloaded at its pinned commit into the Hugging Face cache, then run from that local snapshot, so
  lm-eval (`hf`, `vllm`, ...), the hidden-state pass and the teacher-side secret all read the same files; its
  fingerprint is derived from (id, revision), so the same commit is never probed twice;
- an API (`--api ID=BACKEND`, teachers only): any lm-eval API backend. `local-completions` returns generations and
  log-likelihoods (from a server that echoes prompt logprobs: vLLM, SGLang, `distillbench real serve`);
  `openai-completions` returns log-likelihoods only for OpenAI's `babbage-002`/`davinci-002` (lm-eval refuses the
  others). Chat-completion backends return text only: the teacher has no pool log-likelihoods, which the manifest
  records, and detectors that need them abstain on its pairs (`evidence.view`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from distillbench.errors import DistillBenchError
from distillbench.fingerprint import model_fingerprint, sha256_json
from distillbench.probe.runner import ProbeTarget
from distillbench.probe.tasks import GENERATE_TASK, POOL_GENERATE_TASK, TASKS
from distillbench.real.registry import HubModel, Registry, Selection

# Chat-completion APIs return no prompt log-likelihoods (lm-eval refuses `loglikelihood` for them).
GENERATION_ONLY_BACKENDS = frozenset({
    "openai-chat-completions", "local-chat-completions", "azure-openai-chat-completions",
    "anthropic-chat", "anthropic-chat-completions", "litellm-chat", "litellm-chat-completions",
})
# OpenAI's completions API echoes prompt logprobs for these models only; lm-eval asserts it for `loglikelihood`.
OPENAI_LOGLIK_MODELS = frozenset({"babbage-002", "davinci-002"})
# What lm-eval 0.4.13's API backends need at run time (`TemplateAPI.__init__` refuses without them; its `api`
# extra, which pyproject.toml installs).
API_PACKAGES = ("aiohttp", "tenacity", "requests", "tqdm")
# Weights a snapshot never needs: original checkpoints in other formats, quantised copies.
SNAPSHOT_IGNORE = ["original/*", "*.gguf", "*.pth", "*.msgpack", "*.h5", "*.onnx", "*.onnx_data", "*.ot", "*.tflite"]


@dataclass(frozen=True)
class ProbeOptions:
    """The command line's choices for how to run models (see `distillbench real probe --help`)."""

    backend: str = "hf"  # lm-eval backend for open-weight models
    model_args: dict | None = None  # extra model_args for that backend (dtype, tensor_parallel_size, ...)
    device: str | None = "cpu"  # for local backends; API backends get none
    batch_size: int | str = 16
    local: dict[str, Path] | None = None  # model id -> local model directory standing in for the Hub model
    api: dict[str, str] | None = None  # teacher id -> lm-eval API backend
    api_args: dict[str, dict] | None = None  # teacher id -> that backend's model_args (model, base_url, ...)
    allow_unpinned: bool = False


@dataclass(frozen=True)
class RealTarget:
    """One model of a real suite, ready to probe."""

    model_id: str
    role: str  # teacher, student, reference
    backend: str
    probe: ProbeTarget  # the standard probe tasks this model answers
    source: str  # "local", "hub" or "api"
    local_dir: Path | None  # weights on disk (stand-in or snapshot); None for an API
    revision: str | None  # the commit probed (Hub models)
    revision_pinned_in_registry: bool
    generation_only: bool  # an API without log-likelihoods: black-box evidence only

    @property
    def is_api(self) -> bool:
        return self.source == "api"

    def pool_generator(self) -> ProbeTarget:
        """The same model, asked only to answer the pool prompts (phase 1 of building the pool)."""
        return replace(self.probe, tasks=(POOL_GENERATE_TASK,))


def hub_fingerprint(model_id: str, revision: str, chat_template: bool) -> str:
    """Evidence key of a Hub model: its id and commit (the weights), and whether prompts are chat-templated (the
    answers change with it). dtype and backend are recorded in each evidence record, not keyed: they are how a
    model was run, not which model it is."""
    return sha256_json({"hub": model_id, "revision": revision, "chat_template": chat_template})


def local_fingerprint(path: Path, chat_template: bool) -> str:
    fp = model_fingerprint(path)
    return sha256_json({"local": fp, "chat_template": True}) if chat_template else fp


def api_fingerprint(backend: str, model_args: dict, chat_template: bool) -> str:
    # An API cannot be pinned: the same name may serve other weights tomorrow. The key is what was asked for.
    return sha256_json({"api": backend, "model": model_args.get("model"), "base_url": model_args.get("base_url"),
                        "chat_template": chat_template})


def resolve_revision(model: HubModel, allow_unpinned: bool) -> str:
    """The registry's pin; with --allow-unpinned, the branch head's commit right now (recorded in the manifest)."""
    if model.revision is not None:
        return model.revision
    if not allow_unpinned:
        raise DistillBenchError(f"{model.id} has no pinned revision in the registry ({model.revision_note}); pin it "
                                "there, or pass --allow-unpinned to probe today's head of main and record its commit")
    from huggingface_hub import HfApi

    try:
        return HfApi().model_info(model.id).sha
    except Exception as exc:  # noqa: BLE001 (network, auth or a missing repo: all one message for the user)
        raise DistillBenchError(f"could not resolve the current commit of {model.id}: {str(exc).splitlines()[0]}"
                                + _hub_hint()) from exc


def _hub_hint() -> str:
    offline = [v for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE") if os.environ.get(v) not in (None, "", "0")]
    return f" ({' and '.join(offline)} set: unset to download)" if offline else ""


def download(model: HubModel, revision: str) -> Path:
    """The model's files at `revision` in the Hugging Face cache (downloaded once), as a local directory."""
    from huggingface_hub import HfApi, snapshot_download
    from huggingface_hub.utils import GatedRepoError, RepositoryNotFoundError, RevisionNotFoundError

    try:
        files = HfApi().list_repo_files(model.id, revision=revision)
        # Repositories that ship both formats would download every weight twice; safetensors is the one loaded.
        ignore = SNAPSHOT_IGNORE + (["*.bin"] if any(f.endswith(".safetensors") for f in files) else [])
        return Path(snapshot_download(model.id, revision=revision, ignore_patterns=ignore))
    except GatedRepoError as exc:
        raise DistillBenchError(f"{model.id} is gated: accept its licence on https://huggingface.co/{model.id} and "
                                "set HF_TOKEN") from exc
    except RevisionNotFoundError as exc:
        raise DistillBenchError(f"{model.id} has no commit {revision}; fix the registry's revision") from exc
    except RepositoryNotFoundError as exc:
        raise DistillBenchError(f"{model.id} was not found on the Hub (or needs HF_TOKEN)") from exc
    except Exception as exc:  # noqa: BLE001 (network and disk errors: one message naming the model)
        raise DistillBenchError(f"downloading {model.id}@{revision[:12]} failed: {str(exc).splitlines()[0]}"
                                + _hub_hint()) from exc


def check_backend(name: str, model_args: dict | None = None) -> None:
    """Fail before any download if lm-eval has no such backend, or a package it needs (vllm, ray, aiohttp,
    tenacity...) is missing: lm-eval checks those only when it builds the model, after the students downloaded."""
    from importlib.util import find_spec

    from lm_eval import models as _backends  # noqa: F401 (importing it registers the backends)
    from lm_eval.api.registry import get_model

    try:
        cls = get_model(name)
    except ValueError as exc:
        known = str(exc).rpartition("Supported model names: ")[2]
        raise DistillBenchError(f"lm-eval has no backend {name!r}; it has: {known}") from exc
    except ImportError as exc:  # the backend's module imports its package at import time (vllm)
        hint = 'pip install "lm-eval[vllm]==0.4.13" into a separate venv (see docs/real_suites.md)' if name == "vllm" \
            else "install that package (lm-eval's README lists the extra that brings it)"
        raise DistillBenchError(f"lm-eval backend {name!r} needs a package that is not installed ({exc}); {hint}") \
            from exc
    from lm_eval.models.api_models import TemplateAPI

    need: list[tuple[str, str]] = []  # (package, what installs it)
    if issubclass(cls, TemplateAPI):
        need += [(p, 'pip install "lm-eval[api]==0.4.13"') for p in API_PACKAGES]
    try:
        data_parallel = int((model_args or {}).get("data_parallel_size", 1))
    except (TypeError, ValueError):
        raise DistillBenchError(f"data_parallel_size={model_args['data_parallel_size']!r}: expected a whole number") \
            from None
    if name == "vllm" and data_parallel > 1:
        need.append(("ray", "pip install ray (lm-eval runs vLLM's data-parallel copies as ray tasks), or use "
                            "data_parallel_size=1"))
    missing = [(p, how) for p, how in need if find_spec(p) is None]
    if missing:
        raise DistillBenchError(f"lm-eval backend {name!r} needs {', '.join(p for p, _ in missing)}, which "
                                f"{'is' if len(missing) == 1 else 'are'} not installed: {missing[0][1]}")


def _tasks(generation_only: bool) -> tuple[str, ...]:
    return (GENERATE_TASK,) if generation_only else TASKS


def resolve_targets(registry: Registry, selection: Selection, opts: ProbeOptions) -> list[RealTarget]:
    """One target per selected model, checking every choice before anything is downloaded or run."""
    local, api, api_args = opts.local or {}, opts.api or {}, opts.api_args or {}
    ids = selection.model_ids()
    for flag, named in (("--local", local), ("--api", api), ("--api-args", api_args)):
        for model_id in named:
            registry.model(model_id)
            if model_id not in ids:
                raise DistillBenchError(f"{flag} names {model_id}, which is not in this selection "
                                        f"({len(ids)} models: {', '.join(ids)})")
    for model_id in api_args:
        if model_id not in api:
            raise DistillBenchError(f"--api-args for {model_id} without --api {model_id}=BACKEND")
    for model_id in api:
        if selection.role(model_id) != "teacher":
            raise DistillBenchError(f"{model_id} is a {selection.role(model_id)}: only teachers may be APIs (students "
                                    "and references are open models; the white-box track reads their weights)")
        if model_id in local:
            raise DistillBenchError(f"{model_id} has both --local and --api; choose one")
    check_backend(opts.backend, opts.model_args)
    for model_id, backend in sorted(api.items()):
        check_backend(backend, api_args.get(model_id))
        model = api_args.get(model_id, {}).get("model")
        if backend == "openai-completions" and model not in OPENAI_LOGLIK_MODELS:
            raise DistillBenchError(
                f"--api {model_id}=openai-completions: OpenAI's completions API returns prompt log-likelihoods only "
                f"for {' and '.join(sorted(OPENAI_LOGLIK_MODELS))} (model={model}); for a server that echoes prompt "
                "logprobs (vLLM, SGLang, `distillbench real serve`) use local-completions, for a text-only API "
                "openai-chat-completions")
    unpinned = [m for m in ids if m not in local and m not in api and registry.model(m).revision is None]
    if unpinned and not opts.allow_unpinned:
        notes = "; ".join(f"{m}: {registry.model(m).revision_note}" for m in unpinned)
        raise DistillBenchError(f"{len(unpinned)} selected model(s) have no pinned revision ({notes}). Pin them in the "
                                "registry, stand them in with --local ID=DIR, or pass --allow-unpinned to probe the "
                                "current head of main (its commit is recorded in the manifest)")
    for model_id, path in local.items():
        if not path.is_dir():
            raise DistillBenchError(f"--local {model_id}={path}: directory does not exist")
        if not (path / "config.json").is_file():
            raise DistillBenchError(f"--local {model_id}={path}: not a Hugging Face model directory (no config.json)")
    return [_target(registry.model(m), selection.role(m), opts) for m in ids]


def _target(model: HubModel, role: str, opts: ProbeOptions) -> RealTarget:
    evaluate_args = {"apply_chat_template": True} if model.chat_template else {}
    common = dict(model_id=model.id, role=role, revision_pinned_in_registry=model.revision is not None)
    if model.id in (opts.api or {}):
        backend = opts.api[model.id]
        args = dict((opts.api_args or {}).get(model.id, {}))
        generation_only = backend in GENERATION_ONLY_BACKENDS
        if generation_only:
            evaluate_args = {"apply_chat_template": True}  # chat APIs take messages, never a bare prompt
        fp = api_fingerprint(backend, args, "apply_chat_template" in evaluate_args)
        probe = ProbeTarget(name=model.id, model_args=args, fingerprint=fp, tasks=_tasks(generation_only),
                            evaluate_args=evaluate_args)
        return RealTarget(backend=backend, probe=probe, source="api", local_dir=None, revision=None,
                          generation_only=generation_only, **common)
    if model.id in (opts.local or {}):
        path = opts.local[model.id].resolve()
        fp, source, revision = local_fingerprint(path, model.chat_template), "local", None
    else:
        revision = resolve_revision(model, opts.allow_unpinned)
        path, fp, source = None, hub_fingerprint(model.id, revision, model.chat_template), "hub"
    args = {"pretrained": str(path) if path else None, **(opts.model_args or {})}
    probe = ProbeTarget(name=model.id, model_args=args, fingerprint=fp, tasks=_tasks(False),
                        evaluate_args=evaluate_args)
    return RealTarget(backend=opts.backend, probe=probe, source=source, local_dir=path, revision=revision,
                      generation_only=False, **common)


def snapshot_dir(model_id: str, revision: str) -> Path:
    """Where the Hugging Face cache keeps (or will keep) this commit's files, without touching the network."""
    from huggingface_hub import constants
    from huggingface_hub.file_download import repo_folder_name

    return Path(constants.HF_HUB_CACHE) / repo_folder_name(repo_id=model_id, repo_type="model") / "snapshots" / revision


def fetch(target: RealTarget, registry: Registry) -> RealTarget:
    """A Hub target with its snapshot downloaded and `pretrained` pointing at it; others unchanged.

    Separate from `resolve_targets` so that a run whose evidence is all cached downloads nothing.
    """
    if target.source != "hub" or target.local_dir is not None:
        return target
    path = download(registry.model(target.model_id), target.revision)
    probe = replace(target.probe, model_args={**target.probe.model_args, "pretrained": str(path)})
    return replace(target, probe=probe, local_dir=path)
