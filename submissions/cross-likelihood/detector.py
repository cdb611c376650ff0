"""The built-in `cross_likelihood` baseline (distillbench/detect/baselines/cross_likelihood.py), entered through the submission path.

Re-exported unchanged, so the leaderboard's baseline rows come from exactly the code the benchmark ships, run
contained like any submitted detector.
"""

from distillbench.detect.baselines.cross_likelihood import CrossLikelihoodDetector

__all__ = ["CrossLikelihoodDetector"]
