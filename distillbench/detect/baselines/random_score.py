from __future__ import annotations

from typing import ClassVar

from distillbench.detect.base import Verdict
from distillbench.detect.registry import register
from distillbench.evidence.view import AccessLevel, PairEvidence
from distillbench.rng import SplitMix64, derive_seed


@register
class RandomDetector:
    """Sanity floor: a uniform score seeded by the pair id, ignoring all evidence.

    Its AUROC should sit near 0.5 and its p-values (1 - score) are exactly uniform, so it is also the reference
    for calibration: a benchmark on which this detector scores well is leaking labels.
    """

    name: ClassVar[str] = "random"
    access: ClassVar[AccessLevel] = AccessLevel.BLACK_BOX
    summary: ClassVar[str] = "uniform random score (sanity floor)"
    uses: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def score(self, pair: PairEvidence) -> Verdict:
        u = SplitMix64(derive_seed("random-detector", self.seed, pair.pair_id)).uniform()
        return Verdict(score=u, p_value=1.0 - u)
