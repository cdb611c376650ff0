"""What a suite page shows: the suite's description, its conditions with pair counts, its models, and the optional
dataset card and real-model registry.

Takes a suite name, the repository folder and the workspace; produces `SuiteInfo`. Pairs are derived from the
suite specification (`distillbench.zoo.manifest.derive_pairs`), so the page needs no built workspace; a built
manifest adds parameter counts. A suite whose specification is not bundled (a results file from elsewhere) falls back
to the pairs recorded in its results.

Optional inputs, looked up in the repository (the first that exists wins):
- dataset card (markdown): `docs/suites/<suite>/dataset_card.md`, then `docs/dataset_card.md`;
- real-model registry (YAML, schema `RealModelRegistry`): `docs/suites/<suite>/real_models.yaml`, then
  `docs/real_models.yaml`.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from markupsafe import Markup
from pydantic import BaseModel, ConfigDict, ValidationError

from distillbench.errors import DistillBenchError
from distillbench.files import read_model
from distillbench.publish.entries import Link
from distillbench.publish.markdown import render_markdown
from distillbench.publish.plots import ConditionColumn
from distillbench.score.results import Results


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RealModel(_Strict):
    """A real (Hugging Face) model in a real suite, with the public evidence for how it was made."""

    id: str  # Hugging Face model id, e.g. org/name
    revision: str | None = None  # pinned commit
    role: str  # teacher, student, reference
    relation: str = ""  # e.g. "distilled from org/teacher through API outputs (per its model card)"
    evidence: list[Link] = []


class RealModelRegistry(_Strict):
    models: list[RealModel]


class ConditionRow(_Strict):
    name: str
    kind: str  # "positive", "negative", "mixed"
    meaning: str
    counts: dict[str, tuple[int, int]]  # split -> (pairs carrying the condition, of which distilled)


class ModelRow(_Strict):
    name: str
    role: str
    arch: str
    params: int | None
    training: str


class SuiteInfo(_Strict):
    name: str
    description: str
    splits: dict[str, tuple[int, int]]  # split -> (pairs, distilled pairs)
    conditions: list[ConditionRow]
    models: list[ModelRow]
    dataset_card: str | None  # rendered HTML
    dataset_card_source: str | None
    registry: RealModelRegistry | None
    registry_source: str | None

    def columns(self, split: str) -> list[ConditionColumn]:
        """The heatmap's columns: conditions present on the split, distilled kinds first, then the hard negatives."""
        return [ConditionColumn(c.name, c.kind, c.counts[split][0]) for c in self.conditions if split in c.counts]


KIND_ORDER = {"positive": 0, "mixed": 1, "negative": 2}
MEANING = {
    "positive": "distilled pairs of this kind, measured against every non-distilled pair",
    "negative": "non-distilled pairs of this kind (hard negatives), measured against every distilled pair",
    "mixed": "pairs of both labels carry it, measured on those pairs alone",
}


def _conditions(pairs: list[tuple[str, int, list[str]]]) -> list[ConditionRow]:
    """(split, label, conditions) per pair -> one row per condition, the kind set by which labels carry it (the
    scorer's `condition_subsets` measures each kind the same way)."""
    rows = []
    for cond in sorted({c for _, _, cs in pairs for c in cs}):
        labels = {label for _, label, cs in pairs if cond in cs}
        kind = "positive" if labels == {1} else "negative" if labels == {0} else "mixed"
        counts: dict[str, tuple[int, int]] = {}
        for split in sorted({s for s, _, _ in pairs}):
            here = [label for s, label, cs in pairs if s == split and cond in cs]
            if here:
                counts[split] = (len(here), sum(here))
        rows.append(ConditionRow(name=cond, kind=kind, meaning=MEANING[kind], counts=counts))
    return sorted(rows, key=lambda r: (KIND_ORDER[r.kind], r.name))


def _training(model) -> str:
    steps = []
    for s in model.stages:
        if s.kind == "lm":
            steps.append(f"language modelling on {s.data.mixture} ({s.steps} steps)")
        elif s.kind == "seq_distill":
            dose = "" if s.dose == 1 else f", dose {s.dose:g}"
            steps.append(f"fine-tuned on {s.teacher}'s generations ({s.steps} steps{dose})")
        else:
            steps.append(f"logit-distilled from {s.teacher} ({s.steps} steps)")
    start = f"from {model.init}: " if model.init else ""
    same = f"; trained on {model.same_data_as}'s data" if model.same_data_as else ""
    return start + "; then ".join(steps) + same


def _first(repo: Path, candidates: list[str]) -> Path | None:
    return next((repo / c for c in candidates if (repo / c).is_file()), None)


def suite_info(name: str, repo: Path, home: Path, results: Results | None, repo_url: str | None) -> SuiteInfo:
    from distillbench.zoo.manifest import Manifest, derive_pairs
    from distillbench.zoo.spec import available_suites, load_suite

    description, models = "", []
    if name in available_suites():
        spec = load_suite(name)
        description = spec.description
        pairs = [(p.split, p.label, p.conditions) for p in derive_pairs(spec)]
        manifest_path = home / "suites" / name / "manifest.json"
        params = {}
        if manifest_path.is_file():
            params = {m.name: m.n_params for m in read_model(manifest_path, Manifest, "manifest").models}
        for m in spec.models:
            arch = spec.archs[m.arch]
            models.append(ModelRow(name=m.name, role=m.role,
                                   arch=f"{arch.family}, width {arch.width}, {arch.layers} layers",
                                   params=params.get(m.name), training=_training(m)))
    elif results is not None:
        pairs = [(results.split, p.label, p.conditions) for p in results.pairs]
    else:
        pairs = []
    splits = {}
    for split in sorted({s for s, _, _ in pairs}):
        labels = [label for s, label, _ in pairs if s == split]
        splits[split] = (len(labels), sum(labels))

    card_path = _first(repo, [f"docs/suites/{name}/dataset_card.md", "docs/dataset_card.md"])
    card = str(render_markdown(card_path.read_text(encoding="utf-8"), repo_url, shift=2)) if card_path else None
    reg_path = _first(repo, [f"docs/suites/{name}/real_models.yaml", "docs/real_models.yaml"])
    registry = None
    if reg_path:
        try:
            registry = RealModelRegistry.model_validate(yaml.safe_load(reg_path.read_text(encoding="utf-8")))
        except (ValidationError, yaml.YAMLError) as exc:
            raise DistillBenchError(f"real-model registry {reg_path} is invalid: {str(exc).splitlines()[0]}; expected "
                                    "`models:` with id, role, optional revision, relation and evidence "
                                    "[{label, url}]") from exc
    return SuiteInfo(
        name=name, description=description, splits=splits, conditions=_conditions(pairs), models=models,
        dataset_card=card, dataset_card_source=card_path.relative_to(repo).as_posix() if card_path else None,
        registry=registry, registry_source=reg_path.relative_to(repo).as_posix() if reg_path else None,
    )


def as_markup(html: str | None) -> Markup | None:
    return Markup(html) if html is not None else None
