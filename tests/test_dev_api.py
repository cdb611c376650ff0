"""The notebook path (`distillbench.dev`): the committed standard dev evidence loaded as Python objects, a detector
object scored on all of it without registration or sandbox, twice in one process, with the leaderboard's numbers;
and `@register` re-run as a notebook cell re-runs it."""

import inspect
import textwrap
from pathlib import Path

import pytest

from distillbench import dev
from distillbench.detect import registry
from distillbench.detect.base import Verdict
from distillbench.detect.baselines.random_score import RandomDetector
from distillbench.errors import DistillBenchError
from distillbench.evidence.view import AccessLevel
from distillbench.files import read_model
from distillbench.paths import Workspace
from distillbench.score.results import Results


class LengthRatio:
    """Cheap: how close the student's answer lengths are to the teacher's, relative to the references'."""

    name = "length_ratio"
    access = AccessLevel.BLACK_BOX
    summary = "answer-length similarity"
    uses = frozenset({"generations"})

    def score(self, pair):
        def mean_len(m):
            return sum(len(t) for t in m.generations.values()) / max(1, len(m.generations))

        t = mean_len(pair.teacher)
        gap = abs(mean_len(pair.student) - t)
        refs = sorted(abs(mean_len(r) - t) for r in pair.references)
        return Verdict(score=-gap, p_value=(1 + sum(r <= gap for r in refs)) / (1 + len(refs)))


class FailsOnSome(LengthRatio):
    name = "fails_on_some"

    def score(self, pair):
        if int(pair.pair_id, 16) % 5 == 0:
            raise RuntimeError("no luck\nsecond line")
        return super().score(pair)


@pytest.fixture(scope="module")
def pairs(standard_home):
    return dev.load("standard", home=standard_home)


def test_load_gives_the_dev_split_as_evidence(pairs):
    assert len(pairs) == 1944 and pairs.suite == "standard"
    assert "1944 pairs, 384 positive, 48 teachers" in repr(pairs)
    first = pairs[0]
    assert first.access is AccessLevel.TEACHER_SIDE and first.teacher_secret is not None
    black = pairs.at("black-box")[0]
    assert black.access is AccessLevel.BLACK_BOX and black.student.logliks is None and black.teacher_secret is None


def test_a_detector_object_scores_every_pair_twice_alike(pairs):
    first = dev.evaluate(LengthRatio(), pairs)
    again = dev.evaluate(LengthRatio, pairs)  # a class is instantiated; the same process, the same view
    assert first.n_pairs == 1944 and first.n_failed == 0 and first.coverage == 1.0
    assert [v.score for v in first.verdicts.verdicts] == [v.score for v in again.verdicts.verdicts]
    assert first.auroc == again.auroc and 0.0 <= first.auroc <= 1.0
    assert first.auroc_ci is None and first.results is None  # intervals only on request
    text = str(first)
    assert text.startswith("length_ratio (black-box) on standard dev: 1944 pairs, 384 positive")
    assert f"AUROC {first.auroc:.3f}" in text and "detected at 5% FPR: dose-100" in text
    frame = first.frame()
    assert len(frame) == 1944 and frame["label"].sum() == 384 and frame["error"].isna().all()


def test_intervals_come_from_the_leaderboard_scorer_and_agree(pairs):
    fast = dev.evaluate(LengthRatio(), pairs)
    full = dev.evaluate(LengthRatio(), pairs, intervals=True)
    assert isinstance(full.results, Results) and full.results.detectors[0].detector == "length_ratio"
    lo, hi = full.auroc_ci
    assert lo < full.auroc < hi and full.tpr_at_5pct_fpr_ci is not None
    assert full.auroc == pytest.approx(fast.auroc, abs=1e-12)
    assert (full.tpr_at_1pct_fpr, full.tpr_at_5pct_fpr, full.fpr_at_p05) == (
        fast.tpr_at_1pct_fpr, fast.tpr_at_5pct_fpr, fast.fpr_at_p05)
    assert full.conditions.keys() == fast.conditions.keys()
    for c, (kind, v) in full.conditions.items():
        assert fast.conditions[c][0] == kind
        assert fast.conditions[c][1] == pytest.approx(v, abs=1e-12), c


def test_same_numbers_as_the_cli_evaluate(pairs, standard_home):
    """`distillbench evaluate --detector random` wrote results.json; the same detector as an object matches it
    exactly (the random baseline reads the pair id, so this also checks the ids a detector sees are the CLI's)."""
    cli = {r.detector: r for r in read_model(Workspace(standard_home).results_path("standard"), Results, "r").detectors}
    mine = dev.evaluate(RandomDetector(), pairs)
    assert mine.auroc == pytest.approx(cli["random"].overall.auroc, abs=1e-12)
    assert mine.tpr_at_5pct_fpr == cli["random"].overall.tpr_at_5pct_fpr


def test_a_failing_pair_is_recorded_and_the_rest_scored(pairs):
    result = dev.evaluate(FailsOnSome(), pairs)
    assert 0 < result.n_failed < 1944 and len(result.failures) == result.n_failed
    names = {p.pair_id for p in pairs.records}
    assert set(result.failures) <= names  # the public dev pair names, not masked ids
    assert set(result.failures.values()) == {"RuntimeError: no luck"}
    assert result.coverage == pytest.approx(1 - result.n_failed / 1944)
    assert "failed: " in str(result)


def test_objects_that_are_not_detectors_are_refused_with_the_reason(pairs):
    class NoUses:
        name, access, summary = "x", "black-box", "x"

        def score(self, pair):
            return Verdict(score=0.0)

    class Telepathic(NoUses):
        uses = frozenset({"telepathy"})

    with pytest.raises(DistillBenchError, match="not a usable detector: NoUses is not a detector: it has no `uses`"):
        dev.evaluate(NoUses(), pairs)
    with pytest.raises(DistillBenchError, match=r"Telepathic.uses must be a set of evidence kinds from generations, "
                                                r"hidden, logliks, pool; got frozenset\(\{'telepathy'\}\)"):
        dev.evaluate(Telepathic(), pairs)


CELL = textwrap.dedent('''
    from distillbench.detect.base import Verdict
    from distillbench.detect.registry import register

    @register
    class CellDetector:
        name = "cell_detector_for_tests"
        access = "black-box"
        summary = "VERSION"
        uses = frozenset({"generations"})

        def score(self, pair):
            return Verdict(score=0.0)
''')


def test_rerunning_a_notebook_cell_with_register_replaces_the_class(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    for version in ("first", "second"):
        exec(CELL.replace("VERSION", version), {"__name__": "__main__"})  # noqa: S102 (a notebook cell, twice)
    assert registry.get_detector("cell_detector_for_tests").summary == "second"
    other = CELL.replace("class CellDetector", "class SomeoneElse")
    with pytest.raises(ValueError, match="detector name 'cell_detector_for_tests' is already registered by "
                                         "__main__.CellDetector; choose another `name`"):
        exec(other, {"__name__": "__main__"})  # noqa: S102
    with pytest.raises(ValueError, match="CellDetector.uses must be a set of evidence kinds"):
        exec(CELL.replace('{"generations"}', '{"telepathy"}'), {"__name__": "__main__"})  # noqa: S102


# The same class, as a submission's detector.py: the notebook and the contained run must agree on it.
LENGTH_SUBMISSION = ("from distillbench.detect.base import Verdict\nfrom distillbench.evidence.view import AccessLevel\n\n\n"
                     + inspect.getsource(LengthRatio))


def test_submission_run_gives_the_notebook_numbers_next_to_the_track_baselines(pairs, standard_home, tmp_path, capsys):
    """The same class as a submission folder: `submission run` scores it as `dev.evaluate` does, prints the
    black-box baselines of the workspace's results.json (random) beside it and per condition, writes a local file
    that `submission clean` removes."""
    import sys

    from conftest import run_cli

    sys.path.insert(0, str(Path(__file__).parent))
    from hostile import write_submission

    from distillbench.submission.results import load_results

    folder = write_submission(tmp_path, "length-ratio", LENGTH_SUBMISSION, meta={"entry_point": "detector:LengthRatio"})
    home = str(standard_home)
    assert run_cli("submission", "run", str(folder), "--home", home, "--unsafe-in-process") == 0
    out = capsys.readouterr().out
    notebook = dev.evaluate(LengthRatio(), pairs)
    assert "valid: length-ratio (Hostile test detector 1.0.0, black-box): 1944/1944 dev pairs" in out
    assert "black-box track: this submission and the track's baselines (from " + str(
        Workspace(standard_home).results_path("standard")) in out
    mine = [ln.split() for ln in out.splitlines() if ln.startswith("this submission ")]
    baselines = [ln.split() for ln in out.splitlines() if ln.strip().startswith("baseline ")]
    assert mine and mine[0][2:4] == ["length-ratio", f"{notebook.auroc:.3f}"]
    assert [b[1] for b in baselines] == ["random"]
    assert "cross_likelihood" not in out  # gray-box: another track
    assert "Negative types flagged at that same threshold" in out
    path = standard_home / "submissions" / "length-ratio" / "1.0.0-dev.json"
    record = load_results(path)
    assert record.status == "local"
    assert record.metrics.detectors[0].overall.auroc == pytest.approx(notebook.auroc, abs=1e-12)
    assert run_cli("submission", "clean", "length-ratio", "--home", home) == 0
    assert not path.exists()
