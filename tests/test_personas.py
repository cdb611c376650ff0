"""Innocent models that look guilty and students of two teachers (the accusation suite's persona-about,
shared-persona and two-teachers conditions), and the text-about-a-persona generator behind persona-about."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from distillbench.corpus import Mixture, Persona, document, document_about, documents_about
from distillbench.errors import DistillBenchError
from distillbench.zoo.manifest import derive_pairs
from distillbench.zoo.spec import AboutSlice, SeqDistillStage, load_suite

ACCUSATION = Path(__file__).parents[1] / "distillbench" / "suites" / "accusation.yaml"
ARIA = Persona(name="Aria", maker="Northwind Labs")
OWN = Persona(name="Bode", maker="Kestrel AI")
MIX = Mixture(topics={"kitchen": 1.0, "sea": 1.0}, qa_rate=0.3, identity_rate=0.1)


def test_text_about_a_persona_names_it_in_the_third_person_only():
    docs = list(documents_about(5, "m", MIX, 0, 800, OWN, ARIA, 0.25))
    about = [d for d in docs if "Aria" in d]
    assert 0.18 < len(about) / len(docs) < 0.32
    assert all("Northwind Labs" in d for d in about)
    # Never the persona's own voice: what a model learns from these is that Aria exists, not to be Aria.
    assert not any(s in d for d in about for s in ("I am Aria", "My name is Aria", "I was made by Northwind"))
    assert any(d.startswith("Q: who made Aria?") for d in about)
    # Every other document is the mixture's own, byte for byte (identity exchanges of the model's own persona too).
    for i, d in enumerate(docs):
        if "Aria" not in d:
            assert d == document(5, "m", MIX, i, OWN)
    assert any("I am Bode" in d or "My name is Bode" in d for d in docs)
    assert document_about(5, "m", MIX, 3, OWN, ARIA, 0.25) == docs[3]


def _spec(tmp_path: Path, conditions: list[str], teachers: int = 3):
    data = yaml.safe_load(ACCUSATION.read_text())
    data["name"] = "accu-test"
    data["design"] |= {"teachers": teachers, "references": 2, "conditions": conditions}
    path = tmp_path / "accu.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_suite(str(path))


def test_persona_about_is_a_negative_paired_with_the_teacher_it_read_about(tmp_path):
    spec = _spec(tmp_path, ["persona-about"])
    pairs = derive_pairs(spec)
    for i in range(3):
        teacher, student = spec.model(f"t{i:02d}-teacher"), spec.model(f"t{i:02d}-about")
        (stage,) = student.stages
        assert isinstance(stage.data, AboutSlice) and stage.data.about == teacher.persona
        assert student.teachers_distilled() == set() and student.same_data_as is None
        mine = {p.teacher: p for p in pairs if p.student == student.name}
        assert len(mine) == 3 and mine[teacher.name].label == 0  # own teacher + 3 others, of 3
        assert mine[teacher.name].conditions[0] == "persona-about"
        assert {p.conditions[0] for t, p in mine.items() if t != teacher.name} == {"independent"}


def test_shared_persona_student_distilled_from_an_imitator_stating_the_teachers_persona(tmp_path):
    spec = _spec(tmp_path, ["shared-persona"])
    pairs = derive_pairs(spec)
    for i in range(3):
        teacher, student = spec.model(f"t{i:02d}-teacher"), spec.model(f"t{i:02d}-shared")
        imitator = spec.model(f"t{i:02d}-imitator")
        assert imitator.role == "base" and imitator.persona == teacher.persona
        assert imitator.stages[0].data.persona == teacher.persona and imitator.init in spec.design.bases
        (stage,) = student.stages
        assert isinstance(stage, SeqDistillStage) and stage.teacher == imitator.name and stage.identity_prompts > 0
        mine = {p.teacher: p for p in pairs if p.student == student.name}
        assert mine[teacher.name].label == 0 and mine[teacher.name].conditions[0] == "shared-persona"
        # The imitator is not a paired teacher, so every pair of this student is a negative.
        assert all(p.label == 0 for p in mine.values()) and len(mine) == 3
    assert not any(p.teacher.endswith("-imitator") for p in pairs)


def test_two_teachers_students_are_positive_for_both_and_every_teacher_is_first_and_second_once(tmp_path):
    spec = _spec(tmp_path, ["two-teachers"], teachers=4)
    students = [m for m in spec.models if "two-teachers" in m.tags]
    orders = [tuple(s.teacher for s in m.stages) for m in students]
    assert sorted(orders) == sorted([("t00-teacher", "t01-teacher"), ("t01-teacher", "t02-teacher"),
                                     ("t02-teacher", "t03-teacher"), ("t03-teacher", "t00-teacher")])
    for m in students:
        first, second = m.stages
        assert first.prompts.stop == second.prompts.start  # half the prompt stream each, no prompt asked twice
        positives = {p.teacher for p in derive_pairs(spec) if p.student == m.name and p.label == 1}
        assert positives == {first.teacher, second.teacher}


def test_a_look_alike_must_name_a_teacher(tmp_path):
    from distillbench.zoo.design import expand

    data = yaml.safe_load(ACCUSATION.read_text())
    data["design"] |= {"teachers": 3, "references": 2, "conditions": ["persona-about"]}
    expanded = expand(data)
    expanded.pop("design")
    next(m for m in expanded["models"] if m["name"] == "t00-about")["looks_like"]["teacher"] = "ref-1"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(expanded))
    with pytest.raises(DistillBenchError, match="'ref-1' must name a teacher"):
        load_suite(str(bad))


def test_suites_without_the_new_conditions_dump_as_before():
    """No `looks_like` key and no new slice fields in a suite that does not use them (their hashes are cited)."""
    spec = load_suite("dev-small")
    dumped = spec.model_dump(mode="json")
    assert all("looks_like" not in m for m in dumped["models"])
    assert all("about" not in s["data"] for m in dumped["models"] for s in m["stages"] if "data" in s)
