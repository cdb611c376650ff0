"""Returns NaN, bypassing Verdict's own check."""

from distillbench.detect.base import Verdict


def misbehave(pair, config):
    return Verdict.model_construct(score=float("nan"), p_value=None)
