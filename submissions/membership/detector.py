"""The built-in `membership` baseline (distillbench/detect/baselines/membership.py), entered through the submission path.

Re-exported unchanged, so the leaderboard's baseline rows come from exactly the code the benchmark ships, run
contained like any submitted detector.
"""

from distillbench.detect.baselines.membership import MembershipDetector

__all__ = ["MembershipDetector"]
