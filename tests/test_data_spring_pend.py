"""The spring and pendulum dataset generators: targets, split sizes, noise and seeding."""
import os

import numpy as np
import pytest
import torch

from hnn.config import REPO_ROOT
from hnn.experiments import find_tasks, load_folder

TASKS = find_tasks()
spring, pend = TASKS["spring"], TASKS["pend"]
spring_physics = load_folder(os.path.join(REPO_ROOT, "experiment-spring"), "data")


def get_dataset(task, seed, **overrides):
    return task.dataset(task.config(seed=seed, **overrides))


@pytest.mark.parametrize("task, n_train", [(spring, 750), (pend, 1125)], ids=["spring", "pend"])
def test_split_sizes_and_order(task, n_train):
    data = get_dataset(task, seed=0)
    assert data["x"].shape == data["dx"].shape == (n_train, 2)
    assert data["test_x"].shape == data["test_dx"].shape == (n_train, 2)
    points = len(data["t"])
    assert points == {"spring": 30, "pend": 45}[task.name]
    # In order, no shuffle: each split is 25 whole trajectories, one after another.
    clean = get_dataset(task, seed=0, noise_std=0.0)
    for split in ("x", "test_x"):
        H = task.hamiltonian(clean[split].reshape(25, points, 2))
        assert np.abs(H - H[:, :1]).max() < 1e-8
        assert np.abs(np.diff(H[:, 0])).min() > 1e-6


@pytest.mark.parametrize("task", [spring, pend], ids=["spring", "pend"])
def test_targets_are_the_exact_dynamics_at_the_clean_states(task):
    clean = get_dataset(task, seed=3, noise_std=0.0)
    noisy = get_dataset(task, seed=3)
    for split in ("", "test_"):
        np.testing.assert_allclose(clean[split + "dx"], task.dynamics(clean[split + "x"]),
                                   atol=1e-12)
        # Noise goes on the inputs only, after the targets are computed.
        np.testing.assert_array_equal(noisy[split + "dx"], clean[split + "dx"])
        noise = noisy[split + "x"] - clean[split + "x"]
        assert 0.09 < noise.std() < 0.11


@pytest.mark.parametrize("task, radius", [(spring, (0.1, 1.0)), (pend, (1.3, 2.3))],
                         ids=["spring", "pend"])
def test_initial_radii_and_energy_conserved_along_trajectories(task, radius):
    clean = get_dataset(task, seed=1, noise_std=0.0)
    points = len(clean["t"])
    x = np.concatenate([clean["x"], clean["test_x"]]).reshape(50, points, 2)
    r0 = np.linalg.norm(x[:, 0], axis=1)
    assert r0.min() >= radius[0] and r0.max() <= radius[1]
    H = task.hamiltonian(x)
    assert np.abs(H - H[:, :1]).max() < 1e-8


@pytest.mark.parametrize("task", [spring, pend], ids=["spring", "pend"])
def test_same_seed_same_data(task):
    a, b, c = get_dataset(task, seed=7), get_dataset(task, seed=7), get_dataset(task, seed=8)
    for key in ("x", "dx", "test_x", "test_dx"):
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.allclose(a["x"], c["x"])


@pytest.mark.parametrize("task", [spring, pend], ids=["spring", "pend"])
def test_evaluation_protocol(task):
    x0, t, truth = task.evaluation_trajectories()
    assert x0.shape == (15, 2) and t.shape == (100,) and truth.shape == (15, 100, 2)
    assert t[-1] == 20.0
    assert np.all((np.abs(x0) >= 0.2) & (np.abs(x0) <= 1.0))
    np.testing.assert_array_equal(truth[:, 0], x0)
    H = task.hamiltonian(truth)
    assert np.abs(H - H[:, :1]).max() < 1e-8


class DampedSpring(torch.nn.Module):
    """dx/dt = A x with A = [[-c, 2], [-2, -c]]: H = q^2 + p^2 decays as H0 exp(-2 c t)."""

    def __init__(self, c):
        super().__init__()
        self.A = torch.nn.Parameter(torch.tensor([[-c, 2.0], [-2.0, -c]], dtype=torch.float64))

    def time_derivative(self, x):
        return x @ self.A.T


def test_original_horizon_energy_mse_is_exact_for_a_known_decay():
    c = 0.01
    got = spring_physics.original_horizon_energy_mse(DampedSpring(c), 15, spring.eval_seed, 100)
    x0 = spring.evaluation_trajectories()[0]
    per_trajectory = []
    for i, h0 in enumerate(spring.hamiltonian(x0)):
        t = np.linspace(0, 1.09 * 21.8 * 1.09 ** i, 100)     # the original's horizons, to t = 79
        per_trajectory.append(np.mean((h0 - h0 * np.exp(-2 * c * t)) ** 2))
    assert t[-1] == pytest.approx(79.4, abs=0.05)
    # RK4 steps of 0.1 at frequency 2 drift the energy by < 790 * 0.2**6 / 72 = 7e-4 (relative).
    assert got["mean"] == pytest.approx(np.mean(per_trajectory), rel=2e-3)
    # The fixed t <= 20 horizon sees far less of the decay.
    fixed = np.mean([np.mean((h0 - h0 * np.exp(-2 * c * spring.eval_t)) ** 2)
                     for h0 in spring.hamiltonian(x0)])
    assert got["mean"] > 3 * fixed
