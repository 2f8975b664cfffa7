"""The double pendulum: two unit masses on unit rods, g = 9.8 (the LNN paper's setting).

Canonical states [q1, q2, p1, p2] (the rods' angles from the downward vertical and their
momenta), H = ½ pᵀ M(q)⁻¹ p + V(q) with the configuration-dependent mass matrix
M(q) = [[2, cos(q1 - q2)], [cos(q1 - q2), 1]] and V = -2g cos q1 - g cos q2. The velocity form
[q, q̇] has p = M(q) q̇ and L = ½ q̇ᵀ M(q) q̇ - V(q).
"""
import numpy as np
import torch

from hnn import HamiltonianConfig, HamiltonianTask, SampleSizes, TimeReversal

G = 9.8
LONG_HORIZON = 30.0         # the long-horizon energy error's end time


def _cos(x):
    return torch.cos(x) if torch.is_tensor(x) else np.cos(x)


def mass_matrix(q):
    """M(q) `(..., 2, 2)` of positions `(..., 2)`, torch or numpy."""
    c = _cos(q[..., 0] - q[..., 1])
    two, one = 2 + 0 * c, 1 + 0 * c
    rows = [[two, c], [c, one]]
    if torch.is_tensor(q):
        return torch.stack([torch.stack(row, -1) for row in rows], -2)
    return np.stack([np.stack(row, -1) for row in rows], -2)


def potential(q):
    return -2 * G * _cos(q[..., 0]) - G * _cos(q[..., 1])


def hamiltonian(x):
    """H of canonical states `(..., 4)`, numpy or torch (the field is its autograd)."""
    q1, q2, p1, p2 = x[..., 0], x[..., 1], x[..., 2], x[..., 3]
    c = _cos(q1 - q2)
    return (p1 ** 2 - 2 * c * p1 * p2 + 2 * p2 ** 2) / (2 * (2 - c ** 2)) + potential(x[..., :2])


def lagrangian(y):
    """L of velocity-form states `(..., 4)` = [q1, q2, v1, v2], numpy or torch."""
    q1, q2, v1, v2 = y[..., 0], y[..., 1], y[..., 2], y[..., 3]
    kinetic = v1 ** 2 + 0.5 * v2 ** 2 + _cos(q1 - q2) * v1 * v2
    return kinetic - potential(y[..., :2])


def starts(rng, n):
    """n starts `(n, 4)`: released from rest, each angle uniform in [-π/2, π/2]."""
    return np.concatenate([rng.uniform(-np.pi / 2, np.pi / 2, size=(n, 2)), np.zeros((n, 2))],
                          axis=1)


class DoublePendulumTask(HamiltonianTask):
    """`HamiltonianTask` that also records the energy MSE over a long horizon, [0, 30]."""

    def evaluate(self, model, dataset, config):
        from hnn import rollout_errors
        metrics = super().evaluate(model, dataset, config)
        x0 = self.evaluation_starts()
        t = np.linspace(0, LONG_HORIZON, 301)
        try:
            metrics["energy_mse_long"] = rollout_errors(
                model, hamiltonian, x0, t, self.eval_solution(x0, t),
                substeps=config.eval_substeps, solver=config.eval_integrator)["energy_mse"]
        except FloatingPointError:        # the long rollout blew up: the short ones stand
            metrics["long_horizon_diverged"] = 1.0
        return metrics


TASKS = [DoublePendulumTask(
    "dblpend", "Double pendulum",
    HamiltonianConfig(samples=50, noise_std=0.1, weight_decay=1e-4, eval_substeps=4),
    quick=dict(total_steps=20, samples=10, eval_substeps=1),
    state_dim=4, hamiltonian=hamiltonian, starts=starts, t_span=(0.0, 3.0), points_per_unit=20,
    eval_t_end=5.0, mass_matrix=mass_matrix, plot_limit=3.0, order=12, cache=True,
    models=("baseline", "hnn", "node2", "lnn"), time_reversal=TimeReversal(starts=2),
    sample_sizes=SampleSizes((5, 10, 25, 50, 100), (("samples", 200),), paper=25))]
