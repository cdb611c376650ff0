"""The `submission.yaml` schema: who made the detector, how to load it, what it costs, how it was developed.

Takes the YAML text of a submission's metadata; produces a validated `SubmissionMeta` or a list of problems, each
naming the field, what was expected and what arrived. The JSON Schema shown in CONTRIBUTING.md is generated from
this model (`distillbench submission schema`), so the two cannot drift.

Metadata strings are data: HTML such as `<script>` is accepted verbatim and stored as a JSON string (the site's
templates autoescape it). What is refused is what could act outside a template: control characters (terminal
escapes, newlines that forge log lines) and links that are not http(s) (`javascript:` URLs).

Reading never raises: whatever the bytes (an impossible date, a 5,000-digit number, 3,000 nested brackets,
aliases, unknown tags), `parse_meta` returns problems, each one line. YAML dates are read as text (no field is a
date), numbers too long to convert and nesting deeper than `MAX_NESTING` are refused at their line and column.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Literal

import yaml
from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, HttpUrl, ValidationError, model_serializer,
                      model_validator)

from distillbench.evidence.view import AccessLevel
from distillbench.query.meter import Budget

SUBMISSION_SCHEMA_VERSION = 1
SUBMISSION_FILE = "submission.yaml"
MAX_NESTING = 32  # lists/mappings inside each other; the schema needs 3
# Fields a submission once declared and no longer may: what replaced them, instead of "unknown field".
RETIRED_FIELDS = {
    ("cost", "queries_per_pair"): "is no longer declared: the harness measures what every pair costs (evidence read "
    "plus requests, all models of the pair); remove it and declare `cost.budget`, the query budget tier, instead: "
    f"one of {', '.join(b.value for b in Budget)} (evidence-only when the detector asks no model anything)",
}

SLUG_RE = r"^[a-z0-9](?:[a-z0-9-]{1,38}[a-z0-9])$"
VERSION_RE = r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$"
ENTRY_POINT_RE = r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$"
EMAIL_RE = r"^[^@\s<>\"']+@[^@\s<>\"']+\.[^@\s<>\"']+$"
SPDX_RE = r"^[A-Za-z0-9][A-Za-z0-9.+-]*(?: (?:AND|OR|WITH) [A-Za-z0-9][A-Za-z0-9.+-]*)*$"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# What a pattern-checked field expects, in words (pydantic would print the regex).
PATTERN_HELP = {
    "slug": "3-40 lowercase letters, digits and hyphens, starting and ending with a letter or digit (e.g. my-detector)",
    "version": "a version MAJOR.MINOR.PATCH (e.g. 1.0.0)",
    "entry_point": "`module:Class` (e.g. detector:MyDetector), the module being a file inside the submission folder",
    "contact": "an e-mail address",
    "license": "an SPDX licence identifier or expression (e.g. Apache-2.0, MIT OR Apache-2.0)",
}


def _no_control(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must be one line of printable text (no control characters, tabs or newlines)")
    return value


def _text(max_length: int, description: str, min_length: int = 1):
    return Annotated[str, Field(min_length=min_length, max_length=max_length, description=description),
                     AfterValidator(_no_control)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Author(_Strict):
    name: _text(120, "the author's name")
    affiliation: _text(200, "institution or company; 'independent' if none")


class Links(_Strict):
    paper: HttpUrl | None = Field(None, description="the paper describing the method (http or https)")
    code: HttpUrl | None = Field(None, description="the method's upstream code repository (http or https)")


class Cost(_Strict):
    budget: Budget = Field(
        Budget.EVIDENCE_ONLY, description="the query budget tier: `evidence-only` (reads the benchmark's probe "
        "evidence, asks no model anything) or the most queries one pair may cost, evidence read plus requests, all "
        "models (`1k`, `10k`, `100k`); must equal the class's `budget`. The harness measures what each pair costs "
        "and refuses a request that would cross the tier; the leaderboard ranks within a tier")
    cpu_seconds_per_pair: float = Field(ge=0, allow_inf_nan=False,
                                        description="declared compute per pair, in seconds on one CPU core")
    gpu: bool = Field(False, description="whether the method needs a GPU")


class BenchmarkDataUse(_Strict):
    trained_or_tuned: bool = Field(
        description="true if any part of the method (weights, thresholds, hyper-parameters, prompts) was trained "
        "or tuned on DistillBench data; tuning on the hidden test split is never allowed")
    details: _text(1000, "what was trained or tuned, on which suite and split", min_length=0) = ""

    @model_validator(mode="after")
    def _details_when_used(self) -> BenchmarkDataUse:
        if self.trained_or_tuned and not self.details.strip():
            raise ValueError("`details` is required when `trained_or_tuned` is true: say what was fitted on which data")
        return self


class DataFile(_Strict):
    """A file a reviewer cannot read as text (weights, a table), accepted because it is declared and explained."""

    path: Annotated[str, Field(min_length=1, max_length=200, description="path of the file inside the submission "
                                                                         "folder, e.g. weights.npz")]
    reason: _text(300, "what the file holds, how it was made, and which code loads it")


class SubmissionMeta(_Strict):
    """One entry per method version: `submissions/<slug>/submission.yaml`."""

    schema_version: Literal[1] = Field(description="version of this schema; currently 1")
    name: _text(80, "display name of the method")
    slug: Annotated[str, Field(pattern=SLUG_RE, description="folder name: 3-40 lowercase letters, digits and hyphens, "
                                                              "starting and ending with a letter or digit")]
    version: Annotated[str, Field(pattern=VERSION_RE, description="method version MAJOR.MINOR.PATCH; a changed "
                                                                  "method is a new version")]
    description: _text(500, "one paragraph on what the detector measures")
    authors: list[Author] = Field(min_length=1, max_length=30)
    contact: Annotated[str, Field(pattern=EMAIL_RE, max_length=200, description="an e-mail address for questions "
                                                                                "about the entry")]
    links: Links = Field(default_factory=Links)
    license: Annotated[str, Field(pattern=SPDX_RE, max_length=100, description="SPDX licence identifier of the "
                                                                               "detector code, e.g. Apache-2.0")]
    track: AccessLevel = Field(description="the access track; the detector receives only the evidence it allows")
    entry_point: Annotated[str, Field(pattern=ENTRY_POINT_RE, description="`module:Class` inside the submission "
                                                                          "folder, e.g. `detector:MyDetector`")]
    cost: Cost
    benchmark_data: BenchmarkDataUse
    seeds: list[Annotated[int, Field(ge=0, lt=2**63)]] = Field(
        default_factory=list, max_length=100, description="every random seed the method uses (empty if deterministic)")
    readme: Annotated[str, Field(max_length=200, description="optional README path inside the folder")] | None = None
    data_files: list[DataFile] = Field(
        default_factory=list, max_length=20,
        description="binary or opaque files (.npz, .safetensors, ...) the detector loads, each with a reason; any "
        "other non-text file in the folder is refused")

    @model_serializer(mode="wrap")
    def _omit_empty_data_files(self, handler):  # noqa: ANN001, ANN202
        # Results files signed before `data_files` existed hash the metadata without it: an empty list is left out
        # so their signatures still verify.
        out = handler(self)
        if not self.data_files:
            out.pop("data_files", None)
        return out


def json_schema() -> dict:
    return SubmissionMeta.model_json_schema()


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


# -- reading ----------------------------------------------------------------------------------------------------

class _NoAliasLoader(yaml.SafeLoader):
    """safe_load that refuses anchors/aliases (a few hundred bytes of nested aliases expand into billions of nodes)
    and deep nesting (PyYAML recurses per level), reads dates as text, and reports over-long numbers at their mark."""

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def compose_node(self, parent, index):  # noqa: ANN001 (PyYAML's signature)
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, "YAML aliases (*name) are not allowed", event.start_mark)
        self._depth = getattr(self, "_depth", 0) + 1
        try:
            if self._depth > MAX_NESTING:
                raise yaml.composer.ComposerError(None, None, f"nested more than {MAX_NESTING} levels deep",
                                                  self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_yaml_int(self, node):  # noqa: ANN001
        try:
            return super().construct_yaml_int(node)
        except ValueError:
            raise yaml.constructor.ConstructorError(
                None, None, f"a number of {len(str(node.value))} characters is too long to read", node.start_mark) from None


_NoAliasLoader.add_constructor("tag:yaml.org,2002:int", _NoAliasLoader.construct_yaml_int)
_NoAliasLoader.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_yaml_str)


def _loc(loc: tuple) -> str:
    return ".".join(str(x) for x in loc) or "(top level)"


def _shown(value: object) -> str:
    import reprlib

    # reprlib bounds the work for huge or deep values (a long list, a 4,000-digit number) before cutting the text.
    shown = reprlib.Repr()
    shown.maxlevel, shown.maxlist, shown.maxdict, shown.maxstring, shown.maxlong, shown.maxother = 3, 6, 6, 80, 40, 80
    text = shown.repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def describe_errors(exc: ValidationError, where: str) -> list[str]:
    """One message per pydantic error: the field, what was expected, what arrived."""
    out = []
    for err in exc.errors(include_url=False):
        field = _loc(err["loc"])
        if err["type"] == "missing":
            out.append(f"{where}: field `{field}` is required")
        elif err["type"] == "extra_forbidden" and tuple(err["loc"]) in RETIRED_FIELDS:
            out.append(f"{where}: field `{field}` {RETIRED_FIELDS[tuple(err['loc'])]}")
        elif err["type"] == "extra_forbidden":
            allowed = ", ".join(_allowed_fields(err["loc"]))
            out.append(f"{where}: unknown field `{field}` (allowed here: {allowed})")
        elif err["type"] == "string_pattern_mismatch" and str(err["loc"][-1]) in PATTERN_HELP:
            out.append(f"{where}: field `{field}`: expected {PATTERN_HELP[str(err['loc'][-1])]}; got {_shown(err.get('input'))}")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            out.append(f"{where}: field `{field}`: {msg}; got {_shown(err.get('input'))}")
    return out


def _allowed_fields(loc: tuple) -> list[str]:
    model: type[BaseModel] = SubmissionMeta
    for part in loc[:-1]:
        field = model.model_fields.get(str(part)) if isinstance(part, str) else None
        ann = getattr(field, "annotation", None) if field else None
        args = getattr(ann, "__args__", ())
        nested = next((a for a in (ann, *args) if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if nested is None:
            if isinstance(part, int):
                continue
            break
        model = nested
    return sorted(model.model_fields)


def parse_meta(text: str, where: str = SUBMISSION_FILE) -> tuple[SubmissionMeta | None, list[str]]:
    """Validate YAML text; returns (meta, []) or (None, problems)."""
    try:
        data = yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or (str(exc).splitlines() or ["unreadable"])[0]
        return None, [f"{where}: not valid YAML ({at}{problem})"]
    except (ValueError, TypeError, OverflowError, RecursionError, MemoryError) as exc:
        # The loader reports what it knows at a mark; anything else PyYAML raises is still one line, not a traceback.
        first = (str(exc).splitlines() or [""])[0][:120]
        return None, [f"{where}: not valid YAML ({type(exc).__name__}: {first})"]
    if not isinstance(data, dict):
        return None, [f"{where}: expected a mapping of fields at the top level, got {type(data).__name__}"]
    try:
        return SubmissionMeta.model_validate(data), []
    except ValidationError as exc:
        return None, describe_errors(exc, where)
    except (ValueError, TypeError, RecursionError) as exc:
        return None, [f"{where}: could not be checked ({type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:120]})"]
