import json

import numpy as np
import pytest

from distillbench.errors import DistillBenchError
from distillbench.score.metrics import auroc_score, bootstrap_ci, tpr_at_fpr_score
from distillbench.score.results import Results


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


def test_bootstrap_interval_brackets_the_estimate_and_is_seeded():
    rng = np.random.default_rng(3)
    y = np.array([0] * 30 + [1] * 10)
    s = rng.normal(size=40) + y
    lo, hi = bootstrap_ci(y, s, auroc_score, 300, seed=0)
    assert lo < auroc_score(y, s) < hi and (lo, hi) == bootstrap_ci(y, s, auroc_score, 300, seed=0)


def test_results_file_is_schema_valid_with_versions_and_hashes(micro_home):
    results = Results.model_validate_json((micro_home / "suites/micro/results.json").read_text())
    assert {"lm_eval", "torch", "transformers", "python"} <= set(results.versions)
    assert len(results.manifest_sha256) == 64 and len(results.evidence_sha256) == 64
    names = [d.detector for d in results.detectors]
    assert {"random", "cross_likelihood", "response_similarity"} <= set(names)
    aurocs = [d.overall.auroc for d in results.detectors]
    assert aurocs == sorted(aurocs, reverse=True)
    for d in results.detectors:
        lo, hi = d.overall.auroc_ci
        assert 0.0 <= lo <= hi <= 1.0
        assert d.rank_range[0] <= d.rank_range[1]
        assert {"seq_distill", "logit_distill", "same-data", "other-teacher"} <= set(d.conditions)
    random = next(d for d in results.detectors if d.detector == "random")
    assert random.overall.fpr_at_p05 is not None
    with pytest.raises(ValueError):
        Results.model_validate({**json.loads((micro_home / "suites/micro/results.json").read_text()), "extra": 1})


def test_clustered_bootstrap_resamples_whole_teachers():
    y = np.array([1, 0, 0, 1, 0, 0, 1, 0, 0])
    s = np.array([0.9, 0.1, 0.2, 0.3, 0.4, 0.5, 0.8, 0.2, 0.1])
    teachers = ["a"] * 3 + ["b"] * 3 + ["c"] * 3
    lo, hi = bootstrap_ci(y, s, auroc_score, 500, seed=1, clusters=teachers)
    # Teacher b's positive is ranked below its negatives: some resamples draw b twice and score far lower.
    assert lo < 0.75 < hi <= 1.0
    with pytest.raises(DistillBenchError, match="both labels"):
        bootstrap_ci(np.array([1, 1, 1, 1]), s[:4], auroc_score, 10, seed=0, clusters=["a", "a", "b", "b"])


def test_rank_ranges_share_ranks_when_intervals_overlap():
    from distillbench.score.metrics import rank_ranges

    assert rank_ranges([(0.8, 0.9), (0.7, 0.85), (0.4, 0.6)]) == [(1, 2), (1, 2), (3, 3)]
    assert rank_ranges([(0.5, 0.5)]) == [(1, 1)]


def test_degenerate_scores_are_named():
    from distillbench.score.metrics import degeneracy

    assert degeneracy(np.array([1.0, 1.0])) == "constant scores"
    assert degeneracy(np.array([1.0, np.nan])) == "non-finite scores"
    assert degeneracy(np.array([1.0, 2.0])) is None


def test_false_positive_rate_at_alpha():
    from distillbench.score.metrics import false_positive_rate_at

    y = np.array([0, 0, 0, 0, 1])
    assert false_positive_rate_at(y, np.array([0.01, 0.5, 0.9, 0.2, 0.001])) == 0.25
