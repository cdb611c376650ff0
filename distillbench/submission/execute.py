"""Runs one submission over one split's pairs: contained (the default) or in-process (debugging only).

Takes a validated `Submission`, an `EvidenceView` and a split; produces a `VerdictFile` (the detect stage's format,
so `distillbench.score.results.score` reads it unchanged) and what happened on the way. The evidence for each pair
is built here, in the benchmark's process, cut to the submission's declared track; the worker only ever receives
that. Labels stay in the manifest; nothing of the manifest but the pair list is read.

Contained, one sandbox serves many pairs: its trusted zygote (`worker.py`) forks a fresh process for each pair and
cleans up after it, so a detector keeps nothing from one pair to the next while start-up (Python, torch) is paid
once. The zygote enforces the per-pair time limit itself (a hang costs that pair, not the sandbox); the benchmark
keeps its own per-pair and total limits as a backstop, and when the sandbox dies anyway (an output flood, a
killed zygote) that pair is recorded as failed and a fresh sandbox takes the next one.

Verdicts and failures are recorded under the pair's stable id (`EvidenceView.pair_id`), which the scorer joins on;
the id the detector sees (`PairEvidence.pair_id`, which may be drawn afresh per run) is only what its reply must
echo.
"""

from __future__ import annotations

import secrets
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from distillbench.detect.runner import PairVerdict, VerdictFile
from distillbench.errors import DistillBenchError
from distillbench.evidence.view import EvidenceView, PairEvidence
from distillbench.query.meter import Budget, PairCost, evidence_queries, summarize
from distillbench.submission.folder import Snapshot, Submission
from distillbench.submission.protocol import (
    QUERY_PREFIX, Encoder, LoadFailed, Ready, frame, parse_hello, parse_reply,
)
from distillbench.submission.sandbox import (
    ZYGOTE_GRACE_SECONDS, ZYGOTE_START_SECONDS, Bubblewrap, Limits, WorkerProcess,
)
from distillbench.submission.worker import LoadError, load_entry_point, score_one

UNSAFE = "none: --unsafe-in-process (the detector ran unconfined in the benchmark's process)"


@dataclass
class RunOutcome:
    verdicts: VerdictFile
    isolation: str
    ready: Ready | None = None
    load_error: str | None = None
    restarts: int = 0
    failures: dict[str, str] = field(default_factory=dict)  # stable opaque pair id (view.pair_id) -> reason
    model_calls: int | None = None  # query answers computed by a model in this run (None: it made no requests)

    @property
    def n_failed(self) -> int:
        return len(self.failures)


def split_pairs(view: EvidenceView, split: str) -> list:
    pairs = [p for p in view.manifest.pairs if p.split == split]
    if not pairs:
        raise DistillBenchError(f"suite {view.manifest.suite} has no {split!r} pairs (its pairs are in splits "
                                f"{sorted({p.split for p in view.manifest.pairs})})")
    return pairs


def declared_budget(submission: Submission) -> Budget:
    return Budget(getattr(submission.meta.cost, "budget", Budget.EVIDENCE_ONLY))


def _track_mismatch(submission: Submission, ready: Ready) -> str | None:
    if ready.access != submission.meta.track.value:
        return (f"entry_point `{submission.meta.entry_point}`: the class declares access {ready.access!r} but "
                f"submission.yaml declares track {submission.meta.track.value!r}; they must match")
    declared = declared_budget(submission).value
    if ready.budget != declared:
        return (f"entry_point `{submission.meta.entry_point}`: the class declares budget {ready.budget!r} but "
                f"submission.yaml declares cost.budget {declared!r}; they must match")
    return None


class _Contained:
    def __init__(self, submission: Submission, sandbox: Bubblewrap, snapshot: Path, limits: Limits, deadline: float):
        self.submission, self.sandbox, self.snapshot, self.limits, self.deadline = submission, sandbox, snapshot, limits, deadline
        self.worker: WorkerProcess | None = None
        self.encoder = Encoder()
        self.ready: Ready | None = None
        self.load_error: str | None = None
        self.starts = 0
        self.refused: str | None = None  # a request sent without a budget (set per pair by the caller)

    def _start(self) -> None:
        self.starts += 1
        self.encoder = Encoder()  # a fresh zygote holds no blobs
        self.worker = self.sandbox.start(self.snapshot, self.submission.meta.entry_point, self.limits)
        # The zygote loads the entry point in a child under startup_seconds; its own start is trusted and gets more.
        budget = min(self.limits.startup_seconds + ZYGOTE_START_SECONDS, max(0.0, self.deadline - time.monotonic()))
        line = self.worker.exchange(None, budget, f"did not finish loading within {budget:.0f} s (process killed)")
        hello = parse_hello(line) if isinstance(line, bytes) else f"failed to start: {line}"
        if isinstance(hello, Ready):
            self.ready = self.ready or hello
            self.load_error = _track_mismatch(self.submission, hello)
        else:
            self.load_error = hello.error if isinstance(hello, LoadFailed) else hello
        if self.load_error:
            self.worker.kill()

    def score(self, evidence: PairEvidence, session=None) -> tuple[float, float | None, bool] | str:  # noqa: ANN001
        if self.load_error:
            return self.load_error
        now = time.monotonic()
        if now >= self.deadline:
            return f"not run: the total time limit of {self.limits.total_seconds:g} s was used up by earlier pairs"
        if self.worker is None or self.worker.dead:
            self._start()
            if self.load_error:
                return self.load_error
        budget = min(self.limits.pair_seconds, self.deadline - time.monotonic())
        if budget >= self.limits.pair_seconds:
            why = f"exceeded the per-pair time limit of {self.limits.pair_seconds:g} s (process killed)"
        else:
            why = f"exceeded the total time limit of {self.limits.total_seconds:g} s (process killed)"
        budget = max(budget, 0.0)
        group = self.worker.cgroup
        oom_before = group.oom_kills() if group is not None else 0
        request = self.encoder.encode(evidence, budget, why)
        started, serving = time.monotonic(), 0.0
        line = self.worker.exchange(request, budget + ZYGOTE_GRACE_SECONDS, why)
        # Query requests until the verdict: each answered here (the zygote relays), none counted as the detector's
        # time (the zygote moves its deadline by the time it waited; so do we, and the total limit with it).
        while isinstance(line, bytes) and line.startswith(QUERY_PREFIX):
            t0 = time.monotonic()
            if session is None:
                answer = b'{"ok":false,"error":"this detector declared no query budget: no requests are served"}'
                self.refused = "query refused: the detector declared budget evidence-only, yet sent a request"
            else:
                answer = session.answer_line(line)
            spent = time.monotonic() - t0
            serving += spent
            self.deadline += spent
            left = budget - (time.monotonic() - started - serving)
            line = self.worker.exchange(frame(answer), max(left, 0.0) + ZYGOTE_GRACE_SECONDS, why)
        got = line if isinstance(line, str) else parse_reply(line, evidence.pair_id)
        if isinstance(got, str) and group is not None and group.oom_kills() > oom_before:
            # The zygote sees only SIGKILL; the group knows it was the sandbox's total memory.
            got = (f"crashed: the sandbox's processes together exceeded its memory limit of "
                   f"{self.limits.cgroup_settings().memory_bytes >> 20} MiB (killed)")
        if isinstance(got, str) and got.startswith(("sent a malformed", "replied for pair")) and not self.worker.dead:
            self.worker.kill()  # the protocol is out of step: never trust this process's next line
        return got

    def close(self) -> None:
        if self.worker is not None:
            self.worker.kill()


class _InProcess:
    """Debugging only: the detector runs in this process with no limits (a hang hangs the benchmark)."""

    def __init__(self, submission: Submission, snapshot: Path) -> None:
        self.submission, self.snapshot = submission, snapshot
        self.ready: Ready | None = None
        self.load_error: str | None = None
        self.starts = 1
        self.refused: str | None = None
        before = set(sys.modules)
        try:
            self.detector, self.ready = load_entry_point(str(snapshot), submission.meta.entry_point)
            self.load_error = _track_mismatch(submission, self.ready)
        except LoadError as exc:
            self.load_error = str(exc)
        finally:
            # Forget the submission's modules so another submission's `detector` module is imported afresh.
            for name in set(sys.modules) - before:
                if str(getattr(sys.modules[name], "__file__", "") or "").startswith(str(snapshot)):
                    del sys.modules[name]
            if str(snapshot) in sys.path:
                sys.path.remove(str(snapshot))

    def score(self, evidence: PairEvidence, session=None) -> tuple[float, float | None, bool] | str:  # noqa: ANN001
        if self.load_error:
            return self.load_error
        reply = score_one(self.detector, evidence, client=session.client() if session is not None else None)
        return reply.error if reply.error else (reply.score, reply.p_value, reply.abstained)

    def close(self) -> None:
        pass


def run_split(submission: Submission, view: EvidenceView, split: str, limits: Limits,
              sandbox: Bubblewrap | None, run_key: bytes | None = None, harness=None,  # noqa: ANN001
              published: bool = True) -> RunOutcome:
    """Score every pair of `split`; `sandbox=None` means --unsafe-in-process. `run_key` masks the ids the detector
    sees (default on dev: the view's own, reproducible key; on the hidden split a random key per run, so no two runs,
    and no submitter who knows a key derivation, see the same ids). A submission with a query budget is served by
    `harness` (default: the suite's own models and the workspace's answer cache); every pair's cost is measured.
    `published=False` (an author's own run, whose results stay local) answers cache hits without padding them
    (`query.harness`)."""
    pairs = split_pairs(view, split)
    if run_key is None and split == "test":
        run_key = secrets.token_bytes(32)
    key = view.run_key() if run_key is None else run_key
    if sandbox is not None:
        sandbox.check(limits)
    budget = declared_budget(submission)
    if budget is not Budget.EVIDENCE_ONLY and harness is None:
        from distillbench.query.harness import QueryHarness

        harness = QueryHarness.for_view(view, pad_shared_hits=published)
        harness.check_models(pairs)
    calls_before = harness.model_calls if harness is not None else 0
    start = time.monotonic()
    done: dict[int, PairVerdict] = {}
    # Contained, the pairs of one teacher run together: they share most of their evidence, which the zygote then
    # receives once per teacher (protocol.Encoder). Each pair runs in a fresh process, so order cannot change a score.
    order = (sorted(range(len(pairs)), key=lambda i: pairs[i].teacher) if sandbox is not None
             else list(range(len(pairs))))
    with Snapshot(submission) as snap:
        runner = (_Contained(submission, sandbox, snap, limits, start + limits.total_seconds) if sandbox is not None
                  else _InProcess(submission, snap))
        try:
            if sandbox is not None:
                runner._start()  # what the detector reads (`Ready.uses`) decides what is sent
        except BaseException:
            runner.close()
            raise
        # A detector that did not load is sent nothing (and charged nothing) on the pairs it fails.
        loaded = runner.ready is not None and not runner.load_error
        uses = frozenset(runner.ready.uses) if loaded else frozenset()
        served = budget if loaded and runner.ready.budget == budget.value else Budget.EVIDENCE_ONLY

        def evidence_of(i: int) -> PairEvidence:
            return view.pair(pairs[i], submission.meta.track, run_key=key, uses=uses)

        # Contained, the benchmark mostly waits on the sandbox: build the next pair's evidence meanwhile.
        prefetch = ThreadPoolExecutor(1) if sandbox is not None else None
        try:
            upcoming = (prefetch.submit(evidence_of, i) if prefetch else None for i in order)
            ahead = next(upcoming, None)
            for i in order:
                evidence = ahead.result() if prefetch else evidence_of(i)
                ahead = next(upcoming, None)
                pair = pairs[i]
                # Scoped to this code: what it asks in one pair is no faster to ask again in another (harness.py).
                session = (harness.session(pair, evidence, submission.meta.track, served, key, scope=submission.sha256)
                           if served is not Budget.EVIDENCE_ONLY else None)
                cost = session.cost if session is not None else PairCost(evidence_queries=evidence_queries(evidence))
                runner.refused = None
                got = runner.score(evidence, session)
                refused = runner.refused or (session.failure if session is not None else None)
                if refused is not None:
                    got = refused  # a refused request is the pair's outcome, whatever the detector did next
                stable = view.pair_id(pair)
                if isinstance(got, str):
                    done[i] = PairVerdict(pair_id=stable, score=None, p_value=None, error=got, cost=cost)
                else:
                    done[i] = PairVerdict(pair_id=stable, score=got[0], p_value=got[1], abstained=got[2], cost=cost)
        finally:
            runner.close()
            if prefetch is not None:
                prefetch.shutdown(cancel_futures=True)
    verdicts = [done[i] for i in range(len(pairs))]
    failures = {v.pair_id: v.error for v in verdicts if v.error is not None}
    summary = summarize([v.cost for v in verdicts], budget,
                        harness.model_calls - calls_before if harness is not None else None)
    vf = VerdictFile(suite=view.manifest.suite, split=split, detector=submission.slug,
                     access=submission.meta.track.value, evidence_sha256=view.digest(),
                     seconds=time.monotonic() - start, queries_per_pair=round(summary.queries_per_pair), cost=summary,
                     verdicts=verdicts)
    return RunOutcome(verdicts=vf, isolation=sandbox.describe(limits) if sandbox is not None else UNSAFE,
                      ready=runner.ready, load_error=runner.load_error, restarts=max(0, runner.starts - 1),
                      failures=failures, model_calls=summary.model_calls)
