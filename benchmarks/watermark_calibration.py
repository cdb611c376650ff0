"""Is the watermark detector's p-value valid? Its false-positive rate under keys no model was trained with.

    python benchmarks/watermark_calibration.py [--suite mini] [--home .distillbench] [--keys 50]

A suite has few negative pairs per watermarking teacher, so the realised FPR on them is coarse (1/12 steps on
mini). Here every student and reference is tested against many random secret keys with the teacher's other
settings: no model ever saw text watermarked with those keys, so every test is a true null, and a valid p-value
gives a share near alpha below alpha. Also prints the p-values for the pairs where the key is the real one.
"""

from __future__ import annotations

import argparse

import numpy as np

from distillbench.detect.baselines.watermark import WatermarkRadioactivityDetector
from distillbench.evidence.view import AccessLevel, open_suite_view
from distillbench.paths import Workspace
from distillbench.rng import SplitMix64


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", default="mini")
    parser.add_argument("--home", default=None)
    parser.add_argument("--keys", type=int, default=50)
    args = parser.parse_args()
    ws = Workspace.resolve(args.home)
    view = open_suite_view(ws, args.suite)
    manifest = view.manifest
    detector = WatermarkRadioactivityDetector()
    print(f"\n== watermark detector on {args.suite}: real keys ==")
    for pair in manifest.pairs:
        ev = view.pair(pair, AccessLevel.TEACHER_SIDE)
        if ev.teacher_secret and ev.teacher_secret.watermark:
            v = detector.score(ev)
            print(f"{pair.pair_id:28s} label={pair.label} {','.join(pair.conditions):28s} z={v.score:6.2f} p={v.p_value:.1e}")
    rng = SplitMix64(2026)
    p_values = []
    for pair in manifest.pairs:
        ev = view.pair(pair, AccessLevel.TEACHER_SIDE)
        if not (ev.teacher_secret and ev.teacher_secret.watermark):
            continue
        for _ in range(args.keys):
            secret = ev.teacher_secret.model_copy(update={"watermark": {**ev.teacher_secret.watermark,
                                                                        "hashing_key": rng.below(2**31)}})
            v = detector.score(ev.model_copy(update={"teacher_secret": secret}))
            p_values.append(v.p_value)
    p = np.array(p_values)
    print(f"\n== null calibration: {p.size} tests with random keys ==")
    for alpha in (0.01, 0.05, 0.10):
        print(f"share with p < {alpha:.2f}: {np.mean(p < alpha):.3f}")


if __name__ == "__main__":
    main()
