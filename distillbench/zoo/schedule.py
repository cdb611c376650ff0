"""How a suite's models are trained in parallel: units of work, their dependencies, and a pool of workers.

Takes a `SuiteBuilder`; trains every model that is not on disk yet and returns (built, reused) names. Models are
cut into units: a teacher with the checkpoint it grows from; every student of one teacher (they share that
teacher's API cache, so its answers are sampled once); each remaining model alone. A unit starts once every model
its members start from or learn from exists. With `workers` > 1 the units run in that many processes, each with
the suite's fixed thread count.

Why processes rather than one process with more threads: the zoo's models are tiny, so a training step is many
small kernels, and two cores shared by threads spend much of it waiting on each other (and collapse when any other
process competes for a core); independent single-threaded workers keep both cores busy and degrade gracefully.
Why it stays deterministic: a model's bytes depend only on its spec, its dependencies and the thread count (fixed
per suite), never on which worker trained it or when, and each model directory appears atomically, so an
interrupted build resumes with the same bytes.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field

from distillbench.zoo.manifest import own_teachers
from distillbench.zoo.spec import ModelSpec, SuiteSpec


@dataclass
class Unit:
    names: list[str]
    deps: set[str] = field(default_factory=set)
    teacher_side: bool = False  # teachers and what they grow from: built (and checked) before any student


def _deps(m: ModelSpec) -> set[str]:
    return m.teachers_distilled() | ({m.init} - {None})


def units(spec: SuiteSpec) -> list[Unit]:
    """The suite's models cut into units of work, in spec order."""
    teacher_of_base: dict[str, str] = {}
    for t in spec.by_role("teacher"):
        current = t.init
        while current is not None and current not in teacher_of_base:
            teacher_of_base[current] = t.name
            current = spec.model(current).init
    teacher_side = set(teacher_of_base) | {t.name for t in spec.by_role("teacher")}

    def owner(m: ModelSpec) -> str:
        if m.role == "teacher":
            return m.name
        if m.name in teacher_of_base:
            return teacher_of_base[m.name]
        own = sorted(own_teachers(spec, m)) if m.role == "student" else []
        return own[0] if own else m.name

    grouped: dict[tuple[str, bool], Unit] = {}
    for m in spec.models:
        side = m.name in teacher_side
        unit = grouped.setdefault((owner(m), side), Unit(names=[], teacher_side=side))
        unit.names.append(m.name)
    out = list(grouped.values())
    for unit in out:
        members = set(unit.names)
        unit.deps = set().union(*(_deps(spec.model(n)) for n in unit.names)) - members
    return out


def _work(spec_json: str, home: str, names: list[str]) -> list[str]:
    """A worker: train the unit's models that are not on disk yet (in order), return the names it trained."""
    from distillbench.cli import _quiet_libraries
    from distillbench.paths import Workspace
    from distillbench.zoo.build import SuiteBuilder

    _quiet_libraries()
    builder = SuiteBuilder(SuiteSpec.model_validate_json(spec_json), Workspace.resolve(home), progress=False)
    builder._determinism()
    builder.ensure_tokenizers()
    return [n for n in names if builder.ensure_model(builder.spec.model(n))]


def build_in_workers(builder, workers: int, bar, after_teachers: Callable[[], None] | None = None) -> tuple[list[str], list[str]]:  # noqa: ANN001
    """Train every missing model of `builder.spec`; `after_teachers` runs once every teacher-side unit is done."""
    spec = builder.spec
    todo = units(spec)
    todo_all = list(todo)
    done: set[str] = set()
    built: list[str] = []
    checked = after_teachers is None

    def ready(u: Unit) -> bool:
        return u.deps <= done and (checked or u.teacher_side)

    def finish(u: Unit, trained: list[str], ticked: bool) -> None:
        """`ticked`: the bar already counted the steps of the models that were trained (in-process runs)."""
        nonlocal checked
        done.update(u.names)
        built.extend(trained)
        bar.update(sum(builder._units(spec.model(n)) for n in u.names if not (ticked and n in trained)))
        if not checked and all(v.names[0] in done or not v.teacher_side for v in todo_all):
            after_teachers()
            checked = True

    if workers <= 1:
        while todo:
            u = next(u for u in todo if ready(u))
            todo.remove(u)
            bar.set_postfix_str(u.names[0])
            finish(u, [n for n in u.names if builder.ensure_model(spec.model(n), bar.update)], ticked=True)
        return built, [m.name for m in spec.models if m.name not in built]
    spec_json = spec.model_dump_json()
    home = str(builder.ws.home)
    running = {}
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        while todo or running:
            for u in [u for u in todo if ready(u)]:
                todo.remove(u)
                running[pool.submit(_work, spec_json, home, u.names)] = u
            if not running:
                raise RuntimeError("training units wait on models no unit builds; the suite's dependencies are circular")
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in finished:
                u = running.pop(fut)
                finish(u, fut.result(), ticked=False)
                bar.set_postfix_str(f"{len(done)}/{len(spec.models)} models")
    return built, [m.name for m in spec.models if m.name not in built]
