"""Before/after figures for `distillbench evaluate`: the scoring stage and the whole command with cached detection.

    python benchmarks/scoring.py [--home DIR] [--suite standard] [--detector NAME ...] [--no-cold]

Runs in a scratch workspace: with --home, one that shares that workspace's evidence and models (read only) and
writes its own verdicts, results and caches; without, a fresh one into which the published evidence bundle installs
on first use. Prints, in one run:

- scoring stage: the per-call path (one scikit-learn `roc_auc_score` per AUROC and per left-out teacher, for every
  detector and every two detectors: the headline AUROC, its jackknife interval, TPR at 5% FPR and the paired
  matrix) against the scorer (`score.results.score`, which also computes every condition row and calibration), and
  the largest difference between their numbers;
- `evaluate` cold (`--no-cache`: every detector runs, every evidence file is hashed, as before the cache) and warm
  (detection cached, file hashes memoised), each a separate process, as a user runs it.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import stats
from sklearn.metrics import roc_auc_score, roc_curve

REPO = Path(__file__).resolve().parents[1]
SHARED = ("models", "pools", "pool.jsonl", "teachers", "tokenizer", "tokenizers", "cache")


def scratch_workspace(home: Path | None, suite: str, root: Path) -> Path:
    """A workspace of our own; with `home`, its evidence and the suite's read-only files linked, manifest copied."""
    ws = root / "home"
    if home is None:
        ws.mkdir()
        return ws
    src = home / "suites" / suite
    if not (src / "manifest.json").is_file():
        sys.exit(f"no suite {suite} built in {home}")
    dst = ws / "suites" / suite
    dst.mkdir(parents=True)
    (ws / "evidence").symlink_to((home / "evidence").resolve())
    for name in SHARED:
        if (src / name).exists():
            (dst / name).symlink_to((src / name).resolve())
    (dst / "manifest.json").write_bytes((src / "manifest.json").read_bytes())
    return ws


def evaluate(ws: Path, suite: str, detectors: list[str], *extra: str) -> tuple[float, str]:
    cmd = [sys.executable, "-m", "distillbench.cli", "evaluate", "--home", str(ws), "--suite", suite, "--no-progress",
           *(["--all"] if not detectors else [a for d in detectors for a in ("--detector", d)]), *extra]
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env={**os.environ, "OMP_NUM_THREADS": "1"})
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return seconds, done.stdout


def phases(out: str) -> tuple[float, float]:
    """(seconds the detectors ran, seconds scoring took) as the command printed them."""
    ran = sum(float(s) for s in re.findall(r"pairs in ([\d.]+)s", out))
    scored = re.search(r"scored in ([\d.]+)s", out)
    return ran, float(scored.group(1)) if scored else float("nan")


def sklearn_loop(y: np.ndarray, g: np.ndarray, scores: dict[str, np.ndarray]) -> dict[str, float]:
    """The headline numbers and the paired matrix with one scikit-learn call per AUROC (the per-call path)."""
    out: dict[str, float] = {}
    ks = np.unique(g)
    loo = {}
    for name, s in scores.items():
        full = roc_auc_score(y, s)
        loo[name] = np.array([roc_auc_score(y[g != k], s[g != k]) for k in ks])
        se = np.sqrt((ks.size - 1) / ks.size * np.sum((loo[name] - loo[name].mean()) ** 2))
        fpr, tpr, _ = roc_curve(y, s)
        out[f"{name}/auroc"] = full
        out[f"{name}/auroc_ci_low"] = max(0.0, full - stats.t.ppf(0.975, ks.size - 1) * se)
        out[f"{name}/tpr5"] = float(tpr[fpr <= 0.05 + 1e-12].max())
    names = sorted(scores)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            d = loo[a] - loo[b]
            out[f"{a}|{b}/diff"] = roc_auc_score(y, scores[a]) - roc_auc_score(y, scores[b])
            out[f"{a}|{b}/se"] = float(np.sqrt((ks.size - 1) / ks.size * np.sum((d - d.mean()) ** 2)))
    return out


def scoring_stage(ws: Path, suite: str) -> None:
    from distillbench.detect.runner import VerdictFile
    from distillbench.evidence.view import load_suite_manifest, opaque_pair_id
    from distillbench.files import read_model
    from distillbench.paths import Workspace
    from distillbench.score.results import score

    workspace = Workspace(ws)
    manifest = load_suite_manifest(workspace, suite)
    vfs = [read_model(f, VerdictFile, "verdicts") for f in sorted(workspace.verdicts_dir(suite).glob("*.json"))]
    pairs = [p for p in manifest.pairs if p.split == "dev"]
    y = np.array([p.label for p in pairs])
    g = np.unique([p.teacher for p in pairs], return_inverse=True)[1]
    # Every pair scored (no abstentions, no failures) keeps the two paths comparable: the loop has no coverage logic.
    usable = [vf for vf in vfs if all(v.score is not None and not v.abstained for v in vf.verdicts)]
    scores = {}
    for vf in usable:
        got = {v.pair_id: v.score for v in vf.verdicts}
        scores[vf.detector] = np.array([got[opaque_pair_id(manifest.suite, p.pair_id)] for p in pairs])
    start = time.perf_counter()
    loop = sklearn_loop(y, g, scores)
    t_loop = time.perf_counter() - start
    n_calls = len(scores) * (len(np.unique(g)) + 1) + len(scores) * (len(scores) - 1)
    start = time.perf_counter()
    results = score(manifest, workspace.manifest_path(suite), usable)
    t_new = time.perf_counter() - start
    by = {d.detector: d for d in results.detectors}
    comp = {f"{c.a}|{c.b}": c for c in results.comparisons}
    new = {}
    for name in scores:
        m = by[name].overall
        new.update({f"{name}/auroc": m.auroc, f"{name}/auroc_ci_low": m.auroc_ci[0], f"{name}/tpr5": m.tpr_at_5pct_fpr})
    for key in [k for k in loop if "|" in k]:
        pair, what = key.split("/")
        a, b = pair.split("|")
        c = comp.get(pair) or comp[f"{b}|{a}"]
        sign = 1 if c.a == a else -1
        new[key] = sign * c.diff if what == "diff" else c.se
    worst = max(abs(loop[k] - new[k]) for k in loop)
    print(f"scoring stage, {len(pairs)} pairs x {len(scores)} detectors (those that scored every pair), "
          f"{len(np.unique(g))} teachers:")
    print(f"  per-call path (sklearn, {n_calls} roc_auc_score calls; headline + paired only): {t_loop:8.2f} s")
    print(f"  scorer (vectorised; also conditions, calibration, ranks):              {t_new:8.2f} s")
    print(f"  largest difference between their {len(loop)} numbers: {worst:.1e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, help="workspace whose built suite to use (read only)")
    parser.add_argument("--suite", default="standard")
    parser.add_argument("--detector", action="append", default=[], help="only these detectors (default: all)")
    parser.add_argument("--no-cold", action="store_true", help="skip the cold run (every detector runs: minutes)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="distillbench-scoring-") as tmp:
        ws = scratch_workspace(args.home, args.suite, Path(tmp))
        print(f"== scoring benchmark: suite {args.suite}, scratch workspace {ws} ==")
        if args.home is None:
            t, _ = evaluate(ws, args.suite, ["random"])
            print(f"install the published bundle + evaluate random: {t:.1f} s (once per workspace)")
        rows = []
        if not args.no_cold:
            t, out = evaluate(ws, args.suite, args.detector, "--no-cache")
            rows.append(("cold: --no-cache (every detector runs)", t, *phases(out)))
        for label in ("warm, first (file hashes memoised now)" if args.no_cold else "warm, first", "warm, again"):
            t, out = evaluate(ws, args.suite, args.detector)
            cached = out.count("pairs cached")
            rows.append((f"{label} ({cached} cached)", t, 0.0 if cached else phases(out)[0], phases(out)[1]))
        print(f"`distillbench evaluate {'--all' if not args.detector else ' '.join('--detector ' + d for d in args.detector)}`:")
        print(f"  {'run':48s} {'wall s':>8s} {'detectors ran s':>16s} {'scoring s':>10s} {'rest s':>8s}")
        for label, wall, ran, scored in rows:
            print(f"  {label:48s} {wall:8.1f} {ran:16.1f} {scored:10.1f} {wall - ran - scored:8.1f}")
        scoring_stage(ws, args.suite)


if __name__ == "__main__":
    main()
