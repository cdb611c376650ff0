"""Static submission checks: every malformed or hostile folder is rejected with one clear message naming the field
or file, before any submitted code runs; metadata with HTML is accepted and kept as inert data."""

import json
import os
import re
import shlex
from pathlib import Path

import jinja2
import pytest
import yaml
from conftest import run_cli
from hostile import BASE_META, write_submission

from distillbench.detect.registry import available
from distillbench.errors import DistillBenchError
from distillbench.submission.folder import MAX_FILE_BYTES, SubmissionInvalid, load_submission
from distillbench.submission.scaffold import new_submission
from distillbench.submission.schema import json_schema_text

REPO = Path(__file__).resolve().parents[1]
DETECTOR = "class Hostile:\n    pass\n"


def _problems(folder) -> list[str]:
    with pytest.raises(SubmissionInvalid) as info:
        load_submission(folder)
    return info.value.problems


def _with(tmp_path, slug="bad-one", source=DETECTOR, **meta):
    return write_submission(tmp_path, slug, source, meta=meta)


def test_shipped_baseline_submissions_are_valid():
    found = sorted(p.name for p in (REPO / "submissions").iterdir() if p.is_dir() and not p.name.startswith("_"))
    assert {"random", "cross-likelihood", "response-similarity"} <= set(found)
    registered = set(available())
    for slug in found:
        sub = load_submission(REPO / "submissions" / slug)
        assert sub.slug == slug and sub.meta.entry_point.startswith("detector:")
        assert slug.replace("-", "_") in registered  # each re-exports the built-in detector of the same name
    assert {s.replace("-", "_") for s in found} == registered, "every built-in baseline ships as a submission"


def test_scaffold_makes_a_valid_submission(tmp_path):
    target = new_submission("my-detector", tmp_path, name='My "fast" <detector>')
    sub = load_submission(target)
    assert sub.meta.slug == "my-detector" and sub.meta.name == 'My "fast" <detector>'
    assert sorted(sub.files) == ["README.md", "detector.py", "submission.yaml"]
    with pytest.raises(DistillBenchError, match="already exists"):
        new_submission("my-detector", tmp_path)
    with pytest.raises(DistillBenchError, match="slug 'My_Detector' is not valid: expected 3-40 lowercase"):
        new_submission("My_Detector", tmp_path)


def test_malformed_yaml(tmp_path):
    folder = write_submission(tmp_path, "broken", DETECTOR, yaml_text="name: [unclosed\nslug: broken\n")
    assert _problems(folder) == ["submission.yaml: not valid YAML (line 2, column 5: expected ',' or ']', but got ':')"]


def test_yaml_alias_bomb_is_refused(tmp_path):
    bomb = "a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n"
    folder = write_submission(tmp_path, "bomb", DETECTOR, yaml_text=bomb)
    assert _problems(folder) == ["submission.yaml: not valid YAML (line 2, column 8: YAML aliases (*name) are not allowed)"]


def test_top_level_must_be_a_mapping(tmp_path):
    folder = write_submission(tmp_path, "listy", DETECTOR, yaml_text="- 1\n- 2\n")
    assert _problems(folder) == ["submission.yaml: expected a mapping of fields at the top level, got list"]


def test_wrong_types_name_the_field_and_value(tmp_path):
    folder = _with(tmp_path, seeds=["abc"], track="grey-box",
                   cost={"queries_per_pair": "many", "cpu_seconds_per_pair": -1})
    assert _problems(folder) == [
        "submission.yaml: field `track`: Input should be 'black-box', 'gray-box', 'white-box' or 'teacher-side'; "
        "got 'grey-box'",
        "submission.yaml: field `cost.queries_per_pair`: Input should be a valid integer, unable to parse string as "
        "an integer; got 'many'",
        "submission.yaml: field `cost.cpu_seconds_per_pair`: Input should be greater than or equal to 0; got -1",
        "submission.yaml: field `seeds.0`: Input should be a valid integer, unable to parse string as an integer; "
        "got 'abc'",
    ]


def test_missing_and_unknown_fields(tmp_path):
    data = {k: v for k, v in BASE_META.items() if k != "contact"}
    data.update(slug="gaps", results={"auroc": 1.0})
    data["authors"] = [{"name": "A"}]
    folder = write_submission(tmp_path, "gaps", DETECTOR, yaml_text=yaml.safe_dump(data))
    assert _problems(folder) == [
        "submission.yaml: field `authors.0.affiliation` is required",
        "submission.yaml: field `contact` is required",
        "submission.yaml: unknown field `results` (allowed here: authors, benchmark_data, contact, cost, description, "
        "entry_point, license, links, name, readme, schema_version, seeds, slug, track, version)",
    ]


def test_slug_rules(tmp_path):
    folder = write_submission(tmp_path, "right-folder", DETECTOR, meta={"slug": "wrong-slug"})
    assert _problems(folder) == ["submission.yaml: field `slug` is 'wrong-slug' but the folder is named "
                                 "'right-folder'; they must be equal"]
    folder = write_submission(tmp_path, "Bad_Slug", DETECTOR)
    assert _problems(folder) == [
        "submission.yaml: field `slug`: expected 3-40 lowercase letters, digits and hyphens, starting and ending with "
        "a letter or digit (e.g. my-detector); got 'Bad_Slug'"]


def test_symlink_out_of_the_folder_is_refused(tmp_path):
    folder = _with(tmp_path)
    labels = tmp_path / "manifest.json"
    labels.write_text("{}")
    os.symlink(labels, folder / "labels.json")
    assert _problems(folder) == [f"labels.json: is a symbolic link (to {str(labels)!r}); a submission may contain "
                                 "only regular files inside its folder"]


def test_readme_path_outside_the_folder_is_refused(tmp_path):
    folder = _with(tmp_path, readme="../../etc/passwd")
    assert _problems(folder) == ["submission.yaml: field `readme`: expected a file inside the submission folder, got "
                                 "'../../etc/passwd'"]


def test_compiled_hidden_and_oversized_files_are_refused(tmp_path):
    folder = _with(tmp_path)
    (folder / "fast.so").write_bytes(b"\x7fELF")
    (folder / ".env").write_text("TOKEN=1")
    (folder / "weights.txt").write_bytes(b"0" * (MAX_FILE_BYTES + 1))
    assert _problems(folder) == [
        ".env: file names may use only letters, digits, '_', '-' and '.' (and not start with '.' or '-')",
        "fast.so: compiled or binary code (.so) is not accepted; submit source",
        f"weights.txt: {MAX_FILE_BYTES + 1} bytes, over the {MAX_FILE_BYTES} byte limit per file",
    ]


def test_entry_point_must_exist_inside_the_folder(tmp_path):
    assert _problems(_with(tmp_path, slug="no-module", entry_point="nowhere:Hostile")) == [
        "submission.yaml: field `entry_point`: module 'nowhere' is not in the submission folder (expected nowhere.py "
        "or nowhere/__init__.py)"]
    assert _problems(_with(tmp_path, slug="escape", entry_point="../../x:Y")) == [
        "submission.yaml: field `entry_point`: expected `module:Class` (e.g. detector:MyDetector), the module being a "
        "file inside the submission folder; got '../../x:Y'"]
    folder = _with(tmp_path, slug="shadow", entry_point="json:Hostile")
    (folder / "json.py").write_text(DETECTOR)
    assert _problems(folder) == ["submission.yaml: field `entry_point`: module name 'json' shadows an installed or "
                                 "standard-library module; rename it (e.g. `detector`)"]


def test_links_must_be_http_and_strings_one_printable_line(tmp_path):
    folder = _with(tmp_path, name="Evil\x1b[31m red", links={"paper": "javascript:alert(1)"},
                   benchmark_data={"trained_or_tuned": True})
    assert _problems(folder) == [
        "submission.yaml: field `name`: must be one line of printable text (no control characters, tabs or "
        "newlines); got 'Evil\\x1b[31m red'",
        "submission.yaml: field `links.paper`: URL scheme should be 'http' or 'https'; got 'javascript:alert(1)'",
        "submission.yaml: field `benchmark_data`: `details` is required when `trained_or_tuned` is true: say what was "
        "fitted on which data; got {'trained_or_tuned': True}",
    ]


def test_html_in_metadata_is_kept_as_inert_data(tmp_path, capsys):
    script = "<script>alert('x')</script>"
    folder = _with(tmp_path, slug="html-meta", name=f"Det {script}", description=f"<img src=x onerror=alert(1)> {script}",
                   authors=[{"name": "<b>Bold</b>", "affiliation": "<i>Lab</i> & Co"}])
    (folder / "detector.py").write_text(DETECTOR)
    sub = load_submission(folder)
    assert sub.meta.name == f"Det {script}" and sub.meta.authors[0].affiliation == "<i>Lab</i> & Co"
    # Stored as a JSON string, byte for byte: nothing stripped, nothing decoded.
    assert json.loads(sub.meta.model_dump_json())["description"] == f"<img src=x onerror=alert(1)> {script}"
    # Rendered the way DESIGN.md requires the site to render it (jinja2 autoescape), it is text, not markup.
    html = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined).from_string(
        "<h1>{{ m.name }}</h1><p>{{ m.authors[0].affiliation }}</p>").render(m=sub.meta)
    assert "<script>" not in html and "&lt;script&gt;" in html and "&lt;i&gt;Lab&lt;/i&gt; &amp; Co" in html
    assert run_cli("submission", "validate", str(folder), "--no-run") == 0
    assert f"(Det {script} 1.0.0, black-box)" in capsys.readouterr().out


def test_cli_reports_an_invalid_submission_on_one_line(tmp_path, capsys):
    folder = write_submission(tmp_path, "broken", DETECTOR, yaml_text="name: [unclosed\n")
    assert run_cli("submission", "validate", str(folder), "--no-run") == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line]
    assert err == [f"error: submission {folder} is invalid: submission.yaml: not valid YAML (line 2, column 1: "
                   "expected ',' or ']', but got '<stream end>')"]


def test_contributing_shows_the_generated_json_schema():
    text = (REPO / "CONTRIBUTING.md").read_text()
    shown = re.search(r"<!-- schema:begin -->\n```json\n(.*?)```\n<!-- schema:end -->", text, re.S)
    assert shown, "CONTRIBUTING.md must embed the schema between <!-- schema:begin --> and <!-- schema:end -->"
    assert shown.group(1) == json_schema_text(), "regenerate it with `distillbench submission schema`"


def test_every_command_in_contributing_parses():
    from distillbench.cli import build_parser

    parser = build_parser()
    text = (REPO / "CONTRIBUTING.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
    commands = [ln.strip() for b in blocks for ln in b.splitlines() if ln.strip().startswith("distillbench ")]
    assert len(commands) >= 8
    for line in commands:
        argv = shlex.split(line.split(" #")[0])[1:]
        parser.parse_args(argv)  # exits (SystemExit) on an unknown command or option
