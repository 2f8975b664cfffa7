"""Saved runs: one name and one pair of files per (task, model, seed), and `RunsFolder`, the
one object that answers what a folder of runs holds.

A run is `{save_dir}/{task}-{model}-seed{N}.pt` (state dict, stored config, loss curves, metrics)
and `{task}-{model}-seed{N}.json` beside it (the metrics and the stored config).
"""
import glob
import math
import os
import re
import tempfile
import time
import warnings
from typing import NamedTuple

from .checkpoint import (
    digest,
    load_checkpoint,
    load_state,
    locked,
    read_json,
    save_checkpoint,
    write_json,
)
from .config import run_model

_NAME = re.compile(r"^(?P<task>.+)-(?P<model>[a-z][a-z0-9]*(?:\+[a-z0-9]+)*)-seed(?P<seed>\d+)$")


def run_name(task, model, seed):
    """`{task}-{model}-seed{seed}`, e.g. `spring-hnn-seed0`; `model` may say how the run was
    trained (`hnn.config.run_model`: `spring-hnn+rollout-seed0`)."""
    return f"{task}-{model}-seed{seed}"


def parse_run_name(name):
    """(task, model, seed) of a run name made by `run_name`."""
    match = _NAME.match(name)
    if not match:
        raise ValueError(f"{name!r} is not a run name of the form task-model-seedN")
    return match["task"], match["model"], int(match["seed"])


class RunPaths(NamedTuple):
    """The two files of one run."""

    checkpoint: str
    metrics: str


def run_paths(save_dir, name):
    """`RunPaths(checkpoint, metrics)` of the run `name` in `save_dir`."""
    stem = os.path.join(save_dir, name)
    return RunPaths(stem + ".pt", stem + ".json")


def is_up_to_date(save_dir, name, stored):
    """True if run `name` has both files in `save_dir` and its `.json` holds exactly the stored
    config `stored` (`Task.is_up_to_date` also loads the checkpoint)."""
    ckpt_path, json_path = run_paths(save_dir, name)
    if not (os.path.exists(ckpt_path) and os.path.exists(json_path)):
        return False
    try:
        return read_json(json_path).get("config") == stored
    except ValueError:
        return False


def check_writable(save_dir):
    """Make `save_dir` if needed and check that files can be written in it; ValueError if not."""
    try:
        os.makedirs(save_dir, exist_ok=True)
        with tempfile.TemporaryFile(dir=save_dir):
            pass
    except OSError as err:
        raise ValueError(f"save_dir {save_dir} is not a writable folder: {err}") from None


REQUIRED_METRICS = ("train_loss", "test_loss", "energy_mse", "state_mse")
DIGEST = "weights_sha256"         # in a run's .json: `hnn.checkpoint.digest` of its weights
BOOKKEEPING = ("config", DIGEST)  # the .json's entries that are not metrics


def check_metrics(name, metrics):
    """ValueError unless `metrics` holds the tables' metrics, each `{"mean", "stderr"}` of
    finite numbers, and every other entry is a finite number or such a pair. A run whose rollouts
    failed holds the reason, a string under `diverged`, and only the losses."""
    diverged = metrics.get("diverged")
    if diverged is not None and not isinstance(diverged, str):
        raise ValueError(f"run {name}: diverged must be the reason (a string), got {diverged!r}")
    required = REQUIRED_METRICS[:2] if diverged else REQUIRED_METRICS
    missing = [key for key in required if key not in metrics]
    if missing:
        raise ValueError(f"run {name}: its metrics lack {', '.join(missing)}; a task's evaluate "
                         f"must return energy_mse and state_mse, each {{'mean', 'stderr'}}")
    for key, value in metrics.items():
        if key == "diverged":
            continue
        numbers = [value.get("mean"), value.get("stderr")] if isinstance(value, dict) else [value]
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                   for v in numbers):
            raise ValueError(f"run {name}: metric {key} must be a finite number or "
                             f"{{'mean', 'stderr'}} of finite numbers, got {value!r}")


def save_run(save_dir, name, model, stored, curves, metrics, started=None, quiet=True):
    """Write the run's `.pt` and `.json` (each atomically) and, unless quiet, print its metrics.

    The old `.json` goes first and the new one is written last, so a crash in between leaves a
    checkpoint without metrics (not up to date), never new weights beside old metrics.
    `started` (a `time.time()`) adds `wall_time_s` to the metrics. Returns the two paths."""
    if started is not None:
        metrics = {**metrics, "wall_time_s": time.time() - started}
    check_metrics(name, metrics)
    ckpt_path, json_path = run_paths(save_dir, name)
    if os.path.exists(json_path):
        os.remove(json_path)
    save_checkpoint(ckpt_path, model, stored, curves, metrics)
    write_json(json_path, {**metrics, "config": stored, DIGEST: digest(model.state_dict())})
    if not quiet:
        print(f"{name}  ->  {ckpt_path}")
        for key, value in metrics.items():
            if isinstance(value, dict):
                print(f"  {key:<12} {value['mean']:.4e} ± {value['stderr']:.2e}")
        if "diverged" in metrics:
            print(f"  diverged     {metrics['diverged']}")
    return ckpt_path, json_path


def load_run(path, build):
    """Rebuild a saved run: (model in eval mode on cpu, checkpoint dict).

    `build(stored_config)` makes the empty model; a checkpoint that does not fit it raises
    ValueError naming every mismatched tensor."""
    ckpt = load_checkpoint(path)
    model = build(ckpt["config"])
    load_state(model, ckpt["state_dict"], source=f"checkpoint {path}")
    return model.eval(), ckpt


def write_summary(path, runs):
    """Update the summary `path` (results.json: {run name: metrics}) with every run saved in
    `runs` (a RunsFolder) and return it. The summary is a view of the runs on disk: entries it
    lists whose runs are elsewhere (a committed summary, another search path's tasks) are kept;
    each run on disk replaces its entry. A summary that is not a JSON object is rebuilt from the
    runs, with a warning. Processes sharing the folder take turns (a lock beside it)."""
    with locked(os.path.join(os.path.dirname(os.fspath(path)) or ".", ".results.lock")):
        previous = {}
        if os.path.exists(path):
            try:
                previous = read_json(path)
                if not isinstance(previous, dict):
                    raise ValueError(f"it holds a {type(previous).__name__}")
            except ValueError as err:
                warnings.warn(f"{path} is not a JSON object of runs ({err}); rebuilding it from "
                              f"the runs in {runs.path}", stacklevel=2)
                previous = {}
        results = {**previous, **runs.saved_metrics()}
        results = dict(sorted(results.items()))
        write_json(path, results)
    return results


class RunsFolder:
    """The saved runs in one folder. Every query names a task (an `hnn.tasks.Task`), a model and
    a seed; loading rebuilds the model with the task's `build`."""

    def __init__(self, path):
        self.path = str(path)

    def __repr__(self):
        return f"RunsFolder({self.path!r})"

    def paths(self, task, model, seed=0):
        return run_paths(self.path, run_name(task.name, model, seed))

    def has(self, task, model, seed=0):
        """True if the run's checkpoint is saved."""
        return os.path.exists(self.paths(task, model, seed).checkpoint)

    def has_pair(self, task, seed=0):
        """True if both the baseline and the HNN of `seed` are saved."""
        return all(self.has(task, model, seed) for model in ("baseline", "hnn"))

    def saved_models(self, task, seed=0):
        """Baseline and HNN, then each other model of `task.models` whose run is saved."""
        return [model for model in task.models
                if model in ("baseline", "hnn") or self.has(task, model, seed)]

    def checkpoint(self, task, model, seed=0):
        """The checkpoint dict of one run, unchecked (see `load` for the model)."""
        return load_checkpoint(self.paths(task, model, seed).checkpoint)

    def metrics(self, task, model, seed=0):
        """The saved `.json` of one run (metrics and stored config)."""
        return read_json(self.paths(task, model, seed).metrics)

    def load(self, task, model="hnn", seed=0):
        """(model in eval mode on cpu, checkpoint dict). A checkpoint whose stored task, model or
        seed is not the one asked for raises ValueError."""
        path, json_path = self.paths(task, model, seed)

        def build(stored):
            held = (stored.get("task"), run_model(stored.get("model"),
                                                  stored.get("loss", "derivative"),
                                                  stored.get("infer_starts", False)),
                    stored.get("seed"))
            if held != (task.name, model, seed):
                raise ValueError(f"checkpoint {path} holds a run of task {held[0]}, model "
                                 f"{held[1]}, seed {held[2]}; expected task {task.name}, model "
                                 f"{model}, seed {seed}")
            return task.build(task.config(**{k: v for k, v in stored.items() if k != "task"}))
        module, ckpt = load_run(path, build)
        expected = read_json(json_path).get(DIGEST) if os.path.exists(json_path) else None
        if expected is not None and digest(ckpt["state_dict"]) != expected:
            raise ValueError(f"checkpoint {path}: its weights do not match the digest in "
                             f"{json_path} (edited or corrupt); retrain the run")
        return module, ckpt

    def seed_means(self, task, model, seeds, metric):
        """The mean of `metric` in each seed's saved run, None where a run has none (one whose
        rollouts diverged)."""
        found = [self.metrics(task, model, seed) for seed in seeds]
        return [saved[metric]["mean"] if metric in saved else None for saved in found]

    def saved_metrics(self):
        """{run name: its .json} of every run with both files in the folder; a `.json` that is
        not JSON is left out with a warning (the run is not up to date, so it is retrained when
        asked for)."""
        found = {}
        for path in sorted(glob.glob(os.path.join(glob.escape(self.path), "*.json"))):
            name = os.path.basename(path)[:-len(".json")]
            if _NAME.match(name) and os.path.exists(path[:-len(".json")] + ".pt"):
                try:
                    found[name] = read_json(path)
                except ValueError as err:
                    warnings.warn(f"{path} is not JSON ({err}); left out of the summary",
                                  stacklevel=2)
        return found

    def load_models(self, task, seed=0, models=None):
        """{model: (module, checkpoint)} of `models` (default: `saved_models`)."""
        return {model: self.load(task, model, seed)
                for model in (models or self.saved_models(task, seed))}
