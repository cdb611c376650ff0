"""`distillbench submission new <slug>`: a working submission to start from, copied from `submissions/_template/`.

Takes a slug (and optionally a display name); produces `submissions/<slug>/` with `submission.yaml`,
`detector.py` and `README.md`, which validates as it stands: edit the metadata and the `score` method, then run
`distillbench submission validate submissions/<slug>`.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from distillbench.errors import DistillBenchError
from distillbench.submission.schema import SLUG_RE, SUBMISSION_FILE

# The template's own values, replaced in the copy; the template must hold each exactly once, at a line's start.
TEMPLATE_SLUG = "slug: example-detector"
TEMPLATE_NAME = "name: Example detector"


def template_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "submissions" / "_template"


def new_submission(slug: str, submissions_dir: Path, name: str | None = None, template: Path | None = None) -> Path:
    if not re.match(SLUG_RE, slug):
        raise DistillBenchError(f"slug {slug!r} is not valid: expected 3-40 lowercase letters, digits and hyphens, "
                                "starting and ending with a letter or digit (e.g. my-detector)")
    template = template or template_dir()
    if not (template / SUBMISSION_FILE).is_file():
        raise DistillBenchError(f"submission template not found at {template}; run from a DistillBench checkout")
    target = Path(submissions_dir) / slug
    if target.exists():
        raise DistillBenchError(f"{target} already exists; pick another slug or edit that submission")
    text = (template / SUBMISSION_FILE).read_text()
    for line in (TEMPLATE_SLUG, TEMPLATE_NAME):
        if len(re.findall(_line(line), text, flags=re.M)) != 1:
            raise DistillBenchError(f"template {template / SUBMISSION_FILE} must contain the line {line!r} exactly once")
    text = re.sub(_line(TEMPLATE_SLUG), lambda _: f"slug: {slug}", text, flags=re.M)
    if name is not None:
        text = re.sub(_line(TEMPLATE_NAME), lambda _: "name: " + _yaml_string(name), text, flags=re.M)
    shutil.copytree(template, target, ignore=shutil.ignore_patterns("__pycache__"))
    (target / SUBMISSION_FILE).write_text(text)
    return target


def _line(line: str) -> str:
    """The template line, possibly followed by a comment; only the value is replaced."""
    return rf"^{re.escape(line)}(?=\s|$)"


def _yaml_string(value: str) -> str:
    import json

    return json.dumps(value)  # a JSON string is a valid YAML scalar, whatever it contains
