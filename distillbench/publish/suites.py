"""What a suite page shows: the suite's description, its conditions with pair counts, its models, and the optional
dataset card and real-model registry.

Takes a suite name, the repository folder and the workspace; produces `SuiteInfo`. Pairs are derived from the
suite specification (`distillbench.zoo.manifest.derive_pairs`), so the page needs no built workspace; a built
manifest adds parameter counts. A suite whose specification is not bundled (a results file from elsewhere) falls back
to the pairs recorded in its results.

Optional inputs, looked up in the repository (the first that exists wins):
- dataset card (markdown): `docs/suites/<suite>/dataset_card.md`, then `docs/dataset_card.md`;
- real-model registry (YAML, schema `distillbench.real.registry.Registry`): `docs/suites/<suite>/real_models.yaml`
  for any suite, whole; for a real suite (one `distillbench real probe` wrote, so its workspace folder has
  `real_suite.json`) also `docs/real_models.yaml`, cut to the pairs the suite was built from.
"""

from __future__ import annotations

from pathlib import Path

from markupsafe import Markup
from pydantic import BaseModel, ConfigDict

from distillbench.files import read_model
from distillbench.publish.markdown import render_markdown
from distillbench.score.results import Results
from distillbench.zoo.watermark_cost import COST_FILE, WatermarkCost, WatermarkCosts


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RegistryEvidence(_Strict):
    quote: str
    url: str  # https only (the registry schema enforces it): it ends up in an href


class RegistryCoTeacher(_Strict):
    model: str
    role: str
    evidence: list[RegistryEvidence]


class RegistryRow(_Strict):
    """One registry pair as the suite page lists it: who, how (or why not), the quoted evidence, the pinned commits."""

    teacher: str
    student: str
    label: int
    kind: str  # the distillation type, or the negative's kinds
    evidence: list[RegistryEvidence]
    note: str  # a negative's reason, a positive's notes
    # A positive's attribution ("stated", "one_of", "inferred"; empty for a negative): how directly the source names
    # this teacher, so a reader sees which labels are weaker without reading the notes.
    attribution: str = ""
    co_teachers: list[RegistryCoTeacher] = []  # other models whose outputs are in the student's training data
    teacher_revision: str | None
    student_revision: str | None


class ConditionRow(_Strict):
    name: str
    kind: str  # as the scorer classes it: "positive", "negative" (carried only by negatives), "tag" (both labels)
    label: str  # what the suite page calls it: distilled kind, negative type, kind of negative, tag
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
    registry: list[RegistryRow] | None
    registry_source: str | None
    # What watermarking costs each watermarked teacher (`zoo.watermark_cost`), where the build measured it.
    watermark_costs: list[WatermarkCost] = []


KIND_ORDER = {"positive": 0, "negative": 1, "tag": 2}
KIND_LABEL = {"positive": "distilled kind", "negative": "negative type", "sub-kind": "kind of negative", "tag": "tag"}
MEANING = {
    "positive": "a distilled kind: the share of its pairs detected at the detector's global threshold, and its "
                "within-teacher matched AUROC against the same teacher's same-data and weight-sharing negatives",
    "negative": "a negative type: the share of its pairs flagged at that same threshold (a false-positive rate)",
    "sub-kind": "carried by some negatives besides their type: the share of its pairs flagged at that threshold",
    "tag": "a property of the teacher, carried by its pairs of both labels: AUROC on its own pairs",
}


def _conditions(pairs: list[tuple[str, str, int, list[str]]]) -> list[ConditionRow]:
    """(split, teacher, label, conditions) per pair -> one row per condition, classed as the scorer classes its
    per-condition rows (`distillbench.score.comparator.condition_kinds`); of the conditions only negatives carry,
    the first condition of a negative is its type, the others (e.g. clean-finetune) say more about some negatives."""
    from distillbench.score.comparator import condition_kinds

    kinds = condition_kinds(labels=[label for _, _, label, _ in pairs], teachers=[t for _, t, _, _ in pairs],
                            conditions=[cs for _, _, _, cs in pairs])
    types = {cs[0] for _, _, label, cs in pairs if label == 0 and cs}
    rows = []
    for cond, kind in kinds.items():
        shown = "sub-kind" if kind == "negative" and cond not in types else kind
        counts: dict[str, tuple[int, int]] = {}
        for split in sorted({s for s, _, _, _ in pairs}):
            here = [label for s, _, label, cs in pairs if s == split and cond in cs]
            if here:
                counts[split] = (len(here), sum(here))
        rows.append(ConditionRow(name=cond, kind=kind, label=KIND_LABEL[shown], meaning=MEANING[shown], counts=counts))
    return sorted(rows, key=lambda r: (KIND_ORDER[r.kind], r.label != KIND_LABEL[r.kind], r.name))


def _training(model) -> str:
    steps = []
    for s in model.stages:
        if s.kind == "lm":
            steps.append(f"language modelling on {s.data.mixture} ({s.steps} steps)")
        elif s.kind == "chat_lm":
            steps.append(f"chat post-training on {s.data.mixture} transcripts ({s.steps} steps)")
        elif s.kind == "reasoning_lm":
            steps.append(f"post-training on {s.data.mixture} with worked reasoning examples ({s.steps} steps)")
        elif s.kind in ("seq_distill", "seq_distill_paraphrased", "chat_distill", "reasoning_distill"):
            how = [f"dose {s.dose:g}"] if s.dose != 1 else []
            how += [f"sampled at temperature {s.temperature:g}"] if s.temperature != 1 else []
            how += [f"{s.paraphrase:.0%} of content words paraphrased"] if s.paraphrase else []
            how += ["rewritten by a paraphrasing model"] if s.kind == "seq_distill_paraphrased" else []
            how += [f"{s.turns}-turn conversations"] if s.kind == "chat_distill" else []
            how += [f"reasoning traces {s.traces}"] if s.kind == "reasoning_distill" else []
            steps.append(f"fine-tuned on {s.teacher}'s generations ({', '.join([f'{s.steps} steps', *how])})")
        elif s.kind == "on_policy_distill":
            steps.append(f"on-policy distilled from {s.teacher}: its own samples scored by the teacher ({s.steps} steps)")
        else:
            steps.append(f"logit-distilled from {s.teacher} ({s.steps} steps)")
    start = f"from {model.init}: " if model.init else ""
    same = f"; trained on {model.same_data_as}'s data" if model.same_data_as else ""
    return start + "; then ".join(steps) + same


def _first(repo: Path, candidates: list[str]) -> Path | None:
    return next((repo / c for c in candidates if (repo / c).is_file()), None)


def _registry_rows(path: Path, pair_ids: list[str] | None) -> list[RegistryRow]:
    """The registry's pairs (all, or those of a real suite) as table rows; an invalid file is one clear error."""
    from distillbench.real.registry import Positive, load_registry, pair_id

    reg = load_registry(path)
    rev = {m.id: m.revision for m in reg.models}
    rows = []
    for p in [*reg.positives, *reg.negatives]:
        if pair_ids is not None and pair_id(p.teacher, p.student) not in pair_ids:
            continue
        positive = isinstance(p, Positive)
        rows.append(RegistryRow(
            teacher=p.teacher, student=p.student, label=int(positive),
            kind=p.type if positive else ", ".join(p.kinds),
            evidence=[RegistryEvidence(quote=e.quote, url=e.source) for e in p.evidence],
            note=p.notes if positive else " ".join(x for x in (p.reason, p.notes) if x),
            attribution=p.attribution if positive else "",
            co_teachers=[RegistryCoTeacher(model=c.model, role=c.role,
                                           evidence=[RegistryEvidence(quote=e.quote, url=e.source) for e in c.evidence])
                         for c in p.co_teachers] if positive else [],
            teacher_revision=rev[p.teacher], student_revision=rev[p.student],
        ))
    return rows


def _watermark_costs(suite_dir: Path) -> list[WatermarkCost]:
    """The build's measurement of each watermarked teacher's perplexity with and without its mark, if any."""
    path = suite_dir / COST_FILE
    return read_model(path, WatermarkCosts, "watermark cost record").teachers if path.is_file() else []


def suite_info(name: str, repo: Path, home: Path, results: Results | None, repo_url: str | None) -> SuiteInfo:
    from distillbench.real.suite import read_real_suite
    from distillbench.zoo.manifest import Manifest, derive_pairs
    from distillbench.zoo.spec import available_suites, load_suite

    description, models = "", []
    real = read_real_suite(home, name)
    if real is not None:
        description = (f"A real suite: {len(real.pairs)} registry pairs between Hugging Face models and "
                       f"{len(real.references)} reference models, probed by `distillbench real probe`.")
        models = [ModelRow(name=m.id, role=m.role, arch=f"{m.source}, lm-eval backend {m.backend}", params=None,
                           training=f"commit {m.revision}" if m.revision else
                           ("an API (unpinnable)" if m.source == "api" else "a local stand-in directory"))
                  for m in real.models]
    if name in available_suites():
        spec = load_suite(name)
        description = spec.description
        pairs = [(p.split, p.teacher, p.label, p.conditions) for p in derive_pairs(spec)]
        manifest_path = home / "suites" / name / "manifest.json"
        params = {}
        if manifest_path.is_file():
            params = {m.name: m.n_params for m in read_model(manifest_path, Manifest, "manifest").models}
        for m in spec.models:
            arch = spec.archs[m.arch]
            models.append(ModelRow(name=m.name, role=m.role,
                                   arch=f"{arch.family}, width {arch.width}, {arch.layers} layers"
                                   + (f", tokenizer {m.tokenizer}" if m.tokenizer else ""),
                                   params=params.get(m.name), training=_training(m)))
    elif results is not None:
        pairs = [(results.split, p.teacher, p.label, p.conditions) for p in results.pairs]
    else:
        pairs = []
    splits = {}
    for split in sorted({s for s, _, _, _ in pairs}):
        labels = [label for s, _, label, _ in pairs if s == split]
        splits[split] = (len(labels), sum(labels))

    card_path = _first(repo, [f"docs/suites/{name}/dataset_card.md", "docs/dataset_card.md"])
    card = str(render_markdown(card_path.read_text(encoding="utf-8"), repo_url, shift=2)) if card_path else None
    # A synthetic suite shows a registry only if one is written for it; a real suite shows the pairs it was built from.
    reg_path = _first(repo, [f"docs/suites/{name}/real_models.yaml"] + (["docs/real_models.yaml"] if real else []))
    registry = _registry_rows(reg_path, real.pairs if real else None) if reg_path else None
    return SuiteInfo(
        name=name, description=description, splits=splits, conditions=_conditions(pairs), models=models,
        watermark_costs=_watermark_costs(home / "suites" / name),
        dataset_card=card, dataset_card_source=card_path.relative_to(repo).as_posix() if card_path else None,
        registry=registry, registry_source=reg_path.relative_to(repo).as_posix() if reg_path else None,
    )


def as_markup(html: str | None) -> Markup | None:
    return Markup(html) if html is not None else None
