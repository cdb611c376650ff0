"""What a detector costs in model queries per pair, from the evidence kinds it declares it reads.

Counted on the student only (teacher and reference answers are collected once per suite, not per pair): one
generation request per probe prompt, one log-likelihood request per pool text, one forward pass per pool text for
hidden states.
"""

from __future__ import annotations

from distillbench.detect.base import Detector


def queries_per_pair(detector: Detector, n_prompts: int, n_pool: int) -> int:
    per_kind = {"generations": n_prompts, "logliks": n_pool, "hidden": n_pool}
    return sum(per_kind[k] for k in detector.uses)
