"""The LNN and NODE + SO against known Lagrangians, mass matrices and forces (float64), and the
double pendulum's two forms."""
import math

import numpy as np
import pytest
import torch
from known import Scalar

from hnn import build_model
from hnn.experiments import find_tasks
from hnn.lagrangian import (
    LNN,
    SingularLagrangianError,
    constant_mass_matrix,
    mass_matrix_from_hamiltonian,
)
from hnn.models import SecondOrderODE

TASKS = find_tasks()
DBLPEND = TASKS["dblpend"]
dp = __import__(type(DBLPEND).__module__, fromlist=["lagrangian"])     # experiment-dblpend/task.py


def pendulum_acceleration(y, g=dp.G):
    """The textbook double pendulum (unit masses and rods): q̈ of states [q1, q2, v1, v2]."""
    q1, q2, v1, v2 = y.T
    d = q1 - q2
    den = 3 - np.cos(2 * d)
    a1 = (-3 * g * np.sin(q1) - g * np.sin(q1 - 2 * q2)
          - 2 * np.sin(d) * (v2 ** 2 + v1 ** 2 * np.cos(d))) / den
    a2 = 2 * np.sin(d) * (2 * v1 ** 2 + 2 * g * np.cos(q1) + v2 ** 2 * np.cos(d)) / den
    return np.stack([a1, a2], -1)


def states(n, d, seed=0):
    return torch.tensor(np.random.default_rng(seed).uniform(-1.5, 1.5, (n, d)))


@torch.no_grad()        # rollouts run so; with grad enabled the outputs keep their graph
def test_lnn_of_a_known_spring_lagrangian_is_hookes_law():
    """L = m v²/2 - k q²/2 with m = 1/2, k = 2: a = -(k/m) q, to 1e-12; [v, a] in that order."""
    lnn = LNN(Scalar(lambda y: 0.25 * y[..., 1] ** 2 - y[..., 0] ** 2)).double()
    y = states(7, 2)
    field = lnn.time_derivative(y)
    assert field.shape == (7, 2) and field.dtype == torch.float64
    assert torch.allclose(field[:, 0], y[:, 1], rtol=0, atol=1e-15)
    assert torch.allclose(field[:, 1], -4 * y[:, 0], rtol=0, atol=1e-12)


@torch.no_grad()
def test_lnn_of_the_double_pendulum_lagrangian_is_euler_lagrange():
    """The configuration-dependent mass matrix: the textbook acceleration to 1e-10."""
    lnn = LNN(Scalar(dp.lagrangian)).double()
    y = states(50, 4, seed=1) * torch.tensor([2.0, 2.0, 3.0, 3.0], dtype=torch.float64)
    a = lnn.acceleration(y)
    assert a.shape == (50, 2)
    assert np.abs(a.numpy() - pendulum_acceleration(y.numpy())).max() < 1e-10


@torch.no_grad()
def test_lnn_in_canonical_coordinates_is_hamiltons_field():
    """Through the task's M(q), the LNN of the true L returns the true [dq/dt, dp/dt] of the
    canonical states, for the double pendulum (M depends on q) and the spring (M constant)."""
    x = states(30, 4, seed=2)
    lnn = LNN(Scalar(dp.lagrangian), mass_matrix=dp.mass_matrix).double()
    assert np.abs(lnn.time_derivative(x).numpy() - DBLPEND.dynamics(x.numpy())).max() < 1e-10
    spring = TASKS["spring"]
    assert getattr(spring.mass_matrix, "constant", False)          # M = 1/2 found by autograd
    lnn = LNN(Scalar(lambda y: 0.25 * y[..., 1] ** 2 - y[..., 0] ** 2),
              mass_matrix=spring.mass_matrix).double()
    x = states(9, 2, seed=3)
    assert np.abs(lnn.time_derivative(x).numpy() - spring.dynamics(x.numpy())).max() < 1e-12


def test_the_mass_matrix_found_from_a_hamiltonian_is_the_pendulums():
    found = mass_matrix_from_hamiltonian(dp.hamiltonian, 2)
    q = states(6, 2, seed=4)
    assert torch.allclose(found(q), dp.mass_matrix(q), rtol=0, atol=1e-12)
    assert mass_matrix_from_hamiltonian(lambda x: x[..., 0] ** 2 + x[..., 1] ** 4, 1) is None
    assert mass_matrix_from_hamiltonian(lambda x: np.cos(x[..., 0]) + x[..., 1] ** 2, 1) is None


def test_a_singular_lagrangian_is_reported_not_turned_into_nan():
    """L = q² has ∂²L/∂v² = 0: the acceleration raises, naming the states, instead of NaN."""
    lnn = LNN(Scalar(lambda y: y[..., 0] ** 2)).double()
    with pytest.raises(SingularLagrangianError, match=r"singular or ill-conditioned at 4 of 4"):
        lnn.acceleration(states(4, 2))
    degenerate = LNN(Scalar(lambda y: (y[..., 2] + y[..., 3]) ** 2)).double()   # rank 1 in v
    with pytest.raises(SingularLagrangianError, match="condition number"):
        degenerate.acceleration(states(3, 4))


def test_node2_with_a_known_mass_and_force_is_the_exact_field():
    """dq/dt = M⁻¹ p with M⁻¹ = C Cᵀ, C's diagonal softplus(raw) + eps; dp/dt = F(q, p)."""
    eps = 1e-3

    class Raw(torch.nn.Module):            # C = [[sqrt 2, 0], [0.3, 1]] for every q
        def forward(self, q):
            diagonal = [math.sqrt(2) - eps, 1 - eps]
            raw = [math.log(math.expm1(d)) for d in diagonal]
            return q.new_tensor([raw[0], 0.3, raw[1]]).expand(len(q), 3)

    class Force(torch.nn.Module):
        def forward(self, x):
            return -torch.stack([3 * x[:, 0] + x[:, 1], x[:, 1] * x[:, 3]], -1)

    model = SecondOrderODE(Raw(), Force(), eps=eps).double()
    x = states(5, 4, seed=5)
    inverse_mass = torch.tensor([[2.0, 0.3 * math.sqrt(2)], [0.3 * math.sqrt(2), 1.09]],
                                dtype=torch.float64)
    expected = torch.cat([x[:, 2:] @ inverse_mass.T, Force()(x)], -1)
    field = model.time_derivative(x)
    assert field.shape == (5, 4) and torch.allclose(field, expected, rtol=0, atol=1e-12)
    assert torch.linalg.eigvalsh(model.inverse_mass(x[:, :2])).min() > 0


@torch.no_grad()
def test_built_models_have_the_documented_shapes():
    torch.manual_seed(0)
    x = torch.randn(6, 4)
    node2 = build_model(4, 16, second_order=True)
    assert node2.mass_net.linear3.out_features == 3 and node2.force_net.linear3.out_features == 2
    lnn = build_model(4, 16, "softplus", lagrangian=True, mass_matrix=constant_mass_matrix(
        torch.eye(2)))
    for model in (node2, lnn):
        assert model.time_derivative(x).shape == (6, 4)
    assert torch.equal(lnn.time_derivative(x)[:, :2], x[:, 2:])        # dq/dt = M⁻¹ p, M = 1


@pytest.mark.slow
@torch.no_grad()
def test_double_pendulum_data_conserve_energy_and_both_forms_agree():
    """The generator's trajectories keep H to a relative 1e-8, and the velocity form
    (Euler–Lagrange, textbook acceleration) integrated from the same starts gives the same
    motion as the canonical form mapped to velocities."""
    from scipy.integrate import solve_ivp
    x0, t, truth = DBLPEND.evaluation_trajectories()
    energy = dp.hamiltonian(truth)
    assert np.abs(energy - energy[:, :1]).max() < 1e-8 * np.abs(energy).max()
    to_velocity = LNN(None, mass_matrix=dp.mass_matrix).to_velocity
    velocities = to_velocity(torch.tensor(truth.reshape(-1, 4))).numpy().reshape(truth.shape)
    for i in (0, 7):
        def rhs(_, y):
            return np.concatenate([y[2:], pendulum_acceleration(y[None])[0]])
        solved = solve_ivp(rhs, (t[0], t[-1]), velocities[i, 0], t_eval=t, rtol=1e-11,
                           atol=1e-12).y.T
        assert np.abs(solved - velocities[i]).max() < 1e-6


def test_lnn_is_refused_where_a_task_has_no_velocity_map(tmp_path):
    for name in ("pixels", "lipson"):
        task = TASKS[name]
        with pytest.raises(ValueError, match=f"task {name} cannot train --model lnn: it declares "
                                             f"no mass_matrix"):
            task.run(task.config(quick=True, model="lnn", save_dir=str(tmp_path)))
    assert not any(tmp_path.iterdir())
