"""Ids a detector sees are keyed hashes under a per-run key: consistent within a run, unrelated across keys, and
nothing in a pair's evidence names a model, a fingerprint, a pool-file id or another teacher's texts."""

import json
import re
import secrets

import pytest

from distillbench.errors import DistillBenchError
from distillbench.evidence.view import AccessLevel, open_suite_view

KEY_A, KEY_B = b"a" * 32, b"b" * 32


def _by_text(ev):
    """pool text (context, continuation) -> its id in this evidence."""
    return {(t.context, t.continuation): t.id for t in ev.pool}


def _pairs_of_two_teachers(view):
    teachers = sorted({p.teacher for p in view.manifest.pairs})
    return [next(p for p in view.manifest.pairs if p.teacher == t) for t in teachers[:2]]


def test_ids_differ_between_keys_and_carry_the_same_evidence(micro_view):
    pair = micro_view.manifest.pairs[0]
    a = micro_view.pair(pair, AccessLevel.WHITE_BOX, KEY_A)
    b = micro_view.pair(pair, AccessLevel.WHITE_BOX, KEY_B)
    assert a.pair_id != b.pair_id and a.teacher.model_id != b.teacher.model_id
    assert not {t.id for t in a.pool} & {t.id for t in b.pool}
    assert not {r.model_id for r in a.references} & {r.model_id for r in b.references}
    # The same texts and scores, renamed: every model's loglik of a text is the same under either key.
    ids_a, ids_b = _by_text(a), _by_text(b)
    assert ids_a.keys() == ids_b.keys()
    for ma, mb in [(a.teacher, b.teacher), (a.student, b.student)]:
        assert ma.generations == mb.generations
        assert {t: ma.logliks[i] for t, i in ids_a.items() if i in ma.logliks} == \
               {t: mb.logliks[ids_b[t]] for t, i in ids_a.items() if i in ma.logliks}
    assert a.student.hidden and {t: a.student.hidden[i] for t, i in ids_a.items() if i in a.student.hidden} == \
        {t: b.student.hidden[ids_b[t]] for t, i in ids_a.items() if i in a.student.hidden}
    # ...and the references are the same models under both keys, only renamed and reordered.
    def scores(ev, ids):
        return sorted(tuple(sorted((t, r.logliks[i]) for t, i in ids.items() if i in r.logliks)) for r in ev.references)

    assert scores(a, ids_a) == scores(b, ids_b)


def test_ids_are_consistent_within_a_run(micro_view):
    pair = micro_view.manifest.pairs[0]
    ev = micro_view.pair(pair, AccessLevel.WHITE_BOX, KEY_A)
    assert ev == micro_view.pair(pair, AccessLevel.WHITE_BOX, KEY_A)  # the same key gives the same evidence
    pool_ids = [t.id for t in ev.pool]
    assert len(set(pool_ids)) == len(pool_ids) and set(ev.teacher.logliks) == set(pool_ids)
    for model in [ev.student, *ev.references]:
        assert set(model.logliks) <= set(pool_ids) and set(model.hidden) <= set(pool_ids)
    # a reference's samples are tagged with the id the reference itself carries in this pair
    sources = {t.source_id for t in ev.pool if t.role == "reference"}
    assert sources == {r.model_id for r in ev.references}
    assert all(t.source_id is None for t in ev.pool if t.role != "reference")
    # the same text keeps its id across this teacher's pairs and across access levels
    others = [p for p in micro_view.manifest.pairs if p.teacher == pair.teacher and p != pair]
    assert others
    for other in others:
        ev2 = micro_view.pair(other, AccessLevel.GRAY_BOX, KEY_A)
        assert _by_text(ev2) == _by_text(ev) and ev2.teacher.model_id == ev.teacher.model_id
        assert ev2.pair_id != ev.pair_id


def test_ids_are_in_masked_order_not_source_order(micro_view):
    ev = micro_view.pair(micro_view.manifest.pairs[0], AccessLevel.WHITE_BOX, KEY_A)
    pool_ids = [t.id for t in ev.pool]
    assert pool_ids == sorted(pool_ids)
    assert [r.model_id for r in ev.references] == sorted(r.model_id for r in ev.references)
    for model in [ev.teacher, ev.student, *ev.references]:
        assert list(model.logliks) == sorted(model.logliks)
        assert model.hidden is None or list(model.hidden) == sorted(model.hidden)
    # roles are interleaved: the pool file's blocks (one per source) do not survive
    roles = [t.role for t in ev.pool]
    assert sum(a != b for a, b in zip(roles, roles[1:])) > len(set(roles))


def test_other_teachers_see_unrelated_ids_for_the_same_reference(micro_view):
    p1, p2 = _pairs_of_two_teachers(micro_view)
    e1, e2 = (micro_view.pair(p, AccessLevel.GRAY_BOX, KEY_A) for p in (p1, p2))
    assert not {r.model_id for r in e1.references} & {r.model_id for r in e2.references}
    shared = _by_text(e1).keys() & _by_text(e2).keys()  # reference and corpus texts are in both pools
    assert shared and all(_by_text(e1)[t] != _by_text(e2)[t] for t in shared)


def test_nothing_in_a_pairs_evidence_names_its_source(micro_view):
    manifest = micro_view.manifest
    names = [m.name for m in manifest.models]
    fingerprints = [m.fingerprint for m in manifest.models]
    file_ids = {r["id"] for r in micro_view.pool_rows}
    teachers = {m.name for m in manifest.models if m.role == "teacher"}
    for pair in manifest.pairs:
        ev = micro_view.pair(pair, AccessLevel.TEACHER_SIDE, KEY_A)
        white = micro_view.pair(pair, AccessLevel.WHITE_BOX, KEY_A)
        blob = json.dumps(ev.model_dump(mode="json")) + json.dumps(white.model_dump(mode="json"))
        assert not any(n in blob for n in names + [pair.pair_id, micro_view.pair_id(pair)])
        assert not any(fp[:12] in blob for fp in fingerprints)
        assert not file_ids & set(re.findall(r"[\w-]+", blob))
        own = {t.continuation for t in ev.pool}
        foreign = {r["continuation"] for r in micro_view.pool_rows
                   if r["source"] in teachers - {pair.teacher} and len(r["continuation"]) >= 30} - own
        assert foreign and not any(text in blob for text in foreign)


def test_default_key_is_reproducible_and_depends_on_who_runs(micro_home, micro_view):
    from distillbench.paths import Workspace

    pair = micro_view.manifest.pairs[0]
    fresh = open_suite_view(Workspace(micro_home), "micro", memo=False)
    assert fresh.run_key("random") == micro_view.run_key("random") != micro_view.run_key("membership")
    assert micro_view.pair(pair, AccessLevel.BLACK_BOX) == fresh.pair(pair, AccessLevel.BLACK_BOX, fresh.run_key())
    random_key = secrets.token_bytes(32)
    assert micro_view.pair(pair, AccessLevel.BLACK_BOX, random_key).pair_id != \
        micro_view.pair(pair, AccessLevel.BLACK_BOX).pair_id


@pytest.mark.parametrize("bad", [b"short", "a string key of enough length"])
def test_a_weak_or_mistyped_key_is_refused(micro_view, bad):
    with pytest.raises(DistillBenchError, match="run key must be at least 16 bytes"):
        micro_view.pair(micro_view.manifest.pairs[0], AccessLevel.BLACK_BOX, bad)


def test_verdicts_record_the_stable_pair_id_whatever_the_key(micro_view):
    from distillbench.detect.runner import run_detector

    stable = {micro_view.pair_id(p) for p in micro_view.manifest.pairs}
    a = run_detector("random", micro_view, run_key=KEY_A)
    b = run_detector("random", micro_view, run_key=KEY_B)
    assert {v.pair_id for v in a.verdicts} == {v.pair_id for v in b.verdicts} == stable
    # the random baseline seeds on the id it sees, so its scores move with the key; the pairs they belong to do not
    assert [v.score for v in a.verdicts] != [v.score for v in b.verdicts]
    assert run_detector("random", micro_view, run_key=KEY_A).verdicts == a.verdicts


def test_the_file_memo_gives_the_digest_a_full_hash_gives_and_sees_a_changed_record(micro_copy):
    from distillbench.paths import Workspace

    ws = Workspace(micro_copy)
    first = open_suite_view(ws, "micro").digest()
    assert open_suite_view(ws, "micro").digest() == first == open_suite_view(ws, "micro", memo=False).digest()
    view = open_suite_view(ws, "micro")
    m = next(m for m in view.manifest.models if m.role == "student")
    path = next(view.store.path(m.fingerprint, t, fp) for t, fp in view.fps(m.name).items()
                if view.store.has(m.fingerprint, t, fp))
    path.write_text(path.read_text() + " ")  # same record, different bytes: the digest must notice
    changed = open_suite_view(ws, "micro").digest()
    assert changed != first and changed == open_suite_view(ws, "micro", memo=False).digest()
