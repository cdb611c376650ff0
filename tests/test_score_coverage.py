"""Do the score stage's intervals and paired tests hold their level on this benchmark's cluster structure?

Detectors of known AUROC are simulated on a split shaped like the suite: 48 teachers, each with 8 positives and 32
negatives, and per-teacher random effects (a shift of all the teacher's scores, a shift of its positives, a shift
of its negatives) so that pairs of one teacher are correlated the way they are in the zoo. The true AUROC is the
pooled AUROC of a population of 20,000 such teachers. Every draw is seeded: the test is deterministic.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from scipy import stats
from scipy.stats import rankdata

from distillbench.score.jackknife import auroc_leave_one_out, jackknife_ci, threshold_leave_one_out
from distillbench.score.metrics import auroc_score, tpr_at_fpr_score
from distillbench.score.paired import paired_analysis

G, N_POS, N_NEG = 48, 8, 32
REPLICATIONS = 200


def draw(rng, n_teachers, shift, sd_teacher, sd_pos, sd_neg):
    g = np.repeat(np.arange(n_teachers), N_POS + N_NEG)
    y = np.tile(np.r_[np.ones(N_POS, int), np.zeros(N_NEG, int)], n_teachers)
    teacher = rng.normal(0, sd_teacher, n_teachers)[g]
    pos = rng.normal(0, sd_pos, n_teachers)[g]
    neg = rng.normal(0, sd_neg, n_teachers)[g]
    s = y * (shift + pos) + (1 - y) * neg + teacher + rng.normal(size=g.size)
    return y, s, g


def naive_interval(y, s):
    """DeLong's interval treating every pair as independent: what ignoring the teachers would give."""
    r_all = rankdata(s)
    pos, neg = y == 1, y == 0
    m, n = pos.sum(), neg.sum()
    auc = (r_all[pos].sum() - m * (m + 1) / 2) / (m * n)
    v10 = (r_all[pos] - rankdata(s[pos])) / n  # share of negatives below each positive
    v01 = 1 - (r_all[neg] - rankdata(s[neg])) / m  # share of positives above each negative
    se = np.sqrt(v10.var(ddof=1) / m + v01.var(ddof=1) / n)
    return auc - 1.96 * se, auc + 1.96 * se


SCENARIOS = {  # shift, sd of teacher / positive / negative effects
    "weak": (0.8, 0.5, 0.5, 0.3),
    "strong": (1.8, 0.7, 0.7, 0.5),
    "heavy-teacher-effects": (1.2, 1.0, 0.2, 0.8),
}


@functools.lru_cache(maxsize=None)
def coverage(name: str) -> tuple[float, float, float]:
    """Coverage of the 95% jackknife AUROC and TPR@5%FPR intervals, and of the unclustered AUROC interval."""
    params = SCENARIOS[name]
    rng = np.random.default_rng(sorted(SCENARIOS).index(name))
    y_pop, s_pop, _ = draw(rng, 20000, *params)
    truth, truth_tpr = auroc_score(y_pop, s_pop), tpr_at_fpr_score(y_pop, s_pop, 0.05)
    hits = hits_tpr = hits_naive = 0
    for _ in range(REPLICATIONS):
        y, s, g = draw(rng, G, *params)
        full, loo = auroc_leave_one_out(y, s, g, G)
        lo, hi = jackknife_ci(full, loo)
        hits += lo <= truth <= hi
        neg = y == 0
        thr = threshold_leave_one_out(s[neg], g[neg], G, 0.05)
        inside = g[~neg][None, :] != np.arange(G)[:, None]
        tpr_loo = ((s[~neg][None, :] > thr[:, None]) & inside).sum(axis=1) / inside.sum(axis=1)
        lo_t, hi_t = jackknife_ci(tpr_at_fpr_score(y, s, 0.05), tpr_loo)
        hits_tpr += lo_t <= truth_tpr <= hi_t
        lo_n, hi_n = naive_interval(y, s)
        hits_naive += lo_n <= truth <= hi_n
    return hits / REPLICATIONS, hits_tpr / REPLICATIONS, hits_naive / REPLICATIONS


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_jackknife_intervals_cover_the_true_auroc_in_each_scenario(name):
    auroc, tpr, naive = coverage(name)
    # 200 draws estimate a coverage to +-0.015 (one SE): each scenario alone is held to a looser bound than the pool
    assert 0.90 <= auroc <= 0.99, f"{name}: 95% jackknife AUROC intervals covered {auroc:.3f}"
    assert 0.90 <= tpr <= 0.99, f"{name}: 95% jackknife TPR@5%FPR intervals covered {tpr:.3f}"
    # The design is clustered enough to matter: intervals that ignore the teachers undercover.
    assert naive < 0.9, f"{name}: the unclustered interval covered {naive:.3f}"


def test_jackknife_intervals_cover_at_least_92_percent_over_all_scenarios():
    pooled = float(np.mean([coverage(name)[0] for name in SCENARIOS]))
    assert pooled >= 0.92, f"95% jackknife AUROC intervals covered {pooled:.3f} over {len(SCENARIOS)} scenarios"


@pytest.mark.parametrize("shared_noise", [0.0, 0.8])
def test_paired_test_of_two_equal_detectors_holds_its_level(shared_noise):
    """Two detectors with the same distribution (sharing the teacher effects and, in part, their noise): a test at
    0.05 must reject about 5% of the time."""
    rng = np.random.default_rng(17 + int(10 * shared_noise))
    g = np.repeat(np.arange(G), N_POS + N_NEG)
    y = np.tile(np.r_[np.ones(N_POS, int), np.zeros(N_NEG, int)], G)
    teachers = [f"teacher-{k:02d}" for k in g]
    rejected = []
    for _ in range(REPLICATIONS):
        common = rng.normal(0, 0.5, G)[g] + y * rng.normal(1.0, 0.5, G)[g]
        noise = rng.normal(size=g.size)

        def detector():
            own = y * rng.normal(0, 0.4, G)[g]  # how this detector's skill varies by teacher
            return common + own + np.sqrt(shared_noise) * noise + np.sqrt(1 - shared_noise) * rng.normal(size=g.size)

        out = paired_analysis(y, teachers, {"a": detector(), "b": detector()}, {"a": "black-box", "b": "black-box"})
        rejected.append(out.comparisons[0].p_value < 0.05)
    rate = float(np.mean(rejected))
    assert rate <= 0.08, f"two equal detectors were declared different in {rate:.3f} of the draws"
    # and the test is not trivially conservative: its p-values are roughly uniform under the null
    assert rate >= 0.01


def test_paired_test_has_power_against_a_real_difference():
    rng = np.random.default_rng(99)
    g = np.repeat(np.arange(G), N_POS + N_NEG)
    y = np.tile(np.r_[np.ones(N_POS, int), np.zeros(N_NEG, int)], G)
    teachers = [f"teacher-{k:02d}" for k in g]
    found, diffs = [], []
    for _ in range(60):
        common = rng.normal(0, 0.5, G)[g] + rng.normal(size=g.size)
        a = common + y * 1.3 + 0.5 * rng.normal(size=g.size)
        b = common + y * 1.0 + 0.5 * rng.normal(size=g.size)
        out = paired_analysis(y, teachers, {"a": a, "b": b}, {"a": "black-box", "b": "black-box"})
        c = out.comparisons[0]
        found.append(c.p_value < 0.05 and (c.diff > 0) == (c.a == "a"))
        diffs.append(abs(c.diff))
    # a ~0.05 AUROC gap with this much shared noise is found most of the time
    assert np.mean(found) >= 0.7, (np.mean(found), np.mean(diffs))


def test_the_t_quantile_matters_with_few_teachers():
    """With 6 teachers, t(5) is much wider than the normal: the jackknife uses it."""
    loo = np.array([0.80, 0.82, 0.78, 0.81, 0.79, 0.83])
    lo, hi = jackknife_ci(0.8, loo)
    se = np.sqrt(5 / 6 * np.sum((loo - loo.mean()) ** 2))
    assert (hi - lo) / 2 == pytest.approx(stats.t.ppf(0.975, 5) * se)
    assert (hi - lo) / 2 > 1.2 * 1.96 * se
