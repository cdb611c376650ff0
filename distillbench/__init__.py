"""DistillBench: a benchmark for detecting whether a student language model was distilled from a teacher.

Stages, one subpackage each: `zoo` (build models and labelled pairs) -> `probe` (lm-eval evidence) -> `evidence`
(store and label-free views) -> `detect` -> `score` -> `publish` (the site); `submission` runs submitted
detectors contained. `cli` ties them together.
"""

import os

# Nothing in the default path may reach the network (the zoo is built locally, probes read local directories).
# Set before transformers, datasets or huggingface_hub are imported anywhere; an explicit setting wins.
for _var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
