"""Trajectory training: the rollout loss against known flows, its gradient, inferred starts, the
tasks' trajectories, the flags and the runs' names."""
import math

import numpy as np
import pytest
import torch
from known import LinearField

from hnn.config import parse_config, run_model, split_run_model
from hnn.experiments import find_tasks
from hnn.integrate import RK4
from hnn.runs import RunsFolder, parse_run_name
from hnn.training import derivative_loss
from hnn.trajectories import RolloutLoss, chunks, every_chunk

TASKS = find_tasks()
GAMMA = 0.2
A = torch.tensor([[0.0, 2.0], [-2.0, -GAMMA]], dtype=torch.float64)   # the damped spring's field


def exact_trajectories(n=6, points=21, dt=0.1, seed=0):
    """Exact trajectories `(n, points, 2)` of x' = A x from random starts (float64)."""
    x0 = torch.randn(n, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    t = dt * torch.arange(points, dtype=torch.float64)
    flows = torch.linalg.matrix_exp(t[:, None, None] * A)          # (points, 2, 2)
    return torch.einsum("tij,nj->nti", flows, x0)


def batch_of(trajectories):
    return {"trajectories": trajectories, "index": torch.arange(len(trajectories))}


@pytest.mark.parametrize("integrator, order", [("euler", 1), ("midpoint", 2), ("rk4", 4),
                                               ("yoshida4", 4)])
def test_the_rollout_loss_of_the_exact_field_is_the_integrators_error_alone(integrator, order):
    """On noise-free data the exact field's loss is the integrator's error squared, so it falls
    as h^(2 order) with the substeps; a wrong field's does not fall."""
    data = batch_of(exact_trajectories())
    losses = [RolloutLoss(0.1, 5, integrator, substeps)(LinearField(A), data).item()
              for substeps in (8, 16)]
    assert losses[0] / losses[1] == pytest.approx(2 ** (2 * order), rel=0.2)
    assert losses[1] < {1: 1e-4, 2: 1e-10, 4: 1e-17}[order]
    wrong = [RolloutLoss(0.1, 5, integrator, substeps)(LinearField(1.05 * A), data).item()
             for substeps in (8, 16)]
    assert min(wrong) > 1e-5 and wrong[0] / wrong[1] < 1.5


def test_one_euler_step_is_the_forward_difference_derivative_loss_times_dt_squared():
    trajectories, dt = exact_trajectories(points=2), 0.1
    model = LinearField(A + 0.3)
    loss = RolloutLoss(dt, horizon=1, integrator="euler")(model, batch_of(trajectories))
    pairs = {"x": trajectories[:, 0], "dx": (trajectories[:, 1] - trajectories[:, 0]) / dt}
    assert loss.item() == pytest.approx(dt ** 2 * derivative_loss(model, pairs).item(), rel=1e-12)


def test_the_rollout_loss_gradient_matches_finite_differences():
    trajectories = exact_trajectories(points=6) + 0.05 * torch.randn(
        6, 6, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    loss = RolloutLoss(0.1, horizon=5)           # T - 1 steps: one chunk position, fixed

    def value(matrix):
        model = LinearField(A)
        del model.matrix
        model.matrix = matrix
        return loss(model, batch_of(trajectories))
    assert torch.autograd.gradcheck(value, (A.clone().requires_grad_(True) + 0.1,), eps=1e-6,
                                    atol=1e-8)


def test_chunks_hold_consecutive_observations_of_their_own_trajectory():
    trajectories = torch.arange(3 * 7 * 2, dtype=torch.float64).reshape(3, 7, 2)
    got = chunks(trajectories, torch.tensor([0, 4, 2]), 2)
    assert got.shape == (3, 3, 2)
    assert torch.equal(got[1], trajectories[1, 4:7]) and torch.equal(got[2], trajectories[2, 2:5])
    every = every_chunk(trajectories, 2, stride=2)          # positions 0, 2, 4 of each
    assert every.shape == (9, 3, 2) and torch.equal(every[4], trajectories[1, 2:5])


def test_inferred_starts_are_the_least_squares_starts_of_a_known_flow():
    """With the exact field fixed, the fitted start of each chunk is the maximum-likelihood one:
    the least-squares solution through the RK4 map, closer to the truth than the observation."""
    dt, horizon, sigma = 0.1, 9, 0.1
    clean = exact_trajectories(n=20, points=12, dt=dt)
    noisy = clean + sigma * torch.randn(clean.shape, dtype=torch.float64,
                                        generator=torch.Generator().manual_seed(2))
    loss = RolloutLoss(dt, horizon)
    starts = loss.infer_starts(noisy, "alternating", total_steps=0)
    loss.refit(LinearField(A), batch_of(noisy), iterations=50)
    # the closed form: z = (sum_k Phi_kᵀ Phi_k)^-1 sum_k Phi_kᵀ y_k, Phi_k the k-step RK4 map
    step = RK4().step(lambda x: x @ A.T, torch.eye(2, dtype=torch.float64), dt).T
    maps = [torch.linalg.matrix_power(step, k) for k in range(horizon + 1)]
    gram = sum(m.T @ m for m in maps)
    observed = every_chunk(noisy, horizon)                  # (n * positions, K + 1, 2)
    rhs = sum(observed[:, k] @ maps[k] for k in range(horizon + 1))
    exact = torch.linalg.solve(gram, rhs.T).T.reshape(starts.shape)
    assert torch.allclose(starts.detach(), exact, atol=1e-7)
    truth = clean[:, :12 - horizon]
    fitted_error = (starts.detach() - truth).square().mean()
    observed_error = (noisy[:, :12 - horizon] - truth).square().mean()
    assert fitted_error < 0.3 * observed_error


def test_a_task_keeps_its_trajectories_in_the_order_of_its_rows():
    spring = TASKS["spring"]
    config = spring.config(quick=True)
    dataset = spring.dataset(config)
    train, test, dt = spring.trajectories(dataset, config)
    rows = spring.rows_per_trajectory(config)
    assert train.shape == (len(dataset["x"]) // rows, rows, 2)
    assert np.array_equal(train.reshape(-1, 2), dataset["x"])
    assert np.array_equal(test.reshape(-1, 2), dataset["test_x"])
    assert dt == pytest.approx(float(dataset["t"][1] - dataset["t"][0]))
    orbits = TASKS["2body"]
    config = orbits.config(quick=True)
    train, test, dt = orbits.trajectories(orbits.dataset(config), config)
    assert train.shape[1:] == (orbits.rows_per_trajectory(config), 8)


@pytest.mark.parametrize("flags", [
    [], ["--horizon", "3", "--rollout-norm", "l1"], ["--train-integrator", "midpoint"],
    ["--train-substeps", "2", "--train-integrator", "euler"], ["--infer-starts"],
    ["--infer-starts", "--iso-method", "joint", "--val-fraction", "0.2"],
    ["--model", "shnn", "--train-integrator", "leapfrog"]])
def test_each_rollout_flag_trains_a_run_of_its_own(flags, tmp_path):
    spring = TASKS["spring"]
    config, _ = parse_config(spring.defaults, ["--quick", "--loss", "rollout", "--quiet",
                                               "--save-dir", str(tmp_path)] + flags, spring.quick)
    metrics = spring.run(config)
    assert math.isfinite(metrics["test_loss"]["mean"]) and math.isfinite(
        metrics["energy_mse"]["mean"])
    key = run_model(config.model, "rollout", config.infer_starts)
    saved = RunsFolder(tmp_path).metrics(spring, key)
    assert saved["config"]["loss"] == "rollout" and spring.is_up_to_date(config)
    assert not RunsFolder(tmp_path).has(spring, config.model)     # never the derivative run's


@pytest.mark.parametrize("flags, named", [
    (["--loss", "rollout", "--horizon", "40"], "--horizon 40 is longer than the training"),
    (["--loss", "rollout", "--train-integrator", "leapfrog"], "--train-integrator must be"),
    (["--infer-starts"], "--infer-starts must be off unless --loss rollout"),
    (["--loss", "trajectory"], "--loss: invalid choice")])
def test_bad_rollout_settings_are_refused_by_name(flags, named, tmp_path, capsys):
    spring = TASKS["spring"]
    argv = ["--quick", "--quiet", "--save-dir", str(tmp_path)] + flags
    with pytest.raises((SystemExit, ValueError)) as caught:
        spring.run(parse_config(spring.defaults, argv, spring.quick)[0])
    message = str(caught.value) + capsys.readouterr().err
    assert named in message
    assert not list(tmp_path.iterdir())                 # nothing written


def test_run_names_say_how_a_run_was_trained():
    assert run_model("hnn") == "hnn" and run_model("dhnn", "rollout", True) == "dhnn+rollout+iso"
    assert split_run_model("dhnn+rollout+iso") == ("dhnn", {"loss": "rollout",
                                                            "infer_starts": True})
    assert parse_run_name("lipson_central-hnn+rollout-seed3") == ("lipson_central",
                                                                  "hnn+rollout", 3)
    for bad in ("hnn+iso", "hnn+rollout+rollout", "hnn+adjoint"):
        with pytest.raises(ValueError, match="run model"):
            split_run_model(bad)


def test_the_longest_horizon_is_one_step_short_of_the_trajectories():
    trajectories = exact_trajectories(n=2, points=6)
    RolloutLoss(0.1, horizon=5).check(trajectories, "training")            # one chunk fits
    assert RolloutLoss(0.1, horizon=5)(LinearField(A), batch_of(trajectories)).item() < 1e-9
    with pytest.raises(ValueError, match="--horizon 6 is longer than the training trajectories, "
                                         "which have 6 points"):
        RolloutLoss(0.1, horizon=6).check(trajectories, "training")


def test_windows_of_a_recording_leave_out_the_ones_across_a_dropped_frame():
    from hnn.trajectories import windows
    t = np.array([0.0, 0.5, 1.0, 2.0, 2.5, 3.0, 3.5])           # the frame at 1.5 is missing
    states = np.stack([t, -t], axis=1)
    got = windows(states, t, 3, 0.5)
    assert got.shape == (3, 3, 2)
    assert got[:, 0, 0].tolist() == [0.0, 2.0, 2.5]
    with pytest.raises(ValueError, match="no window of 5 points"):
        windows(states, t, 5, 0.5)
    lipson = TASKS["lipson"]
    config = lipson.config(horizon=4)
    dataset = lipson.dataset(config)
    train, test, dt = lipson.trajectories(dataset, config)
    assert dt == pytest.approx(1 / 6) and train.shape[1:] == (5, 2) and test.shape[1:] == (5, 2)
    assert len(train) == 400 and np.array_equal(train[0], dataset["x"][:5])


def test_with_inferred_starts_the_real_pendulum_rollout_starts_from_a_fitted_state():
    from hnn.trajectories import path
    lipson = TASKS["lipson"]
    config = lipson.config(loss="rollout", infer_starts=True, horizon=4)
    dataset = lipson.dataset(config)
    torch.manual_seed(0)
    model = lipson.build(config)
    from importlib import import_module
    segment = import_module(type(lipson).__module__.rsplit(".", 1)[0] + ".data").evaluation_segment
    x0, t, truth = segment(dataset)
    observed = torch.as_tensor(truth[:, :5], dtype=torch.float32)
    fitted = lipson.evaluation_start(model, x0, t, truth, config)
    plain = lipson.evaluation_start(model, x0, t, truth, lipson.config())
    assert np.array_equal(plain, x0) and not np.allclose(fitted, x0)

    def error(start):
        predicted = path(model, torch.as_tensor(start, dtype=torch.float32), float(t[1]), 4, "rk4")
        return float((predicted - observed).square().sum().detach())
    assert error(fitted) < 0.9 * error(x0)


def test_the_tables_show_rollout_runs_in_their_own_rows_labelled_by_training():
    from hnn.report import render_tables
    metrics = {k: {"mean": 0.5, "stderr": 0.1} for k in ("train_loss", "test_loss", "energy_mse",
                                                           "state_mse")}
    results = {"spring-baseline-seed0": metrics, "spring-hnn-seed0": metrics,
               "spring-hnn+rollout-seed9": {**metrics, "energy_mse": {"mean": 0.25,
                                                                      "stderr": 0.0}}}
    table = render_tables(results, {"spring": TASKS["spring"]})
    assert "| Ideal mass-spring | 5.00e-01" in table and "seeds 0, 9" not in table    # Table 1
    assert "## Ideal mass-spring: trained by rollout" in table
    assert "| Task | metric | HNN | HNN (rollout) |" in table
    assert "| Ideal mass-spring | energy mse | not run | 2.50e-01 ± 0.0e+00 |" in table
