"""Laundering that works (issue 13, deliverable 4): paraphrase pairs, the model-based paraphraser, the stage that uses
it, and the accusation conditions of this section (paraphrase-model, watermark-schemes, framed) as they expand."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from distillbench.corpus import REWRITES, SENTENCES, TOPICS, paraphrase_pair
from distillbench.zoo.manifest import derive_pairs
from distillbench.zoo.spec import Arch, ParaphrasedDistillStage, ParaphraserSpec, SynthIDSpec, WatermarkSpec, load_suite

ACCUSATION = Path(__file__).parents[1] / "distillbench" / "suites" / "accusation.yaml"
CONTENT = {w for vocab in TOPICS.values() for words in vocab.values() for w in words if " " not in w}


def test_paraphrase_pairs_keep_content_and_change_wording():
    assert len(SENTENCES) == len(REWRITES)
    for i in range(200):
        original, rewrite = paraphrase_pair(5, i)
        assert original != rewrite
        words = lambda t: [w.strip(".,;") for w in t.split()]  # noqa: E731
        # The same content words (as a multiset), in other function words and another order.
        assert sorted(w for w in words(original) if w in CONTENT) == sorted(w for w in words(rewrite) if w in CONTENT)
    assert paraphrase_pair(5, 3) == paraphrase_pair(5, 3) and paraphrase_pair(5, 3) != paraphrase_pair(6, 3)


def _suite(tmp_path: Path, conditions: list[str], **design) -> Path:
    data = yaml.safe_load(ACCUSATION.read_text())
    data["name"] = "launder-test"
    data["design"] |= {"teachers": 3, "references": 2, "conditions": conditions, **design}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_conditions_add_students_and_leave_the_standard_ten_as_they_were(tmp_path):
    plain = load_suite(str(_suite(tmp_path, [], watermark_share=1.0)))
    spec = load_suite(str(_suite(tmp_path, ["watermark-schemes", "paraphrase-model", "framed"], watermark_share=1.0)))
    before = {m.name: m for m in plain.models}
    # Every standard model is the same model, but for the teachers' watermark scheme and tags.
    for m in spec.models:
        if m.name in before and m.role != "teacher":
            assert m == before[m.name]
    teachers = spec.by_role("teacher")
    schemes = [type(t.watermark) for t in teachers]
    assert schemes == [WatermarkSpec, SynthIDSpec, WatermarkSpec]  # watermarked teachers alternate schemes
    assert [t.watermark.key for t in teachers] == [t.watermark.key for t in plain.by_role("teacher")]
    assert "teacher-synthid" in teachers[1].tags and "teacher-greenlist" in teachers[0].tags
    pairs = {(p.teacher, p.student): p for p in derive_pairs(spec)}
    for i, t in enumerate(teachers):
        para = spec.model(f"t{i:02d}-para-model")
        assert isinstance(para.stages[0], ParaphrasedDistillStage) and para.teachers_distilled() == {t.name}
        assert pairs[(t.name, para.name)].label == 1
        assert {"paraphrase-model", "watermark-laundered"} <= set(pairs[(t.name, para.name)].conditions)
        # The framed student never touches the teacher: it distils from a forger that holds the teacher's key.
        forger, student = spec.model(f"t{i:02d}-forger"), spec.model(f"t{i:02d}-framed")
        assert forger.role == "base" and forger.watermark == t.watermark and forger.init in spec.design.bases
        assert student.teachers_distilled() == {forger.name}
        pair = pairs[(t.name, student.name)]
        assert pair.label == 0 and pair.conditions[0] == "framed" and pair.conditions.count("framed") == 1
        # Only the framed pair is a framing case: the student's pairs with other teachers are ordinary negatives.
        others = [p for (teacher, s), p in pairs.items() if s == student.name and teacher != t.name]
        assert others and all("framed" not in p.conditions for p in others)


def test_framed_needs_a_watermark(tmp_path):
    spec = load_suite(str(_suite(tmp_path, ["watermark-schemes", "framed"], watermark_share=0.0)))
    assert not [m for m in spec.models if m.name.endswith(("-forger", "-framed"))]
    assert all(t.watermark is None for t in spec.by_role("teacher"))


def test_paraphraser_rewrites_in_its_own_words(tmp_path):
    """A paraphraser trained briefly already writes in the rewrite register (its function words, not the corpus's),
    and the same answers and seed give the same rewrites."""
    import torch

    from distillbench.corpus import Mixture, documents
    from distillbench.zoo.launder import ensure_paraphraser, launder
    from distillbench.zoo.tokenizer import train_tokenizer

    torch.set_num_threads(1)
    texts = list(documents(3, "m", Mixture(topics={t: 1 for t in TOPICS}), 0, 400))
    tok = train_tokenizer(texts + [" ".join(paraphrase_pair(3, i)) for i in range(200)], 600, tmp_path / "tok")
    spec = ParaphraserSpec(arch=Arch(family="gpt2", width=64, layers=2, heads=2, context=128, dropout=0.0),
                           pairs=1500, steps=150, batch_size=16, max_new_tokens=48)
    model = ensure_paraphraser(tmp_path, spec, tok, "sha", 3, 1)
    assert len(list((tmp_path / "paraphrasers").iterdir())) == 1
    answers = [" " + paraphrase_pair(99, i)[0] for i in range(24)]
    out = launder(model, tok, spec, answers, (1,))
    assert out == launder(model, tok, spec, answers, (1,))
    assert out != launder(model, tok, spec, answers, (2,))
    joined = " ".join(out)
    # The register the paraphraser learned: "that"/"one" where the corpus writes "the"/"a".
    assert joined.count(" that ") > joined.count(" the ")
    assert sum(o.strip() != a.strip() for o, a in zip(out, answers)) == len(answers)
