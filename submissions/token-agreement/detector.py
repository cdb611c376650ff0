"""The built-in `token_agreement` baseline (distillbench/detect/baselines/token_agreement.py), entered through the submission path.

Re-exported unchanged, so the leaderboard's baseline rows come from exactly the code the benchmark ships, run
contained like any submitted detector.
"""

from distillbench.detect.baselines.token_agreement import TokenAgreementProvenanceDetector

__all__ = ["TokenAgreementProvenanceDetector"]
