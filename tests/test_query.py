"""The metered query interface: what each track may ask, budgets, measured cost, the answer cache, and the query
channel through the contained worker, on the real micro suite (its models answer; nothing is mocked).

The hostile battery runs one contained detector that abuses the channel on chosen pairs (overrunning its budget,
flooding requests, asking for the teacher's hidden states or log-probs its API does not serve, naming models by
their manifest names, swallowing a refusal) and scores the other pairs normally: each abuse is one clear message
on its own pair, and every other pair gets the score the same detector gets in-process.
"""

from __future__ import annotations

import json

import pytest
from hostile import QUERY_DETECTOR, write_submission

from distillbench.detect.base import Verdict
from distillbench.detect.runner import run_detector
from distillbench.evidence.view import AccessLevel
from distillbench.paths import Workspace
from distillbench.query.harness import QueryHarness
from distillbench.query.meter import MAX_CALLS, Budget, BudgetExceeded, Meter, evidence_queries
from distillbench.query.requests import ANSWER, Generate, Score, Weights, refusal
from distillbench.submission.execute import run_split
from distillbench.submission.folder import load_submission
from distillbench.submission.sandbox import Bubblewrap, Limits
from distillbench.submission.suite import open_view
from distillbench.zoo.manifest import TeacherApi

LIMITS = Limits(pair_seconds=60, total_seconds=600, startup_seconds=60, memory_mb=1024)
CASES = ["overruns", "floods", "teacher_hidden", "teacher_logprobs", "names_model", "other_student", "swallows"]


class Sampler:
    """A gray-box detector that samples its own answers: agreement of student and teacher samples, and the
    student's log-likelihood of the teacher's first sample."""

    name = "sampler"
    access = AccessLevel.GRAY_BOX
    summary = "samples teacher and student, scores the teacher's samples under the student"
    uses = frozenset()
    budget = Budget.Q1K

    def score(self, pair, client):  # noqa: ANN001, ANN201
        prompts = sorted(pair.prompts.values())[:6]
        t = client.generate("teacher", prompts, max_new_tokens=12, temperature=1.0, n=2, seed=7)
        s = client.generate("student", prompts, max_new_tokens=12, temperature=1.0, n=2, seed=7)
        texts = [(p, a[0]) for p, a in zip(prompts, t) if a[0]]
        ll = client.score("student", texts) if texts else []
        agree = sum(x[0] == y[0] for x, y in zip(t, s))
        return Verdict(score=agree + sum(x.total for x in ll) / max(1, len(ll)) / 100)


@pytest.fixture(scope="module")
def view(micro_home):
    return open_view(Workspace(micro_home), "micro")


@pytest.fixture(scope="module")
def dev_pairs(view):
    return [p for p in view.manifest.pairs if p.split == "dev"]


# -- the rules, without models ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("kind", "role", "access", "logprobs", "allowed"), [
    ("generate", "teacher", AccessLevel.BLACK_BOX, False, True),
    ("score", "student", AccessLevel.BLACK_BOX, True, False),
    ("score", "student", AccessLevel.GRAY_BOX, True, True),
    ("score", "teacher", AccessLevel.GRAY_BOX, True, True),
    ("score", "teacher", AccessLevel.GRAY_BOX, False, False),
    ("top_k", "teacher", AccessLevel.WHITE_BOX, False, False),
    ("score", "teacher", AccessLevel.TEACHER_SIDE, False, True),
    ("hidden", "reference", AccessLevel.GRAY_BOX, True, False),
    ("hidden", "student", AccessLevel.WHITE_BOX, True, True),
    ("hidden", "teacher", AccessLevel.WHITE_BOX, True, False),
    ("hidden", "teacher", AccessLevel.TEACHER_SIDE, True, True),
    ("weights", "student", AccessLevel.WHITE_BOX, True, True),
    ("weights", "reference", AccessLevel.WHITE_BOX, True, False),
    ("weights", "teacher", AccessLevel.WHITE_BOX, True, False),
])
def test_track_rules(kind, role, access, logprobs, allowed):
    why = refusal(kind, role, access, TeacherApi(logprobs=logprobs))
    assert (why is None) is allowed, why


def test_meter_says_which_limit_and_by_how_much():
    meter = Meter(Budget.Q1K, evidence=400)
    meter.charge("student", 500)
    with pytest.raises(BudgetExceeded, match=r"allows 1,000 queries per pair.*bring the pair to 1,150.*over by 150"):
        meter.charge("teacher", 250)
    assert meter.cost.total_queries == 900 and meter.cost.calls == 1
    with pytest.raises(BudgetExceeded, match="evidence-only"):
        Meter(Budget.EVIDENCE_ONLY).charge("student", 1)
    flood = Meter(Budget.Q100K)
    for _ in range(MAX_CALLS):
        flood.charge("teacher", 1)
    with pytest.raises(BudgetExceeded, match="a flood"):
        flood.charge("teacher", 1)


# -- the harness on the micro suite's models ----------------------------------------------------------------------
def test_evidence_is_cut_to_what_a_detector_reads_and_counted(view, dev_pairs):
    pair = dev_pairs[0]
    nothing = view.pair(pair, AccessLevel.WHITE_BOX, uses=frozenset())
    assert nothing.student.generations == {} and nothing.student.logliks is None and nothing.student.hidden is None
    assert {t.role for t in nothing.pool} == {"corpus"}
    assert evidence_queries(nothing) == 0
    answers = view.pair(pair, AccessLevel.WHITE_BOX, uses=frozenset({"generations"}))
    n_models = 2 + len(answers.references)
    assert evidence_queries(answers) == len(answers.prompts) * n_models
    assert answers.student.logliks is None and {t.role for t in answers.pool} == {"corpus"}
    scores = view.pair(pair, AccessLevel.GRAY_BOX, uses=frozenset({"logliks"}))
    assert scores.student.logliks and any(t.role == "teacher" for t in scores.pool)


def test_answers_are_seeded_cached_and_carry_no_names(view, dev_pairs, tmp_path):
    harness = QueryHarness(view, tmp_path / "answers.sqlite")
    pair = dev_pairs[0]
    ev = view.pair(pair, AccessLevel.GRAY_BOX, uses=frozenset())
    session = harness.session(pair, ev, AccessLevel.GRAY_BOX, Budget.Q1K)
    ask = dict(model="student", prompts=["the sea is", "in the city the"], max_new_tokens=10, n=3)
    a = session.answer(Generate(**ask, seed=1))
    assert harness.model_calls == 1
    again = session.answer(Generate(**ask, seed=1))
    assert again == a and harness.model_calls == 1  # from the cache
    fresh = QueryHarness(view, None)  # no cache: the model itself gives the same samples for the same seed
    ev2 = view.pair(pair, AccessLevel.GRAY_BOX, uses=frozenset())
    assert fresh.session(pair, ev2, AccessLevel.GRAY_BOX, Budget.Q1K).answer(Generate(**ask, seed=1)) == a
    other = session.answer(Generate(**ask, seed=2))
    assert other.texts != a.texts  # 6 samples of 10 tokens at temperature 1: another seed, other samples
    scored = session.answer(Score(model="student", texts=[{"context": "the sea", "continuation": " is blue"}]))
    assert scored.sums[0] < 0 and len(scored.per_token[0]) >= 1 and abs(sum(scored.per_token[0]) - scored.sums[0]) < 1e-3
    names = {m.name for m in view.manifest.models} | {m.fingerprint for m in view.manifest.models}
    for answer in (a, other, scored):
        text = ANSWER.dump_json(answer).decode()
        assert not any(f'"{n}"' in text for n in names)
    assert session.cost.calls == 4 and session.cost.queries == {"student": 19}


def test_in_process_detection_measures_cost_and_reruns_without_model_calls(view, tmp_path):
    harness = QueryHarness(view, tmp_path / "answers.sqlite")
    first = run_detector(Sampler(), view, harness=harness)
    assert not [v.error for v in first.verdicts if v.error]
    assert first.cost.model_calls > 0 and first.cost.budget is Budget.Q1K
    assert first.queries_per_pair == round(first.cost.queries_per_pair) > 0
    assert all(v.cost.request_queries == 6 * 2 * 2 + 6 or v.cost.request_queries < 30 for v in first.verdicts)
    second = run_detector(Sampler(), view, harness=QueryHarness(view, tmp_path / "answers.sqlite"))
    assert second.cost.model_calls == 0
    assert [v.score for v in second.verdicts] == [v.score for v in first.verdicts]


def test_missing_models_are_one_clear_error(view, tmp_path, monkeypatch):
    harness = QueryHarness(view, None)
    monkeypatch.setattr(harness, "model_dir", lambda name: tmp_path / "absent" / name)
    with pytest.raises(Exception, match="hub fetch models"):
        harness.check_models([p for p in view.manifest.pairs if p.split == "dev"])


# -- contained ----------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sandbox(micro_home):
    box = Bubblewrap(forbidden=[micro_home])
    box.check()
    return box


def _query_submission(root, slug, plan, **meta):  # noqa: ANN001, ANN003
    source = QUERY_DETECTOR.replace("__PLAN__", json.dumps(plan))
    return write_submission(root, slug, source, {"track": "white-box", "cost": {"budget": "10k", "cpu_seconds_per_pair": 0.1},
                                                 **meta})


@pytest.fixture(scope="module")
def battery(tmp_path_factory, view, sandbox, dev_pairs):
    """One contained run of the hostile query detector, and the same detector in-process with no plan."""
    tmp = tmp_path_factory.mktemp("queries")
    seen = [view.pair(p, AccessLevel.WHITE_BOX).pair_id for p in dev_pairs]
    stable = [view.pair_id(p) for p in dev_pairs]
    plan = dict(zip(seen, CASES, strict=False))
    by_case = dict(zip(CASES, stable, strict=False))
    harness = QueryHarness(view, tmp / "answers.sqlite")
    harness.api = TeacherApi(logprobs=False)
    contained = run_split(load_submission(_query_submission(tmp, "hostile-queries", plan), review=False), view, "dev",
                          LIMITS, sandbox, harness=harness)
    calm = run_split(load_submission(_query_submission(tmp / "calm", "hostile-queries", {}), review=False), view, "dev",
                     LIMITS, None, harness=harness)
    return contained, calm, by_case


@pytest.mark.parametrize(("case", "message"), [
    ("overruns", r"budget tier `10k` allows 10,000 queries per pair; this request \(1,024 queries\).*over by"),
    ("floods", r"more than 2,000 requests for one pair"),
    ("teacher_hidden", r"the teacher is an API on the white-box track: its hidden states are not available"),
    ("teacher_logprobs", r"the teacher is an API that serves no token log-probabilities on this suite"),
    ("names_model", r"no model 'ref-1' in this pair"),
    ("other_student", r"no model 'a-seq' in this pair"),
    ("swallows", r"`weights` reads the student's parameters"),
])
def test_hostile_queries_fail_their_pair_with_one_clear_message(battery, case, message):
    contained, _, by_case = battery
    error = contained.failures.get(by_case[case])
    assert error is not None and error.startswith("query refused: "), error
    import re

    assert re.search(message, error), error


def test_other_pairs_finish_with_the_in_process_scores(battery):
    contained, calm, by_case = battery
    assert contained.load_error is None and contained.restarts == 0
    hit = set(by_case.values())
    ours = {v.pair_id: v.score for v in contained.verdicts.verdicts if v.pair_id not in hit}
    theirs = {v.pair_id: v.score for v in calm.verdicts.verdicts if v.pair_id not in hit}
    assert ours and ours == theirs and None not in ours.values()
    assert contained.verdicts.cost.budget is Budget.Q10K
    per_pair = {v.pair_id: v.cost for v in contained.verdicts.verdicts}
    assert all(per_pair[p].request_queries == 4 for p in ours)  # two greedy prompts to teacher and student


def test_declared_budget_must_match_the_class(tmp_path, view, sandbox):
    folder = _query_submission(tmp_path, "budget-mismatch", {}, cost={"budget": "1k", "cpu_seconds_per_pair": 0.1})
    out = run_split(load_submission(folder, review=False), view, "dev", LIMITS, sandbox,
                    harness=QueryHarness(view, None))
    assert out.load_error and "declares budget '10k'" in out.load_error and "cost.budget '1k'" in out.load_error


# -- what a shared cache, a malformed line or a backend's words could carry --------------------------------------
def test_another_untrusted_pairs_entry_is_as_slow_as_computing_it(view, dev_pairs, tmp_path, monkeypatch):
    """A cache hit on an entry another untrusted pair made is padded to the entry's compute time (a note written in
    one pair cannot be read by timing in the next); trusted entries and a pair's own are answered at once."""
    import distillbench.query.harness as harness_module

    slept = []
    monkeypatch.setattr(harness_module.time, "sleep", slept.append)
    harness = QueryHarness(view, tmp_path / "answers.sqlite")
    ask = Generate(model="teacher", prompts=["memo:1:0"], max_new_tokens=2, temperature=0.0)
    first, second = dev_pairs[0], dev_pairs[1]

    def ask_in(pair, scope):  # noqa: ANN001, ANN202
        ev = view.pair(pair, AccessLevel.BLACK_BOX, uses=frozenset())
        return harness.session(pair, ev, AccessLevel.BLACK_BOX, Budget.Q1K, scope=scope).answer(ask)

    a = ask_in(first, "submission-x")  # writes the note
    assert harness.model_calls == 1 and slept == []
    assert ask_in(first, "submission-x") == a and slept == []  # its own entry, on a re-run: at once
    assert ask_in(second, "submission-x") == a and len(slept) == 1 and slept[0] > 0  # another pair: padded
    assert ask_in(second, None) == a and len(slept) == 2  # trusted code reading an untrusted entry: padded too
    assert harness.model_calls == 1  # never recomputed
    trusted = Generate(model="teacher", prompts=["made by trusted code"], max_new_tokens=2, temperature=0.0)
    ev = view.pair(first, AccessLevel.BLACK_BOX, uses=frozenset())
    harness.session(first, ev, AccessLevel.BLACK_BOX, Budget.Q1K).answer(trusted)
    harness.session(second, ev, AccessLevel.BLACK_BOX, Budget.Q1K, scope="submission-y").answer(trusted)
    assert len(slept) == 2


def test_malformed_lines_and_backend_errors_fail_the_pair_not_the_run(view, dev_pairs, tmp_path):
    pair = dev_pairs[0]
    ev = view.pair(pair, AccessLevel.WHITE_BOX, uses=frozenset())
    harness = QueryHarness(view, None)
    session = harness.session(pair, ev, AccessLevel.WHITE_BOX, Budget.Q10K, scope="s")
    deep = b'{"kind":"query","request":' + b"[" * 100_000  # json.loads raises RecursionError
    reply = json.loads(session.answer_line(deep))
    assert reply["ok"] is False and session.failure.startswith("query refused: malformed request")

    class Broken:
        def answer(self, request):  # noqa: ANN001, ANN202
            raise OSError("cannot open /srv/models/t03-seq-25/model.safetensors")

    harness = QueryHarness(view, None, load=lambda name: Broken())
    session = harness.session(pair, ev, AccessLevel.WHITE_BOX, Budget.Q10K, scope="s")
    reply = json.loads(session.answer_line(b'{"kind":"query","request":{"kind":"generate","model":"student",'
                                           b'"prompts":["a"]}}'))
    assert reply["ok"] is False and "t03" not in reply["error"] and "harness error" in reply["error"]
    assert "t03-seq-25" in session.failure  # the run's own record keeps the detail


def test_oversized_generation_is_refused_before_it_runs(view, dev_pairs):
    harness = QueryHarness(view, None)
    pair = dev_pairs[0]
    ev = view.pair(pair, AccessLevel.BLACK_BOX, uses=frozenset())
    session = harness.session(pair, ev, AccessLevel.BLACK_BOX, Budget.Q1K)
    big = Generate(model="student", prompts=["a"] * 256, n=2, max_new_tokens=256)  # 512 queries, 131,072 tokens
    with pytest.raises(Exception, match=r"allows 100,000 generated \+ scored tokens.*up to 131,072"):
        session.answer(big)
    assert harness.model_calls == 0


def test_weights_cost_by_the_values_read(view, dev_pairs):
    harness = QueryHarness(view, None)
    pair = dev_pairs[0]
    ev = view.pair(pair, AccessLevel.WHITE_BOX, uses=frozenset())
    session = harness.session(pair, ev, AccessLevel.WHITE_BOX, Budget.Q1K)
    names = session.answer(Weights(model="student"))
    assert names.values == {} and session.cost.request_queries == 1
    everything = list(names.shapes)
    got = session.answer(Weights(model="student", names=everything))
    n = sum(len(v) for v in got.values.values())
    assert n > 20_000 and session.cost.request_queries == 1 + -(-n // 10_000)
    assert session.cost.calls == 2
