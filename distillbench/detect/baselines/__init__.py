"""The baseline detectors; importing this package registers them."""

from distillbench.detect.baselines import (  # noqa: F401
    cross_likelihood,
    identity,
    idiosyncrasy,
    idiosyncrasy_sampled,
    membership,
    provenance,
    random_score,
    representation,
    response_similarity,
    shared_errors,
    token_agreement,
    watermark,
)
