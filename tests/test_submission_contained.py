"""Hostile submissions run for real in the bubblewrap sandbox: each misbehaviour is recorded on its own pair as one
clear message, and every other pair keeps its score.

Contained runs over the micro suite's dev split carry the battery: one detector whose misbehaviours raise in its
own process (exception, NaN, memory exhaustion, network and socket families, reading protected files, writing
results, SysV IPC, reaching into the zygote, filling /dev); one whose misbehaviours end its process (endless loop,
self-kill, output flood, segfault), which the zygote absorbs without restarting the sandbox; one that tries to
remember pairs five ways; and one that attacks the whole sandbox's limits (memory held across processes, a fork
bomb). The submissions are loaded with `review=False`: the sandbox must hold against code the static review of
imports would have refused.
"""

import math
import os
import re
import socket
from pathlib import Path

import pytest
from hostile import MEMORY_DETECTOR, hostile_submission, write_submission

import distillbench
from distillbench.errors import DistillBenchError
from distillbench.evidence.view import AccessLevel
from distillbench.paths import Workspace
from distillbench.submission import cgroup
from distillbench.submission.execute import run_split
from distillbench.submission.folder import SubmissionInvalid, load_submission
from distillbench.submission.sandbox import SHM_BYTES, Bubblewrap, Limits
from distillbench.submission.suite import open_view
from distillbench.submission.validate import validate

LIMITS = Limits(pair_seconds=20, total_seconds=300, startup_seconds=60, memory_mb=1024)
SURVIVABLE = ["raises", "nan", "allocates", "socket", "snoops", "writes", "userns", "families", "sysv", "zygote",
              "fills_dev", "parent"]
FATAL = ["loops", "crashes", "floods", "segfaults"]
HOST = ["hogs_memory", "forkbomb"]
HOST_LIMITS = LIMITS.model_copy(update={"memory_mb": 2048, "total_memory_mb": 1280, "total_processes": 48})
SECRET = "hidden-split-seed-4242"
WELL_BEHAVED = """from distillbench.detect.base import Verdict
from distillbench.evidence.view import AccessLevel


class Hostile:
    name = "plain"
    access = AccessLevel.BLACK_BOX
    summary = "scores a pair by how many answers its student gave"
    uses = frozenset({"generations"})

    def score(self, pair):
        return Verdict(score=float(len(pair.student.generations)), p_value=None)
"""


def _load(folder):
    return load_submission(folder, review=False)


@pytest.fixture(scope="module")
def view(micro_home):
    return open_view(Workspace(micro_home), "micro")


@pytest.fixture(scope="module")
def dev_ids(view):
    """The stable ids verdicts are recorded under."""
    return [view.pair_id(p) for p in view.manifest.pairs if p.split == "dev"]


@pytest.fixture(scope="module")
def seen_ids(view):
    """The ids the detector sees (masked per run key; run_split uses the view's default key), in dev order."""
    return [view.pair(p, AccessLevel.BLACK_BOX).pair_id for p in view.manifest.pairs if p.split == "dev"]


def _plan(seen_ids, dev_ids, cases):
    """{id the detector sees: case}, and {case: stable id} to find its verdict."""
    return dict(zip(seen_ids, cases, strict=False)), dict(zip(cases, dev_ids, strict=False))


@pytest.fixture(scope="module")
def sandbox(micro_home):
    box = Bubblewrap(forbidden=[micro_home])
    box.check()
    return box


@pytest.fixture(scope="module")
def survivable(tmp_path_factory, view, sandbox, dev_ids, seen_ids, micro_home):
    """One contained run: each survivable misbehaviour on its own pair. Returns (outcome, plan, context)."""
    tmp = tmp_path_factory.mktemp("survivable")
    plan, by_case = _plan(seen_ids, dev_ids, SURVIVABLE)
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
        outcome = run_split(_load(folder), view, "dev", LIMITS, sandbox)
    finally:
        mp.undo()
    try:
        listener.accept()
        connected = True
    except BlockingIOError:
        connected = False
    listener.close()
    return outcome, by_case, {
        "existing": existing, "results": results, "folder": folder, "host_connected": connected}


@pytest.fixture(scope="module")
def fatal(tmp_path_factory, view, sandbox, dev_ids, seen_ids):
    tmp = tmp_path_factory.mktemp("fatal")
    plan, by_case = _plan(seen_ids, dev_ids, FATAL)
    folder = hostile_submission(tmp, "hostile-fatal", plan)
    outcome = run_split(_load(folder), view, "dev", LIMITS.model_copy(update={"pair_seconds": 2}), sandbox)
    return outcome, by_case


@pytest.fixture(scope="module")
def host(tmp_path_factory, view, sandbox, dev_ids, seen_ids):
    """One run against the whole sandbox's limits: 1,280 MiB and 48 processes in total, 2,048 MiB per process."""
    tmp = tmp_path_factory.mktemp("host")
    plan, by_case = _plan(seen_ids, dev_ids, HOST)
    folder = hostile_submission(tmp, "hostile-host", plan, hog_mib=700, bomb_seconds=2)
    outcome = run_split(_load(folder), view, "dev", HOST_LIMITS, sandbox)
    return outcome, by_case


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
    # The seccomp filter refuses AF_INET outright (and were it allowed, the network namespace holds only its own
    # loopback): the host's listener on 127.0.0.1 is unreachable.
    _check(outcome, by_case, "socket",
           "raised RuntimeError: network: 1.1.1.1: PermissionError, 127.0.0.1: PermissionError", dev_ids)
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


def test_detector_refused_every_socket_family_but_unix(survivable, dev_ids):
    outcome, by_case, _ = survivable
    _check(outcome, by_case, "families",
           "raised RuntimeError: families: AF_VSOCK=PermissionError AF_INET=PermissionError AF_INET6=PermissionError "
           "AF_NETLINK=PermissionError AF_PACKET=PermissionError AF_UNIX=opened socketpair(AF_INET)=PermissionError",
           dev_ids)


def test_detector_cannot_make_ipc_objects_that_outlive_it(survivable, dev_ids):
    outcome, by_case, _ = survivable
    _check(outcome, by_case, "sysv", "raised RuntimeError: ipc: shmget=Operation not permitted semget=Operation not "
           "permitted msgget=Operation not permitted mq_open=Operation not permitted", dev_ids)


def test_detector_cannot_change_the_zygotes_limits_or_priority(survivable, dev_ids):
    outcome, by_case, _ = survivable
    _check(outcome, by_case, "parent", "raised RuntimeError: parent: prlimit(parent)=PermissionError "
           "setpriority(parent)=PermissionError setpriority(user)=PermissionError "
           "sched_setaffinity(parent)=PermissionError prlimit(self)=ok setpriority(self)=ok", dev_ids)


def test_detector_cannot_reach_into_the_zygote(survivable, dev_ids):
    outcome, by_case, _ = survivable
    _check(outcome, by_case, "zygote", "raised RuntimeError: zygote: mem=PermissionError stdin=PermissionError "
           "environ=PermissionError ptrace=Operation not permitted", dev_ids)


def test_detector_cannot_fill_dev(survivable, dev_ids):
    outcome, by_case, _ = survivable
    # /dev is read-only; /dev/shm takes files of 1 MiB (the file-size limit) until its size limit, then no more.
    _check(outcome, by_case, "fills_dev",
           f"raised RuntimeError: dev: /dev=EROFS /dev/shm=ENOSPC after {SHM_BYTES >> 20} MiB", dev_ids)


def test_detector_that_loops_forever_is_killed_by_the_zygote(fatal, dev_ids):
    outcome, by_case = fatal
    _check(outcome, by_case, "loops", "exceeded the per-pair time limit of 2 s (process killed)", dev_ids)
    assert outcome.restarts == 0  # each pair's process ends; the sandbox and its zygote serve every pair


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


def test_nothing_survives_from_one_pair_to_the_next(tmp_path, view, sandbox, dev_ids):
    """Module global, class attribute, /tmp and /dev/shm files, a background process: the detector's score says which
    traces of earlier pairs it found (0: none), and it is negative when it could not leave its own marks."""
    folder = write_submission(tmp_path, "remembers", MEMORY_DETECTOR)
    outcome = run_split(_load(folder), view, "dev", LIMITS, sandbox)
    assert outcome.failures == {} and outcome.restarts == 0
    assert [v.score for v in outcome.verdicts.verdicts] == [0.0] * len(dev_ids)


def test_memory_held_across_processes_is_limited_in_total(host, dev_ids):
    outcome, by_case = host
    # Two processes of 700 MiB each, under the 2,048 MiB per-process limit, are over the sandbox's 1,280 MiB.
    _check(outcome, by_case, "hogs_memory",
           "crashed: the sandbox's processes together exceeded its memory limit of 1280 MiB (killed)", dev_ids)
    assert outcome.restarts == 0  # the kernel picked the detector's processes, not the zygote


def test_fork_bomb_stays_bounded_and_is_cleaned_up(host, dev_ids):
    outcome, by_case = host
    error = outcome.failures[by_case["forkbomb"]]
    most = int(re.fullmatch(r"raised RuntimeError: forkbomb: at most (\d+) processes", error).group(1))
    # The bomb reached the sandbox's process limit (48, bwrap and the zygote included) and no further; the pairs
    # after it scored, so its processes were all killed.
    assert HOST_LIMITS.total_processes // 2 < most <= HOST_LIMITS.total_processes
    _check(outcome, by_case, "forkbomb", error, dev_ids)


def test_no_control_group_is_left_behind(survivable, fatal, host):
    assert "a cgroup for the whole sandbox (1280 MiB, 48 processes, 1 CPUs)" in host[0].isolation
    own = cgroup._own_groups()
    parents = {Path(point) / own.get(c, "/").lstrip("/") for point, fstype, options in cgroup._mounts()
               for c in (options & {"memory", "pids", "cpu"} if fstype == "cgroup" else {""})}
    assert [d for p in parents for d in p.glob(f"distillbench-{os.getpid()}-*")] == []


def test_without_a_control_group_the_run_fails_closed_unless_opted_out(tmp_path, view, sandbox, monkeypatch):
    sub = _load(write_submission(tmp_path, "plain", WELL_BEHAVED))
    monkeypatch.setattr(cgroup, "_mounts", lambda: [])  # a host with no cgroup hierarchy at all
    with pytest.raises(cgroup.CgroupUnavailable, match=r"contained execution is unavailable: the sandbox needs a "
                                                       r"control group .*whole_sandbox_limits=False"):
        run_split(sub, view, "dev", LIMITS, sandbox)
    outcome = run_split(sub, view, "dev", LIMITS.model_copy(update={"whole_sandbox_limits": False}), sandbox)
    assert outcome.failures == {}
    assert "NO cgroup (whole_sandbox_limits=False)" in outcome.isolation


def test_missing_class_is_one_clear_validation_error(tmp_path, view, sandbox, micro_home):
    folder = hostile_submission(tmp_path, "no-class", {}, meta={"entry_point": "detector:Nope"})
    with pytest.raises(SubmissionInvalid) as info:
        validate(folder, view, micro_home / "suites/micro/manifest.json", LIMITS, sandbox, review=False)
    assert info.value.problems == ["entry_point `detector:Nope`: module 'detector' has no class 'Nope'"]


def test_class_without_the_detector_interface(tmp_path, view, sandbox, micro_home):
    folder = write_submission(tmp_path, "not-a-detector", "class Hostile:\n    name = 'x'\n")
    with pytest.raises(SubmissionInvalid) as info:
        validate(folder, view, micro_home / "suites/micro/manifest.json", LIMITS, sandbox, review=False)
    assert info.value.problems == ["entry_point `detector:Hostile`: Hostile does not satisfy the detector interface: "
                                   "no `access`, `summary`, `uses`, `score` (see distillbench.detect.base.Detector)"]


def test_track_must_match_the_class(tmp_path, view, sandbox, micro_home):
    folder = hostile_submission(tmp_path, "wrong-track", {}, meta={"track": "gray-box"})
    with pytest.raises(SubmissionInvalid) as info:
        validate(folder, view, micro_home / "suites/micro/manifest.json", LIMITS, sandbox, review=False)
    assert info.value.problems == ["entry_point `detector:Hostile`: the class declares access 'black-box' but "
                                   "submission.yaml declares track 'gray-box'; they must match"]


def test_import_that_hangs_fails_every_pair_at_the_startup_limit(tmp_path, view, sandbox, dev_ids):
    folder = write_submission(tmp_path, "slow-import", "while True:\n    pass\n")
    outcome = run_split(_load(folder), view, "dev", LIMITS.model_copy(update={"startup_seconds": 2}), sandbox)
    assert outcome.load_error == "failed to start: did not finish loading within 2 s (process killed)"
    assert outcome.failures == {pid: outcome.load_error for pid in dev_ids}


def test_validation_names_the_failed_pair(tmp_path, view, sandbox, dev_ids, seen_ids, micro_home):
    folder = hostile_submission(tmp_path, "hostile-raises", {seen_ids[3]: "raises"})
    with pytest.raises(SubmissionInvalid) as info:
        validate(folder, view, micro_home / "suites/micro/manifest.json", LIMITS, sandbox, review=False)
    assert info.value.problems == [
        f"the detector failed on 1 of {len(dev_ids)} dev pairs (expected a finite score for every pair): pair "
        f"{dev_ids[3]}: raised ZeroDivisionError: division by zero"]


def test_well_behaved_detector_matches_in_process_scores(tmp_path, view, sandbox):
    sub = _load(hostile_submission(tmp_path, "well-behaved", {}))
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
        run_split(_load(folder), view, "dev", LIMITS, Bubblewrap())
