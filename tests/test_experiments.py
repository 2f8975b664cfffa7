"""Tasks, configs and flags, run names, and the experiment-folder loader."""
import argparse
import dataclasses
import glob
import os
import subprocess
import sys

import pytest
import torch

from hnn.config import REPO_ROOT, ConfigError, TrainConfig, config_parser, parse_config
from hnn.experiments import find_folders, find_tasks, load_folder, package_name
from hnn.runs import RunsFolder, parse_run_name, run_name

TASKS = find_tasks()


def test_every_folder_declares_its_tasks_in_table_order():
    folders = [os.path.basename(f) for f in find_folders([REPO_ROOT])]
    assert folders == ["experiment-damped", "experiment-dblpend", "experiment-lipson",
                       "experiment-orbits", "experiment-pend", "experiment-pixels",
                       "experiment-spring"]
    assert list(TASKS) == ["spring", "pend", "lipson", "2body", "pixels", "3body", "damped",
                           "lipson_central", "dblpend"]
    assert package_name("/x/experiment-spring") == "experiment_spring"
    assert load_folder(os.path.join(REPO_ROOT, "experiment-spring")).TASKS[0] is TASKS["spring"]


def test_the_library_imports_no_experiment_and_names_no_task():
    code = ("import pkgutil, importlib, sys, hnn\n"
            "for m in pkgutil.iter_modules(hnn.__path__): "
            "importlib.import_module('hnn.' + m.name)\n"
            "print(sorted(n for n in sys.modules if n.startswith('experiment')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True,
                         capture_output=True, text=True).stdout
    assert out.strip() == "[]"
    sources = "".join(open(path).read()
                      for path in glob.glob(os.path.join(REPO_ROOT, "hnn", "*.py")))
    for name in TASKS:
        assert f'"{name}"' not in sources and f"'{name}'" not in sources, name
    for folder in find_folders([REPO_ROOT]):
        assert os.path.basename(folder) not in sources


@pytest.mark.parametrize("name", list(TASKS))
def test_every_flag_has_help_and_a_typed_default(name):
    task = TASKS[name]
    parser = config_parser(task.defaults, task.quick)
    flags = [a for a in parser._actions if not isinstance(a, argparse._HelpAction)]
    assert all(a.help for a in flags), [a.dest for a in flags if not a.help]
    fields = {f.name for f in dataclasses.fields(task.defaults)}
    assert fields <= {a.dest for a in flags}
    config, options = parse_config(task.defaults, ["--quick", "--baseline", "--seed", "3"],
                                   task.quick)
    assert config == task.config(quick=True, model="baseline", seed=3) and options.quick
    assert task.stored_config(config)["task"] == name
    assert not {"device", "save_dir", "quiet"} & set(task.stored_config(config))
    assert task.stored_config(config)["threads"] == 1     # it changes the last bits


@pytest.mark.parametrize("flag, value, message", [
    ("hidden_dim", 0, "--hidden-dim must be at least 1"),
    ("learn_rate", 1e9, r"--learn-rate must be in \(0, 1\]"),
    ("learn_rate", 0.0, r"--learn-rate must be in \(0, 1\]"),
    ("total_steps", -1, "--total-steps must be at least 0"),
    ("batch_size", -5, "--batch-size must be at least 0"),
    ("seed", 2 ** 32, "--seed must be an integer in 0"),
    ("seed", -1, "--seed must be an integer in 0"),
    ("device", "tpu", "--device must be cpu, cuda or cuda:N"),
    ("model", "gpt", "--model must be one of hnn, baseline"),
])
def test_settings_out_of_range_are_rejected_by_name(flag, value, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**{flag: value})
    with pytest.raises(ConfigError, match=message):
        TASKS["spring"].config(**{flag: value})


def test_parser_reports_a_bad_flag_and_exits(capsys):
    with pytest.raises(SystemExit):
        parse_config(TASKS["spring"].defaults, ["--hidden-dim", "0"])
    assert "--hidden-dim must be at least 1, got 0" in capsys.readouterr().err


def test_run_names_round_trip():
    assert run_name("2body", "hnn", 12) == "2body-hnn-seed12"
    assert parse_run_name("2body-baseline-seed12") == ("2body", "baseline", 12)
    with pytest.raises(ValueError, match="not a run name"):
        parse_run_name("spring-hnn")


def test_a_checkpoint_of_another_task_does_not_load(tmp_path):
    spring, pend = TASKS["spring"], TASKS["pend"]
    spring.run(spring.config(quick=True, quiet=True, save_dir=str(tmp_path)))
    os.replace(tmp_path / "spring-hnn-seed0.pt", tmp_path / "pend-hnn-seed0.pt")
    with pytest.raises(ValueError, match="holds a run of task spring, model hnn, seed 0; "
                                         "expected task pend"):
        RunsFolder(tmp_path).load(pend, "hnn")


@pytest.mark.parametrize("task, flag, value, message", [
    ("2body", "eval_t_end", float("nan"), "--eval-t-end must be finite and above 0"),
    ("2body", "trials", 2, "--trials must be at least 5"),
    ("lipson", "train_fraction", 1.0, r"--train-fraction must be in \(0, 1\)"),
    ("spring", "samples", 1, "--samples must be at least 2"),
    ("pixels", "latent_dim", 3, "--latent-dim must be even and at least 2"),
    ("pixels", "rod_value", 1.5, r"--rod-value must be in \(0, 1\]"),
])
def test_task_settings_out_of_range_are_rejected_by_name(task, flag, value, message):
    with pytest.raises(ConfigError, match=message):
        TASKS[task].config(**{flag: value})


@pytest.fixture
def spring_run(tmp_path):
    """A quick spring HNN run saved in tmp_path: (task, config)."""
    spring = TASKS["spring"]
    config = spring.config(quick=True, quiet=True, save_dir=str(tmp_path))
    spring.run(config)
    assert spring.is_up_to_date(config)
    return spring, config


def test_a_truncated_checkpoint_is_not_up_to_date(spring_run, tmp_path):
    spring, config = spring_run
    path = tmp_path / "spring-hnn-seed0.pt"
    path.write_bytes(path.read_bytes()[:1000])
    assert not spring.is_up_to_date(config)
    assert not spring.is_up_to_date(dataclasses.replace(config, total_steps=21))


def test_a_crash_before_the_metrics_leaves_the_run_stale(spring_run, tmp_path, monkeypatch):
    spring, config = spring_run
    import hnn.runs

    def crash(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(hnn.runs, "write_json", crash)
    longer = dataclasses.replace(config, total_steps=25)
    with pytest.raises(KeyboardInterrupt):
        spring.run(longer)                      # the new .pt is written, then the crash
    assert not (tmp_path / "spring-hnn-seed0.json").exists()
    assert not spring.is_up_to_date(config) and not spring.is_up_to_date(longer)


def test_a_checkpoint_of_another_task_is_not_up_to_date(spring_run, tmp_path):
    spring, config = spring_run
    pend = TASKS["pend"]
    for suffix in (".pt", ".json"):
        os.replace(tmp_path / f"spring-hnn-seed0{suffix}", tmp_path / f"pend-hnn-seed0{suffix}")
    assert not pend.is_up_to_date(pend.config(quick=True, quiet=True, save_dir=str(tmp_path)))


def test_an_unwritable_save_dir_fails_before_any_work(tmp_path, monkeypatch):
    spring = TASKS["spring"]
    (tmp_path / "file").write_text("")

    def no_work(config):
        raise AssertionError("made data although the save dir is unusable")
    monkeypatch.setattr(spring, "dataset", no_work)
    with pytest.raises(ValueError, match="save_dir .*file/runs is not a writable folder"):
        spring.run(spring.config(quick=True, quiet=True, save_dir=str(tmp_path / "file" / "runs")))


def test_separable_flag_and_eval_integrator_choices():
    spring = TASKS["spring"]
    config, _ = parse_config(spring.defaults, ["--separable", "--eval-integrator", "leapfrog"],
                             spring.quick)
    assert (config.model, config.eval_integrator) == ("shnn", "leapfrog")
    assert spring.config().eval_integrator == "rk4"          # the default keeps the paper's numbers
    with pytest.raises(ConfigError, match="--eval-integrator must be an integrator for any field "
                                          "unless --model shnn"):
        spring.config(eval_integrator="leapfrog")
    with pytest.raises(ConfigError, match="--eval-integrator must be one of rk4, euler, leapfrog"):
        spring.config(eval_integrator="rk45")
    with pytest.raises(ValueError,
                       match="task damped trains the models baseline, hnn, dhnn, node2, not shnn"):
        TASKS["damped"].run(TASKS["damped"].config(model="shnn", quick=True))


@pytest.mark.slow
@pytest.mark.parametrize("name, solver", [("spring", "yoshida4-leapfrog"), ("2body", "yoshida4")])
def test_eval_integrator_reaches_the_task_rollouts(name, solver):
    """A separable HNN evaluated by a fourth-order symplectic integrator and by RK4, both with
    fine steps, gives the same energy MSE: the flag reaches the rollouts, and the integrators
    agree."""
    task = TASKS[name]
    torch.manual_seed(0)
    config = task.config(quick=True, model="shnn", eval_substeps=8)
    model = task.build(config).double()
    errors = {s: task.evaluate(model, None, task.config(quick=True, model="shnn", eval_substeps=8,
                                                        eval_integrator=s))["energy_mse"]["mean"]
              for s in ("rk4", solver)}
    assert errors[solver] == pytest.approx(errors["rk4"], rel=1e-4)
    assert errors[solver] != errors["rk4"]


def test_a_setting_added_later_keeps_the_runs_saved_before_it_up_to_date():
    """`lnn_nonlinearity` (stored_if_default=False) is left out of the stored config at its
    default, so every run saved before it still matches; another value is stored."""
    from hnn.config import stored_config
    spring = TASKS["spring"]
    assert "lnn_nonlinearity" not in stored_config(spring.config())
    assert stored_config(spring.config(lnn_nonlinearity="tanh"))["lnn_nonlinearity"] == "tanh"
    with pytest.raises(ConfigError, match="--lnn-nonlinearity must be a smooth activation"):
        spring.config(lnn_nonlinearity="relu")
    config, _ = parse_config(spring.defaults, ["--model", "lnn"], spring.quick)
    assert config.model == "lnn"
    assert spring.build(config).net.activation is torch.nn.functional.softplus
