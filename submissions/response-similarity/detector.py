"""The built-in `response_similarity` baseline (distillbench/detect/baselines/response_similarity.py), entered through the submission path.

Re-exported unchanged, so the leaderboard's baseline rows come from exactly the code the benchmark ships, run
contained like any submitted detector.
"""

from distillbench.detect.baselines.response_similarity import ResponseSimilarityDetector

__all__ = ["ResponseSimilarityDetector"]
