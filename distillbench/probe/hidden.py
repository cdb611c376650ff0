"""White-box evidence: each open model's hidden representation of the pool texts.

lm-eval returns text and log-likelihoods only, so this probe loads the model with transformers directly. It
records the mean over tokens of the final layer's hidden states for context + continuation, rounded to 4 decimals,
one vector per text of its pool when the pool holds at most HIDDEN_TEXTS texts, else of the texts whose id hashes
into a fixed share (HIDDEN_SHARE) of the id space: representation similarity needs a few hundred items, the published
dev evidence stays small, and because the choice depends on the id alone, models that score different pools
(`zoo.pools`) still hold vectors for the same texts of the pools they share. Teachers are APIs in every track, so only students and reference models are probed here; the record
goes to the same evidence store under the task name `hidden`.
"""

from __future__ import annotations

import hashlib

from distillbench.evidence.schema import EvidenceRecord, Hidden
from distillbench.files import read_jsonl
from distillbench.fingerprint import sha256_file, sha256_json

HIDDEN_TASK = "hidden"
HIDDEN_VERSION = 3
HIDDEN_TEXTS = 256
HIDDEN_SHARE = 0.3
BATCH = 32


def hidden_fingerprint(pool_path) -> str:
    return sha256_json({"pool": sha256_file(pool_path), "version": HIDDEN_VERSION, "pooling": "mean-last-layer",
                        "texts": HIDDEN_TEXTS, "share": HIDDEN_SHARE})


def hidden_subset(rows: list[dict]) -> list[dict]:
    if len(rows) <= HIDDEN_TEXTS:
        return rows
    return [r for r in rows if int(hashlib.sha256(r["id"].encode()).hexdigest()[:8], 16) < HIDDEN_SHARE * 16**8]


def probe_hidden(model_dir, model_fp: str, pool_path, device: str = "cpu") -> EvidenceRecord:
    import torch  # here, not at the top: the detect stage imports this module for its fingerprint only
    from transformers import AutoModelForCausalLM, AutoTokenizer

    rows = hidden_subset(read_jsonl(pool_path))
    tok = AutoTokenizer.from_pretrained(model_dir)
    tok.padding_side = "right"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval().to(device)
    max_len = getattr(model.config, "n_positions", None) or getattr(model.config, "max_position_embeddings", 512)
    out = []
    with torch.no_grad():
        for b in range(0, len(rows), BATCH):
            chunk = rows[b : b + BATCH]
            enc = tok([r["context"] + r["continuation"] for r in chunk], return_tensors="pt", padding=True,
                      truncation=True, max_length=max_len).to(device)
            states = model(**enc, output_hidden_states=True).hidden_states[-1]
            mask = enc["attention_mask"].unsqueeze(-1).to(states.dtype)
            means = (states * mask).sum(1) / mask.sum(1).clamp(min=1)
            out += [Hidden(id=r["id"], vector=[round(float(x), 4) for x in v]) for r, v in zip(chunk, means.float().cpu())]
    from importlib import metadata

    return EvidenceRecord(model_fingerprint=model_fp, task=HIDDEN_TASK, task_fingerprint=hidden_fingerprint(pool_path),
                          kind="hidden", lm_eval_version=metadata.version("lm_eval"), backend="transformers",
                          hidden=out)
