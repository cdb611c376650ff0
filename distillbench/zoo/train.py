"""Training loops for the zoo: language modelling, sequence-level distillation data, logit distillation, on-policy
distillation.

Determinism is by construction: the caller fixes torch's thread count and seed, batches are chosen by SplitMix64
from (seed, stage, step), and every loop runs a fixed number of steps. Same inputs, same machine, same bytes.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from transformers import (
    GPT2Config,
    GPT2LMHeadModel,
    GPTNeoXConfig,
    GPTNeoXForCausalLM,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedModel,
)

from distillbench.rng import SplitMix64, derive_seed
from distillbench.zoo.sample import sample_completions
from distillbench.zoo.spec import Arch


def new_model(arch: Arch, vocab_size: int, eos_id: int, seed: int) -> PreTrainedModel:
    torch.manual_seed(seed)
    if arch.family == "gpt2":
        dropout = {} if arch.dropout is None else {k: arch.dropout for k in ("resid_pdrop", "embd_pdrop", "attn_pdrop")}
        config = GPT2Config(
            vocab_size=vocab_size, n_embd=arch.width, n_layer=arch.layers, n_head=arch.heads,
            n_positions=arch.context, bos_token_id=eos_id, eos_token_id=eos_id, pad_token_id=eos_id, **dropout,
        )
        return GPT2LMHeadModel(config)
    if arch.family == "gptneox":
        config = GPTNeoXConfig(
            vocab_size=vocab_size, hidden_size=arch.width, intermediate_size=arch.width * 4,
            num_hidden_layers=arch.layers, num_attention_heads=arch.heads, max_position_embeddings=arch.context,
            hidden_dropout=arch.dropout or 0.0, attention_dropout=arch.dropout or 0.0,
            bos_token_id=eos_id, eos_token_id=eos_id, pad_token_id=eos_id,
        )
        return GPTNeoXForCausalLM(config)
    config = LlamaConfig(
        vocab_size=vocab_size, hidden_size=arch.width, intermediate_size=arch.width * 4,
        num_hidden_layers=arch.layers, num_attention_heads=arch.heads, num_key_value_heads=arch.heads,
        max_position_embeddings=arch.context, attention_dropout=arch.dropout or 0.0,
        bos_token_id=eos_id, eos_token_id=eos_id, pad_token_id=eos_id,
    )
    return LlamaForCausalLM(config)


def pack(token_lists: list[list[int]], eos_id: int, context: int) -> torch.Tensor:
    """Concatenate documents (each followed by EOS) and cut the stream into full blocks of `context` tokens."""
    stream: list[int] = []
    for ids in token_lists:
        stream.extend(ids)
        stream.append(eos_id)
    n_blocks = len(stream) // context
    if n_blocks == 0:
        raise ValueError(f"only {len(stream)} tokens of training data; need at least one block of {context}")
    return torch.tensor(stream[: n_blocks * context], dtype=torch.long).view(n_blocks, context)


def _lr_at(step: int, steps: int, lr: float) -> float:
    warmup = max(1, steps // 10)
    if step < warmup:
        return lr * (step + 1) / warmup
    return lr * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup)))


def _loop(
    model: PreTrainedModel,
    blocks: torch.Tensor,
    steps: int,
    lr: float,
    batch_size: int,
    seed_label: tuple,
    loss_fn: Callable[[PreTrainedModel, torch.Tensor], torch.Tensor],
    on_step: Callable[[int], None] | None,
) -> float:
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    rng = SplitMix64(derive_seed("batches", *seed_label))
    loss_value = float("nan")
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = _lr_at(step, steps, lr)
        idx = torch.tensor([rng.below(blocks.shape[0]) for _ in range(batch_size)])
        loss = loss_fn(model, blocks[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        loss_value = float(loss.detach())
        if on_step is not None:
            on_step(1)
    model.eval()
    return loss_value


def train_lm(model, blocks, steps, lr, batch_size, seed_label, on_step=None) -> float:
    def loss_fn(m, batch):
        return m(input_ids=batch, labels=batch).loss

    return _loop(model, blocks, steps, lr, batch_size, seed_label, loss_fn, on_step)


def train_logit_distill(model, teacher, blocks, steps, lr, batch_size, temperature, seed_label, on_step=None) -> float:
    """Forward KL from the teacher's temperature-softened next-token distribution (Hinton et al. 2015)."""
    teacher.eval()

    def loss_fn(m, batch):
        with torch.no_grad():
            t_logits = teacher(input_ids=batch).logits / temperature
        s_logits = m(input_ids=batch).logits / temperature
        vocab = s_logits.shape[-1]
        return F.kl_div(
            F.log_softmax(s_logits.reshape(-1, vocab), -1),
            F.log_softmax(t_logits.reshape(-1, vocab), -1),
            log_target=True,
            reduction="batchmean",
        ) * temperature**2

    return _loop(model, blocks, steps, lr, batch_size, seed_label, loss_fn, on_step)


def reverse_kl(student_logits: torch.Tensor, teacher_logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over the positions where `mask` is 1 of KL(student || teacher), summed over the vocabulary.

    Reverse KL is mode-seeking: the student is pushed off what the teacher finds unlikely rather than made to cover
    everything the teacher might say (MiniLLM's argument for it; GKD's generalised JSD with beta = 1)."""
    log_s = F.log_softmax(student_logits, -1)
    log_t = F.log_softmax(teacher_logits, -1)
    per_token = (log_s.exp() * (log_s - log_t)).sum(-1)
    return (per_token * mask).sum() / mask.sum().clamp(min=1.0)


def train_on_policy_distill(
    model, teacher, tokenizer, prompts: list[str], steps, lr, batch_size, temperature, max_new_tokens, context,
    seed_label, on_step=None,
) -> float:
    """On-policy distillation: at every step the student samples continuations of a batch of prompts (seeded by
    `seed_label` and the step), and both models score the student's own tokens; the loss is the per-token reverse
    KL on the continuation positions (`reverse_kl`). No gradient flows through the sampling (as in GKD).

    `_loop` draws rows of a tensor; here the rows are prompt indices, so batches are chosen the same way as in
    every other loop. Samples are decoded and re-tokenised (cut at EOS or a blank line, as teacher answers are), so
    the tokens trained on are exactly the text the student wrote."""
    teacher.eval()
    index = torch.arange(len(prompts)).unsqueeze(1)
    step = iter(range(steps))
    eos = tokenizer.eos_token_id

    def loss_fn(m, rows):
        chunk = [prompts[int(i)] for i in rows[:, 0]]
        texts = sample_completions(m, tokenizer, chunk, temperature, max_new_tokens, (*seed_label, next(step)),
                                   batch_size=len(chunk))
        m.train()  # sampling left the student in eval mode
        seqs, masks = [], []
        for prompt, text in zip(chunk, texts):
            p_ids = tokenizer(prompt)["input_ids"]
            ids = (p_ids + tokenizer(text)["input_ids"])[:context]
            seqs.append(ids)
            # Position j predicts token j + 1: the continuation's tokens are predicted from len(prompt) - 1 on.
            masks.append([float(len(p_ids) - 1 <= j < len(ids) - 1) for j in range(len(ids))])
        width = max(len(x) for x in seqs)
        # Right padding: under a causal mask padding after a sequence changes none of its positions' logits.
        batch = torch.tensor([x + [eos] * (width - len(x)) for x in seqs])
        mask = torch.tensor([x + [0.0] * (width - len(x)) for x in masks])
        with torch.no_grad():
            t_logits = teacher(input_ids=batch).logits
        return reverse_kl(m(input_ids=batch).logits, t_logits, mask)

    return _loop(model, index, steps, lr, batch_size, seed_label, loss_fn, on_step)
