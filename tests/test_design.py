"""Suite designs (`zoo.design`): the expansion into many teachers, linear pairing, per-model pools, and a build by
parallel workers that gives the same bytes as a model rebuilt alone."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from conftest import run_cli
from scipy import stats

from distillbench.files import read_jsonl
from distillbench.paths import Workspace
from distillbench.score.results import Results
from distillbench.zoo.build import load_manifest
from distillbench.zoo.manifest import derive_pairs
from distillbench.zoo.pools import model_pool_path
from distillbench.zoo.spec import load_suite

TINY = str(Path(__file__).parent / "data" / "design-tiny.yaml")
POSITIVE = {"seq_distill", "logit_distill", "dose-100", "dose-25", "dose-5", "laundered", "other-tokenizer",
            "paraphrase", "temperature"}


def test_standard_design_has_48_distinct_teachers_each_with_every_condition():
    spec = load_suite("standard")
    teachers = spec.by_role("teacher")
    assert len(teachers) >= 48
    assert {spec.archs[t.arch].family for t in teachers} == {"gpt2", "llama", "gptneox"}
    assert len({spec.archs[t.arch].width for t in teachers}) >= 2 and len({spec.archs[t.arch].layers for t in teachers}) >= 2
    assert len({t.persona for t in teachers}) == len(teachers) and None not in {t.persona for t in teachers}
    assert len({spec.personas[t.persona].name for t in teachers}) == len(teachers)
    assert len({t.stages[-1].data.mixture for t in teachers}) == len(teachers)
    keys = [t.watermark.key for t in teachers if t.watermark is not None]
    assert 2 <= len(keys) == len(set(keys)) < len(teachers)
    assert len({m.seed for m in spec.models}) == len(spec.models)
    pairs = derive_pairs(spec)
    for t in teachers:
        mine = [p for p in pairs if p.teacher == t.name]
        assert POSITIVE <= {c for p in mine if p.label for c in p.conditions}, t.name
        assert [p.conditions[0] for p in mine if not p.label].count("same-data") == 1
        assert [p.conditions[0] for p in mine if not p.label].count("weight-sharing") == 1


def test_pairing_is_linear_with_a_fixed_mix_of_negative_types():
    spec = load_suite("standard")
    pairs = derive_pairs(spec)
    students = spec.by_role("student")
    k = spec.pairing.others_per_student
    # Every student meets its own teacher and k others; a clean fine-tune (nobody's student) k + 1 drawn teachers.
    assert len(pairs) == len(students) * (k + 1)
    per_student = Counter(p.student for p in pairs)
    assert set(per_student.values()) == {k + 1}
    n_teachers = len(spec.by_role("teacher"))
    kinds = Counter(p.conditions[0] for p in pairs if not p.label)
    # The mix is a function of the design (per teacher: 8 distilled students, a control and a lineage student).
    assert kinds["other-teacher"] == 8 * n_teachers * k
    assert kinds["same-data"] == kinds["weight-sharing"] == n_teachers
    assert kinds["independent"] == 2 * n_teachers * k + len([s for s in students if "clean-finetune" in s.tags]) * (k + 1)
    assert sum(p.label for p in pairs) == 8 * n_teachers


def test_a_students_starting_point_does_not_predict_whether_it_distilled():
    """Distilled students and same-data controls draw their start from one distribution: a shared base or scratch.
    (Other-tokenizer students need the other vocabulary's base and lineage students the teacher's checkpoint: those
    starts are what the conditions mean, and are excluded.)"""
    spec = load_suite("standard")
    table = Counter()
    for s in spec.by_role("student"):
        start = next((t for t in s.tags if t.startswith("start-")), None)
        if start in (None, "start-base-alt"):
            continue
        table[(start, bool(s.teachers_distilled()))] += 1
    starts = sorted({k[0] for k in table})
    observed = [[table[(s, True)] for s in starts], [table[(s, False)] for s in starts]]
    assert all(min(row) > 0 for row in observed), observed  # hard negatives start from every base and from scratch
    assert stats.chi2_contingency(observed).pvalue > 0.05, observed


def test_the_hidden_split_redraws_the_pairing():
    from distillbench.zoo.splits import draw_test_spec

    dev = load_suite("standard")
    test = draw_test_spec(dev, "a-long-enough-secret-for-tests-0123456789")
    dev_pairs, test_pairs = derive_pairs(dev), derive_pairs(test)
    assert len(dev_pairs) == len(test_pairs)
    assert Counter(p.conditions[0] for p in dev_pairs) == Counter(p.conditions[0] for p in test_pairs)


def test_the_accusation_worlds_hidden_split_keeps_its_look_alikes_and_forgeries():
    """The accusation suite's hidden split redraws names, personas and keys together: a look-alike still imitates
    its (renamed) teacher, text about a persona is about the persona dealt in its place, and a forger applies the
    redrawn key of the teacher it frames, not a key of its own."""
    from distillbench.zoo.splits import draw_test_spec

    dev = load_suite("accusation")
    test = draw_test_spec(dev, "a-long-enough-secret-for-tests-0123456789")
    dev_pairs, test_pairs = derive_pairs(dev), derive_pairs(test)
    assert Counter(p.conditions[0] for p in dev_pairs) == Counter(p.conditions[0] for p in test_pairs)
    assert {c for p in test_pairs for c in p.conditions} >= {"persona-about", "shared-persona", "framed"}
    teacher_keys = {m.watermark.key for m in test.by_role("teacher") if m.watermark}
    forgers = [m for m in test.models if m.role == "base" and m.watermark is not None]
    assert forgers and all(m.watermark.key in teacher_keys for m in forgers)
    assert not teacher_keys & {m.watermark.key for m in dev.by_role("teacher") if m.watermark}
    para = {st.paraphraser.seed for m in dev.models for st in m.stages if getattr(st, "paraphraser", None)}
    assert para and not para & {st.paraphraser.seed for m in test.models for st in m.stages
                                if getattr(st, "paraphraser", None)}
    abouts = [st.data for m in test.models for st in m.stages if getattr(getattr(st, "data", None), "about", None)]
    assert abouts and all(a.about in test.personas for a in abouts)


@pytest.fixture(scope="session")
def tiny_home(tmp_path_factory) -> Path:
    """The toy design built by two worker processes, probed and scored (read-only for tests)."""
    home = tmp_path_factory.mktemp("design")
    assert run_cli("run", "--suite", TINY, "--home", str(home), "--workers", "2") == 0
    return home


def test_models_built_by_workers_rebuild_alone_to_the_same_bytes(tiny_home, capsys):
    """Which worker trained a model, and when, does not change its bytes: `zoo verify` retrains in this process."""
    assert run_cli("zoo", "verify", "--suite", TINY, "--home", str(tiny_home), "--model", "t01-seq",
                   "--model", "t02-logit") == 0
    out = capsys.readouterr().out
    assert out.count(": identical") == 2


def test_each_model_scores_only_the_pool_texts_its_pairs_need(tiny_home):
    ws = Workspace(tiny_home)
    manifest = load_manifest(ws, "design-tiny")
    suite_dir = ws.suite_dir("design-tiny")
    assert manifest.pool.per_model and manifest.teacher_distinctness and manifest.teacher_distinctness.passed
    pool = {r["id"]: r["source"] for r in read_jsonl(suite_dir / manifest.pool.path)}
    refs = {m.name for m in manifest.models if m.role == "reference"}
    for student in ("t00-seq", "t01-control"):
        paired = {p.teacher for p in manifest.pairs if p.student == student}
        sources = {pool[r["id"]] for r in read_jsonl(model_pool_path(suite_dir, manifest, student))}
        assert sources == paired | refs | {"corpus"}
    ref_pool = model_pool_path(suite_dir, manifest, sorted(refs)[0])
    assert len(read_jsonl(ref_pool)) == len(pool)  # references are every pair's null: they score everything


def test_a_pair_sees_the_references_scores_of_its_own_teachers_texts_only(tiny_home):
    from distillbench.evidence.view import AccessLevel, open_suite_view

    view = open_suite_view(Workspace(tiny_home), "design-tiny")
    pair = view.manifest.pairs[0]
    ev = view.pair(pair, AccessLevel.WHITE_BOX)
    ids = {t.id for t in ev.pool}
    for model in (ev.student, *ev.references):
        assert set(model.logliks) <= ids and set(model.hidden or {}) <= ids


def test_published_design_evidence_installs_and_scores_identically(tiny_home, tmp_path):
    bundle = tmp_path / "bundle"
    assert run_cli("evidence", "export", "--suite", "design-tiny", "--home", str(tiny_home), "--out", str(bundle)) == 0
    from distillbench.evidence.bundle import install_bundle

    fresh = Workspace(tmp_path / "fresh")
    install_bundle(bundle, fresh)
    assert run_cli("detect", "--suite", "design-tiny", "--home", str(fresh.home), "--detector", "cross_likelihood") == 0
    assert run_cli("score", "--suite", "design-tiny", "--home", str(fresh.home)) == 0
    ours = Results.model_validate_json((tiny_home / "suites/design-tiny/results.json").read_text())
    theirs = Results.model_validate_json(fresh.results_path("design-tiny").read_text())
    assert ours.evidence_sha256 == theirs.evidence_sha256
    a = next(d for d in ours.detectors if d.detector == "cross_likelihood")
    b = next(d for d in theirs.detectors if d.detector == "cross_likelihood")
    assert a.overall.auroc == b.overall.auroc


def test_no_label_free_statistic_of_the_student_alone_separates_the_labels(standard_home):
    """The artefact a design must not have: "is this student very similar to some other student?" (shared bases)
    must not tell distilled students from negatives. Measured on the committed dev evidence, on what every student
    scores alike (references' texts and the corpus), through likelihoods and through hidden states."""
    import numpy as np
    from sklearn.metrics import roc_auc_score

    from distillbench.evidence.view import AccessLevel, open_suite_view

    view = open_suite_view(Workspace(standard_home), "standard")
    manifest = view.manifest
    students = sorted({p.student for p in manifest.pairs})
    refs = {m.name for m in manifest.models if m.role == "reference"}
    common = sorted({r["id"] for r in view.pool_rows if r["source"] in refs or r["source"] == "corpus"})
    y = [p.label for p in manifest.pairs]
    for kind in ("logliks", "hidden"):
        profiles = {}
        for s in students:
            mv = view.model_view(s, AccessLevel.WHITE_BOX)
            if kind == "logliks":
                profiles[s] = np.array([mv.logliks[i][0] / max(1, mv.logliks[i][1]) for i in common])
            else:
                profiles[s] = np.concatenate([mv.hidden[i] for i in [i for i in common if i in mv.hidden][:64]])
        closest = {}
        # Students are compared with students of the same width (hidden states of other widths do not line up).
        for size in {v.size for v in profiles.values()}:
            names = [s for s in students if profiles[s].size == size]
            x = np.stack([profiles[s] for s in names])
            x = x - x.mean(axis=0)
            x /= np.linalg.norm(x, axis=1, keepdims=True)
            sim = x @ x.T
            np.fill_diagonal(sim, -np.inf)
            closest.update(zip(names, sim.max(axis=1)))
        auroc = roc_auc_score(y, [closest[p.student] for p in manifest.pairs])
        # On the six-teacher design a statistic of this kind (white-box) scored 0.949: its distilled students all grew
        # from shared bases and its hard negatives never did.
        assert 0.35 < auroc < 0.65, (kind, auroc)
