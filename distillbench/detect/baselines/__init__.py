"""The spine's baseline detectors; importing this package registers them."""

from distillbench.detect.baselines import cross_likelihood, random_score, response_similarity  # noqa: F401
