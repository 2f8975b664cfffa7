"""The time-reversal study (`hnn.reversal`) on HNNs of known Hamiltonians, in float64."""
import math

import numpy as np
import pytest
import torch
from known import Scalar

from hnn import reversal
from hnn.models import HNN

PENDULUM = HNN(Scalar(lambda x: 3 * (1 - torch.cos(x[:, 0])) + x[:, 1] ** 2)).double()
OSCILLATOR = HNN(Scalar(lambda x: x[:, 0] ** 2 + x[:, 1] ** 2)).double()
X0 = torch.tensor([[1.0, 0.3], [-0.5, 1.2]], dtype=torch.float64)


def pendulum_energy(states):
    return 3 * (1 - np.cos(states[..., 0])) + states[..., 1] ** 2


def pendulum_truth(x0, t):
    from scipy.integrate import solve_ivp

    def rhs(_, y):
        return [2 * y[1], -3 * math.sin(y[0])]

    return np.stack([solve_ivp(rhs, (t[0], t[-1]), x, t_eval=t, rtol=1e-12, atol=1e-12).y.T
                     for x in x0])


@pytest.mark.slow
def test_symmetric_integrators_return_and_rk4_does_not():
    errors = reversal.round_trip_table(PENDULUM.time_derivative, X0, 0.1, [200],
                                       ["rk4", "midpoint", "yoshida4"])
    assert errors["midpoint"][0] < 1e-12 and errors["yoshida4"][0] < 1e-12
    assert errors["rk4"][0] > 1e-8


def test_evaluations_per_step_counts_field_calls():
    assert reversal.evaluations_per_step(PENDULUM.time_derivative, X0, 0.1, "rk4") == 4
    midpoint = reversal.evaluations_per_step(PENDULUM.time_derivative, X0, 0.1, "midpoint")
    assert 3 < midpoint < 30 and midpoint == int(midpoint * 20) / 20


def test_long_horizon_matches_cost_and_keeps_a_quadratic_energy():
    """The midpoint rule conserves a quadratic H exactly (up to the solve); RK4 at the same cost
    takes 4 / (midpoint's evaluations per step) of its step, and loses energy steadily."""
    runs = reversal.long_horizon(OSCILLATOR, X0, 0.1, 40.0, points=100)
    midpoint, rk4 = runs["midpoint"], runs["rk4_equal_cost"]
    assert rk4["dt"] == pytest.approx(0.1 * 4 / midpoint["evaluations_per_step"])
    assert max(midpoint["error"]) < 1e-12
    assert rk4["drift_ratio"] > 5 and runs["rk4_same_step"]["drift_ratio"] > 5
    assert midpoint["t"][-1] == pytest.approx(40.0) and len(midpoint["t"]) == len(midpoint["error"])


def test_drift_ratio_compares_last_and_first_tenths():
    assert reversal.drift_ratio(np.r_[0.0, np.ones(99)]) == 1.0
    assert reversal.drift_ratio(np.linspace(0, 1, 101)) == pytest.approx(1.0 / 0.1)


def test_step_size_energy_mse_is_small_at_fine_steps_and_inf_when_midpoint_cannot_converge():
    table = reversal.step_size_energy_mse(PENDULUM, pendulum_energy, X0, pendulum_truth, 5.0,
                                          [0.01, 2.5], ["rk4", "midpoint"])
    assert table["rk4"][0] < 1e-12 and table["midpoint"][0] < 1e-6
    assert table["midpoint"][1] == float("inf")          # dt * Lipschitz constant far above 2
    assert np.isfinite(table["rk4"][1])


def test_markdown_has_a_row_per_task_and_integrator():
    numbers = {"pend": {"dt": 0.1,
                        "round_trip": {"steps": [10], "rk4": [1e-7], "midpoint": [1e-15]},
                        "step_size": {"dt": [0.1] * 5, "rk4": [1.0] * 5,
                                      "midpoint": [float("inf")] * 5}}}
    text = reversal.markdown(numbers, {"pend": "Ideal pendulum"})
    assert "| Ideal pendulum | 0.1 | rk4 | 1.0e-07 |" in text
    assert "| Ideal pendulum | midpoint | inf | inf | inf | inf | inf |" in text


def test_amplification_is_one_for_a_rotation_and_grows_for_a_saddle():
    # RK4 damps a little
    assert reversal.amplification(OSCILLATOR.time_derivative, X0, 0.1, 50) == pytest.approx(
        1.0, abs=1e-2)
    saddle = HNN(Scalar(lambda x: x[:, 0] * x[:, 1])).double()      # dq/dt = q, dp/dt = -p
    assert reversal.amplification(saddle.time_derivative, X0, 0.1, 50) > 10      # e^5 along q


def test_energy_error_path_is_the_exact_energy_lost_by_rk4_on_an_oscillator():
    """H = q^2 + p^2 rotates at rate 2; one RK4 step scales the state by |R(2i dt)| with
    R(z) = 1 + z + z^2/2 + z^3/6 + z^4/24, so after n steps |H(x_n) - H(x_0)| = H0 (1 - |R|^2n).
    The error is a magnitude: RK4 loses energy here, so a signed error would be negative."""
    dt, steps = 0.3, 40
    t, errors = reversal.energy_error_path(OSCILLATOR, X0, dt, steps, "rk4", every=10)
    z = 2j * dt
    gain = abs(1 + z + z ** 2 / 2 + z ** 3 / 6 + z ** 4 / 24) ** 2
    h0 = float((X0 ** 2).sum(-1).max())
    expected = [h0 * (1 - gain ** n) for n in range(0, steps + 1, 10)]
    assert t.tolist() == pytest.approx([0.0, 3.0, 6.0, 9.0, 12.0])
    assert errors == pytest.approx(expected, rel=1e-10) and errors[-1] > 1e-3
