"""Ideal mass-spring (paper Task 1): physics, dataset and evaluation protocol.

H = q^2 + p^2, as in the authors' code (the paper's Eq. 4 writes half of it), so
dq/dt = 2p and dp/dt = -2q: angular frequency 2, period pi. States are `[q, p]`.
"""
import numpy as np
import torch

from hnn import integrate, summarize
from hnn.data import evaluation_states, trajectory_dataset

SAMPLES = 50            # trajectories
T_SPAN = (0.0, 3.0)
TIMESCALE = 10          # points per time unit: 30 points on [0, 3]
RADIUS = (0.1, 1.0)     # phase-space radius, so H in [0.01, 1]
NOISE_STD = 0.1         # added to the inputs only, after the targets are computed
TRAIN_FRACTION = 0.5

EVAL_TRAJECTORIES = 15
EVAL_T = np.linspace(0, 20, 100)   # fixed horizon; the original stretched it by 1.09x per call
EVAL_SEED = 1000                   # fresh evaluation starts, the same for every training seed
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


def get_dataset(seed=0, samples=SAMPLES, noise_std=NOISE_STD):
    """The original dataset: `samples` trajectories of 30 points, noisy inputs, clean targets.

    Returns numpy arrays `x, dx` (train) and `test_x, test_dx`, each `(N, 2)`, split 50/50 in
    trajectory order (750/750 for 50 trajectories), plus `t` (30,).
    """
    t = np.linspace(*T_SPAN, int(TIMESCALE * (T_SPAN[1] - T_SPAN[0])))
    return trajectory_dataset(np.random.default_rng(seed), solution, dynamics, samples, RADIUS, t,
                              noise_std, TRAIN_FRACTION)


def evaluation_trajectories(n=EVAL_TRAJECTORIES, seed=EVAL_SEED):
    """Starts `(n, 2)`, grid `(100,)` and exact trajectories `(n, 100, 2)` for the energy MSE."""
    x0 = evaluation_states(np.random.default_rng(seed), n)
    return x0, EVAL_T, solution(x0, EVAL_T)


def original_horizon_energy_mse(model, n=EVAL_TRAJECTORIES, seed=EVAL_SEED, max_step=0.1):
    """Energy MSE under the original notebook's stretched horizons, for comparison with the paper.

    Rollout i covers [0, 1.09 * 21.8 * 1.09**i] in 100 points; the true energy is H(x0), constant
    along the exact flow. All rollouts run as one batch in rescaled time s in [0, 1], where
    dx/ds = T_i f(x), with RK4 steps of at most `max_step` in t. Returns {"mean", "stderr"}.
    """
    x0 = evaluation_states(np.random.default_rng(seed), n)
    horizons = ORIGINAL_GROWTH * ORIGINAL_FIRST_HORIZON * ORIGINAL_GROWTH ** np.arange(n)
    param = next(model.parameters())
    scale = torch.as_tensor(horizons, dtype=param.dtype, device=param.device)[:, None]
    s = np.linspace(0.0, 1.0, len(EVAL_T))
    substeps = int(np.ceil(horizons.max() * s[1] / max_step))
    with torch.no_grad():
        states = integrate(lambda x: scale * model.time_derivative(x),
                           torch.as_tensor(x0, dtype=param.dtype, device=param.device), s,
                           substeps=substeps)
    energy = hamiltonian(states.cpu().double().numpy())
    return summarize((hamiltonian(x0)[:, None] - energy) ** 2)
