"""The built-in `random` baseline (distillbench/detect/baselines/random_score.py), entered through the submission path.

Re-exported unchanged, so the leaderboard's baseline rows come from exactly the code the benchmark ships, run
contained like any submitted detector.
"""

from distillbench.detect.baselines.random_score import RandomDetector

__all__ = ["RandomDetector"]
