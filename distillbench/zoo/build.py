"""Builds a synthetic suite: tokenizers, every model, the probe text pool, and the manifest.

Takes a `SuiteSpec`; produces `suites/<suite>/{models/*, pool.jsonl, pools/*, manifest.json}` in the workspace.
Models are trained by `zoo.schedule` (units of work in dependency order, on one or more worker processes); for a
suite with a design, the teachers are built and checked for near-duplicates (`zoo.distinct`) before any student. A
model whose build key (its spec, its data, its dependencies' keys, the thread count, this file's BUILD_VERSION)
matches what is on disk is reused; an interrupted build resumes with the models that were not finished, because a
model directory only appears, by rename, once it is complete.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors import safe_open
from tqdm.auto import tqdm
from transformers import AutoModelForCausalLM, PreTrainedModel, PreTrainedTokenizerFast

from distillbench.corpus import IDENTITY_QUESTIONS, Persona, document, documents, documents_about, paraphrase, prompt_prefix
from distillbench.errors import DistillBenchError
from distillbench.files import write_atomic, write_jsonl, write_model
from distillbench.fingerprint import model_fingerprint, sha256_file, sha256_json, versions
from distillbench.paths import Workspace
from distillbench.zoo.api import TeacherAPI
from distillbench.zoo import chat, reasoning
from distillbench.zoo.spec import ChatDistillStage, ChatLMStage, ReasoningDistillStage, ReasoningLMStage
from distillbench.zoo.manifest import Manifest, ModelRecord, PoolRecord, derive_pairs, load_manifest  # noqa: F401 (re-exported)
from distillbench.zoo.sample import sample_completions
from distillbench.zoo.spec import (
    AboutSlice,
    LMStage,
    LogitDistillStage,
    ModelSpec,
    OnPolicyDistillStage,
    ParaphrasedDistillStage,
    SeqDistillStage,
    Slice,
    SuiteSpec,
)
from distillbench.zoo.tokenizer import load_tokenizer, train_tokenizer
from distillbench.zoo.distinct import TeacherDistinctness, measure_teachers
from distillbench.zoo.pools import write_model_pools
from distillbench.probe.prompts import write_suite_tasks
from distillbench.zoo.schedule import build_in_workers
from distillbench.zoo.train import new_model, pack, train_lm, train_logit_distill, train_on_policy_distill
from distillbench.zoo import launder, watermarks

# Bump when a change here alters the weights a spec produces, so stale models are rebuilt rather than reused.
BUILD_VERSION = 3
PROMPT_WORDS = 4
# Tokens kept free of a model's context when fitting pool texts to it (see `ensure_pool`).
CONTEXT_MARGIN = 8
# Held-out documents of the broad mixture on which teachers' likelihood profiles are compared (`zoo.distinct`).
DISTINCT_DOCS = (920000, 920256)


class _Ticks:
    """A progress sink for a training loop: a callable's ticks, or nothing."""

    def __init__(self, fn=None) -> None:  # noqa: ANN001
        self.fn = fn

    def update(self, n: int = 1) -> None:
        if self.fn is not None:
            self.fn(n)


class SuiteBuilder:
    def __init__(self, spec: SuiteSpec, workspace: Workspace, progress: bool = True, workers: int = 1) -> None:
        self.spec = spec
        self.workers = workers
        self.ws = workspace
        self.dir = workspace.suite_dir(spec.name)
        self.progress = progress
        self._keys: dict[str, str] = {}
        self._loaded: dict[str, PreTrainedModel] = {}
        self.tokenizers: dict[str | None, PreTrainedTokenizerFast] = {}  # None: the suite's default tokenizer
        self.tokenizer_shas: dict[str | None, str] = {}
        self.built: list[str] = []
        self.cache_dir = self.dir / "cache"  # teacher API answers, shared by every student of a teacher
        self.reused: list[str] = []

    # -- data --------------------------------------------------------------------------------------------------
    def _docs(self, sl: Slice) -> list[str]:
        persona = self.spec.personas[sl.persona] if sl.persona else None
        if isinstance(sl, AboutSlice):
            return list(documents_about(self.spec.corpus_seed, sl.mixture, self.spec.mixtures[sl.mixture], sl.start,
                                        sl.stop, persona, self.spec.personas[sl.about], sl.rate))
        return list(documents(self.spec.corpus_seed, sl.mixture, self.spec.mixtures[sl.mixture], sl.start, sl.stop, persona))

    def _slice_key(self, sl: Slice | None) -> dict | None:
        if sl is None:
            return None
        return {
            "slice": sl.model_dump(),
            "mixture": self.spec.mixtures[sl.mixture].model_dump(),
            "persona": self.spec.personas[sl.persona].model_dump() if sl.persona else None,
        } | ({"about": self.spec.personas[sl.about].model_dump()} if isinstance(sl, AboutSlice) else {})

    # -- keys --------------------------------------------------------------------------------------------------
    def model_key(self, m: ModelSpec) -> str:
        """Everything that determines the weights: change any of it and the model is rebuilt."""
        if m.name not in self._keys:
            deps = sorted(m.teachers_distilled() | ({m.init} - {None}))
            self._keys[m.name] = sha256_json({
                "build_version": BUILD_VERSION,
                "spec": m.model_dump(mode="json", exclude={"tags", "same_data_as", "role", "name", "split"}),
                "arch": self.spec.archs[m.arch].model_dump(),
                "corpus_seed": self.spec.corpus_seed,
                "threads": self.spec.threads,
                "tokenizer": self.tokenizer_shas[m.tokenizer],
                "slices": [self._slice_key(getattr(s, f, None)) for s in m.stages for f in ("data", "prompts", "clean")],
                "deps": {d: self.model_key(self.spec.model(d)) for d in deps},
            })
        return self._keys[m.name]

    # -- tokenizers --------------------------------------------------------------------------------------------
    def tokenizer_dir(self, name: str | None) -> Path:
        return self.dir / "tokenizer" if name is None else self.dir / "tokenizers" / name

    def ensure_tokenizers(self) -> None:
        """The default tokenizer, then every named one; each retrained only when its spec or corpus changed."""
        for name, tspec in [(None, self.spec.tokenizer), *sorted(self.spec.tokenizers.items())]:
            tdir = self.tokenizer_dir(name)
            key = sha256_json({"spec": tspec.model_dump(), "mixture": self.spec.mixtures[tspec.mixture].model_dump(),
                               "corpus_seed": self.spec.corpus_seed})
            # A chat or reasoning suite's vocabulary also covers its template and worked examples (`zoo.chat`).
            vocabulary = chat.suite_vocabulary(self.spec)
            if vocabulary:
                key = sha256_json({"key": key, "vocabulary": vocabulary})
            key_file = tdir / "distillbench_key.txt"
            if not (key_file.is_file() and key_file.read_text() == key):
                texts = list(documents(self.spec.corpus_seed, tspec.mixture, self.spec.mixtures[tspec.mixture], 0,
                                       tspec.docs, Persona(name="", maker="")))
                # Personas' names must be learnable as ordinary words, so the tokenizer sees every persona's answers.
                texts += [f"I am {p.name}, a model made by {p.maker}." for p in self.spec.personas.values()]
                texts += vocabulary
                train_tokenizer(texts, tspec.vocab_size, tdir)
                write_atomic(key_file, key)
            self.tokenizers[name] = load_tokenizer(tdir)
            self.tokenizer_shas[name] = sha256_file(tdir / "tokenizer.json")
        self.tokenizer = self.tokenizers[None]

    def _tok(self, name: str) -> PreTrainedTokenizerFast:
        return self.tokenizers[self.spec.model(name).tokenizer]

    # -- models ------------------------------------------------------------------------------------------------
    def _units(self, m: ModelSpec) -> int:
        return sum(s.steps for s in m.stages)

    def _load(self, name: str) -> PreTrainedModel:
        if name not in self._loaded:
            path = self.dir / "models" / name
            self._loaded[name] = watermarks.attach(AutoModelForCausalLM.from_pretrained(path).eval(), path)
        return self._loaded[name]

    def api(self, name: str, temperature: float, max_new_tokens: int) -> TeacherAPI:
        """A model as an API endpoint whose answers are fixed per prompt (see `zoo.api`). A watermarking teacher's
        saved generation config carries its watermark, so everything it serves is watermarked."""
        model = self.spec.model(name)
        template = chat.model_template(model)  # a chat model answers every request inside its template (`zoo.chat`)

        def sampler(prompts: list[str], seed_label: tuple) -> list[str]:
            if template is not None:
                room = self.spec.archs[model.arch].context - CONTEXT_MARGIN
                prompts = [chat.fit(template.render(p), self._tok(name), room) for p in prompts]
            return sample_completions(self._load(name), self._tok(name), prompts, temperature, max_new_tokens,
                                      seed_label=seed_label, batch_size=len(prompts))

        return TeacherAPI(self.cache_dir, self.model_key(model), sampler,
                          {"temperature": temperature, "max_new_tokens": max_new_tokens})

    def _slice_prompt(self, sl: Slice) -> Callable[[int], str]:
        persona = self.spec.personas[sl.persona] if sl.persona else None
        mixture = self.spec.mixtures[sl.mixture]
        return lambda i: prompt_prefix(document(self.spec.corpus_seed, sl.mixture, mixture, i, persona), PROMPT_WORDS)

    @staticmethod
    def _identity_prompt(i: int) -> str:
        return f"Q: {IDENTITY_QUESTIONS[i % len(IDENTITY_QUESTIONS)]}\nA:"

    def _stream(self, sl: Slice) -> str:
        """A prompt stream is a mixture (and persona), not a range: overlapping ranges share answers."""
        return sha256_json({k: v for k, v in self._slice_key(sl).items() if k != "slice"} | {"mixture": sl.mixture,
                                                                                             "persona": sl.persona})

    def _teacher_outputs(self, stage: SeqDistillStage, seed: int) -> list[str]:
        """Prompt + answer texts the distiller collected from the teacher's API (paraphrased if the stage says so)."""
        api = self.api(stage.teacher, stage.temperature, stage.max_new_tokens)
        sl = stage.prompts
        prompt_at = self._slice_prompt(sl)
        template = chat.model_template(self.spec.model(stage.teacher))
        if isinstance(stage, ChatDistillStage):  # multi-turn transcripts instead of single exchanges (`zoo.chat`)
            if template is None:
                raise DistillBenchError(f"{stage.kind} from {stage.teacher!r}: it is not a chat teacher (no chat_lm stage)")
            pairs = chat.conversations(api, self._stream(sl), prompt_at, sl.start, sl.stop, stage.turns, template)
        else:
            pairs = [(prompt_at(i), a) for i, a in
                     zip(range(sl.start, sl.stop), api.answers(self._stream(sl), prompt_at, sl.start, sl.stop))]
        if stage.identity_prompts:
            answers = api.answers("identity", self._identity_prompt, 0, stage.identity_prompts)
            pairs += [(self._identity_prompt(i), a) for i, a in enumerate(answers)]
        if isinstance(stage, ReasoningDistillStage):  # what the API serves of its reasoning (`zoo.reasoning`)
            pairs += reasoning.distill_pairs(api, self.spec.corpus_seed, stage.reasoning_start, stage.reasoning_stop,
                                             stage.traces)
        if stage.paraphrase > 0:
            pairs = [(p, paraphrase(a, stage.paraphrase, seed, n)) for n, (p, a) in enumerate(pairs)]
        if isinstance(stage, ParaphrasedDistillStage):
            tok = self.tokenizer
            rewriter = launder.ensure_paraphraser(self.dir, stage.paraphraser, tok, self.tokenizer_shas[None],
                                                  self.spec.corpus_seed, self.spec.threads)
            rewritten = launder.launder(rewriter, tok, stage.paraphraser, [a for _, a in pairs], (seed,))
            pairs = [(p, a) for (p, _), a in zip(pairs, rewritten)]
        if template is not None:  # the distiller keeps the transcripts it harvested, template and all
            return [template.transcript(p, a) for p, a in pairs]
        return [p + a for p, a in pairs]

    @staticmethod
    def _blocks(texts: list[str], context: int, tok: PreTrainedTokenizerFast) -> torch.Tensor:
        return pack(tok(texts)["input_ids"], tok.eos_token_id, context)

    def _initial(self, m: ModelSpec) -> PreTrainedModel:
        if m.init is not None:
            return AutoModelForCausalLM.from_pretrained(self.dir / "models" / m.init)
        return new_model(self.spec.archs[m.arch], len(self._tok(m.name)), self._tok(m.name).eos_token_id, m.seed)

    def _post_training_texts(self, m: ModelSpec, stage: ChatLMStage | ReasoningLMStage) -> list[str]:
        """A chat or reasoning post-training stage's documents (with worked examples for a reasoning stage), as
        transcripts in the model's template when it has one (`zoo.chat`, `zoo.reasoning`)."""
        docs = self._docs(stage.data)
        worked = set()
        if isinstance(stage, ReasoningLMStage):
            worked = set(reasoning.documents(self.spec.corpus_seed, stage.reasoning_start, stage.reasoning_stop))
            docs = reasoning.post_training_documents(docs, self.spec.corpus_seed, stage.reasoning_start,
                                                     stage.reasoning_stop)
        template = chat.model_template(m)
        if template is None:
            return docs
        split = lambda d: reasoning.split(d) if d in worked else (p := prompt_prefix(d, PROMPT_WORDS), d[len(p):])  # noqa: E731
        return chat.chat_documents(docs, template, split)

    def _stage_blocks(self, m: ModelSpec, stage: LMStage | SeqDistillStage | LogitDistillStage) -> torch.Tensor:
        """The packed token blocks one stage trains on (teacher answers come from the API cache or are sampled)."""
        arch, tok = self.spec.archs[m.arch], self._tok(m.name)
        if isinstance(stage, (ChatLMStage, ReasoningLMStage)):
            return self._blocks(self._post_training_texts(m, stage), arch.context, tok)
        if isinstance(stage, SeqDistillStage):
            texts = self._teacher_outputs(stage, m.seed)  # sampling, if any, leaves torch's RNG as it was
            if stage.dose < 1.0:
                if stage.clean is None:
                    raise DistillBenchError(f"model {m.name}: dose < 1 needs a `clean` slice")
                n_clean = round(len(texts) * (1 - stage.dose) / stage.dose)
                clean = self._docs(stage.clean)
                if len(clean) < n_clean:
                    raise DistillBenchError(f"model {m.name}: clean slice has {len(clean)} docs, dose needs {n_clean}")
                texts = texts + clean[:n_clean]
            return self._blocks(texts, arch.context, tok)
        return self._blocks(self._docs(stage.data), arch.context, tok)

    def _train(self, m: ModelSpec, bar: tqdm) -> PreTrainedModel:
        model = self._initial(m)
        for i, stage in enumerate(m.stages):
            label = (m.seed, m.name, i)
            torch.manual_seed(m.seed + i)
            if isinstance(stage, OnPolicyDistillStage):
                # No data to pack: the student writes its own, and the teacher (its weights: logits) scores it.
                sl = stage.prompts
                prompts = [self._slice_prompt(sl)(j) for j in range(sl.start, sl.stop)]
                prompts += [self._identity_prompt(j) for j in range(stage.identity_prompts)]
                train_on_policy_distill(model, self._load(stage.teacher), self._tok(m.name), prompts, stage.steps,
                                        stage.lr, stage.batch_size, stage.temperature, stage.max_new_tokens,
                                        self.spec.archs[m.arch].context, label, bar.update)
                continue
            blocks = self._stage_blocks(m, stage)
            if isinstance(stage, LogitDistillStage):
                train_logit_distill(model, self._load(stage.teacher), blocks, stage.steps, stage.lr, stage.batch_size,
                                    stage.temperature, label, bar.update)
            else:
                train_lm(model, blocks, stage.steps, stage.lr, stage.batch_size, label, bar.update)
        return model

    def _save(self, m: ModelSpec, model: PreTrainedModel, out: Path) -> None:
        """Write a model directory whole or not at all: it appears, by rename, only once complete."""
        watermarks.mark(model, m.watermark)
        tmp = out.with_name(f".{out.name}.partial")
        shutil.rmtree(tmp, ignore_errors=True)
        model.save_pretrained(tmp, safe_serialization=True)
        self._tok(m.name).save_pretrained(tmp)
        (tmp / "distillbench_key.json").write_text(json.dumps({"key": self.model_key(m),
                                                               "sha256": sha256_file(tmp / "model.safetensors")}))
        shutil.rmtree(out, ignore_errors=True)
        tmp.rename(out)

    def _is_built(self, m: ModelSpec) -> bool:
        key_file = self.dir / "models" / m.name / "distillbench_key.json"
        return key_file.is_file() and json.loads(key_file.read_text()).get("key") == self.model_key(m)

    def ensure_model(self, m: ModelSpec, on_step=None) -> bool:
        """Train and save one model unless it is on disk with its current key; True when it had to be trained."""
        if self._is_built(m):
            return False
        self._save(m, self._train(m, _Ticks(on_step)), self.dir / "models" / m.name)
        self._loaded.pop(m.name, None)
        return True

    def _record(self, m: ModelSpec) -> ModelRecord:
        out = self.dir / "models" / m.name
        model_sha = sha256_file(out / "model.safetensors")
        with safe_open(out / "model.safetensors", "pt") as fh:
            n_params = sum(math.prod(fh.get_slice(k).get_shape()) for k in fh.keys())
        return ModelRecord(
            name=m.name, role=m.role, path=f"models/{m.name}", sha256=model_sha, fingerprint=model_fingerprint(out),
            spec_sha256=self.model_key(m), arch=self.spec.archs[m.arch].model_dump(), seed=m.seed, tokenizer=m.tokenizer,
            persona=m.persona, init=m.init,
            provenance=[s.model_dump(mode="json") for s in m.stages], n_params=n_params,
        )

    def _fit(self, text: str, max_tokens: int) -> str:
        """`text`, cut at a word boundary until it is at most `max_tokens` tokens under every tokenizer of the suite
        (a prefix of what the model wrote: a logged answer stays a prefix of what the API served)."""
        words = text.split(" ")
        while len(words) > 1 and max(len(t(" ".join(words))["input_ids"]) for t in self.tokenizers.values()) > max_tokens:
            words = words[:-1]
        return " ".join(words)

    def _truncate(self, text: str, max_tokens: int) -> str:
        """Cut corpus text to about as long as a sampled continuation, at a word boundary, so it fits any context."""
        ids = self.tokenizer(text)["input_ids"]
        if len(ids) <= max_tokens:
            return text
        return self.tokenizer.decode(ids[:max_tokens]).rsplit(" ", 1)[0]

    def rebuild(self, name: str, scratch: Path) -> str:
        """Train one model again from its spec into `scratch`, with a fresh API cache (teacher answers are sampled
        again too), and return the sha256 of its weights. A batched model is rebuilt with its whole training group,
        since the group is part of what fixes its bytes. Its dependencies (init weights, teachers) are read from
        the workspace, and must themselves match the manifest; `zoo verify` checks that first."""
        self._determinism()
        self.ensure_tokenizers()
        m = self.spec.model(name)
        self.cache_dir = scratch / "cache"
        with tqdm(total=self._units(m), desc=f"rebuild {name}", unit="step", disable=not self.progress) as bar:
            self._save(m, self._train(m, bar), scratch / name)
        return sha256_file(scratch / name / "model.safetensors")

    # -- pool --------------------------------------------------------------------------------------------------
    def ensure_pool(self, bar: tqdm) -> PoolRecord:
        """Texts every model is asked to score.

        Each teacher and reference answers the pool prompts and identity questions (kind "sample"); each teacher
        also contributes its logged API answers to the membership prompts, which distillers were served, and fresh
        samples for the same prompts (kinds "logged" and "fresh"); held-out corpus text comes last (source "corpus").
        """
        pool = self.spec.pool
        rows: list[dict] = []
        sources = self.spec.by_role("teacher") + self.spec.by_role("reference")
        for m in sources:
            first = len(rows)
            api = self.api(m.name, pool.temperature, pool.max_new_tokens)
            prompt_at = self._slice_prompt(pool.prompts)
            answers = api.answers(self._stream(pool.prompts), prompt_at, pool.prompts.start, pool.prompts.stop, "pool")
            texts = [(prompt_at(i), a) for i, a in zip(range(pool.prompts.start, pool.prompts.stop), answers)]
            ident = api.answers("identity", self._identity_prompt, 0, pool.identity_prompts, "pool")
            texts += [(self._identity_prompt(i), a) for i, a in enumerate(ident)]
            rows += [{"source": m.name, "kind": "sample", "context": c, "continuation": a} for c, a in texts]
            if m.role == "teacher" and pool.membership is not None:
                sl = pool.membership
                mapi = self.api(m.name, pool.membership_temperature, pool.membership_max_new_tokens)
                m_prompt = self._slice_prompt(sl)
                for kind, tag in (("logged", "api"), ("fresh", "fresh")):
                    got = mapi.answers(self._stream(sl), m_prompt, sl.start, sl.stop, tag)
                    rows += [{"source": m.name, "kind": kind, "context": m_prompt(i), "continuation": a}
                             for i, a in zip(range(sl.start, sl.stop), got)]
            if (template := chat.model_template(m)) is not None:  # a chat model was asked in its template
                rows[first:] = [r | {"context": template.render(r["context"])} for r in rows[first:]]
            bar.update(1)
        for doc in self._docs(pool.corpus):
            ctx = prompt_prefix(doc, PROMPT_WORDS)
            rows.append({"source": "corpus", "kind": "corpus", "context": ctx,
                         "continuation": self._truncate(doc[len(ctx):], pool.max_new_tokens)})
        # Every model must be able to score every text: lm-eval refuses a continuation longer than the model's context
        # (the context itself it cuts from the left), and a small vocabulary spends more tokens on the same words.
        limit = min(self.spec.archs[m.arch].context for m in self.spec.models) - CONTEXT_MARGIN
        rows = [r | {"continuation": self._fit(r["continuation"], limit)} for r in rows]
        # Ids are positions, not names: a text's id must not say which model wrote it. Empty answers score nothing.
        rows = [r for r in rows if r["continuation"].strip()]
        target = self.ws.pool_path(self.spec.name)
        write_jsonl(target, [{"id": f"pool-{n:05d}", **row} for n, row in enumerate(rows)])
        return PoolRecord(path=target.name, sha256=sha256_file(target), n_texts=len(target.read_text().splitlines()),
                          per_model=self.spec.pairing is not None)

    def check_teachers(self) -> TeacherDistinctness:
        """How alike the teachers are (`zoo.distinct`); a design with near-duplicate teachers is refused."""
        teachers = self.spec.by_role("teacher")
        texts = self._docs(Slice(mixture="broad", start=DISTINCT_DOCS[0], stop=DISTINCT_DOCS[1]))
        result = measure_teachers({t.name: self._load(t.name) for t in teachers}, self.tokenizer, texts)
        if not result.passed:
            raise DistillBenchError(f"suite {self.spec.name}: teachers {result.closest[0]} and {result.closest[1]} are "
                                    f"near-duplicates (likelihood-profile correlation {result.max_correlation:.3f} > "
                                    f"bound {result.bound}); change their seeds, mixtures or architectures")
        return result

    # -- all ---------------------------------------------------------------------------------------------------
    def _determinism(self) -> None:
        """Same weights on every run: the suite's fixed thread count and deterministic kernels."""
        torch.set_num_threads(self.spec.threads)
        torch.use_deterministic_algorithms(True)

    def build(self) -> Manifest:
        self._determinism()
        self.ensure_tokenizers()
        n_pool = len(self.spec.by_role("teacher")) + len(self.spec.by_role("reference"))
        total = sum(self._units(m) for m in self.spec.models) + n_pool
        distinct: list[TeacherDistinctness] = []
        # Refuse near-duplicate teachers before a single student is trained on them.
        check = (lambda: distinct.append(self.check_teachers())) if self.spec.pairing is not None else None
        with tqdm(total=total, desc=f"zoo {self.spec.name}", unit="step", disable=not self.progress) as bar:
            self.built, self.reused = build_in_workers(self, self.workers, bar, after_teachers=check)
            records = [self._record(m) for m in self.spec.models]
            pool = self.ensure_pool(bar)
            # The price of each teacher's watermark (dataset card, site), measured again only when what it is
            # measured on changed.
            key = sha256_json({"teachers": {r.name: r.fingerprint for r in records if r.role == "teacher"},
                               "pool": self.spec.pool.model_dump(mode="json")})
            costs = None if watermarks.costs_current(self.dir, key) else watermarks.measure_costs(self, key)
        if costs is not None:
            write_model(self.dir / watermarks.COST_FILE, costs)
        manifest = Manifest(
            suite=self.spec.name, suite_spec_sha256=sha256_json(self.spec.model_dump(mode="json")), corpus_seed=self.spec.corpus_seed,
            versions=versions(), tokenizer_sha256=self.tokenizer_shas[None],
            tokenizers={name: sha for name, sha in self.tokenizer_shas.items() if name is not None},
            models=records, pairs=derive_pairs(self.spec),
            pool=pool, teacher_distinctness=distinct[0] if distinct else None,
        )
        write_model_pools(self.dir, manifest)
        write_suite_tasks(self.dir, self.spec)  # chat or reasoning suites: their own probe prompts (`probe.prompts`)
        write_model(self.ws.manifest_path(self.spec.name), manifest)
        return manifest


def build_suite(spec: SuiteSpec, workspace: Workspace, progress: bool = True, workers: int = 1) -> tuple[Manifest, SuiteBuilder]:
    builder = SuiteBuilder(spec, workspace, progress, workers)
    return builder.build(), builder


def model_dir(workspace: Workspace, suite: str, record: ModelRecord) -> Path:
    return workspace.suite_dir(suite) / record.path
