"""Nothing lost or trusted wrongly under interruption and bad input: a run's two files always come
from one training, metrics are validated before they are saved, and bad settings and library
arguments are refused before any work, with the thing named."""
import errno
import json
import math
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import torch

import hnn.sweep
from hnn import build_model, fit, odeint
from hnn.checkpoint import save_checkpoint, write_json
from hnn.config import ConfigError, TrainConfig
from hnn.data import split_in_order
from hnn.experiments import find_tasks
from hnn.report import render_tables
from hnn.runs import RunsFolder, check_metrics, write_summary
from hnn.sweep import store_files
from hnn.tasks import METRICS, HamiltonianConfig, HamiltonianTask, Task

TASKS = find_tasks()


def test_a_store_killed_between_its_files_leaves_no_old_metrics_beside_new_weights(
        tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    store_files(runs, {"a-hnn-seed0.pt": b"old weights", "a-hnn-seed0.json": b'{"old": 1}'})
    real = hnn.sweep.atomic_write

    def killed_at_the_metrics(path, write):
        if path.endswith(".json"):
            raise KeyboardInterrupt          # the driver dies after the new checkpoint
        real(path, write)
    monkeypatch.setattr(hnn.sweep, "atomic_write", killed_at_the_metrics)
    with pytest.raises(KeyboardInterrupt):
        store_files(runs, {"a-hnn-seed0.pt": b"new weights", "a-hnn-seed0.json": b'{"new": 1}'})
    assert (runs / "a-hnn-seed0.pt").read_bytes() == b"new weights"
    assert not (runs / "a-hnn-seed0.json").exists()        # so the run is not up to date


def test_a_checkpoint_whose_metrics_are_not_the_json_s_is_not_up_to_date(tmp_path):
    spring = TASKS["spring"]
    config = spring.config(quick=True, quiet=True, save_dir=str(tmp_path))
    spring.run(config)
    assert spring.is_up_to_date(config)
    runs = RunsFolder(tmp_path)
    model, ckpt = runs.load(spring, "hnn", 0)
    other = {**ckpt["metrics"], "energy_mse": {"mean": 1.0, "stderr": 0.1}}   # another training
    save_checkpoint(runs.paths(spring, "hnn", 0).checkpoint, model, ckpt["config"],
                    ckpt["curves"], other)
    assert not spring.is_up_to_date(config)


class BadMetrics(Task):
    """The spring's data and model, with metrics that `evaluate` gets wrong."""

    def __init__(self, metrics):
        spring = TASKS["spring"]
        super().__init__("bad", "Bad", spring.defaults, quick=spring.quick, state_dim=2)
        self.spring, self.metrics = spring, metrics

    def dataset(self, config):
        return self.spring.dataset(config)

    def evaluate(self, model, dataset, config):
        return self.metrics


@pytest.mark.parametrize("metrics, message", [
    ({"energy_mse": {"mean": math.nan, "stderr": 0.0}, "state_mse": {"mean": 1.0, "stderr": 0.0}},
     "metric energy_mse must be a finite number"),
    ({"energy_mse": {"mean": 1.0, "stderr": math.inf}, "state_mse": {"mean": 1.0, "stderr": 0.0}},
     "metric energy_mse must be a finite number"),
    ({"energy_mse": {"mean": "0.1", "stderr": 0.0}, "state_mse": {"mean": 1.0, "stderr": 0.0}},
     "metric energy_mse must be a finite number"),
    ({"energy_mse": {"mean": 1.0, "stderr": 0.0}}, "its metrics lack state_mse"),
], ids=["nan", "inf", "string", "missing"])
def test_metrics_are_validated_before_anything_is_saved(tmp_path, metrics, message):
    task = BadMetrics(metrics)
    with pytest.raises(ValueError, match=f"run bad-hnn-seed0: {message}"):
        task.run(task.config(quick=True, quiet=True, save_dir=str(tmp_path)))
    assert list(tmp_path.iterdir()) == []


def test_json_is_written_strictly(tmp_path):
    with pytest.raises(ValueError, match="not JSON compliant"):
        write_json(tmp_path / "x.json", {"energy_mse": math.nan})
    assert not (tmp_path / "x.json").exists()
    write_json(tmp_path / "y.json", {"dt": math.inf}, allow_nan=True)
    assert json.loads((tmp_path / "y.json").read_text()) == {"dt": math.inf}


@pytest.mark.parametrize("setting, flag", [(dict(nonlinearity="bogus"), "--nonlinearity"),
                                           (dict(weight_decay=math.inf), "--weight-decay")])
def test_settings_out_of_range_are_refused_by_name(setting, flag):
    with pytest.raises(ConfigError, match=f"{flag} must be"):
        TrainConfig(**setting)


def test_setting_errors_of_a_task_come_before_any_training():
    common = dict(state_dim=2, hamiltonian=lambda x: x[..., 0] ** 2 + x[..., 1] ** 2,
                  starts=lambda rng, n: rng.uniform(-1, 1, (n, 2)), t_span=(0, 1),
                  points_per_unit=5)
    with pytest.raises(ValueError, match="task osc: eval_trajectories must be a multiple of 5 "
                                         r"\(the energy MSE's error .*got 7"):
        HamiltonianTask("osc", "Oscillator", HamiltonianConfig(), eval_trajectories=7, **common)
    with pytest.raises(ValueError, match="train_fraction 0.05 of 10 rows leaves 0 to train and 10 "
                                         "to test; each split needs at least one"):
        split_in_order(np.zeros((10, 2)), np.zeros((10, 2)), 0.05)


def test_the_real_pendulum_refuses_a_split_without_a_test_segment():
    with pytest.raises(ValueError, match=r"--train-fraction 0.999 leaves 555 training and 0 test "
                                         r"points of 555; the test segment needs at least 2"):
        TASKS["lipson"].dataset(TASKS["lipson"].config(train_fraction=0.999))


@pytest.mark.parametrize("name", ["../x", "a/b", "a-b", "", "spring.old"])
def test_task_names_cannot_escape_their_folder(name):
    with pytest.raises(ValueError, match="must be letters, digits and underscores"):
        Task(name, "X", TrainConfig(), state_dim=2)


def test_library_arguments_are_checked_with_the_argument_named():
    for sizes, message in (((0, 200), "input_dim must be an integer of at least 1, got 0"),
                           ((2, 0), "hidden_dim must be an integer of at least 1, got 0"),
                           ((-2, 200), "input_dim must be an integer of at least 1, got -2")):
        with pytest.raises(ValueError, match=message):
            build_model(*sizes)
    model = build_model(2, 8)
    x0 = torch.zeros(1, 2)
    with pytest.raises(TypeError, match="substeps must be an integer, got 2.0"):
        odeint(model.time_derivative, x0, torch.linspace(0, 1, 3), substeps=2.0)
    with pytest.raises(TypeError, match="x0 must be float32 or float64, got torch.float16"):
        odeint(model.time_derivative, x0.half(), torch.linspace(0, 1, 3))
    with pytest.raises(TypeError, match=r"the input is torch.float64 but the network's weights "
                                        r"are torch.float32: convert one of them"):
        model.time_derivative(x0.double())
    path = odeint(model.time_derivative, x0, np.linspace(0, 1, 3), substeps=np.int64(2))
    assert path.shape == (1, 3, 2)


def test_the_energy_verdict_says_when_the_hnn_loses_on_the_state():
    """An HNN that does not move keeps its energy exactly: the verdict must say its state fails."""
    class Stub(Task):
        def __init__(self):
            super().__init__("frozen", "Frozen", TrainConfig(), state_dim=2)
    numbers = {"hnn": {"energy_mse": 0.0 + 1e-9, "state_mse": 5.0},
               "baseline": {"energy_mse": 1e-2, "state_mse": 1e-3}}
    results = {f"frozen-{model}-seed0": {m: {"mean": numbers[model].get(m, 1.0), "stderr": 0.0}
                                         for m in METRICS} for model in numbers}
    table = render_tables(results, {"frozen": Stub()})
    assert ("- Frozen: HNN energy MSE 1.00e-09 is below the baseline's 1.00e-02 (10000000x); its "
            "state MSE 5.00e+00 is NOT below the baseline's 1.00e-03.") in table


def test_the_summary_is_a_view_of_the_runs_on_disk(tmp_path):
    spring = TASKS["spring"]
    runs = RunsFolder(tmp_path / "runs")
    for model in ("baseline", "hnn"):
        spring.run(spring.config(quick=True, quiet=True, model=model, save_dir=runs.path))
    summary = tmp_path / "results.json"
    elsewhere = {"duffing-hnn-seed0": {"energy_mse": {"mean": 1.0, "stderr": 0.1}}}
    write_json(summary, elsewhere)            # a run of a task found through another search path
    assert sorted(write_summary(summary, runs)) == [
        "duffing-hnn-seed0", "spring-baseline-seed0", "spring-hnn-seed0"]       # nothing dropped
    summary.unlink()
    assert sorted(write_summary(summary, runs)) == ["spring-baseline-seed0", "spring-hnn-seed0"]
    (tmp_path / "runs" / "spring-hnn-seed0.json").write_text('{"train_loss": ')    # a torn run
    with pytest.warns(UserWarning, match=r"spring-hnn-seed0.json is not JSON .*left out"):
        assert sorted(write_summary(summary, runs)) == ["spring-baseline-seed0", "spring-hnn-seed0"]
    spring.run(spring.config(quick=True, quiet=True, model="hnn", save_dir=runs.path))
    for broken in ('{"spring-hnn-seed0": {', "[1, 2]"):
        summary.write_text(broken)
        with pytest.warns(UserWarning, match=f"{summary} is not a JSON object of runs .*rebuilding "
                                             f"it from the runs in {runs.path}"):
            rebuilt = write_summary(summary, runs)
        assert rebuilt == json.loads(summary.read_text()) and len(rebuilt) == 2


@pytest.mark.slow
def test_two_reproductions_into_one_folder_keep_each_others_runs(tmp_path, repo):
    commands = [subprocess.Popen([sys.executable, "reproduce.py", "--quick", "--tasks", "spring",
                                  "--seeds", str(seed), "--jobs", "1", "--no-studies",
                                  "--out", str(tmp_path)], cwd=repo, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL) for seed in (0, 1)]
    assert [command.wait(timeout=300) for command in commands] == [0, 0]
    listed = json.loads((tmp_path / "results.json").read_text())
    assert sorted(listed) == sorted(f"spring-{m}-seed{s}" for m in TASKS["spring"].models
                                    for s in (0, 1))


def test_non_finite_weights_and_cached_data_are_refused(tmp_path):
    from hnn.cache import cached
    from hnn.checkpoint import load_checkpoint
    model = build_model(2, 4)
    with torch.no_grad():
        model.net.linear2.weight[0, 0] = math.nan
    path = tmp_path / "run.pt"
    save_checkpoint(path, model, {}, {}, {})
    with pytest.raises(ValueError, match=r"run.pt: the weights \['net.linear2.weight'\] are not "
                                         r"finite"):
        load_checkpoint(path)
    calls = []

    def make():
        calls.append(1)
        return {"x": np.array([1.0, math.nan if len(calls) == 1 else 2.0])}
    cached("demo", {"a": 1}, make, directory=tmp_path, quiet=True)       # written with a NaN
    with pytest.warns(UserWarning, match=r"is corrupt: the arrays \['x'\] are not finite"):
        data = cached("demo", {"a": 1}, make, directory=tmp_path, quiet=True)
    assert len(calls) == 2 and np.isfinite(data["x"]).all()


def test_a_checkpoint_that_cannot_be_written_names_its_path(tmp_path, monkeypatch):
    def full_disk(*args, **kwargs):
        raise RuntimeError("enforce fail at inline_container.cc:626] . unexpected pos 64")
    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(OSError, match=f"cannot write checkpoint {tmp_path / 'run.pt'}: enforce"):
        save_checkpoint(tmp_path / "run.pt", build_model(2, 4), {}, {}, {})
    assert list(tmp_path.iterdir()) == []


def test_tasks_that_are_not_a_list_of_tasks_are_named(tmp_path):
    from hnn.experiments import folder_tasks
    folder = tmp_path / "experiment-odd"
    folder.mkdir()
    (folder / "__init__.py").write_text("TASKS = 'spring'\n")
    with pytest.raises(TypeError, match=f"experiment folder {folder}: TASKS must be a list of "
                                        "hnn.Task, got 'spring'"):
        folder_tasks(str(folder))


# A broken core must fail these (fast) tests: each guards a mutation that once passed them all.
class Shift(torch.nn.Module):
    """A model of one parameter `w`: its loss is w itself, so every Adam update moves it by lr."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))


def test_fit_makes_every_update():
    model = Shift()
    split = {"x": torch.zeros(4, 1)}
    fit(model, lambda m, batch: m.w.sum() + 0 * batch["x"].sum(), split, split, total_steps=9,
        learn_rate=0.01, quiet=True)
    # Adam on a constant gradient steps by lr (1 - 1e-8): total_steps + 1 = 10 updates
    assert model.w.item() == pytest.approx(-0.1, rel=1e-5)


RAN = []


def record(value):
    RAN.append(value)
    return value


class Payload:
    def __reduce__(self):
        return record, ("code ran",)


def test_a_checkpoint_that_would_run_code_is_refused_unrun(tmp_path):
    from hnn.checkpoint import load_checkpoint
    path = tmp_path / "evil.pt"
    torch.save({"state_dict": {}, "config": {}, "curves": {}, "metrics": {"x": Payload()}}, path)
    with pytest.raises(ValueError, match="is corrupt or not a torch checkpoint"):
        load_checkpoint(path)
    assert RAN == []                          # weights_only=True: no pickle was run


def test_a_run_saved_with_other_settings_is_not_up_to_date(tmp_path):
    spring = TASKS["spring"]
    config = spring.config(quick=True, quiet=True, save_dir=str(tmp_path))
    spring.run(config)
    assert spring.is_up_to_date(config)
    for change in (dict(eval_substeps=2), dict(total_steps=21), dict(seed=0, samples=11)):
        other = spring.config(quick=True, quiet=True, save_dir=str(tmp_path), **change)
        assert not spring.is_up_to_date(other), change


class Linear(torch.nn.Module):
    """The exact linear field x' = A x as a model (float64)."""

    def __init__(self, A):
        super().__init__()
        self.A = torch.nn.Parameter(torch.as_tensor(A, dtype=torch.float64), requires_grad=False)

    def time_derivative(self, x):
        return x @ self.A.T


def test_the_energy_mse_is_against_the_true_energy_along_the_truth():
    """On the damped spring the energy decays: the exact field scores 0, a frozen model scores
    the decay itself (its own energy never moves)."""
    from hnn.metrics import rollout_errors
    damped = TASKS["damped"]
    x0, t, truth = damped.evaluation_trajectories()
    A = sys.modules[damped.dynamics.__module__].SYSTEM
    exact = rollout_errors(Linear(A), damped.hamiltonian, x0, t, truth, substeps=10)
    frozen = rollout_errors(Linear(np.zeros((2, 2))), damped.hamiltonian, x0, t, truth)
    decay = np.mean((damped.hamiltonian(truth) - damped.hamiltonian(x0)[:, None]) ** 2)
    assert exact["energy_mse"]["mean"] < 1e-12 and exact["state_mse"]["mean"] < 1e-12
    assert frozen["energy_mse"]["mean"] == pytest.approx(decay, rel=1e-9) and decay > 1e-2


def test_each_table_column_holds_its_model_and_metric():
    class Stub(Task):
        def __init__(self):
            super().__init__("stub", "Stub", TrainConfig(), state_dim=2)
    value = {"baseline": 1.0, "hnn": 2.0}
    scale = {m: 10.0 ** i for i, m in enumerate(METRICS)}
    results = {f"stub-{model}-seed0": {m: {"mean": value[model] * scale[m], "stderr": 0.0}
                                       for m in METRICS} for model in value}
    table = render_tables(results, {"stub": Stub()})
    header = next(line for line in table.splitlines() if line.startswith("| Task | train loss"))
    row = next(line for line in table.splitlines() if line.startswith("| Stub |"))
    for title, cell in zip(header.split(" | ")[1:], row.split(" | ")[1:]):
        metric, model = title.rstrip(" |").split(" (")
        model = "hnn" if model.startswith("HNN") else "baseline"
        expected = value[model] * scale[metric.replace(" ", "_")]
        assert cell.startswith(f"{expected:.2e} ±"), (title, cell)


@pytest.mark.slow
@pytest.mark.parametrize("cut", range(5))
def test_a_force_sweep_killed_at_any_write_then_rerun_retrains_exactly_the_broken_runs(
        tmp_path, monkeypatch, cut):
    """Two runs, four writes (.pt then .json of each); the sweep dies at write `cut`."""
    from hnn.sweep import Options, Run, SerialExecutor, run_all
    spring, options, folder = TASKS["spring"], Options(quick=True), str(tmp_path / "runs")
    runs = [Run("spring", "baseline", 0), Run("spring", "hnn", 0)]
    run_all(runs, folder, options, SerialExecutor(), quiet=True)
    real, writes = hnn.sweep.atomic_write, []

    def dies_at_the_cut(path, write):
        if len(writes) == cut:
            raise KeyboardInterrupt
        writes.append(path)
        real(path, write)
    monkeypatch.setattr(hnn.sweep, "atomic_write", dies_at_the_cut)
    if cut < 4:
        with pytest.raises(KeyboardInterrupt):
            run_all(runs, folder, options, SerialExecutor(), quiet=True)     # --force
    else:
        run_all(runs, folder, options, SerialExecutor(), quiet=True)
    monkeypatch.setattr(hnn.sweep, "atomic_write", real)
    stale = [run for run in runs
             if not spring.is_up_to_date(options.config(spring, run, folder))]
    broken = {0: runs[:1], 1: runs[:1], 2: runs[1:], 3: runs[1:], 4: []}[cut]
    assert stale == broken
    run_all(stale, folder, options, SerialExecutor(), quiet=True)
    assert all(spring.is_up_to_date(options.config(spring, run, folder)) for run in runs)
    summary = write_summary(tmp_path / "results.json", RunsFolder(folder))
    assert sorted(summary) == sorted(run.name for run in runs)


def test_a_copied_results_folder_checks_its_own_figures(tmp_path):
    import shutil

    from hnn.studies import redraw
    drawn = []

    def draw(folder):
        def write():
            drawn.append(folder)
            (folder / "fig.png").write_text("figure")
            return [str(folder / "fig.png")]
        return write
    original, copy = tmp_path / "a", tmp_path / "b"
    original.mkdir()
    redraw(str(original / ".fig.done"), "key", draw(original))
    shutil.copytree(original, copy)
    redraw(str(copy / ".fig.done"), "key", draw(copy))
    assert drawn == [original]                          # the copy's figure is there: kept
    (copy / "fig.png").unlink()
    redraw(str(copy / ".fig.done"), "key", draw(copy))
    assert drawn == [original, copy]                    # its own figure is gone: redrawn
    redraw(str(copy / ".fig.done"), "other key", draw(copy))
    assert drawn == [original, copy, copy]              # its inputs changed: redrawn


def test_edited_weights_or_cached_arrays_do_not_match_their_digest(tmp_path):
    from hnn.cache import cached, load_npz
    spring = TASKS["spring"]
    config = spring.config(quick=True, quiet=True, save_dir=str(tmp_path))
    spring.run(config)
    runs = RunsFolder(tmp_path)
    model, ckpt = runs.load(spring, "hnn", 0)
    with torch.no_grad():
        model.net.linear1.bias[0] += 1e-6                      # bookkeeping intact, a number not
    save_checkpoint(runs.paths(spring, "hnn", 0).checkpoint, model, ckpt["config"],
                    ckpt["curves"], ckpt["metrics"])
    with pytest.raises(ValueError, match=r"its weights do not match the digest in "
                                         r".*hnn-seed0\.json \(edited or corrupt\)"):
        runs.load(spring, "hnn", 0)
    assert not spring.is_up_to_date(config)

    def make():
        return {"x": np.arange(4.0)}
    cached("demo", {"a": 1}, make, directory=tmp_path, quiet=True)
    (path,) = tmp_path.glob("demo-*.npz")
    arrays = load_npz(path)
    arrays["x"] = arrays["x"] + 1.0
    np.savez(path, **arrays)
    with pytest.warns(UserWarning, match="its arrays do not match their digest"):
        assert cached("demo", {"a": 1}, make, directory=tmp_path, quiet=True)["x"].tolist() == \
            [0.0, 1.0, 2.0, 3.0]


def test_a_full_disk_while_writing_json_names_the_file_and_keeps_the_old_one(tmp_path,
                                                                              monkeypatch):
    target = tmp_path / "results.json"
    write_json(target, {"old": 1})

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(json, "dump", full_disk)
    with pytest.raises(OSError, match=re.escape(f"cannot write {target}: No space left")) as err:
        write_json(target, {"new": 2})
    assert err.value.errno == errno.ENOSPC
    assert json.loads(target.read_text()) == {"old": 1}
    assert os.listdir(tmp_path) == ["results.json"]         # no temp file left


class Diverging(BadMetrics):
    """The spring's data and model, with rollouts that blow up."""

    def __init__(self):
        super().__init__({})

    def evaluate(self, model, dataset, config):
        raise FloatingPointError("the model's rollout became non-finite: trajectory 3 at t[7]")


def test_a_run_whose_rollouts_diverge_is_saved_with_the_reason_and_tabled_as_diverged(tmp_path):
    task = Diverging()
    metrics = task.run(task.config(quick=True, quiet=True, save_dir=str(tmp_path)))
    assert metrics["diverged"].endswith("trajectory 3 at t[7]") and "energy_mse" not in metrics
    saved = RunsFolder(tmp_path).metrics(task, "hnn", 0)
    assert saved["diverged"] == metrics["diverged"] and np.isfinite(saved["test_loss"]["mean"])
    table = render_tables({"bad-hnn-seed0": saved}, {"bad": task})
    row = next(line for line in table.splitlines() if line.startswith("| Bad |"))
    assert row.count("diverged") == 2 and row.count("not run") == 4    # the baseline: not run
    with pytest.raises(ValueError, match="diverged must be the reason"):
        check_metrics("x", {**saved, "diverged": 1.0})
