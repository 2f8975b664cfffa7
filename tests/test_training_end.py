"""Training that ends well: schedules, the averaged model, clipping, the validation split, and
scoring along training (which leaves a run's final metrics as they are)."""
import copy
import math

import pytest
import torch

from hnn import fit
from hnn.config import PROFILES, ConfigError, parse_config
from hnn.experiments import find_tasks
from hnn.runs import RunsFolder
from hnn.tasks import tracked_steps
from hnn.training import derivative_loss, learning_rate

TASKS = find_tasks()


def test_each_schedule_decays_to_the_value_it_states():
    total, lr = 2000, 1e-3
    assert learning_rate(0, total, lr, "cosine", 0.01) == pytest.approx(lr)
    assert learning_rate(total, total, lr, "cosine", 0.01) == pytest.approx(lr * 0.01)
    assert learning_rate(total // 2, total, lr, "cosine", 0.01) == pytest.approx(lr * 0.505)
    assert [learning_rate(s, total, lr, "step", 0.01) for s in (999, 1000, 1499, 1500, 2000)] == \
        pytest.approx([lr, lr * 0.1, lr * 0.1, lr * 0.01, lr * 0.01])
    assert learning_rate(1234, total, lr, "constant") == lr


def test_fit_applies_the_schedule_to_every_update():
    torch.manual_seed(0)
    model = torch.nn.Linear(2, 2)
    import hnn.optim
    seen, original = [], hnn.optim.adam

    def spy(*args, **kwargs):
        seen.append(kwargs["lr"])
        return original(*args, **kwargs)
    batch = {"x": torch.randn(8, 2), "dx": torch.randn(8, 2)}

    class Field(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = model

        def time_derivative(self, x):
            return self.net(x)
    hnn.optim.adam = spy
    try:
        fit(Field(), derivative_loss, batch, batch, total_steps=10, quiet=True,
            schedule="cosine", lr_final=0.1)
    finally:
        hnn.optim.adam = original
    assert len(seen) == 11 and seen[0] == pytest.approx(1e-3) and seen[-1] == pytest.approx(1e-4)


def test_the_averaged_model_is_the_exponential_average_of_the_weights():
    torch.manual_seed(0)

    class Field(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = torch.nn.Linear(2, 2)

        def time_derivative(self, x):
            return self.net(x)
    batch = {"x": torch.randn(8, 2), "dx": torch.randn(8, 2)}
    model, history = Field(), []
    plain = copy.deepcopy(model)
    fit(plain, derivative_loss, batch, batch, total_steps=5, quiet=True,
        on_step=lambda step, kept: history.append(kept.net.weight.detach().clone()))
    average = history[0]
    for weight in history[1:]:
        average = 0.9 * average + 0.1 * weight
    fit(model, derivative_loss, batch, batch, total_steps=5, quiet=True, ema_decay=0.9)
    assert torch.allclose(model.net.weight, average, atol=1e-7)
    assert not torch.allclose(model.net.weight, plain.net.weight)


def test_the_validation_split_keeps_the_weights_of_its_lowest_loss():
    spring = TASKS["spring"]
    config = spring.config(quick=True, quiet=True, val_fraction=0.3, total_steps=60,
                           learn_rate=0.05)
    from hnn.tasks import carve_validation, to_tensors
    train, test = (to_tensors(s, "cpu") for s in spring.splits(spring.dataset(config)))
    kept, validation = carve_validation(train, 0.3)
    assert len(kept["x"]) + len(validation["x"]) == len(train["x"])
    assert torch.equal(validation["x"], train["x"][len(kept["x"]):])       # the last rows
    torch.manual_seed(0)
    model = spring.build(config)
    curves = fit(model, spring.loss, kept, test, total_steps=60, learn_rate=0.05, quiet=True,
                 validation=validation)
    with torch.no_grad():
        final = spring.loss(model, validation).item()
    assert final == pytest.approx(min(curves["validation_loss"]), rel=1e-6)
    assert final < curves["validation_loss"][-1] or final == curves["validation_loss"][-1]


@pytest.mark.slow
def test_scoring_along_training_leaves_the_final_metrics_bit_identical(tmp_path):
    spring = TASKS["spring"]
    plain = spring.run(spring.config(quick=True, quiet=True, save_dir=str(tmp_path / "a")))
    config = spring.config(quick=True, quiet=True, save_dir=str(tmp_path / "b"), track_last=3,
                           track_points=3)
    tracked = spring.run(config)
    assert plain == tracked
    curve = RunsFolder(str(tmp_path / "b")).checkpoint(spring, "hnn", 0)["curves"]["tracked"]
    assert curve["step"] == [0, 10, 18, 19, 20] == sorted(tracked_steps(config))
    assert curve["energy_mse"][-1] == plain["energy_mse"]["mean"]
    assert all(b >= a for a, b in zip(curve["seconds"], curve["seconds"][1:]))


@pytest.mark.parametrize("flag, value", [("--lr-schedule", "linear"), ("--lr-final", "0"),
                                         ("--ema-decay", "1"), ("--clip-grad", "-1"),
                                         ("--val-fraction", "1"), ("--track-last", "-1"),
                                         ("--track-points", "-2")])
def test_each_new_flag_refuses_an_out_of_range_value_by_name(flag, value, capsys):
    spring = TASKS["spring"]
    with pytest.raises(SystemExit):
        parse_config(spring.defaults, [flag, value], spring.quick)
    assert f"{flag} must be" in capsys.readouterr().err
    with pytest.raises(ConfigError, match=f"{flag} must be"):
        spring.config(**{flag[2:].replace("-", "_"): type(getattr(spring.defaults, flag[2:]
                                                                  .replace("-", "_")))(value)})


def test_the_robust_profile_sets_its_settings_and_flags_still_win():
    spring = TASKS["spring"]
    config, options = parse_config(spring.defaults, ["--profile", "robust"], spring.quick)
    assert options.profile == "robust"
    assert all(getattr(config, k) == v for k, v in PROFILES["robust"].items())
    config, _ = parse_config(spring.defaults, ["--profile", "robust", "--ema-decay", "0.5"])
    assert config.ema_decay == 0.5 and config.lr_schedule == PROFILES["robust"]["lr_schedule"]
    assert math.isclose(parse_config(spring.defaults, [])[0].ema_decay, 0.0)


@pytest.mark.parametrize("name", ["spring", "2body"])
def test_sample_sizes_are_nested_and_the_test_split_and_starts_do_not_depend_on_n(name):
    task = TASKS[name]
    settings = task.sample_sizes
    small, large = (task.config(quick=True, **dict(settings.largest), train_trajectories=n)
                    for n in (settings.sizes[0], settings.sizes[1]))
    dataset = task.dataset(large)
    (train_s, _, test_s), (train_l, _, test_l) = (task.training_data(dataset, c)
                                                  for c in (small, large))
    rows = task.rows_per_trajectory(large)
    assert len(train_s["x"]) == settings.sizes[0] * rows
    assert len(train_l["x"]) == settings.sizes[1] * rows
    assert torch.equal(train_l["x"][:len(train_s["x"])], train_s["x"])      # nested
    assert torch.equal(test_s["x"], test_l["x"])                           # one test split
    assert task.dataset(small)["x"].tobytes() == dataset["x"].tobytes()    # one large set
    with pytest.raises(ValueError, match="--train-trajectories 100000 asks for more than"):
        task.training_data(dataset, task.config(quick=True, **dict(settings.largest),
                                                train_trajectories=100000))


def test_the_evaluation_starts_do_not_depend_on_n():
    for name in ("spring", "2body"):
        task = TASKS[name]
        starts = [task.reference(task.config(**dict(task.sample_sizes.largest),
                                             train_trajectories=n)).x0
                  for n in task.sample_sizes.sizes[:2]]
        assert starts[0].tobytes() == starts[1].tobytes()


def test_training_speed_reaches_a_level_only_when_every_metric_is_at_or_below_it():
    from hnn.lottery import first_reaching
    # An untrained model that barely moves: its energy error is low from step 0, its state error
    # is not until step 200.
    curve = {"step": [0, 100, 200, 300], "energy_mse": [1e-3, 5e-2, 1e-3, 1e-3],
             "state_mse": [2.0, 1.0, 0.5, 0.4]}
    assert first_reaching(curve, {"energy_mse": 1e-2}) == 0
    assert first_reaching(curve, {"energy_mse": 1e-2, "state_mse": 0.5}) == 2
    assert first_reaching(curve, {"energy_mse": 1e-2, "state_mse": 0.1}) is None
    curve["state_mse"][3] = None
    assert first_reaching(curve, {"state_mse": 0.45}) is None
