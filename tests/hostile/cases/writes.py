"""Tries to overwrite a results file, create one, and write into its own folder."""

def misbehave(pair, config):
    outcomes = []
    for key, path in (("overwrite", config["existing"]), ("create", config["new"]), ("own", "/submission/evil.py")):
        try:
            with open(path, "w") as fh:
                fh.write("{}")
            outcomes.append(f"{key}=WROTE")
        except OSError as exc:
            outcomes.append(f"{key}={type(exc).__name__}")
    raise RuntimeError("write: " + " ".join(outcomes))
