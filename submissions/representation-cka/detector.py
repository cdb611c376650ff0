"""The built-in `representation_cka` baseline (distillbench/detect/baselines/representation.py), entered through the submission path.

Re-exported unchanged, so the leaderboard's baseline rows come from exactly the code the benchmark ships, run
contained like any submitted detector.
"""

from distillbench.detect.baselines.representation import RepresentationSimilarityDetector

__all__ = ["RepresentationSimilarityDetector"]
