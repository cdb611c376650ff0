"""The built-in `identity_consistency` baseline (distillbench/detect/baselines/identity.py), entered through the submission path.

Re-exported unchanged, so the leaderboard's baseline rows come from exactly the code the benchmark ships, run
contained like any submitted detector.
"""

from distillbench.detect.baselines.identity import IdentityConsistencyDetector

__all__ = ["IdentityConsistencyDetector"]
