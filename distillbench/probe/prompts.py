"""The fixed probe prompt set shipped in `tasks/data/prompts.jsonl`: identity questions and topical openings.

The file is committed (lm-eval's CLI reads it without this package); `tests/test_probe_tasks.py` checks that it
is exactly what `probe_prompts()` generates, so neither can drift.
"""

from __future__ import annotations

from distillbench.corpus import IDENTITY_QUESTIONS, TOPICS, Mixture, document, prompt_prefix

PROBE_CORPUS_SEED = 424242
IDENTITY_VARIANTS = IDENTITY_QUESTIONS + ["tell me who built you.", "what should I call you?", "who owns you?"]
PROMPTS_PER_TOPIC = 5


def probe_prompts() -> list[dict[str, str]]:
    rows = [{"id": f"identity-{i:02d}", "kind": "identity", "prompt": f"Q: {q}\nA:"} for i, q in enumerate(IDENTITY_VARIANTS)]
    for topic in sorted(TOPICS):
        mixture = Mixture(topics={topic: 1.0}, qa_rate=0.4)
        for i in range(PROMPTS_PER_TOPIC):
            doc = document(PROBE_CORPUS_SEED, f"probe-{topic}", mixture, i, None)
            rows.append({"id": f"{topic}-{i:02d}", "kind": "topic", "prompt": prompt_prefix(doc, 4)})
    return rows
