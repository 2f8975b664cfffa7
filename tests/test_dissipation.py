"""The dissipative HNN: exact fields for known H and D, energy balance, divergence (Liouville),
the damped-spring generator, and runs of the damped task."""
import numpy as np
import pytest
import torch
from known import LinearField, Scalar
from torch import nn

from hnn import HNN, build_model
from hnn.config import REPO_ROOT
from hnn.experiments import find_tasks, load_folder
from hnn.metrics import decay_rate, divergence
from hnn.runs import RunsFolder

damped = load_folder(f"{REPO_ROOT}/experiment-damped", "data")
TASKS = find_tasks()


def H(x):      # a non-quadratic Hamiltonian of [q1, q2, p1, p2]
    q, p = x[:, :2], x[:, 2:]
    return (p ** 2).sum(1) / 2 + (1 - torch.cos(q)).sum(1) + 0.3 * q[:, 0] * q[:, 1] ** 2


def D(x):      # a dissipation function; grad D = [0, 0, -0.2 p1 - 0.1 q1, -0.4 p2]
    q, p = x[:, :2], x[:, 2:]
    return -0.1 * p[:, 0] ** 2 - 0.2 * p[:, 1] ** 2 - 0.1 * q[:, 0] * p[:, 0]


def grad(fn, x):
    x = x.detach().requires_grad_(True)
    return torch.autograd.grad(fn(x).sum(), x)[0]


X = torch.randn(50, 4, dtype=torch.float64)
J = torch.tensor([[0, 0, 1, 0], [0, 0, 0, 1], [-1, 0, 0, 0], [0, -1, 0, 0]], dtype=torch.float64)


def test_dhnn_field_is_j_grad_h_plus_grad_d():
    model = HNN(Scalar(H), dissipation=Scalar(D))
    grad_h, grad_d = grad(H, X), grad(D, X)
    q, p = X[:, :2], X[:, 2:]
    exact_d = torch.stack([-0.1 * p[:, 0], torch.zeros(50, dtype=torch.float64),
                           -0.2 * p[:, 0] - 0.1 * q[:, 0], -0.4 * p[:, 1]], 1)
    torch.testing.assert_close(grad_d, exact_d, rtol=0, atol=1e-14)
    torch.testing.assert_close(model.conservative_field(X), grad_h @ J.T, rtol=0, atol=1e-14)
    torch.testing.assert_close(model.dissipative_field(X), grad_d, rtol=0, atol=1e-14)
    torch.testing.assert_close(model.time_derivative(X), grad_h @ J.T + grad_d, rtol=0, atol=1e-14)
    torch.testing.assert_close(model.dissipation_function(X), D(X))
    assert HNN(Scalar(H)).dissipative_field(X).abs().max() == 0


def test_energy_changes_at_grad_h_dot_grad_d():
    model = HNN(Scalar(H), dissipation=Scalar(D))
    dh_dt = (grad(H, X) * model.time_derivative(X)).sum(1)       # dH/dt along the model's flow
    torch.testing.assert_close(dh_dt, (grad(H, X) * grad(D, X)).sum(1), rtol=0, atol=1e-12)
    hnn_dh_dt = (grad(H, X) * HNN(Scalar(H)).time_derivative(X)).sum(1)
    assert hnn_dh_dt.abs().max() < 1e-12


def test_divergence_is_the_laplacian_of_d_and_zero_for_an_hnn():
    # Laplacian of D: d2/dp1^2 = -0.2, d2/dp2^2 = -0.4, the q1 p1 term has none on the diagonal
    model = HNN(Scalar(H), dissipation=Scalar(D))
    torch.testing.assert_close(divergence(model.time_derivative, X),
                               torch.full((50,), -0.6, dtype=torch.float64), rtol=0, atol=1e-12)
    assert divergence(HNN(Scalar(H)).time_derivative, X).abs().max() < 1e-12
    baseline = build_model(4, 16, baseline=True).double()          # negative control
    assert divergence(baseline.time_derivative, X).abs().max() > 1e-3
    hnn = build_model(4, 16).double()                               # any learned H: Liouville
    assert divergence(hnn.time_derivative, X).abs().max() < 1e-12


def test_build_model_dissipative():
    torch.manual_seed(0)
    model = build_model(2, 8, dissipative=True)
    assert isinstance(model.dissipation, nn.Module) and model.dissipation.linear1.in_features == 2
    with pytest.raises(ValueError, match="at most one of .*got baseline, dissipative"):
        build_model(2, 8, baseline=True, dissipative=True)
    with pytest.raises(TypeError, match="no dissipation network"):
        build_model(2, 8).dissipation_function(torch.zeros(1, 2))


def test_damped_generator_matches_the_closed_form_oscillator():
    # x' = A x with A = [[0, 2], [-2, -2g]]: q = e^(-g t) (q0 cos wt + (2 p0 + g q0) / w sin wt)
    g, w = damped.GAMMA, np.sqrt(4 - damped.GAMMA ** 2)
    x0 = np.array([[0.3, -0.8], [1.0, 0.0]])
    t = np.linspace(0, 12, 41)
    q0, p0 = x0[:, :1], x0[:, 1:]
    c2 = (2 * p0 + g * q0) / w
    q = np.exp(-g * t) * (q0 * np.cos(w * t) + c2 * np.sin(w * t))
    dq_dt = -g * q + np.exp(-g * t) * w * (c2 * np.cos(w * t) - q0 * np.sin(w * t))
    x = damped.solution(x0, t)
    np.testing.assert_allclose(x[..., 0], q, rtol=0, atol=1e-12)
    np.testing.assert_allclose(x[..., 1], dq_dt / 2, rtol=0, atol=1e-12)    # q' = 2p
    np.testing.assert_allclose(damped.dynamics(x), x @ damped.SYSTEM.T)
    energy = damped.hamiltonian(x)
    six = damped.solution(x0, np.array([0.0, 6.0]))
    ratio = damped.hamiltonian(six[:, 1]) / damped.hamiltonian(six[:, 0])
    np.testing.assert_allclose(ratio, np.exp(-2 * g * 6), rtol=0.15)  # about a third left
    assert decay_rate(t, energy) == pytest.approx(np.full(2, 2 * g), rel=0.05)


def test_dissipative_part_is_the_field_minus_the_conservative_part():
    x = np.random.default_rng(0).normal(size=(10, 2))
    np.testing.assert_allclose(damped.conservative_part(x) + damped.dissipative_part(x),
                               damped.dynamics(x), atol=1e-15)


def test_a_task_refuses_a_model_it_does_not_train(tmp_path):
    with pytest.raises(ValueError, match="task pixels trains the models baseline, hnn, not dhnn"):
        TASKS["pixels"].run(TASKS["pixels"].config(quick=True, model="dhnn",
                                                   save_dir=str(tmp_path)))


@pytest.mark.slow
def test_damped_task_records_divergence_and_decay_rate(tmp_path):
    task = TASKS["damped"]
    for model in task.models:
        task.run(task.config(quick=True, quiet=True, model=model, total_steps=200,
                             save_dir=str(tmp_path)))
    metrics = {m: RunsFolder(tmp_path).metrics(task, m, 0) for m in task.models}
    # an HNN's field is divergence-free whatever it learned; the D-HNN's need not be
    assert abs(metrics["hnn"]["divergence"]["mean"]) < 1e-6
    assert metrics["dhnn"]["divergence"]["mean"] < -0.01
    for m in task.models:
        assert {"energy_mse", "state_mse", "divergence", "energy_decay_rate"} <= set(metrics[m])
    assert task.true_decay_rate() == pytest.approx(2 * damped.GAMMA, rel=0.1)
    paths = task.figures(RunsFolder(tmp_path), tmp_path / "figures")
    assert sorted(p.rsplit("/", 1)[1] for p in paths) == ["damped-field-seed0.png",
                                                           "damped-field-split-seed0.png",
                                                           "damped-phase-seed0.png"]


def test_least_squares_floor_recovers_the_damped_field_without_noise():
    task = TASKS["damped"]
    exact = task.least_squares_reference(0, noise_std=0.0)
    assert exact["divergence"] == pytest.approx(-2 * damped.GAMMA, abs=1e-9)
    assert exact["energy_mse"] < 1e-16 and exact["state_mse"] < 1e-16
    noisy = task.least_squares_reference(0)           # input noise shrinks the fitted field
    assert -0.19 < noisy["divergence"] < -0.15 and noisy["energy_mse"] > 1e-4


identifiability = load_folder(f"{REPO_ROOT}/experiment-damped", "identifiability")


def test_data_divergence_is_exact_without_noise_and_reverse_regression_removes_the_shrinkage():
    for name, truth in (("damped", -2 * damped.GAMMA), ("spring", 0.0)):
        forward, reverse = identifiability.data_divergence(TASKS[name], 0, noise_std=0.0)
        assert (forward == pytest.approx(truth, abs=1e-9)
                and reverse == pytest.approx(truth, abs=1e-9))
    # 2000 training trajectories: the divergence's sampling error is about 0.003, while the
    # noise (std 0.1 on states of std about 0.37) shrinks a forward fit by about 6%
    forward, reverse = identifiability.data_divergence(TASKS["damped"], 0, samples=4000)
    assert reverse == pytest.approx(-0.2, abs=0.01)
    assert -0.196 < forward < -0.17 and reverse < forward - 0.008


def test_trajectory_divergence_is_exact_without_noise_and_unbiased_by_it():
    for name, truth in (("damped", -2 * damped.GAMMA), ("spring", 0.0)):
        exact = identifiability.trajectory_divergence(TASKS[name], 0, noise_std=0.0)
        assert exact == pytest.approx(truth, abs=1e-9)
    # 2000 training trajectories, noise 0.1 on the observed states: least squares shrinks the
    # friction by about 6% (above); the starts' maximum likelihood does not
    inferred = identifiability.trajectory_divergence(TASKS["damped"], 0, samples=4000)
    forward, _ = identifiability.data_divergence(TASKS["damped"], 0, samples=4000)
    assert inferred == pytest.approx(-0.2, abs=0.006) and inferred < forward - 0.008


horizon = load_folder(f"{REPO_ROOT}/experiment-damped", "horizon")


def test_held_out_score_is_the_noise_floor_for_the_exact_field():
    task = TASKS["damped"]
    exact, frictionless = (LinearField(a) for a in (damped.SYSTEM,
                                                     identifiability.friction_field(0.0)))
    clean = task.config(seed=0, noise_std=0.0)
    assert horizon.held_out_score(task, exact, clean) < 1e-9               # RK4's error alone
    assert horizon.held_out_score(task, frictionless, clean) > 4e-3
    # 200 test trajectories, noise 0.1: sigma^2 plus the fitted start's error
    noisy = task.config(seed=0, noise_std=0.1, samples=400)
    score = horizon.held_out_score(task, exact, noisy)
    assert 0.0100 < score < 0.0125
    assert horizon.held_out_score(task, frictionless, noisy) > score + 0.004


def test_friction_field_adds_its_divergence_to_the_exact_conservative_field():
    A = identifiability.friction_field(-2 * damped.GAMMA)
    np.testing.assert_array_equal(A, damped.SYSTEM)
    assert TASKS["spring"].linear_field_metrics(
        identifiability.friction_field(0.0))["energy_mse"] < 1e-20
    growing = TASKS["spring"].linear_field_metrics(identifiability.friction_field(0.03))
    assert growing["divergence"] == 0.03 and growing["energy_mse"] > 1e-2
