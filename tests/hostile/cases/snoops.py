"""Tries to read the labels, the evidence, the workspace and the secret, and reports what it got."""

import os


def misbehave(pair, config):
    outcomes = [f"env={os.environ.get('DISTILLBENCH_TEST_SECRET')}"]
    for key in ("manifest", "secret_file", "evidence_dir", "home"):
        path = config[key]
        try:
            os.listdir(path) if os.path.isdir(path) else open(path).read()
            outcomes.append(f"{key}=READ")
        except OSError as exc:
            outcomes.append(f"{key}={type(exc).__name__}")
    try:
        environ = open("/proc/1/environ").read()
        outcomes.append("proc1=" + ("SECRET" if "DISTILLBENCH" in environ else "no-secret"))
    except OSError as exc:
        outcomes.append(f"proc1={type(exc).__name__}")
    raise RuntimeError("snoop: " + " ".join(outcomes))
