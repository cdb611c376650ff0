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

from distillbench.detect.base import EVIDENCE_KINDS
from distillbench.detect.registry import available
from distillbench.errors import DistillBenchError
from distillbench.submission.folder import MAX_FILE_BYTES, SubmissionInvalid, load_submission
from distillbench.submission.scaffold import new_submission
from distillbench.submission.schema import json_schema_text, parse_meta

REPO = Path(__file__).resolve().parents[1]
DETECTOR = ("class Hostile:\n    name = 'hostile'\n    access = 'black-box'\n    summary = 'x'\n"
            "    uses = frozenset({'generations'})\n\n    def score(self, pair):\n        return None\n")


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
                   cost={"budget": "many", "cpu_seconds_per_pair": -1})
    assert _problems(folder) == [
        "submission.yaml: field `track`: Input should be 'black-box', 'gray-box', 'white-box' or 'teacher-side'; "
        "got 'grey-box'",
        "submission.yaml: field `cost.budget`: Input should be 'evidence-only', '1k', '10k' or '100k'; got 'many'",
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
        "submission.yaml: unknown field `results` (allowed here: authors, benchmark_data, contact, cost, data_files, "
        "description, entry_point, license, links, name, readme, schema_version, seeds, slug, track, version)",
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


# ---- malformed YAML: one clean line each, never a traceback -----------------------------------------------------

def _yaml_with(slug: str, line: str) -> str:
    data = yaml.safe_dump({**BASE_META, "slug": slug}, sort_keys=False)
    key = line.split(":")[0]
    return "".join(ln + "\n" for ln in data.splitlines() if not ln.startswith(key + ":")) + line + "\n"


@pytest.mark.parametrize("line, expected", [
    ("seeds: [" + "9" * 5000 + "]", "not valid YAML (line 18, column 9: a number of 5000 characters is too long to read)"),
    ("seeds: " + "[" * 3000, "not valid YAML (line 18, column 39: nested more than 32 levels deep)"),
    ("seeds: [" + "9" * 1000 + "]", "field `seeds.0`: Input should be less than 9223372036854775808; got 99999999999999"),
    ("seeds: [1, !!python/object:os.system x]", "not valid YAML (line 18, column 12: could not determine a constructor "
                                                "for the tag 'tag:yaml.org,2002:python/object:os.system')"),
])
def test_malformed_values_are_one_line_each(tmp_path, line, expected):
    folder = write_submission(tmp_path, "odd-yaml", DETECTOR, yaml_text=_yaml_with("odd-yaml", line))
    problems = _problems(folder)
    assert len(problems) == 1 and problems[0].startswith(f"submission.yaml: {expected}"), problems
    assert len(problems[0]) < 300


def test_an_impossible_yaml_date_is_text_not_a_traceback(tmp_path):
    """YAML would read `2001-13-45` as a date and crash on it; no field is a date, so it is read as the text it is."""
    source = "from distillbench.detect.base import Verdict\n\n\nclass Hostile:\n    pass\n"
    folder = write_submission(tmp_path, "dated", source, yaml_text=_yaml_with("dated", "description: 2001-13-45"))
    assert load_submission(folder, review=False).meta.description == "2001-13-45"
    folder = write_submission(tmp_path, "dated2", source, yaml_text=_yaml_with("dated2", "version: 2001-12-01"))
    assert _problems(folder)[0] == ("submission.yaml: field `version`: expected a version MAJOR.MINOR.PATCH (e.g. "
                                    "1.0.0); got '2001-12-01'")


def test_infinite_cost_is_refused(tmp_path):
    folder = _with(tmp_path, cost={"budget": "evidence-only", "cpu_seconds_per_pair": float("inf")})
    assert "submission.yaml: field `cost.cpu_seconds_per_pair`: Input should be a finite number; got inf" in _problems(folder)


def test_budget_tier_defaults_to_evidence_only_and_takes_the_tiers(tmp_path):
    from distillbench.query.meter import Budget

    assert parse_meta(yaml.safe_dump({**BASE_META, "cost": {"cpu_seconds_per_pair": 1}}))[0].cost.budget \
        is Budget.EVIDENCE_ONLY
    for tier in Budget:
        meta, problems = parse_meta(yaml.safe_dump({**BASE_META, "cost": {"budget": tier.value, "cpu_seconds_per_pair": 1}}))
        assert problems == [] and meta.cost.budget is tier


def test_declared_queries_per_pair_is_one_clear_error(tmp_path):
    """Cost used to be declared; now the harness measures it. An old submission.yaml is told what replaced the field,
    once, not "unknown field"."""
    folder = _with(tmp_path, cost={"queries_per_pair": 0, "cpu_seconds_per_pair": 0.01})
    assert _problems(folder) == [
        "submission.yaml: field `cost.queries_per_pair` is no longer declared: the harness measures what every pair "
        "costs (evidence read plus requests, all models of the pair); remove it and declare `cost.budget`, the query "
        "budget tier, instead: one of evidence-only, 1k, 10k, 100k (evidence-only when the detector asks no model "
        "anything)"]
    # Alongside a budget, and with other problems: still one line for the retired field.
    folder = _with(tmp_path, slug="bad-two", cost={"queries_per_pair": 400, "budget": "1k", "cpu_seconds_per_pair": 0.01},
                   seeds=["x"])
    problems = _problems(folder)
    assert sum("queries_per_pair" in p for p in problems) == 1 and len(problems) == 2, problems


def test_committed_submissions_declare_a_tier_not_queries():
    for path in sorted((REPO / "submissions").glob("*/submission.yaml")):
        meta, problems = parse_meta(path.read_text())
        assert problems == [], (path, problems)
        assert "queries_per_pair" not in path.read_text(), path


def test_cli_reports_malformed_yaml_on_one_line_without_a_traceback(tmp_path, capsys):
    folder = write_submission(tmp_path, "deep", DETECTOR, yaml_text="x: " + "[" * 3000 + "\n")
    assert run_cli("submission", "validate", str(folder), "--no-run") == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    assert [ln for ln in captured.err.splitlines() if ln] == [
        f"error: submission {folder} is invalid: submission.yaml: not valid YAML (line 1, column 35: nested more than "
        "32 levels deep)"]


# ---- the code is read, all of it, before anything runs ------------------------------------------------------------

GOOD = """from typing import ClassVar

from distillbench.detect.base import Verdict
from distillbench.evidence.view import AccessLevel

from helpers import mean_length
from . import sibling  # relative: the folder's own


class Good:
    name: ClassVar[str] = "good"
    access: ClassVar[AccessLevel] = AccessLevel.BLACK_BOX
    summary: ClassVar[str] = "x"
    uses: ClassVar[frozenset[str]] = frozenset({"generations"})

    def score(self, pair):
        return Verdict(score=mean_length(pair.student))
"""


def _good(tmp_path, slug="good-one", source=GOOD, **meta):
    folder = write_submission(tmp_path, slug, source, meta={"entry_point": "detector:Good", **meta})
    (folder / "helpers.py").write_text("import math\n\n\ndef mean_length(m):\n    return math.fsum(map(len, "
                                       "m.generations.values()))\n")
    return folder


def test_own_modules_stdlib_and_pinned_packages_are_allowed(tmp_path):
    sub = load_submission(_good(tmp_path))
    assert sorted(sub.files) == ["detector.py", "helpers.py", "submission.yaml"]


def test_imports_outside_the_pinned_list_and_refused_calls_are_listed_with_file_and_line(tmp_path):
    source = GOOD.replace("from helpers import mean_length\n", "from helpers import mean_length\nimport nltk\n"
                          "import importlib, ctypes.util\nfrom subprocess import run\nimport numpy as np\n")
    source += ("\n    def load(self):\n        exec('1')\n        __import__('os')\n"
               "        return np.load('x.npy', allow_pickle=True)\n")
    folder = _good(tmp_path, source=source)
    (folder / "helpers.py").write_text("import requests\n\n\ndef mean_length(m):\n    return eval('1')\n")
    problems = _problems(folder)
    allowed = ("distillbench, numpy, pandas, pyarrow, pydantic, safetensors, scipy, sklearn, tokenizers, torch, "
               "transformers, yaml")
    refused = "is refused: it imports or runs code a reviewer cannot read, or reaches outside the detector's process"
    assert problems == [
        f"detector.py:7: `import nltk` is not allowed: a detector may import the standard library, its own folder's "
        f"modules and {allowed} (what the benchmark pins; see CONTRIBUTING.md)",
        f"detector.py:8: `import importlib` {refused}",
        f"detector.py:8: `import ctypes.util` {refused}",
        f"detector.py:9: `from subprocess import run` {refused}",
        "detector.py:24: `exec` is refused: it imports or runs code given as a string, which a reviewer cannot read",
        "detector.py:25: `__import__` is refused: it imports or runs code given as a string, which a reviewer cannot "
        "read",
        "detector.py:26: `allow_pickle=` other than a literal False is refused: unpickling runs code stored in a data file",
        f"helpers.py:1: `import requests` is not allowed: a detector may import the standard library, its own "
        f"folder's modules and {allowed} (what the benchmark pins; see CONTRIBUTING.md)",
        "helpers.py:5: `eval` is refused: it imports or runs code given as a string, which a reviewer cannot read",
    ]


def test_unparsable_python_is_a_problem_not_a_crash(tmp_path):
    folder = _good(tmp_path)
    (folder / "broken.py").write_text("def f(:\n")
    assert _problems(folder) == ["broken.py:1: not valid Python (invalid syntax)"]


@pytest.mark.parametrize("source, meta, expected", [
    (GOOD, {"entry_point": "detector:Nope"}, "entry_point `detector:Nope`: module 'detector' has no class 'Nope'"),
    (GOOD + "\n\ndef make():\n    pass\n", {"entry_point": "detector:make"},
     "entry_point `detector:make`: module 'detector' defines 'make' as a function; expected a class"),
    (GOOD.replace('frozenset({"generations"})', 'frozenset({"generations", "telepathy"})'), {},
     "entry_point `detector:Good`: Good.uses holds 'telepathy'; expected a set of evidence kinds from "
     + ", ".join(sorted(EVIDENCE_KINDS))),
    (GOOD, {"track": "gray-box"}, "entry_point `detector:Good`: the class declares access 'black-box' but "
                                  "submission.yaml declares track 'gray-box'; they must match"),
    (GOOD.replace("    uses: ClassVar[frozenset[str]] = frozenset({\"generations\"})\n", "").replace("def score", "def scor"),
     {}, "entry_point `detector:Good`: Good does not satisfy the detector interface: no `uses`, `score` (see "
         "distillbench.detect.base.Detector)"),
    (GOOD.replace("from helpers import mean_length", "from numpy import ndarray as Good2"), {"entry_point": "detector:Good2"},
     "entry_point `detector:Good2`: 'Good2' is imported from 'numpy'; expected a class defined in the submission folder"),
])
def test_the_entry_point_class_is_read_from_source(tmp_path, source, meta, expected):
    folder = _good(tmp_path, source=source, **meta)
    assert _problems(folder) == [expected]


def test_a_class_imported_from_distillbench_or_the_folder_is_followed(tmp_path):
    folder = write_submission(tmp_path, "reexport", "from pkg.impl import Good as Mine\n",
                              meta={"entry_point": "detector:Mine"})
    (folder / "pkg").mkdir()
    (folder / "pkg" / "__init__.py").write_text("")
    (folder / "pkg" / "impl.py").write_text(GOOD.replace("from helpers import mean_length\n", "").replace(
        "from . import sibling  # relative: the folder's own\n", "").replace('{"generations"}', '{"telepathy"}'))
    assert _problems(folder) == ["entry_point `detector:Mine`: Good.uses holds 'telepathy'; expected a set of evidence "
                                 "kinds from " + ", ".join(sorted(EVIDENCE_KINDS))]


def test_every_static_problem_is_listed_in_one_error(tmp_path):
    source = GOOD.replace('{"generations"}', '{"telepathy"}') + "\nimport nltk\n"
    folder = _good(tmp_path, source=source, version="one", track="gray-box")
    (folder / "model.pkl").write_bytes(b"\x80\x04K\x01.")
    problems = _problems(folder)
    assert [p.split(":")[0] for p in problems] == ["submission.yaml", "model.pkl", "detector.py"]
    assert problems[0].startswith("submission.yaml: field `version`: expected a version")
    assert problems[2].startswith("detector.py:19: `import nltk` is not allowed")


# ---- opaque files ------------------------------------------------------------------------------------------------

def test_archives_pickles_and_undeclared_binaries_are_refused(tmp_path):
    folder = _good(tmp_path)
    (folder / "code.zip").write_bytes(b"PK\x03\x04rest")
    (folder / "model.pkl").write_bytes(b"\x80\x04K\x01.")
    (folder / "table.npz").write_bytes(b"PK\x03\x04")
    (folder / "notes.txt").write_bytes(b"\xff\xfe binary")
    (folder / "data").mkdir()
    (folder / "data" / "w.safetensors").write_bytes(b"{}")
    opaque = ("is accepted only when `data_files` in submission.yaml lists it with a reason, and code in the folder "
              "loads it")
    assert _problems(folder) == [
        "code.zip: archives (.zip) are not accepted, even under `data_files`: a reviewer cannot read what they hold; "
        "commit the files themselves",
        "model.pkl: pickles (.pkl) are not accepted, even under `data_files`: loading one runs code stored in it; "
        "save arrays as .npz or .safetensors",
        f"notes.txt: a binary or opaque file (not UTF-8 text) {opaque}",
        f"table.npz: a binary or opaque file (.npz file) {opaque}",
        f"data/w.safetensors: a binary or opaque file (.safetensors file) {opaque}",
    ]


def test_a_declared_data_file_named_by_the_code_is_accepted(tmp_path):
    source = GOOD.replace("import AccessLevel\n", "import AccessLevel\n\nWEIGHTS = 'weights.npz'\n")
    declared = [{"path": "weights.npz", "reason": "logistic weights fitted on suite mini (see README)"},
                {"path": "extra.bin.dat", "reason": "not loaded anywhere"},
                {"path": "missing.npz", "reason": "not committed"}]
    folder = _good(tmp_path, source=source, data_files=declared)
    (folder / "weights.npz").write_bytes(b"PK\x03\x04\x00\xff")
    (folder / "extra.bin.dat").write_bytes(b"\x00\xff")
    assert _problems(folder) == [
        "submission.yaml: field `data_files`: 'extra.bin.dat' is not named in any .py file of the folder; the code "
        "that loads a data file must name it (e.g. `Path(__file__).parent / \"weights.npz\"`), so a reviewer sees "
        "what reads it",
        "submission.yaml: field `data_files`: 'missing.npz' is not a file in the submission folder",
    ]
    folder = _good(tmp_path, slug="good-two", source=source, data_files=declared[:1])
    (folder / "weights.npz").write_bytes(b"PK\x03\x04\x00\xff")
    sub = load_submission(folder)
    assert sub.meta.data_files[0].path == "weights.npz" and "weights.npz" in sub.files
    assert "data_files" not in json.loads(load_submission(_good(tmp_path, slug="good-three")).meta.model_dump_json())


# ---- fast: nothing but the static checks runs before a static error is reported ---------------------------------

def test_validate_reports_static_problems_before_opening_any_evidence(tmp_path, capsys, monkeypatch):
    from distillbench.submission import cli

    def no_evidence(*args, **kwargs):
        raise AssertionError("the suite was opened before the static checks finished")

    monkeypatch.setattr(cli, "_open", no_evidence)
    folder = _good(tmp_path, version="x")
    # micro: a suite with no published evidence, so nothing before the command installs any either
    home = str(tmp_path / "home")
    assert run_cli("submission", "validate", str(folder), "--suite", "micro", "--home", home) == 2
    assert run_cli("submission", "run", str(folder), "--suite", "micro", "--home", home) == 2
    errs = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("error:")]
    assert len(errs) == 2 and all("field `version`: expected a version MAJOR.MINOR.PATCH" in e for e in errs)


def test_names_looked_up_at_run_time_are_refused(tmp_path):
    """The ways past an import list a reviewer would not see: `sys.modules`, `globals()`, a computed `getattr`, and
    `**` keywords that could carry `allow_pickle=True` into a load."""
    folder = _good(tmp_path)
    (folder / "helpers.py").write_text(
        "import sys\nimport numpy as np\n\n\ndef mean_length(m):\n    mod = sys.modules['importlib']\n"
        "    g = globals()\n    f = getattr(np, 'lo' + 'ad')\n    kw = {}\n    np.load('x.npy', **kw)\n"
        "    return getattr(m, 'generations', None)\n")
    problems = _problems(folder)
    assert [p.split(":")[1] for p in problems] == ["6", "7", "8", "10"], problems
    assert "`.modules` is refused" in problems[0] and "`globals()` is refused" in problems[1]
    assert "`getattr` with a computed" in problems[2] and "`**` keywords in a `load` call" in problems[3]
