"""Per-condition figures of every detector on a scored suite, and the best baseline of each condition.

Reads `suites/<suite>/results.json` (what `distillbench evaluate` wrote) and prints, per condition:
- a positive condition (the scorer's kind: a distillation method or what a distilled student carries): the AUROC of
  its distilled pairs against *all* negative pairs of the split, the same comparator for every condition, so the
  lexical and the model-based paraphrase conditions (or any two positive conditions) compare on one scale;
- a negative condition (the kind of hard negative a pair stands for): the share of its pairs flagged at the
  detector's global threshold (5% FPR over all negatives), as the results file reports it, among the detectors whose
  overall AUROC is at least MIN_AUROC;
- a tag carried by both labels: the AUROC on its own pairs, as the results file reports it.
Abstentions are left out and failures rank last, as in `distillbench.score.results`.

    python benchmarks/accusation_conditions.py --home DIR --suite accusation [--only COND ...]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

MIN_AUROC = 0.7  # a negative condition's "best" is among detectors at least this good overall


def condition_auroc(pairs: list[dict], detector: str, condition: str) -> float | None:
    """AUROC of the condition's positives against every negative of the split (None: too few scored pairs)."""
    y, s = [], []
    for p in pairs:
        if p["abstained"].get(detector, True):
            continue
        if p["label"] == 1 and condition not in p["conditions"]:
            continue
        score = p["scores"].get(detector)
        y.append(p["label"])
        s.append(score if score is not None and np.isfinite(score) else -np.inf)
    y, s = np.array(y), np.array(s, dtype=float)
    if (y == 1).sum() < 1 or (y == 0).sum() < 1:
        return None
    s = np.where(np.isfinite(s), s, np.nanmin(s[np.isfinite(s)]) - 1 if np.isfinite(s).any() else 0.0)
    return float(roc_auc_score(y, s))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--home", required=True, type=Path)
    ap.add_argument("--suite", default="accusation")
    ap.add_argument("--only", action="append", metavar="COND", help="print only these conditions (repeatable)")
    args = ap.parse_args()
    results = json.loads((args.home / "suites" / args.suite / "results.json").read_text())
    pairs = results["pairs"]
    detectors = [d["detector"] for d in results["detectors"] if d["detector"] != "random"]
    by_name = {d["detector"]: d for d in results["detectors"]}
    conditions = sorted({c for p in pairs for c in p["conditions"]})
    print(f"suite {args.suite} ({results['split']}): {len(pairs)} pairs, {sum(p['label'] for p in pairs)} positive; "
          f"detectors: {', '.join(detectors)}")
    print(f"{'condition':22s} {'kind':8s} {'pairs':>5s}  best baseline (figure)                 all")
    for cond in conditions:
        if args.only and cond not in args.only:
            continue
        n = sum(cond in p["conditions"] for p in pairs)
        # The kind is the scorer's (a positive condition such as `paraphrase` is also carried by the negative pairs
        # of its students with other teachers; those count among the negatives like any other).
        kind = next((d["conditions"][cond]["kind"] for d in results["detectors"] if cond in d["conditions"]), None)
        if kind == "positive":
            figs = {d: condition_auroc(pairs, d, cond) for d in detectors}
            better, what = max, "AUROC vs all negatives"
            n = sum(cond in p["conditions"] and p["label"] == 1 for p in pairs)
        elif kind == "negative":
            # The lowest false-positive rate among detectors that detect at all (overall AUROC >= MIN_AUROC): a
            # detector that flags nothing has no false positives and says nothing.
            figs = {d: by_name[d]["conditions"][cond].get("fpr_at_threshold") for d in detectors
                    if (by_name[d]["overall"]["auroc"] or 0) >= MIN_AUROC}
            better, what = min, "FPR at the 5%-FPR threshold"
        elif kind == "tag":
            figs = {d: by_name[d]["conditions"][cond].get("auroc") for d in detectors}
            better, what = max, "AUROC on its pairs"
        else:
            continue
        known = {d: v for d, v in figs.items() if v is not None}
        best = better(known, key=known.get) if known else None
        line = ", ".join(f"{d} {v:.2f}" for d, v in sorted(known.items(), key=lambda kv: -kv[1]))
        head = f"{best} ({known[best]:.2f}, {what})" if best else "n/a"
        print(f"{cond:22s} {kind:8s} {n:5d}  {head:38s} {line}")


if __name__ == "__main__":
    main()
