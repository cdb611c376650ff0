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
    aurocs = [d.auroc for d in results.detectors]
    assert aurocs == sorted(aurocs, reverse=True)
    for d in results.detectors:
        assert d.auroc_ci[0] <= d.auroc <= d.auroc_ci[1]
    with pytest.raises(ValueError):
        Results.model_validate({**json.loads((micro_home / "suites/micro/results.json").read_text()), "extra": 1})
