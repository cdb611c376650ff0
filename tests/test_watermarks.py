"""Watermarks, plural: the SynthID spec beside the green-list one, how a SynthID teacher is saved and served, what the
teacher-side detector finds in SynthID-marked text, and the framed condition (issue 13, deliverables 5 and 6)."""

from __future__ import annotations

import json
import math

import pytest
import torch
from transformers import AutoModelForCausalLM, SynthIDTextWatermarkingConfig, WatermarkingConfig

from distillbench.corpus import documents
from distillbench.detect.baselines.watermark import WatermarkRadioactivityDetector, synthid_score
from distillbench.evidence.view import AccessLevel, ModelView, PairEvidence, TeacherSecret
from distillbench.zoo import watermarks
from distillbench.zoo.sample import sample_completions
from distillbench.zoo.spec import Arch, ModelSpec, SynthIDSpec, WatermarkSpec
from distillbench.zoo.tokenizer import train_tokenizer
from distillbench.zoo.train import new_model


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A random-initialised tiny GPT-2 (high-entropy output: the regime where a watermark is cheap to embed) and a
    corpus tokenizer."""
    from distillbench.corpus import Mixture

    out = tmp_path_factory.mktemp("tok")
    mix = Mixture(topics={"kitchen": 1, "sea": 1})
    tok = train_tokenizer(list(documents(7, "m", mix, 0, 300)), 400, out)
    model = new_model(Arch(family="gpt2", width=32, layers=1, heads=2, context=96, dropout=0.0), len(tok),
                      tok.eos_token_id, 3)
    return model.eval(), tok


def _spec(**watermark) -> ModelSpec:
    return ModelSpec.model_validate({"name": "t", "role": "teacher", "arch": "a", "seed": 1, "stages": [],
                                     "watermark": watermark})


def test_watermark_union_keeps_green_list_dumps_and_parses_synthid():
    green = _spec(key=5)
    assert isinstance(green.watermark, WatermarkSpec)
    assert "scheme" not in green.model_dump(mode="json")["watermark"]  # green-list specs dump as before the union
    synth = _spec(scheme="synthid", key=5)
    assert isinstance(synth.watermark, SynthIDSpec)
    assert ModelSpec.model_validate(synth.model_dump(mode="json")) == synth
    with pytest.raises(ValueError):
        _spec(scheme="synthid", key=5, bias=2.0)  # a green-list field on a SynthID spec is refused


def test_synthid_keys_derive_from_the_one_secret():
    a, b = watermarks.synthid_config(SynthIDSpec(key=1)), watermarks.synthid_config(SynthIDSpec(key=2))
    assert len(a.keys) == SynthIDSpec(key=1).depth and a.keys != b.keys
    assert a.keys == watermarks.synthid_config(SynthIDSpec(key=1)).keys


def test_synthid_teacher_saves_loads_and_serves_marked_text(tiny, tmp_path):
    model, tok = tiny
    watermarks.mark(model, SynthIDSpec(key=11))
    model.save_pretrained(tmp_path)
    delattr(model.generation_config, watermarks.SYNTHID_KEY)
    saved = json.loads((tmp_path / "generation_config.json").read_text())
    assert "watermarking_config" not in saved and saved[watermarks.SYNTHID_KEY]["ngram_len"] == 3
    # Transformers reloads it (a SynthID dict under `watermarking_config` would not load at all) ...
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    assert loaded.generation_config.watermarking_config is None
    # ... and `attach` puts the mark back on what it generates.
    watermarks.attach(loaded, tmp_path)
    assert isinstance(loaded.generation_config.watermarking_config, SynthIDTextWatermarkingConfig)
    prompts = ["the cook", "a sailor", "the pan is"] * 12
    marked = sample_completions(loaded, tok, prompts, 1.0, 40, seed_label=("t",))
    loaded.generation_config.watermarking_config = None
    plain = sample_completions(loaded, tok, prompts, 1.0, 40, seed_label=("t",))
    assert marked != plain
    config = saved[watermarks.SYNTHID_KEY]
    g_marked, n_marked = synthid_score(config, tok.backend_tokenizer, marked)
    g_plain, n_plain = synthid_score(config, tok.backend_tokenizer, plain)
    assert n_marked > 200 and n_plain > 200
    assert g_marked > 0.55 and abs(g_plain - 0.5) < 0.03


def _pair(tok, secret: dict | None, student_texts: list[str]) -> PairEvidence:
    view = ModelView(model_id="s", generations={f"p{i}": t for i, t in enumerate(student_texts)})
    return PairEvidence(pair_id="x", access=AccessLevel.TEACHER_SIDE, prompts={}, pool=[],
                        teacher=ModelView(model_id="t", generations={}), student=view, references=[],
                        teacher_secret=TeacherSecret(watermark=secret, tokenizer_json=tok.backend_tokenizer.to_str()))


def test_detector_scores_synthid_students_by_mean_g_value(tiny):
    model, tok = tiny
    spec = SynthIDSpec(key=21)
    config = watermarks.synthid_config(spec)
    prompts = [f"the {w}" for w in ("cook", "sailor", "pan", "boat", "gull", "oven")] * 8
    model.generation_config.watermarking_config = config
    marked = sample_completions(model, tok, prompts, 1.0, 40, seed_label=("d",))
    model.generation_config.watermarking_config = None
    plain = sample_completions(model, tok, prompts, 1.0, 40, seed_label=("d",))
    detector = WatermarkRadioactivityDetector()
    hit = detector.score(_pair(tok, config.to_dict(), marked))
    miss = detector.score(_pair(tok, config.to_dict(), plain))
    assert hit.score > 4 and hit.p_value < 1e-4
    assert abs(miss.score) < 3 and miss.p_value > 0.001
    # Another vendor's SynthID key finds nothing in the marked text.
    other = detector.score(_pair(tok, watermarks.synthid_config(SynthIDSpec(key=22)).to_dict(), marked))
    assert abs(other.score) < 3
    # Green-list secrets still go to the green-list z-test, and no watermark still abstains.
    green = WatermarkingConfig(hashing_key=5).to_dict()
    assert not detector.score(_pair(tok, green, plain)).abstained
    assert detector.score(_pair(tok, None, plain)).abstained


def test_watermark_cost_perplexity_is_the_models_own(tiny):
    model, tok = tiny
    prompts, answers = ["the cook"] * 4, [" stirs the soup.", " bakes a loaf.", " warms the pan.", " fries onion."]
    ppl = watermarks.perplexity(model, tok, prompts, answers)
    # A random-initialised model is close to uniform over its vocabulary.
    assert 0.5 * len(tok) < ppl < 2 * len(tok)
    assert math.isclose(ppl, watermarks.perplexity(model, tok, prompts, answers))


def test_the_teacher_side_view_reads_the_key_synthid_teachers_are_saved_under():
    """The view names the SynthID config's key as a literal (importing `zoo.watermarks` would import torch into every
    evidence reader): it must be the key the zoo writes, or SynthID teachers silently lose their watermark track."""
    import inspect

    from distillbench.evidence import view

    assert f'gen.get("{watermarks.SYNTHID_KEY}")' in inspect.getsource(view.EvidenceView)
