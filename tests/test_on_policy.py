"""On-policy distillation (`zoo.train.train_on_policy_distill`, the accusation suite's `on_policy` condition): the
student samples, the teacher scores, per-token reverse KL on the student's own tokens."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import yaml

from distillbench.corpus import Mixture, documents, prompt_prefix
from distillbench.errors import DistillBenchError
from distillbench.zoo.manifest import derive_pairs
from distillbench.zoo.spec import Arch, OnPolicyDistillStage, load_suite
from distillbench.zoo.tokenizer import train_tokenizer
from distillbench.zoo.train import new_model, pack, reverse_kl, train_lm, train_on_policy_distill

ACCUSATION = Path(__file__).parents[1] / "distillbench" / "suites" / "accusation.yaml"
ARCH = Arch(family="gpt2", width=32, layers=1, heads=2, context=32, dropout=0.0)


def test_reverse_kl_is_kl_of_student_from_teacher_on_masked_positions():
    g = torch.Generator().manual_seed(0)
    s, t = torch.randn(2, 5, 7, generator=g), torch.randn(2, 5, 7, generator=g)
    mask = torch.tensor([[0, 1, 1, 0, 0], [1, 1, 1, 1, 0]], dtype=torch.float)
    want = F.kl_div(F.log_softmax(t, -1), F.log_softmax(s, -1), log_target=True, reduction="none").sum(-1)
    assert reverse_kl(s, t, mask).item() == pytest.approx(float((want * mask).sum() / mask.sum()), rel=1e-5)
    assert reverse_kl(s, s, mask).item() == pytest.approx(0.0, abs=1e-6)
    # Not forward KL: the direction matters.
    assert abs(reverse_kl(s, t, mask).item() - reverse_kl(t, s, mask).item()) > 1e-3
    assert reverse_kl(s, t, torch.zeros_like(mask)).item() == 0.0


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A tokenizer, a teacher trained on kitchen and sea text, and prompts from that text."""
    torch.set_num_threads(1)
    mix = Mixture(topics={"kitchen": 1.0, "sea": 1.0}, qa_rate=0.3)
    texts = list(documents(7, "m", mix, 0, 600))
    tok = train_tokenizer(texts, 400, tmp_path_factory.mktemp("tok"))
    teacher = new_model(ARCH, len(tok), tok.eos_token_id, seed=1)
    train_lm(teacher, pack(tok(texts)["input_ids"], tok.eos_token_id, ARCH.context), 80, 3e-3, 16, ("teacher",))
    prompts = [prompt_prefix(d, 4) for d in documents(7, "m", mix, 1000, 1064)]
    held_out = pack(tok(list(documents(7, "m", mix, 2000, 2100)))["input_ids"], tok.eos_token_id, ARCH.context)
    return tok, teacher, prompts, held_out


def _student(world, label=("s",), steps=40):
    tok, teacher, prompts, _ = world
    student = new_model(ARCH, len(tok), tok.eos_token_id, seed=2)
    loss = train_on_policy_distill(student, teacher, tok, prompts, steps, 3e-3, 8, 1.0, 16, ARCH.context, label)
    return student, loss


def _kl_to_teacher(model, world) -> float:
    _, teacher, _, held_out = world
    with torch.no_grad():
        return reverse_kl(model(input_ids=held_out).logits, teacher(input_ids=held_out).logits,
                          torch.ones(held_out.shape)).item()


def test_on_policy_student_moves_towards_the_teacher_and_is_bitwise_deterministic(world):
    tok = world[0]
    before = _kl_to_teacher(new_model(ARCH, len(tok), tok.eos_token_id, seed=2), world)
    a, loss = _student(world)
    assert loss == loss and loss >= 0.0  # a finite, non-negative KL
    after = _kl_to_teacher(a, world)
    assert after < 0.5 * before, (before, after)
    b, _ = _student(world)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    # The samples matter: another seed label draws other samples and gives other weights.
    c, _ = _student(world, label=("other",))
    assert not all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), c.state_dict().values()))


def _accusation(tmp_path: Path, conditions: list[str], edit=None) -> Path:  # noqa: ANN001
    data = yaml.safe_load(ACCUSATION.read_text())
    data["name"] = "accu-test"
    data["design"] |= {"teachers": 3, "references": 2, "conditions": conditions}
    if edit is not None:
        edit(data)
    path = tmp_path / "accu.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_on_policy_condition_expands_to_one_positive_student_per_teacher(tmp_path):
    spec = load_suite(str(_accusation(tmp_path, ["on_policy"])))
    students = [m for m in spec.models if "on_policy" in m.tags]
    assert [m.name for m in students] == ["t00-onpolicy", "t01-onpolicy", "t02-onpolicy"]
    for m in students:
        (stage,) = m.stages
        assert isinstance(stage, OnPolicyDistillStage) and stage.teacher == f"{m.name[:3]}-teacher"
        assert m.tokenizer is None and stage.identity_prompts > 0
    pairs = [p for p in derive_pairs(spec) if p.student.endswith("-onpolicy")]
    positives = [p for p in pairs if p.label == 1]
    assert len(positives) == 3 and all(p.conditions[:2] == ["on_policy_distill", "on_policy"] for p in positives)
    assert all(p.teacher == f"{p.student[:3]}-teacher" for p in positives)
    assert {p.conditions[0] for p in pairs if p.label == 0} == {"other-teacher"}


def test_on_policy_from_a_teacher_with_another_tokenizer_is_one_clear_error(tmp_path):
    spec_path = _accusation(tmp_path, ["on_policy"])
    data = yaml.safe_load(spec_path.read_text())
    from distillbench.zoo.design import expand

    expanded = expand(data)
    student = next(m for m in expanded["models"] if m["name"] == "t00-onpolicy")
    student |= {"tokenizer": "alt", "init": None}
    expanded.pop("design")
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(expanded))
    with pytest.raises(DistillBenchError, match="on_policy_distill from 't00-teacher' needs the teacher's tokenizer"):
        load_suite(str(bad))
