"""What watermarking costs a teacher: the record a build writes (`suites/<suite>/watermark_cost.json`).

Takes nothing; defines the schema `zoo.watermarks` writes after the pool and the dataset card and site read. Apart
from `zoo.watermarks` so that readers (the site build, evidence bundles) need neither torch nor transformers.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

COST_FILE = "watermark_cost.json"


class WatermarkCost(BaseModel):
    model_config = ConfigDict(extra="forbid")
    teacher: str
    scheme: str  # "greenlist" or "synthid"
    n_texts: int
    perplexity_watermarked: float  # the unwatermarked teacher's perplexity on its watermarked samples
    perplexity_unwatermarked: float  # ... on samples drawn with the same seeds and no watermark
    # perplexity_watermarked / perplexity_unwatermarked: above 1, the watermark made the text less like the model's
    ratio: float


class WatermarkCosts(BaseModel):
    """`suites/<suite>/watermark_cost.json`: what watermarking costs each watermarked teacher (dataset card, site)."""

    model_config = ConfigDict(extra="forbid")
    suite: str
    # What the figures were measured on: the watermarked teachers' weights and the pool prompts (sha256). A build whose
    # key matches keeps the file instead of sampling again, so a rebuild that reuses every model makes no model call.
    key: str
    # Samples for the pool prompts at the pool's temperature and length; perplexity per token of the answer.
    prompts: int
    temperature: float
    max_new_tokens: int
    teachers: list[WatermarkCost]
