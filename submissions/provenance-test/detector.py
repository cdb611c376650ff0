"""The built-in `provenance_test` baseline (distillbench/detect/baselines/provenance.py), entered through the submission path.

Re-exported unchanged, so the leaderboard's baseline rows come from exactly the code the benchmark ships, run
contained like any submitted detector.
"""

from distillbench.detect.baselines.provenance import ProvenanceTestDetector

__all__ = ["ProvenanceTestDetector"]
