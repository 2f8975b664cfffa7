"""Ideal pendulum (paper Task 2): physics, dataset and evaluation protocol.

H = 3(1 - cos q) + p^2, as in the authors' code (the paper's Eq. 5 prints other constants), so
dq/dt = 2p and dp/dt = -3 sin q. States are `[q, p]`.
"""
import numpy as np

from hnn.data import evaluation_states, solve_batch, trajectory_dataset

SAMPLES = 50            # trajectories
T_SPAN = (0.0, 3.0)
TIMESCALE = 15          # points per time unit: 45 points on [0, 3]
RADIUS = (1.3, 2.3)     # phase-space radius of the initial state
NOISE_STD = 0.1         # added to the inputs only, after the targets are computed
TRAIN_FRACTION = 0.5
RTOL = 1e-10

EVAL_TRAJECTORIES = 15
EVAL_T = np.linspace(0, 20, 100)
EVAL_SEED = 1000        # fresh evaluation starts, the same for every training seed


def hamiltonian(x):
    """H(q, p) = 3(1 - cos q) + p^2 for `(..., 2)` states."""
    return 3 * (1 - np.cos(x[..., 0])) + x[..., 1] ** 2


def dynamics(x):
    """Exact time derivative [dH/dp, -dH/dq] = [2p, -3 sin q] of `(..., 2)` states."""
    return np.stack([2 * x[..., 1], -3 * np.sin(x[..., 0])], axis=-1)


def solution(x0, t, rtol=RTOL):
    """Trajectories from `x0` (batch, 2) over `t` by solve_ivp (RK45, atol 1e-12): `(batch, T, 2)`."""
    return solve_batch(dynamics, x0, t, rtol=rtol)


def get_dataset(seed=0, samples=SAMPLES, noise_std=NOISE_STD):
    """The original dataset: `samples` trajectories of 45 points, noisy inputs, clean targets.

    Returns numpy arrays `x, dx` (train) and `test_x, test_dx`, each `(N, 2)`, split 50/50 in
    trajectory order (1125/1125 for 50 trajectories), plus `t` (45,).
    """
    t = np.linspace(*T_SPAN, int(TIMESCALE * (T_SPAN[1] - T_SPAN[0])))
    return trajectory_dataset(np.random.default_rng(seed), solution, dynamics, samples, RADIUS, t,
                              noise_std, TRAIN_FRACTION)


def evaluation_trajectories(n=EVAL_TRAJECTORIES, seed=EVAL_SEED):
    """Starts `(n, 2)`, grid `(100,)` and true trajectories `(n, 100, 2)` for the energy MSE.

    The starts lie in ±[0.2, 1] per component, as in the original notebook (below the training
    radii); the energy is the pendulum's own H (the original used q^2 + p^2)."""
    x0 = evaluation_states(np.random.default_rng(seed), n)
    return x0, EVAL_T, solution(x0, EVAL_T, rtol=1e-12)
