"""How alike a suite's teachers are: likelihood-profile correlations, and the bound a design must stay under.

Takes the built teachers and held-out documents; produces `TeacherDistinctness` (recorded in the manifest). Each
teacher's profile is its mean per-token log-likelihood on every document; subtracting the mean profile over all
teachers removes what makes a document easy or hard for any model, and what is left is what this teacher finds
easier or harder than its peers (its topics, its style). Two teachers whose residual profiles correlate above
`BOUND` are near-copies: their pair clusters are not independent evidence, so the builder refuses the design.

The bound: 0.85. Measured on the standard design's teachers: two vendors that favour the same three topics
correlate at 0.85-0.91 whatever their architecture, seed or persona (near-copies); sharing two of three favoured
topics gives at most ~0.82 and a median of ~0.4; one or none, below 0.45. The design therefore deals each vendor its
own set of three topics (`zoo.design`), and the bound refuses anything closer than that.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:  # the manifest imports this module for its schema; torch loads only when teachers are measured
    from transformers import PreTrainedModel, PreTrainedTokenizerFast

BOUND = 0.85


class TeacherDistinctness(BaseModel):
    model_config = ConfigDict(extra="forbid")
    method: str = "correlation of residual per-token log-likelihood profiles on held-out documents"
    n_documents: int
    bound: float
    max_correlation: float
    median_correlation: float
    closest: tuple[str, str]
    passed: bool


def profile(model: PreTrainedModel, tok: PreTrainedTokenizerFast, texts: list[str], context: int) -> np.ndarray:
    """Mean log-likelihood per token of each text (cut to the model's context)."""
    import torch
    import torch.nn.functional as F

    out = []
    model.eval()
    with torch.no_grad():
        for text in texts:
            ids = torch.tensor([tok(text)["input_ids"][:context]])
            logp = F.log_softmax(model(input_ids=ids).logits[0, :-1], -1)
            out.append(float(logp.gather(1, ids[0, 1:, None]).mean()))
    return np.array(out)


def measure_teachers(teachers: dict[str, PreTrainedModel], tok: PreTrainedTokenizerFast, texts: list[str],
                     bound: float = BOUND) -> TeacherDistinctness:
    names = sorted(teachers)
    context = min(m.config.max_position_embeddings if hasattr(m.config, "max_position_embeddings")
                  else m.config.n_positions for m in teachers.values())
    prof = np.stack([profile(teachers[n], tok, texts, context) for n in names])
    resid = prof - prof.mean(axis=0, keepdims=True)
    corr = np.corrcoef(resid)
    iu = np.triu_indices(len(names), 1)
    vals = corr[iu]
    k = int(np.argmax(vals))
    return TeacherDistinctness(
        n_documents=len(texts), bound=bound, max_correlation=round(float(vals[k]), 4),
        median_correlation=round(float(np.median(vals)), 4), closest=(names[iu[0][k]], names[iu[1][k]]),
        passed=bool(vals[k] <= bound),
    )
