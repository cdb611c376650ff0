"""The baseline detectors; importing this package registers them."""

from distillbench.detect.baselines import (  # noqa: F401
    cross_likelihood,
    identity,
    idiosyncrasy,
    membership,
    random_score,
    representation,
    response_similarity,
    token_agreement,
    watermark,
)
