"""The built-in `idiosyncrasy_classifier` baseline (distillbench/detect/baselines/idiosyncrasy.py), entered through the submission path.

Re-exported unchanged, so the leaderboard's baseline rows come from exactly the code the benchmark ships, run
contained like any submitted detector.
"""

from distillbench.detect.baselines.idiosyncrasy import IdiosyncrasyClassifierDetector

__all__ = ["IdiosyncrasyClassifierDetector"]
