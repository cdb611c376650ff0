"""The built-in `idiosyncrasy_sampled` baseline (distillbench/detect/baselines/idiosyncrasy_sampled.py), entered through the submission path.

Re-exported unchanged, so the leaderboard's baseline rows come from exactly the code the benchmark ships, run
contained like any submitted detector.
"""

from distillbench.detect.baselines.idiosyncrasy_sampled import IdiosyncrasySampledDetector

__all__ = ["IdiosyncrasySampledDetector"]
