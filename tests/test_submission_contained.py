"""Hostile submissions run for real in the bubblewrap sandbox: each misbehaviour is recorded on its own pair as one
clear message, and every other pair keeps its score.

Two contained runs over the micro suite's dev split carry the battery: one detector whose misbehaviours leave its
process alive (exception, NaN, memory exhaustion, network, reading protected files, writing results), and one whose
misbehaviours cost the process (endless loop, self-kill, output flood), so the worker must be replaced between pairs.
"""

import math
import socket
from pathlib import Path

import pytest
from hostile import hostile_submission, write_submission

import distillbench
from distillbench.errors import DistillBenchError
from distillbench.paths import Workspace
from distillbench.submission.execute import run_split
from distillbench.submission.folder import SubmissionInvalid, load_submission
from distillbench.submission.sandbox import Bubblewrap, Limits
from distillbench.submission.suite import open_view
from distillbench.submission.validate import validate

LIMITS = Limits(pair_seconds=20, total_seconds=300, startup_seconds=60, memory_mb=1024)
SURVIVABLE = ["raises", "nan", "allocates", "socket", "snoops", "writes", "userns"]
FATAL = ["loops", "crashes", "floods", "segfaults"]
SECRET = "hidden-split-seed-4242"


@pytest.fixture(scope="module")
def view(micro_home):
    return open_view(Workspace(micro_home), "micro")


@pytest.fixture(scope="module")
def dev_ids(view):
    return [view.pair_id(p) for p in view.manifest.pairs if p.split == "dev"]


@pytest.fixture(scope="module")
def sandbox(micro_home):
    box = Bubblewrap(forbidden=[micro_home])
    box.check()
    return box


@pytest.fixture(scope="module")
def survivable(tmp_path_factory, view, sandbox, dev_ids, micro_home):
    """One contained run: each survivable misbehaviour on its own pair. Returns (outcome, plan, context)."""
    tmp = tmp_path_factory.mktemp("survivable")
    plan = dict(zip(dev_ids, SURVIVABLE, strict=False))
    secret_file = tmp / "secret.txt"
    secret_file.write_text(SECRET)
    results = tmp / "leaderboard" / "results" / "victim"
    results.mkdir(parents=True)
    existing = results / "1.0.0-dev.json"
    existing.write_text('{"kept": true}')
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.setblocking(False)
    folder = hostile_submission(
        tmp, "hostile-survivable", plan, port=listener.getsockname()[1],
        manifest=str(micro_home / "suites/micro/manifest.json"), secret_file=str(secret_file),
        evidence_dir=str(micro_home / "evidence"), home=str(micro_home),
        existing=str(existing), new=str(results / "forged.json"))
    mp = pytest.MonkeyPatch()
    mp.setenv("DISTILLBENCH_TEST_SECRET", SECRET)  # present in the benchmark's environment, absent in the sandbox
    mp.setenv("DISTILLBENCH_TEST_SECRET_FILE", str(secret_file))
    try:
        outcome = run_split(load_submission(folder), view, "dev", LIMITS, sandbox)
    finally:
        mp.undo()
    try:
        listener.accept()
        connected = True
    except BlockingIOError:
        connected = False
    listener.close()
    return outcome, {case: pid for pid, case in plan.items()}, {
        "existing": existing, "results": results, "folder": folder, "host_connected": connected}


@pytest.fixture(scope="module")
def fatal(tmp_path_factory, view, sandbox, dev_ids):
    tmp = tmp_path_factory.mktemp("fatal")
    plan = dict(zip(dev_ids, FATAL, strict=False))
    folder = hostile_submission(tmp, "hostile-fatal", plan)
    outcome = run_split(load_submission(folder), view, "dev", LIMITS.model_copy(update={"pair_seconds": 2}), sandbox)
    return outcome, {case: pid for pid, case in plan.items()}


def _check(outcome, by_case, case, expected, dev_ids):
    """The case's pair failed with exactly `expected`; every pair outside the plan has a finite score."""
    vf = outcome.verdicts
    assert [v.pair_id for v in vf.verdicts] == dev_ids
    pid = by_case[case]
    verdict = next(v for v in vf.verdicts if v.pair_id == pid)
    assert verdict.score is None and verdict.error == expected == outcome.failures[pid]
    planned = set(by_case.values())
    others = [v for v in vf.verdicts if v.pair_id not in planned]
    assert others and all(v.error is None and math.isfinite(v.score) for v in others)
    assert set(outcome.failures) == planned


def test_detector_that_raises(survivable, dev_ids):
    outcome, by_case, _ = survivable
    _check(outcome, by_case, "raises", "raised ZeroDivisionError: division by zero", dev_ids)
    assert outcome.restarts == 0  # exceptions, NaN and MemoryError do not cost the worker


def test_detector_that_returns_nan(survivable, dev_ids):
    outcome, by_case, _ = survivable
    _check(outcome, by_case, "nan", "returned a non-finite score (nan); expected a finite number", dev_ids)


def test_detector_that_allocates_without_bound(survivable, dev_ids):
    outcome, by_case, _ = survivable
    _check(outcome, by_case, "allocates", "ran out of memory (MemoryError; the limit is 1024 MiB)", dev_ids)


def test_detector_that_opens_sockets_reaches_nothing(survivable, dev_ids):
    outcome, by_case, ctx = survivable
    # No route out; and the sandbox's loopback is its own, so the host's listener on 127.0.0.1 is unreachable.
    _check(outcome, by_case, "socket",
           "raised RuntimeError: network: 1.1.1.1: OSError, 127.0.0.1: ConnectionRefusedError", dev_ids)
    assert not ctx["host_connected"]


def test_detector_cannot_read_labels_evidence_workspace_or_secret(survivable, dev_ids):
    outcome, by_case, _ = survivable
    _check(outcome, by_case, "snoops",
           "raised RuntimeError: snoop: env=None manifest=FileNotFoundError secret_file=FileNotFoundError "
           "evidence_dir=FileNotFoundError home=FileNotFoundError proc1=PermissionError", dev_ids)


def test_detector_cannot_write_results_or_its_own_folder(survivable, dev_ids):
    outcome, by_case, ctx = survivable
    _check(outcome, by_case, "writes",
           "raised RuntimeError: write: overwrite=FileNotFoundError create=FileNotFoundError own=OSError", dev_ids)
    assert ctx["existing"].read_text() == '{"kept": true}'
    assert sorted(p.name for p in ctx["results"].iterdir()) == ["1.0.0-dev.json"]
    assert not (ctx["folder"] / "evil.py").exists()


def test_detector_cannot_create_a_user_namespace(survivable, dev_ids):
    outcome, by_case, _ = survivable
    _check(outcome, by_case, "userns", "raised PermissionError: unshare(CLONE_NEWUSER): Operation not permitted", dev_ids)


def test_detector_that_loops_forever_is_killed_and_replaced(fatal, dev_ids):
    outcome, by_case = fatal
    _check(outcome, by_case, "loops", "exceeded the per-pair time limit of 2 s (process killed)", dev_ids)
    assert outcome.restarts == len(FATAL)


def test_detector_that_kills_its_process(fatal, dev_ids):
    outcome, by_case = fatal
    _check(outcome, by_case, "crashes", "crashed: the worker process exited with code 3 before replying", dev_ids)


def test_detector_that_dies_of_a_signal(fatal, dev_ids):
    outcome, by_case = fatal
    _check(outcome, by_case, "segfaults", "crashed: the worker process was killed by SIGSEGV", dev_ids)


def test_detector_that_floods_output(fatal, dev_ids):
    outcome, by_case = fatal
    _check(outcome, by_case, "floods", "wrote more than 1048576 bytes of output to stdout/stderr (process killed)",
           dev_ids)


def test_missing_class_is_one_clear_validation_error(tmp_path, view, sandbox, micro_home):
    folder = hostile_submission(tmp_path, "no-class", {}, meta={"entry_point": "detector:Nope"})
    with pytest.raises(SubmissionInvalid) as info:
        validate(folder, view, micro_home / "suites/micro/manifest.json", LIMITS, sandbox)
    assert info.value.problems == ["entry_point `detector:Nope`: module 'detector' has no class 'Nope'"]


def test_class_without_the_detector_interface(tmp_path, view, sandbox, micro_home):
    folder = write_submission(tmp_path, "not-a-detector", "class Hostile:\n    name = 'x'\n")
    with pytest.raises(SubmissionInvalid) as info:
        validate(folder, view, micro_home / "suites/micro/manifest.json", LIMITS, sandbox)
    assert info.value.problems == ["entry_point `detector:Hostile`: Hostile does not satisfy the detector interface: "
                                   "no `access`, `summary`, `uses`, `score` (see distillbench.detect.base.Detector)"]


def test_track_must_match_the_class(tmp_path, view, sandbox, micro_home):
    folder = hostile_submission(tmp_path, "wrong-track", {}, meta={"track": "gray-box"})
    with pytest.raises(SubmissionInvalid) as info:
        validate(folder, view, micro_home / "suites/micro/manifest.json", LIMITS, sandbox)
    assert info.value.problems == ["entry_point `detector:Hostile`: the class declares access 'black-box' but "
                                   "submission.yaml declares track 'gray-box'; they must match"]


def test_import_that_hangs_fails_every_pair_at_the_startup_limit(tmp_path, view, sandbox, dev_ids):
    folder = write_submission(tmp_path, "slow-import", "while True:\n    pass\n")
    outcome = run_split(load_submission(folder), view, "dev", LIMITS.model_copy(update={"startup_seconds": 2}), sandbox)
    assert outcome.load_error == "failed to start: did not finish loading within 2 s (process killed)"
    assert outcome.failures == {pid: outcome.load_error for pid in dev_ids}


def test_validation_names_the_failed_pair(tmp_path, view, sandbox, dev_ids, micro_home):
    folder = hostile_submission(tmp_path, "hostile-raises", {dev_ids[3]: "raises"})
    with pytest.raises(SubmissionInvalid) as info:
        validate(folder, view, micro_home / "suites/micro/manifest.json", LIMITS, sandbox)
    assert info.value.problems == [
        f"the detector failed on 1 of {len(dev_ids)} dev pairs (expected a finite score for every pair): pair "
        f"{dev_ids[3]}: raised ZeroDivisionError: division by zero"]


def test_well_behaved_detector_matches_in_process_scores(tmp_path, view, sandbox):
    sub = load_submission(hostile_submission(tmp_path, "well-behaved", {}))
    contained = run_split(sub, view, "dev", LIMITS, sandbox)
    unsafe = run_split(sub, view, "dev", LIMITS, None)
    assert contained.failures == {} and contained.restarts == 0 and "bubblewrap" in contained.isolation
    assert unsafe.isolation.startswith("none: --unsafe-in-process")
    assert [v.score for v in unsafe.verdicts.verdicts] == [v.score for v in contained.verdicts.verdicts]


def test_sandbox_refuses_to_mount_a_forbidden_path():
    inside = Path(distillbench.__file__).parent / "workspace-inside-the-package"
    with pytest.raises(DistillBenchError, match="refusing to run a submission: the sandbox would expose"):
        Bubblewrap(forbidden=[inside]).argv(None, ["true"])


def test_tmp_is_mounted_before_binds_so_a_checkout_under_tmp_stays_visible():
    argv = Bubblewrap().argv(Path("/tmp/snapshot"), ["true"])
    binds = [i for i, a in enumerate(argv) if a == "--ro-bind" and argv[i + 1] != "/usr"]
    assert binds and argv.index("--tmpfs") < min(binds)


def test_missing_bwrap_fails_closed(tmp_path, view, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH without bwrap
    folder = hostile_submission(tmp_path, "closed", {})
    with pytest.raises(DistillBenchError, match=r"contained execution is unavailable: bubblewrap \(`bwrap`\) is not "
                                                r"installed.*--unsafe-in-process"):
        run_split(load_submission(folder), view, "dev", LIMITS, Bubblewrap())
