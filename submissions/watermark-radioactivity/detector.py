"""The built-in `watermark_radioactivity` baseline (distillbench/detect/baselines/watermark.py), entered through the submission path.

Re-exported unchanged, so the leaderboard's baseline rows come from exactly the code the benchmark ships, run
contained like any submitted detector.
"""

from distillbench.detect.baselines.watermark import WatermarkRadioactivityDetector

__all__ = ["WatermarkRadioactivityDetector"]
