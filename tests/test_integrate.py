"""Integrators: convergence order against the spring's exact solution, and RK4's energy error."""
import numpy as np
import pytest
import torch

from hnn import RK4, Euler, odeint
from hnn.experiments import find_tasks

spring = find_tasks()["spring"]


def spring_field(x):
    return torch.stack([2 * x[:, 1], -2 * x[:, 0]], 1)


X0 = np.array([[0.3, -0.8], [1.0, 0.0], [-0.2, 0.5]])


def final_error(solver, steps, t_end=2.0):
    t = np.linspace(0, t_end, 2)
    out = odeint(spring_field, torch.tensor(X0), t, solver=solver, substeps=steps)
    return np.abs(out[:, -1].numpy() - spring.solution(X0, t)[:, -1]).max()


@pytest.mark.parametrize("solver, low, high", [(RK4(), 3.7, 4.3), (Euler(), 0.7, 1.3)])
def test_convergence_slope_matches_declared_order(solver, low, high):
    steps = np.array([40, 80, 160, 320])
    errors = np.array([final_error(solver, n) for n in steps])
    slope = -np.polyfit(np.log(steps), np.log(errors), 1)[0]
    assert low <= slope <= high
    assert abs(slope - solver.order) < 0.3


def test_rk4_energy_error_on_spring_within_derived_bound():
    # For dx/dt = A x with eigenvalues ±2i, one RK4 step of size h multiplies |x|^2 (= H) by
    # g(z) = |1 + iz - z^2/2 - iz^3/6 + z^4/24|^2 = 1 - z^6/72 + z^8/576, z = 2h.
    # After n steps H_n/H_0 = g^n, so |H_n - H_0| <= H_0 * n * z^6 / 72 for z <= 1.
    h, t_end = 0.05, 20.0
    n = int(round(t_end / h))
    z = 2 * h
    t = np.linspace(0, t_end, n + 1)
    x = odeint(spring_field, torch.tensor(X0), t).numpy()
    H = spring.hamiltonian(x)
    rel_drift = np.abs(H / H[:, :1] - 1).max()
    bound = n * z ** 6 / 72
    assert rel_drift <= bound
    g = 1 - z ** 6 / 72 + z ** 8 / 576
    assert rel_drift == pytest.approx(1 - g ** n, rel=1e-6)   # the error is the predicted one


def test_integrate_shapes_and_nonuniform_grid():
    t = np.array([0.0, 0.1, 0.35, 1.0])
    out = odeint(spring_field, torch.tensor(X0), t, substeps=50)
    assert out.shape == (3, 4, 2)
    np.testing.assert_allclose(out.numpy(), spring.solution(X0, t), atol=1e-9)
    with pytest.raises(ValueError, match=r"shape \(batch, d\)"):
        odeint(spring_field, torch.zeros(2), t)
