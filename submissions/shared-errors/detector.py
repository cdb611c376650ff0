"""The built-in `shared_errors` baseline (distillbench/detect/baselines/shared_errors.py), entered through the submission path.

Re-exported unchanged, so the leaderboard's baseline rows come from exactly the code the benchmark ships, run
contained like any submitted detector.
"""

from distillbench.detect.baselines.shared_errors import SharedErrorsDetector

__all__ = ["SharedErrorsDetector"]
