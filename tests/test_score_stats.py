"""The score stage's statistics, piece by piece: vectorised metrics against scikit-learn and brute force, the
leave-one-teacher-out jackknife, paired comparisons with Holm, ranks and tie groups, resolution, calibration, the
comparator rows, abstentions end to end, and the speed of scoring a 48-teacher split."""

from __future__ import annotations

import time
import types

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score, roc_curve

from distillbench.detect.base import Verdict
from distillbench.detect.runner import PairVerdict, VerdictFile
from distillbench.evidence.view import opaque_pair_id
from distillbench.score.calibration import calibrated_fpr_range, calibration, intraclass_correlation
from distillbench.score.comparator import condition_kinds, condition_rows
from distillbench.score.jackknife import (
    auroc_leave_one_out,
    jackknife_ci,
    jackknife_se,
    mann_whitney_by_cluster,
    threshold_leave_one_out,
)
from distillbench.score.metrics import auroc_score, threshold_at_fpr, tpr_at_fpr_score
from distillbench.score.paired import CROSS_TRACK, holm, mdd, paired_analysis
from distillbench.score.results import (
    COMPARATOR_TEXT,
    Results,
    comparator_table,
    comparison_matrix,
    ranked_table,
    resolution_lines,
    score,
)
from distillbench.zoo.manifest import PairRecord


def _tied(rng, n, levels=7):
    """Scores with many ties (few distinct values), and labels with both classes."""
    y = rng.integers(0, 2, n)
    y[:2] = [0, 1]
    return y, rng.integers(0, levels, n).astype(float) + 0.5 * y * rng.integers(0, 2, n)


@pytest.mark.parametrize("seed", range(6))
def test_auroc_equals_sklearn_with_ties(seed):
    rng = np.random.default_rng(seed)
    y, s = _tied(rng, int(rng.integers(5, 400)))
    assert auroc_score(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    s2 = rng.normal(size=y.size)
    assert auroc_score(y, s2) == pytest.approx(roc_auc_score(y, s2), abs=1e-12)


def _tpr_by_roc_scan(y, s, max_fpr):
    fpr, tpr, _ = roc_curve(y, s)
    return float(tpr[fpr <= max_fpr + 1e-12].max())


@pytest.mark.parametrize("seed", range(6))
def test_tpr_at_fpr_equals_a_scan_of_sklearns_roc_curve(seed):
    rng = np.random.default_rng(100 + seed)
    y, s = _tied(rng, int(rng.integers(20, 500)), levels=int(rng.integers(3, 40)))
    for max_fpr in (0.0, 0.01, 0.05, 0.1, 0.5):
        assert tpr_at_fpr_score(y, s, max_fpr) == _tpr_by_roc_scan(y, s, max_fpr)
        thr = threshold_at_fpr(s[y == 0], max_fpr)
        assert np.mean(s[y == 0] > thr) <= max_fpr + 1e-12


def _clustered(rng, G, n_pos=3, n_neg=6, ties=False):
    g = np.repeat(np.arange(G), n_pos + n_neg)
    y = np.tile(np.r_[np.ones(n_pos, int), np.zeros(n_neg, int)], G)
    s = y * 0.7 + rng.normal(0, 0.5, G)[g] + rng.normal(size=g.size)
    return y, (np.round(s) if ties else s), g


@pytest.mark.parametrize("ties", [False, True])
def test_cluster_mann_whitney_and_leave_one_out_match_brute_force(ties):
    rng = np.random.default_rng(7)
    G = 6
    y, s, g = _clustered(rng, G, ties=ties)
    u, n_pos, n_neg = mann_whitney_by_cluster(y, s, g, G)
    for a in range(G):
        for b in range(G):
            sp, sn = s[(g == a) & (y == 1)][:, None], s[(g == b) & (y == 0)][None, :]
            assert u[a, b] == pytest.approx(np.sum(sp > sn) + 0.5 * np.sum(sp == sn))
    full, loo = auroc_leave_one_out(y, s, g, G)
    assert full == pytest.approx(roc_auc_score(y, s))
    for k in range(G):
        assert loo[k] == pytest.approx(roc_auc_score(y[g != k], s[g != k]))
    neg = y == 0
    thr = threshold_leave_one_out(s[neg], g[neg], G, 0.05)
    for k in range(G):
        assert thr[k] == threshold_at_fpr(s[neg & (g != k)], 0.05)


def test_jackknife_interval_uses_t_with_g_minus_1_and_needs_three_clusters():
    loo = np.array([0.76, 0.78, 0.75, 0.79])
    G = loo.size
    se = np.sqrt((G - 1) / G * np.sum((loo - loo.mean()) ** 2))
    assert jackknife_se(0.77, loo) == pytest.approx(se)
    lo, hi = jackknife_ci(0.77, loo)
    assert hi - 0.77 == pytest.approx(stats.t.ppf(0.975, G - 1) * se)
    assert jackknife_ci(0.99, loo)[1] == 1.0  # clipped to the metric's range
    assert jackknife_ci(0.7, np.array([0.6, 0.8])) is None
    assert jackknife_ci(0.7, np.array([0.6, np.nan, 0.8])) is None


def test_holm_adjusts_step_down():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert holm([]) == []


def _panel(rng, G=24, n_pos=8, n_neg=32):
    g = np.repeat(np.arange(G), n_pos + n_neg)
    y = np.tile(np.r_[np.ones(n_pos, int), np.zeros(n_neg, int)], G)
    base = rng.normal(0, 0.5, G)[g] + rng.normal(size=g.size)
    return y, g, base, [f"t{k:02d}" for k in g]


def test_paired_analysis_separates_a_clear_winner_and_ties_equal_methods():
    rng = np.random.default_rng(11)
    y, g, base, teachers = _panel(rng)
    same = y * 0.6 + base
    scores = {"strong": y * 3.0 + base, "twin-1": same, "twin-2": same + 1e-9 * rng.normal(size=y.size),
              "other-track": y * 0.6 + base}
    tracks = {"strong": "black-box", "twin-1": "black-box", "twin-2": "black-box", "other-track": "gray-box"}
    out = paired_analysis(y, teachers, scores, tracks)
    assert out.rank_ranges["strong"] == (1, 1)
    assert out.rank_ranges["twin-1"] == out.rank_ranges["twin-2"] == (2, 3)
    assert out.tie_groups["strong"] == 1 and out.tie_groups["twin-1"] == out.tie_groups["twin-2"] == 2
    assert out.rank_ranges["other-track"] == (1, 1) and out.tie_groups["other-track"] == 1
    by = {frozenset((c.a, c.b)): c for c in out.comparisons}
    c = by[frozenset(("strong", "twin-1"))]
    assert c.track == "black-box" and c.significant and c.df == 23 and c.n_pairs == y.size
    assert c.diff == pytest.approx(roc_auc_score(y, scores[c.a]) - roc_auc_score(y, scores[c.b]))
    # the SE is the jackknife SE of the difference itself
    loo = [roc_auc_score(y[g != k], scores[c.a][g != k]) - roc_auc_score(y[g != k], scores[c.b][g != k])
           for k in range(24)]
    assert c.se == pytest.approx(np.sqrt(23 / 24 * np.sum((np.array(loo) - np.mean(loo)) ** 2)))
    assert c.p_value == pytest.approx(2 * stats.t.sf(abs(c.diff) / c.se, 23))
    assert by[frozenset(("strong", "other-track"))].track == CROSS_TRACK
    # Holm within the black-box family: three comparisons there
    bb = [x for x in out.comparisons if x.track == "black-box"]
    assert len(bb) == 3 and [x.p_holm for x in bb] == pytest.approx(holm([x.p_value for x in bb]))
    res = out.resolution
    assert set(res.mdd_by_pair) == {f"{x.a}|{x.b}" for x in out.comparisons}
    assert res.mdd_by_pair[f"{c.a}|{c.b}"] == pytest.approx((stats.t.ppf(0.975, 23) + stats.t.ppf(0.8, 23)) * c.se)
    closest = min(bb, key=lambda x: abs(x.diff))
    assert res.mdd_closest_top4["black-box"] == pytest.approx(mdd(closest.se, closest.df))
    assert res.mdd_closest_top4["gray-box"] is None
    assert res.mdd_median == pytest.approx(np.median(list(res.mdd_by_pair.values())))


def test_tie_groups_open_where_the_head_of_the_group_is_separated():
    rng = np.random.default_rng(5)
    y, g, base, teachers = _panel(rng, G=40)
    # a ladder of small steps: neighbours are not separated, the ends are
    scores = {f"m{i}": y * (0.5 + 0.08 * i) + base + 0.6 * rng.normal(size=y.size) for i in range(6)}
    out = paired_analysis(y, teachers, scores, {m: "black-box" for m in scores})
    sig = {frozenset((c.a, c.b)) for c in out.comparisons if c.significant}
    order = sorted(scores, key=lambda m: -roc_auc_score(y, scores[m]))
    groups = [out.tie_groups[m] for m in order]
    assert groups == sorted(groups) and groups[0] == 1  # contiguous, numbered from the top
    assert 1 < max(groups) < len(order)  # the ladder is neither one group nor all apart
    assert any(a != b for a, b in out.rank_ranges.values())  # and some ranks are shared
    for m in order:
        head = next(h for h in order if out.tie_groups[h] == out.tie_groups[m])
        assert m == head or frozenset((m, head)) not in sig
    for m in order[1:]:  # a new group opens only where the previous group's head is separated from m
        prev = order[order.index(m) - 1]
        if out.tie_groups[m] != out.tie_groups[prev]:
            head = next(h for h in order if out.tie_groups[h] == out.tie_groups[prev])
            assert frozenset((m, head)) in sig
    for m in order:
        best, worst = out.rank_ranges[m]
        better = sum(frozenset((m, o)) in sig and roc_auc_score(y, scores[o]) > roc_auc_score(y, scores[m])
                     for o in order)
        assert best == 1 + better and best <= worst <= len(order)


def test_paired_analysis_uses_only_pairs_both_scored():
    rng = np.random.default_rng(3)
    y, g, base, teachers = _panel(rng, G=12)
    a, b = y * 1.0 + base, y * 0.5 + base + rng.normal(size=y.size)
    scored_b = g % 3 != 0
    out = paired_analysis(y, teachers, {"a": a, "b": b}, {"a": "x", "b": "x"}, scored={"b": scored_b})
    (c,) = out.comparisons
    assert c.n_pairs == scored_b.sum() and c.df == 7  # 8 teachers left among the common pairs
    sign = 1 if c.a == "a" else -1
    assert c.diff == pytest.approx(sign * (roc_auc_score(y[scored_b], a[scored_b]) - roc_auc_score(y[scored_b], b[scored_b])))


def test_paired_analysis_with_two_teachers_states_no_test():
    rng = np.random.default_rng(1)
    y, g, base, teachers = _panel(rng, G=2)
    out = paired_analysis(y, teachers, {"a": y * 5.0 + base, "b": base, "c": base}, {"a": "x", "b": "x", "c": "x"})
    assert all(c.se is None and c.p_holm is None and not c.significant for c in out.comparisons)
    assert set(out.rank_ranges.values()) == {(1, 3)} and set(out.tie_groups.values()) == {1}
    assert out.resolution.mdd_median is None and out.resolution.mdd_closest_top4 == {"x": None}


def test_calibrated_range_is_binomial_without_correlation_and_wider_with_it():
    sizes = np.full(40, 8)
    lo, hi = calibrated_fpr_range(sizes, 0.0)
    n = sizes.sum()
    assert lo == pytest.approx(stats.binom.ppf(0.025, n, 0.05) / n, abs=2 / n)
    assert hi == pytest.approx(stats.binom.ppf(0.975, n, 0.05) / n, abs=2 / n)
    lo2, hi2 = calibrated_fpr_range(sizes, 0.5)
    assert hi2 - lo2 > 1.5 * (hi - lo)
    assert calibrated_fpr_range(sizes, 0.5) == (lo2, hi2)  # seeded


def test_intraclass_correlation_recovers_a_known_value():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(300), 10)
    for rho in (0.0, 0.3, 0.7):
        x = np.sqrt(rho) * rng.normal(size=300)[groups] + np.sqrt(1 - rho) * rng.normal(size=groups.size)
        assert intraclass_correlation(x, groups) == pytest.approx(rho, abs=0.06)


def test_calibration_counts_only_negatives_with_a_p_value():
    p = np.array([0.01, 0.5, np.nan, 0.02, 0.9, np.nan, 0.3, 0.04])
    teachers = np.array(["a", "a", "a", "b", "b", "c", "c", "c"])
    types = np.array(["same-data", "other-teacher", "other-teacher", "other-teacher", "same-data", "independent",
                      "independent", "other-teacher"])
    cal = calibration(p, teachers, types)
    assert cal.n_negatives_with_p == 6 and cal.fpr_at_p05 == pytest.approx(3 / 6)
    assert cal.by_teacher == {"a": (0.5, 2), "b": (0.5, 2), "c": (0.5, 2)}
    assert cal.by_negative_type == {"same-data": (0.5, 2), "other-teacher": (2 / 3, 3), "independent": (0.0, 1)}
    lo, hi = cal.expected_range
    assert 0.0 <= lo <= 0.05 <= hi <= 1.0
    none = calibration(np.full(3, np.nan), teachers[:3], types[:3])
    assert none.fpr_at_p05 is None and none.expected_range is None and none.n_negatives_with_p == 0


def test_condition_kinds_tell_teacher_tags_from_student_conditions():
    labels = [1, 0, 0, 0, 1, 0]
    teachers = ["a", "a", "a", "a", "b", "b"]
    conds = [["seq_distill", "dose-25", "teacher-gpt2"], ["same-data", "teacher-gpt2"],
             ["other-teacher", "dose-25", "teacher-gpt2"], ["independent", "clean-finetune", "teacher-gpt2"],
             ["logit_distill", "teacher-llama"], ["weight-sharing", "teacher-llama"]]
    kinds = condition_kinds(labels, teachers, conds)
    assert kinds == {"seq_distill": "positive", "dose-25": "positive", "logit_distill": "positive",
                     "same-data": "negative", "other-teacher": "negative", "independent": "negative",
                     "clean-finetune": "negative", "weight-sharing": "negative",
                     "teacher-gpt2": "tag", "teacher-llama": "tag"}


def test_condition_rows_use_one_global_threshold_and_matched_negatives():
    # Three teachers; negatives 0..19 per teacher-ish; a dose-5 positive that sits below the 5%-FPR threshold but
    # above its own teacher's same-data negative in one teacher only.
    y, s, g, conds = [], [], [], []

    def add(label, score, teacher, c):
        y.append(label), s.append(score), g.append(teacher), conds.append(c)

    for k in range(3):
        tag = f"teacher-{k}"
        add(1, 10.0 + k, k, ["seq_distill", "dose-100", tag])
        add(1, [0.5, 2.0, 0.1][k], k, ["seq_distill", "dose-5", tag])
        add(0, 1.0, k, ["same-data", tag])
        add(0, 0.0, k, ["weight-sharing", tag])
        for j in range(16):
            add(0, j / 10, k, ["other-teacher", tag])
    y, s, g = np.array(y), np.array(s), np.array(g)
    kinds = condition_kinds(y.tolist(), [f"t{k}" for k in g], conds)
    rows, thr = condition_rows(y, s, np.full(y.size, np.nan), g, 3, conds, kinds)
    neg = np.sort(s[y == 0])[::-1]
    assert thr == neg[int(np.floor(0.05 * neg.size))]  # the (k+1)-th highest of all 54 negatives
    assert rows["dose-100"].detected_at_threshold == 1.0 and rows["dose-100"].n_pairs == 3
    assert rows["dose-5"].detected_at_threshold == pytest.approx(np.mean(np.array([0.5, 2.0, 0.1]) > thr))
    assert rows["dose-5"].detected_at_p05 is None
    # within teacher: dose-5 beats its same-data negative (1.0) only in teacher 1; beats weight-sharing (0.0) always
    assert rows["dose-5"].matched_auroc_same_data == pytest.approx(1 / 3)
    assert rows["dose-5"].matched_auroc_weight_sharing == 1.0
    assert rows["same-data"].kind == "negative" and rows["same-data"].fpr_at_threshold == 0.0
    assert rows["other-teacher"].fpr_at_threshold == pytest.approx(np.mean(s[(y == 0) & (np.array(
        [c[0] for c in conds]) == "other-teacher")] > thr))
    assert rows["teacher-0"].kind == "tag" and rows["teacher-0"].auroc is not None and rows["teacher-0"].ci is None
    assert rows["dose-5"].ci is not None and rows["dose-5"].ci[0] <= rows["dose-5"].detected_at_threshold


# ---- end to end: score() on a synthetic suite ----

POSITIVE = ["dose-100", "dose-25", "dose-5", "laundered", "other-tokenizer", "paraphrase", "temperature"]


def synthetic_suite(G: int, n_other: int = 24, n_independent: int = 6):
    """A suite shaped like the standard design: per teacher 8 positives, same-data, weight-sharing, other-teacher
    (carrying the other student's tags) and independent negatives."""
    fam = ["teacher-gpt2", "teacher-llama", "teacher-neox"]
    pairs = []
    for k in range(G):
        t, tag = f"teacher-{k:02d}", fam[k % 3]
        for c in POSITIVE:
            pairs.append(PairRecord(pair_id=f"{t}__{c}", teacher=t, student=f"{t}-{c}", label=1,
                                    conditions=["seq_distill", c, tag], shares_weights_with_teacher=False))
        pairs.append(PairRecord(pair_id=f"{t}__logit", teacher=t, student=f"{t}-logit", label=1,
                                conditions=["logit_distill", tag], shares_weights_with_teacher=False))
        pairs.append(PairRecord(pair_id=f"{t}__sd", teacher=t, student=f"{t}-sd", label=0,
                                conditions=["same-data", tag], shares_weights_with_teacher=False))
        pairs.append(PairRecord(pair_id=f"{t}__ws", teacher=t, student=f"{t}-ws", label=0,
                                conditions=["weight-sharing", tag], shares_weights_with_teacher=True))
        for j in range(n_other):
            pairs.append(PairRecord(pair_id=f"{t}__o{j}", teacher=t, student=f"o{j}", label=0,
                                    conditions=["other-teacher", POSITIVE[j % 7], tag], shares_weights_with_teacher=False))
        for j in range(n_independent):
            pairs.append(PairRecord(pair_id=f"{t}__i{j}", teacher=t, student=f"i{j}", label=0,
                                    conditions=["independent"] + (["clean-finetune"] if j == 0 else []) + [tag],
                                    shares_weights_with_teacher=False))
    return types.SimpleNamespace(suite="synth", pairs=pairs)


def synthetic_verdicts(manifest, n_detectors: int, seed: int = 0, abstain_every_other_teacher: str | None = None,
                       fail: int = 0):
    rng = np.random.default_rng(seed)
    y = np.array([p.label for p in manifest.pairs])
    g = np.unique([p.teacher for p in manifest.pairs], return_inverse=True)[1]
    tracks = ["black-box", "gray-box", "white-box", "teacher-side"]
    out = []
    for d in range(n_detectors):
        name = f"det{d}"
        s = y * (0.3 + 0.25 * d) + rng.normal(0, 0.5, g.max() + 1)[g] + rng.normal(size=y.size)
        p = stats.norm.sf(s)
        vs = []
        for i, pr in enumerate(manifest.pairs):
            pid = opaque_pair_id(manifest.suite, pr.pair_id)
            if name == abstain_every_other_teacher and g[i] % 2:
                v = Verdict.abstain()
                vs.append(PairVerdict(pair_id=pid, score=v.score, p_value=v.p_value, abstained=v.abstained))
            elif d == 0 and i < fail:
                vs.append(PairVerdict(pair_id=pid, score=None, p_value=None, error="boom"))
            else:
                vs.append(PairVerdict(pair_id=pid, score=float(s[i]), p_value=float(p[i])))
        out.append(VerdictFile(suite=manifest.suite, split="dev", detector=name, access=tracks[d % 4],
                               evidence_sha256="e" * 64, seconds=0.0, verdicts=vs))
    return out


@pytest.fixture
def manifest_file(tmp_path):
    path = tmp_path / "manifest.json"
    path.write_text("{}")
    return path


def test_score_leaves_abstentions_out_and_counts_failures_against(manifest_file):
    manifest = synthetic_suite(12)
    vfs = synthetic_verdicts(manifest, 4, abstain_every_other_teacher="det3", fail=5)
    results = score(manifest, manifest_file, vfs)
    Results.model_validate_json(results.model_dump_json())  # the schema round-trips
    by = {d.detector: d for d in results.detectors}
    n = len(manifest.pairs)
    assert results.intervals == {"method": "teacher-jackknife", "level": 0.95, "clusters": 12}
    w = by["det3"]
    assert w.n_abstained == n // 2 and w.coverage == pytest.approx(0.5) and w.overall.n_pairs == n // 2
    kept = [i for i, p in enumerate(results.pairs) if not p.abstained["det3"]]
    y = np.array([results.pairs[i].label for i in kept])
    s = np.array([results.pairs[i].scores["det3"] for i in kept])
    assert w.overall.auroc == pytest.approx(roc_auc_score(y, s))
    assert w.calibration.n_negatives_with_p == int((y == 0).sum())
    assert all(p.abstained["det3"] == (p.scores["det3"] == 0.0 and p.p_values["det3"] is None)
               for p in results.pairs)
    f = by["det0"]
    assert f.n_failed == 5 and f.coverage == pytest.approx((n - 5) / n) and f.overall.n_pairs == n
    for d in results.detectors:
        assert d.overall.auroc_ci is not None and d.overall.tpr_at_5pct_fpr_ci is not None
        assert d.overall.auroc_ci[0] <= d.overall.auroc <= d.overall.auroc_ci[1]
        assert set(d.conditions) >= {"dose-5", "same-data", "weight-sharing", "teacher-gpt2"}
        assert d.conditions["dose-5"].kind == "positive" and d.conditions["dose-5"].n_pairs <= 12
        assert d.conditions["clean-finetune"].kind == "negative"
        assert d.calibration.expected_range is not None
    # det3 abstains: its comparisons are on the pairs both scored
    for c in results.comparisons:
        assert c.n_pairs == (n // 2 if "det3" in (c.a, c.b) else n)
    tracks = {d.detector: d.access for d in results.detectors}
    assert all((c.track == CROSS_TRACK) == (tracks[c.a] != tracks[c.b]) for c in results.comparisons)


def test_score_with_two_teachers_states_no_interval(manifest_file):
    manifest = synthetic_suite(2, n_other=4, n_independent=2)
    results = score(manifest, manifest_file, synthetic_verdicts(manifest, 3))
    for d in results.detectors:
        assert d.overall.auroc_ci is None and d.overall.tpr_at_5pct_fpr_ci is None
        assert all(r.ci is None for r in d.conditions.values())
    assert all(c.se is None and not c.significant for c in results.comparisons)
    assert results.resolution.mdd_median is None
    text = "\n".join([ranked_table(results), comparison_matrix(results), resolution_lines(results),
                      comparator_table(results)])
    assert "n/a" in text and "fewer than 3 teachers" in text


def test_a_detector_that_abstains_on_every_positive_is_named_not_crashed(manifest_file):
    manifest = synthetic_suite(4, n_other=3, n_independent=1)
    vfs = synthetic_verdicts(manifest, 2)
    vs = [PairVerdict(pair_id=v.pair_id, score=0.0, p_value=None, abstained=True) if p.label == 1 else v
          for v, p in zip(vfs[1].verdicts, manifest.pairs)]
    vfs[1] = vfs[1].model_copy(update={"verdicts": vs})
    results = score(manifest, manifest_file, vfs)
    d = next(r for r in results.detectors if r.detector == "det1")
    assert d.degenerate == "no scored positive pair" and d.overall.auroc == 0.5 and d.overall.auroc_ci is None


def test_text_output_shows_ranks_matrix_resolution_and_comparator(manifest_file):
    manifest = synthetic_suite(12)
    results = score(manifest, manifest_file, synthetic_verdicts(manifest, 8))
    table = ranked_table(results)
    assert "leave-one-teacher-out jackknife, t(11)" in table and "coverage" in table
    matrix = comparison_matrix(results)
    assert "black-box:" in matrix and "(p=" in matrix
    sig = [c for c in results.comparisons if c.significant and c.track != CROSS_TRACK]
    assert sig and "*" in matrix
    assert "closest pair among top four of black-box: MDD 0." in resolution_lines(results)
    comp = comparator_table(results)
    assert "same-data" in comp and "dose-5" in comp and "Within-teacher matched AUROC" in comp
    assert "leave-one-teacher-out jackknife with t(G-1)" in COMPARATOR_TEXT


def test_scoring_a_48_teacher_split_takes_seconds(manifest_file):
    manifest = synthetic_suite(48)
    vfs = synthetic_verdicts(manifest, 10, abstain_every_other_teacher="det9")
    start = time.perf_counter()
    results = score(manifest, manifest_file, vfs)
    seconds = time.perf_counter() - start
    assert len(results.pairs) == 48 * 40 and len(results.comparisons) == 45
    # ~1 s on an idle 2-core machine; the bound only catches a return to resampling (the bootstrap took minutes)
    assert seconds < 20, f"scoring 1920 pairs x 10 detectors took {seconds:.1f}s"


def test_abstaining_verdicts_carry_no_p_value():
    v = Verdict.abstain()
    assert (v.score, v.p_value, v.abstained) == (0.0, None, True)
    with pytest.raises(ValueError, match="no p-value"):
        Verdict(score=0.0, p_value=0.5, abstained=True)


def test_abstentions_pass_through_the_submission_protocol():
    from distillbench.submission.protocol import parse_reply
    from distillbench.submission.worker import score_one

    class Abstains:
        def score(self, pair):
            return Verdict.abstain()

    pair = types.SimpleNamespace(pair_id="p1")
    reply = score_one(Abstains(), pair)
    assert reply.abstained and reply.error is None
    assert parse_reply(reply.model_dump_json().encode(), "p1") == (0.0, None, True)
    bad = reply.model_copy(update={"p_value": 0.2}).model_dump_json().encode()
    assert "abstention carries no p-value" in parse_reply(bad, "p1")
    sneaky = Verdict.model_construct(score=0.0, p_value=0.2, abstained=True)
    assert "expected Verdict.abstain()" in score_one(types.SimpleNamespace(score=lambda p: sneaky), pair).error


def test_auroc_is_the_exact_mann_whitney_fraction_that_sklearn_rounds():
    """The rank form is exact (rank sums are half-integers), so it equals U / (P N) rounded once; scikit-learn's
    trapezoid sum can be a few ulps off it, never more."""
    from fractions import Fraction

    for seed in range(40):
        rng = np.random.default_rng(seed)
        y, s = _tied(rng, int(rng.integers(5, 300)), levels=int(rng.integers(2, 30)))
        pos, neg = s[y == 1], s[y == 0]
        u = sum(Fraction(int((p > neg).sum())) + Fraction(int((p == neg).sum()), 2) for p in pos)
        assert auroc_score(y, s) == float(u / (pos.size * neg.size))
        assert abs(auroc_score(y, s) - roc_auc_score(y, s)) <= 1e-12


def _loop_reference(y, s, g, G):
    """The scorer's headline numbers the slow way: one scikit-learn call per AUROC and per left-out teacher."""
    full = roc_auc_score(y, s)
    ks = [k for k in range(G) if (g == k).any()]
    loo = np.array([roc_auc_score(y[g != k], s[g != k]) for k in ks])
    se = np.sqrt((len(ks) - 1) / len(ks) * np.sum((loo - loo.mean()) ** 2))
    half = stats.t.ppf(0.975, len(ks) - 1) * se
    fpr, tpr, _ = roc_curve(y, s)
    return full, (max(0.0, full - half), min(1.0, full + half)), float(tpr[fpr <= 0.05 + 1e-12].max()), loo


def test_score_equals_a_loop_of_sklearn_calls_on_a_48_teacher_split(manifest_file):
    """The vectorised scorer gives the numbers the per-call path gives: AUROC, its jackknife interval, TPR at 5%
    FPR, and every paired difference with its jackknife SE."""
    manifest = synthetic_suite(48, n_other=6, n_independent=3)
    vfs = synthetic_verdicts(manifest, 4, seed=5)
    results = score(manifest, manifest_file, vfs)
    y = np.array([p.label for p in manifest.pairs])
    g = np.unique([p.teacher for p in manifest.pairs], return_inverse=True)[1]
    loo_of = {}
    for vf in vfs:
        s = np.array([v.score for v in vf.verdicts])
        full, ci, tpr5, loo_of[vf.detector] = _loop_reference(y, s, g, 48)
        got = next(d for d in results.detectors if d.detector == vf.detector).overall
        assert got.auroc == pytest.approx(full, abs=1e-12) and got.tpr_at_5pct_fpr == tpr5
        assert got.auroc_ci == pytest.approx(ci, abs=1e-12)
    for c in results.comparisons:
        d = loo_of[c.a] - loo_of[c.b]
        assert c.se == pytest.approx(np.sqrt(47 / 48 * np.sum((d - d.mean()) ** 2)), abs=1e-12)
        sa = np.array([v.score for v in next(vf for vf in vfs if vf.detector == c.a).verdicts])
        sb = np.array([v.score for v in next(vf for vf in vfs if vf.detector == c.b).verdicts])
        assert c.diff == pytest.approx(roc_auc_score(y, sa) - roc_auc_score(y, sb), abs=1e-12)
