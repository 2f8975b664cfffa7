"""Ideal pendulum (paper Task 2): physics and the dataset recipe's constants.

H = 3(1 - cos q) + p^2, as in the authors' code (the paper's Eq. 5 prints other constants), so
dq/dt = 2p and dp/dt = -3 sin q. States are `[q, p]`.
"""
import numpy as np

from hnn.data import solve_batch

T_SPAN = (0.0, 3.0)
POINTS_PER_UNIT = 15    # 45 points on [0, 3]
RADIUS = (1.3, 2.3)     # phase-space radius of the initial state
TRAIN_FRACTION = 0.5
RTOL = 1e-10            # solve_ivp tolerance of the dataset
EVAL_RTOL = 1e-12       # and of the evaluation trajectories


def hamiltonian(x):
    """H(q, p) = 3(1 - cos q) + p^2 for `(..., 2)` states."""
    return 3 * (1 - np.cos(x[..., 0])) + x[..., 1] ** 2


def dynamics(x):
    """Exact time derivative [dH/dp, -dH/dq] = [2p, -3 sin q] of `(..., 2)` states."""
    return np.stack([2 * x[..., 1], -3 * np.sin(x[..., 0])], axis=-1)


def solution(x0, t, rtol=RTOL):
    """Trajectories from `x0` (batch, 2) over `t` by solve_ivp (RK45, atol 1e-12):
    `(batch, T, 2)`."""
    return solve_batch(dynamics, x0, t, rtol=rtol)


def evaluation_solution(x0, t):
    """`solution` at the evaluation tolerance."""
    return solution(x0, t, rtol=EVAL_RTOL)
