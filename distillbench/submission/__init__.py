"""Submissions by pull request: a detector in `submissions/<slug>/`, validated, run contained, re-scored.

The stage takes a submission folder (`submission.yaml` + detector code) and a built, probed suite; it produces a
signed results file per submission version and split. Modules, in the order a submission meets them:

    schema.py    the `submission.yaml` model (and the JSON Schema shown in CONTRIBUTING.md)
    folder.py    folder rules: slug, regular files only, size limits, entry point inside the folder; a snapshot
    suite.py     the built, probed suite a submission runs on (label-free evidence view)
    protocol.py  the messages between the benchmark and the contained worker
    worker.py    what runs inside the sandbox: loads the entry point, scores the pairs it is sent
    sandbox.py   contained execution: bubblewrap namespaces, uid drop, rlimits, per-pair and total time limits
    seccomp.py   the sandbox's system-call filter
    execute.py   runs a submission over a split's pairs (contained, or unsafely in-process for debugging)
    evaluate.py  a run scored against the labels, as an unsigned results record
    results.py   the results file: provenance, metrics, and a salted HMAC that exposes hand edits
    validate.py  `distillbench submission validate`
    rerun.py     `distillbench rerun` (maintainers)
    scaffold.py  `distillbench submission new`
    cli.py       the subcommands, hooked into `distillbench.cli`
"""

# Bump when a change to the zoo, probes, evidence view, scoring or containment can change a published number:
# `distillbench rerun` re-scores every results file written under an older benchmark version.
BENCHMARK_VERSION = "0.5.0"
