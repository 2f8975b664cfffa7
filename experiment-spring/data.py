"""Ideal mass-spring (paper Task 1): physics and the dataset recipe's constants.

H = q^2 + p^2, as in the authors' code (the paper's Eq. 4 writes half of it), so
dq/dt = 2p and dp/dt = -2q: angular frequency 2, period pi. States are `[q, p]`.
"""
import numpy as np
import torch

from hnn import odeint, summarize
from hnn.data import evaluation_states

T_SPAN = (0.0, 3.0)
POINTS_PER_UNIT = 10    # 30 points on [0, 3]
RADIUS = (0.1, 1.0)     # phase-space radius, so H in [0.01, 1]
TRAIN_FRACTION = 0.5
# The original notebook scaled its horizon by 1 + 0.9 * noise_std = 1.09 in place on every call:
# trajectory i ran to 21.8 * 1.09**i for the truth and 1.09x that for the models (up to t = 79).
ORIGINAL_GROWTH = 1.09
ORIGINAL_FIRST_HORIZON = 21.8


def hamiltonian(x):
    """H(q, p) = q^2 + p^2 for `(..., 2)` states."""
    return x[..., 0] ** 2 + x[..., 1] ** 2


def dynamics(x):
    """Exact time derivative [dH/dp, -dH/dq] = [2p, -2q] of `(..., 2)` states."""
    return np.stack([2 * x[..., 1], -2 * x[..., 0]], axis=-1)


def solution(x0, t):
    """Exact flow from `x0` (batch, 2) over times `t` (T,): `(batch, T, 2)`."""
    x0 = np.asarray(x0, dtype=np.float64)
    c, s = np.cos(2 * t)[None, :], np.sin(2 * t)[None, :]
    q0, p0 = x0[:, :1], x0[:, 1:]
    return np.stack([q0 * c + p0 * s, p0 * c - q0 * s], axis=-1)


def original_horizon_energy_mse(model, n, seed, points, max_step=0.1):
    """Energy MSE under the original notebook's stretched horizons, for comparison with the paper.

    The `n` starts are the energy MSE's (`evaluation_states` drawn with `seed`); rollout i covers
    [0, 1.09 * 21.8 * 1.09**i] in `points` points; the true energy is H(x0), constant along the
    exact flow. All rollouts run as one batch in rescaled time s in [0, 1], where
    dx/ds = T_i f(x), with RK4 steps of at most `max_step` in t. Returns {"mean", "stderr"}.
    """
    x0 = evaluation_states(np.random.default_rng(seed), n)
    horizons = ORIGINAL_GROWTH * ORIGINAL_FIRST_HORIZON * ORIGINAL_GROWTH ** np.arange(n)
    param = next(model.parameters())
    scale = torch.as_tensor(horizons, dtype=param.dtype, device=param.device)[:, None]
    s = np.linspace(0.0, 1.0, points)
    substeps = int(np.ceil(horizons.max() * s[1] / max_step))
    with torch.no_grad():
        states = odeint(lambda x: scale * model.time_derivative(x),
                        torch.as_tensor(x0, dtype=param.dtype, device=param.device), s,
                        substeps=substeps)
    energy = hamiltonian(states.cpu().double().numpy())
    return summarize((hamiltonian(x0)[:, None] - energy) ** 2)
