import json

import numpy as np
import pytest

from distillbench.errors import DistillBenchError
from distillbench.score.metrics import auroc_score, tpr_at_fpr_score
from distillbench.score.results import RESULTS_SCHEMA_VERSION, Results


def test_auroc_and_tpr_on_known_scores():
    y = np.array([0, 0, 0, 0, 1, 1])
    assert auroc_score(y, np.array([0.1, 0.2, 0.3, 0.4, 0.8, 0.9])) == 1.0
    s = np.array([0.1, 0.2, 0.3, 0.85, 0.8, 0.9])  # one negative outranks one positive
    assert auroc_score(y, s) == pytest.approx(7 / 8)
    assert tpr_at_fpr_score(y, s, 0.01) == 0.5
    assert tpr_at_fpr_score(y, s, 0.25) == 1.0


def test_metrics_reject_one_class_or_mismatched_inputs():
    with pytest.raises(DistillBenchError, match="both labels"):
        auroc_score(np.array([1, 1]), np.array([0.1, 0.2]))
    with pytest.raises(DistillBenchError, match="one score per label"):
        auroc_score(np.array([0, 1]), np.array([0.1]))


def test_jackknife_interval_brackets_the_estimate():
    from distillbench.score.jackknife import auroc_leave_one_out, jackknife_ci

    rng = np.random.default_rng(3)
    g = np.repeat(np.arange(8), 5)
    y = np.tile([1, 0, 0, 0, 0], 8)
    s = rng.normal(size=40) + y
    full, loo = auroc_leave_one_out(y, s, g, 8)
    lo, hi = jackknife_ci(full, loo)
    assert full == auroc_score(y, s) and lo < full < hi <= 1.0


def test_results_file_is_schema_valid_with_versions_and_hashes(micro_home):
    results = Results.model_validate_json((micro_home / "suites/micro/results.json").read_text())
    assert results.schema_version == RESULTS_SCHEMA_VERSION
    assert {"lm_eval", "torch", "transformers", "python"} <= set(results.versions)
    assert len(results.manifest_sha256) == 64 and len(results.evidence_sha256) == 64
    names = [d.detector for d in results.detectors]
    assert {"random", "cross_likelihood", "response_similarity"} <= set(names)
    aurocs = [d.overall.auroc for d in results.detectors]
    assert aurocs == sorted(aurocs, reverse=True)
    # two teachers: two clusters, so no interval and no paired test is stated
    assert results.intervals == {"method": "teacher-jackknife", "level": 0.95, "clusters": 2}
    assert all(c.se is None and not c.significant for c in results.comparisons)
    assert results.resolution.mdd_median is None
    for d in results.detectors:
        assert d.overall.auroc_ci is None and d.overall.tpr_at_5pct_fpr_ci is None
        assert 1 <= d.rank_range[0] <= d.rank_range[1] and d.tie_group == 1
        assert 0.0 <= d.coverage <= 1.0 and d.n_abstained + d.n_failed <= d.overall.n_pairs + d.n_abstained
        assert {"seq_distill", "logit_distill", "same-data", "other-teacher"} <= set(d.conditions)
        assert d.conditions["seq_distill"].kind == "positive" and d.conditions["same-data"].kind == "negative"
    random = next(d for d in results.detectors if d.detector == "random")
    assert random.overall.fpr_at_p05 is not None and random.calibration.expected_range is not None
    assert random.coverage == 1.0
    assert all(set(p.abstained) == set(names) for p in results.pairs)
    with pytest.raises(ValueError):
        Results.model_validate({**json.loads((micro_home / "suites/micro/results.json").read_text()), "extra": 1})


def test_paired_comparisons_cover_every_two_detectors(micro_home):
    results = Results.model_validate_json((micro_home / "suites/micro/results.json").read_text())
    names = [d.detector for d in results.detectors]
    comparable = set()  # two detectors are compared where the pairs both scored hold both labels
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            both = [p.label for p in results.pairs if not p.abstained[a] and not p.abstained[b]]
            if set(both) == {0, 1}:
                comparable.add(frozenset((a, b)))
    assert {frozenset((c.a, c.b)) for c in results.comparisons} == comparable and len(comparable) > 1
    tracks = {d.detector: d.access for d in results.detectors}
    for c in results.comparisons:
        assert c.track == (tracks[c.a] if tracks[c.a] == tracks[c.b] else "cross-track")


def test_degenerate_scores_are_named():
    from distillbench.score.metrics import degeneracy

    assert degeneracy(np.array([1.0, 1.0])) == "constant scores"
    assert degeneracy(np.array([1.0, np.nan])) == "non-finite scores"
    assert degeneracy(np.array([1.0, 2.0])) is None


def test_false_positive_rate_at_alpha_leaves_out_missing_p_values():
    from distillbench.score.metrics import false_positive_rate_at

    y = np.array([0, 0, 0, 0, 1])
    assert false_positive_rate_at(y, np.array([0.01, 0.5, 0.9, 0.2, 0.001])) == 0.25
    assert false_positive_rate_at(y, np.array([0.01, np.nan, 0.9, np.nan, 0.001])) == 0.5
    with pytest.raises(DistillBenchError, match="with a p-value"):
        false_positive_rate_at(y, np.array([np.nan] * 5))


def test_measured_cost_travels_from_verdicts_and_is_coarsened_on_the_hidden_split(tmp_path):
    from test_score_stats import synthetic_suite, synthetic_verdicts

    from distillbench.query.meter import Budget, CostSummary
    from distillbench.score.results import score
    from distillbench.submission.results import disclose, disclosed_bits_for

    manifest = synthetic_suite(4, n_other=3, n_independent=1)
    path = tmp_path / "manifest.json"
    path.write_text("{}")
    summary = CostSummary(budget=Budget.Q10K, queries_per_pair=1234.5, max_queries_per_pair=4321,
                          evidence_queries_per_pair=96.4, request_queries_per_pair={"student": 138.0, "teacher": 1000.1},
                          tokens_per_pair=98765.0, calls_per_pair=3.3, model_calls=17)
    vfs = synthetic_verdicts(manifest, 2)
    vfs[0] = vfs[0].model_copy(update={"cost": summary, "queries_per_pair": 1234})
    results = score(manifest, path, vfs)
    by = {d.detector: d for d in results.detectors}
    assert by["det0"].cost == summary and by["det0"].queries_per_pair == 1234
    # Not measured: no summary, and none in the file, so results signed before `cost` existed keep their hash.
    assert by["det1"].cost is None and "cost" not in by["det1"].model_dump() and "cost" in by["det0"].model_dump()
    assert Results.model_validate_json(results.model_dump_json()) == results
    # The hidden split publishes it (it says nothing about labels), what the detector's requests drive coarsened.
    shown = {d.detector: d for d in disclose(results, manifest.pairs).detectors}
    c = shown["det0"].cost
    assert c.budget is Budget.Q10K and c.evidence_queries_per_pair == 96.0
    assert c.request_queries_per_pair == {"student": 100.0, "teacher": 1000.0} and c.queries_per_pair == 1196.0
    assert (c.max_queries_per_pair, c.tokens_per_pair, c.calls_per_pair, c.model_calls) == (4000, 100000.0, 3.0, None)
    assert shown["det0"].queries_per_pair == 1196 and shown["det1"].cost is None
    # ... and counted in what one record can disclose, except at evidence-only (no requests: nothing to choose).
    assert disclosed_bits_for(1944, 25) <= 200 < disclosed_bits_for(1944, 25, Budget.Q10K)
