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


# -- A suite's own probe prompts: chat and reasoning suites (issue 13) ----------------------------------------------
# The shipped prompts stay as they are for every suite without chat or reasoning teachers (their evidence cites the
# task files' fingerprints). A chat suite asks the same prompts in its teachers' template, the way its teacher API
# is asked; a suite with reasoning teachers adds reasoning tasks, so detectors see how students reason.
REASONING_PROBES = 24


def suite_probe_prompts(spec) -> list[dict[str, str]] | None:  # noqa: ANN001 (zoo.spec.SuiteSpec)
    """The probe prompts of a chat or reasoning suite; None for a suite that asks the shipped ones."""
    from distillbench.zoo import reasoning
    from distillbench.zoo.chat import suite_template

    template = suite_template(spec)
    reasons = reasoning.suite_reasons(spec)
    if template is None and not reasons:
        return None
    rows = probe_prompts()
    if reasons:
        rows += [{"id": f"reasoning-{i:02d}", "kind": "reasoning",
                  "prompt": reasoning.prompt(reasoning.PROBE_STREAM, PROBE_CORPUS_SEED, i)}
                 for i in range(REASONING_PROBES)]
    if template is not None:
        rows = [r | {"prompt": template.render(r["prompt"])} for r in rows]
    return rows


def write_suite_tasks(suite_dir, spec) -> None:  # noqa: ANN001 (Path, zoo.spec.SuiteSpec)
    """Give a chat or reasoning suite its own copy of the probe tasks, with its prompts as their data
    (`probe.tasks.SUITE_TASKS`); remove a stale copy from a suite that has none."""
    import shutil

    from distillbench.files import write_jsonl
    from distillbench.probe.tasks import SUITE_TASKS, tasks_dir

    rows = suite_probe_prompts(spec)
    target = suite_dir / SUITE_TASKS
    if rows is None:
        shutil.rmtree(target, ignore_errors=True)
        return
    shipped = tasks_dir()
    (target / "data").mkdir(parents=True, exist_ok=True)
    for path in sorted(shipped.iterdir()):
        if path.is_file() and path.suffix in {".yaml", ".py"}:
            shutil.copyfile(path, target / path.name)
    write_jsonl(target / "data" / "prompts.jsonl", rows)
