"""Damped mass-spring: the ideal spring of Task 1 with linear friction on the momentum.

H = q^2 + p^2 and dq/dt = dH/dp = 2p, dp/dt = -dH/dq - gamma dH/dp = -2q - 2 gamma p, with
gamma = 0.1: a linear field x' = A x. Its divergence is -2 gamma everywhere, and along it
dH/dt = -4 gamma p^2, so the energy decays at about 2 gamma (a third of it is left by t = 6).
States are `[q, p]`.
"""
import numpy as np
import scipy.linalg
import torch

from hnn.metrics import divergence

GAMMA = 0.1
T_SPAN = (0.0, 3.0)      # the spring's recipe: 30 points on [0, 3], radii (0.1, 1), 50/50 split
POINTS_PER_UNIT = 10
RADIUS = (0.1, 1.0)
TRAIN_FRACTION = 0.5
SYSTEM = np.array([[0.0, 2.0], [-2.0, -2.0 * GAMMA]])   # A in x' = A x


def hamiltonian(x):
    """H(q, p) = q^2 + p^2 of `(..., 2)` states (not conserved here)."""
    return x[..., 0] ** 2 + x[..., 1] ** 2


def dynamics(x):
    """The damped field A x of `(..., 2)` states."""
    return np.asarray(x) @ SYSTEM.T


def conservative_part(x):
    """The Hamiltonian part of the field, [dH/dp, -dH/dq] = [2p, -2q]."""
    return np.stack([2 * x[..., 1], -2 * x[..., 0]], axis=-1)


def dissipative_part(x):
    """The friction part of the field, [0, -2 gamma p] = grad D with D = -gamma p^2."""
    return np.stack([np.zeros_like(x[..., 1]), -2 * GAMMA * x[..., 1]], axis=-1)


def solution(x0, t):
    """Exact flow x(t) = expm(A t) x0 from `x0` (batch, 2) over times `t` (T,): `(batch, T, 2)`."""
    flows = np.stack([scipy.linalg.expm(SYSTEM * ti) for ti in np.asarray(t, dtype=np.float64)])
    return np.einsum("tij,bj->bti", flows, np.asarray(x0, dtype=np.float64))


GRID_POINTS = 25          # per axis, as the D-HNN paper's grid
GRID_LIMIT = 0.7          # inside the data's radii (0.1 to 1)


def grid_states(n=GRID_POINTS, limit=GRID_LIMIT):
    """An n x n grid of states on [-limit, limit]^2, `(n*n, 2)`."""
    q, p = np.meshgrid(np.linspace(-limit, limit, n), np.linspace(-limit, limit, n))
    return np.stack([q.ravel(), p.ravel()], axis=1)


def grid_divergence(model):
    """The divergence of `model`'s field on `grid_states()`, `(n*n,)` (its mean is the metric)."""
    param = next(model.parameters())
    grid = torch.as_tensor(grid_states(), dtype=param.dtype, device=param.device)
    return divergence(model.time_derivative, grid)
