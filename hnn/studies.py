"""Studies: questions beyond the tables, each declared once and run by one mechanism.

A `Study` is declared like a task and found like one (`STUDIES` in an experiment folder's
`__init__.py`; the library's own, time reversal, in `hnn.reversal`). It names the runs it needs,
as `RunSet`s (runs with setting overrides, in the shared runs folder or in a folder of its own),
and what it writes from them. `run_study` trains the runs that are not up to date through the
sweep machinery (in parallel, like every sweep), then writes the study's JSON, Markdown and
figures under `{out}/studies/{name}/`, unless its inputs are unchanged and its files are there.

    python reproduce.py --study NAME [--seeds 0 1 2 3 4] [--quick] [--out DIR]
"""
import dataclasses
import hashlib
import os
import re
import typing

import numpy as np

from .checkpoint import write_text
from .runs import RunsFolder
from .sweep import Options, Run, run_jobs

SHARED = "runs"


@dataclasses.dataclass(frozen=True)
class RunSet:
    """Runs a study needs: `runs` (`hnn.sweep.Run`s), trained with the setting `overrides`
    ((field, value) pairs) into `folder`: "runs", the runs folder that `reproduce.py` shares, or
    the name of a folder of the study's own."""

    runs: tuple
    folder: str = SHARED
    overrides: tuple = ()


@dataclasses.dataclass(frozen=True)
class Study:
    """A study.

    Args:
        name: `reproduce.py --study NAME` and its folder `{out}/studies/NAME/` (lowercase
            letters, digits and hyphens).
        title: one line on what it answers.
        needs: `needs(context) -> [RunSet]`, the runs it reads.
        write: `write(context) -> [paths]`, what it writes under `context.folder`.
        tasks: variant tasks that only this study trains (not in the tables).
        default: run by `reproduce.py` without `--study`, after the tables' runs.
    """

    name: str
    title: str
    needs: typing.Callable
    write: typing.Callable
    tasks: tuple = ()
    default: bool = False

    def __post_init__(self):
        if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", self.name):
            raise ValueError(f"study name {self.name!r} must be lowercase letters, digits and "
                             f"single hyphens")


@dataclasses.dataclass
class Context:
    """What a study's `needs` and `write` are given: the study, every task (`{name: task}`, the
    study's variants included), the names `selected` by `--tasks`, the seeds, the profile, the
    results folder `out` and how runs execute."""

    study: Study
    tasks: dict
    selected: list
    seeds: list
    quick: bool
    out: str
    device: str = "cpu"
    threads: int = 1

    @property
    def folder(self):
        """`{out}/studies/{name}`: everything the study writes."""
        return os.path.join(self.out, "studies", self.study.name)

    def runs_dir(self, folder=SHARED):
        return (os.path.join(self.out, SHARED) if folder == SHARED
                else os.path.join(self.folder, folder))

    def runs(self, folder=SHARED):
        """The `RunsFolder` of a run set's `folder`."""
        return RunsFolder(self.runs_dir(folder))

    def options(self, overrides=()):
        return Options(quick=self.quick, device=self.device, threads=self.threads,
                       overrides=tuple(overrides))


def fingerprint(paths):
    """A digest of the files `paths` (missing ones count as missing)."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.encode())
        if os.path.exists(path):
            with open(path, "rb") as f:
                digest.update(hashlib.sha256(f.read()).digest())
    return digest.hexdigest()


def redraw(stamp, key, draw):
    """Call `draw()`, which returns the paths it wrote, and list them (relative to the stamp's
    folder) in `stamp` under the line `key`, unless the stamp already holds `key` and every path
    it lists still exists. Returns the paths."""
    folder = os.path.dirname(stamp)
    lines = open(stamp).read().splitlines() if os.path.exists(stamp) else []
    drawn = [os.path.join(folder, line) for line in lines[1:]]
    if lines[:1] == [key] and drawn and all(map(os.path.exists, drawn)):
        return drawn
    paths = draw()
    write_text(stamp, "\n".join([key] + [os.path.relpath(p, folder) for p in paths]) + "\n")
    return paths


def run_study(context, executor, force=False, quiet=False):
    """Train the runs `context.study` needs that are not up to date (all of them if `force`),
    with `executor` (`hnn.sweep.make_executor`), then write the study unless its inputs (the
    runs' metrics files, the seeds and the profile) are those it was last written from.
    Returns the paths it wrote (or that were up to date)."""
    jobs, inputs = {}, []
    for run_set in context.study.needs(context):
        folder, options = context.runs_dir(run_set.folder), context.options(run_set.overrides)
        todo = [run for run in run_set.runs if force or not context.tasks[run.task].is_up_to_date(
            options.config(context.tasks[run.task], run, folder))]
        if todo and not quiet:
            print(f"study {context.study.name}: training {len(todo)} of {len(run_set.runs)} "
                  f"runs into {folder}")
        jobs.update({(run, folder, options): None for run in todo})
        task_of = {run.task: context.tasks[run.task] for run in run_set.runs}
        inputs += [RunsFolder(folder).paths(task_of[run.task], run.model, run.seed).metrics
                   for run in run_set.runs]
    if jobs:                                  # every set's runs in one pool, in the sets' order
        run_jobs(list(jobs), executor, quiet=quiet)
    key = (f"seeds {' '.join(map(str, context.seeds))}; quick {context.quick}; "
           f"tasks {' '.join(context.selected)}; runs {fingerprint(inputs)}")
    os.makedirs(context.folder, exist_ok=True)
    return redraw(os.path.join(context.folder, ".done"), key, lambda: context.study.write(context))


def runs_of(tasks, models, seeds):
    """`Run`s of every task name in `tasks`, model in `models` and seed in `seeds`."""
    return tuple(Run(task, model, seed) for task in tasks for model in models for seed in seeds)


def finite_mean(values):
    """The mean of the values that are not None (None if none is)."""
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def offered(task, models):
    """The models of `models` that `task` trains, in their order."""
    return [model for model in models if model in task.models]


def offered_runs(context, tasks, models, seeds):
    """`Run`s of every task name in `tasks`, each model of `models` that the task trains, and
    each seed in `seeds`."""
    return tuple(Run(name, model, seed) for name in tasks
                 for model in offered(context.tasks[name], models) for seed in seeds)
