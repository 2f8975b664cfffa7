"""The paper's metrics: losses with standard errors and energy MSE along rollouts."""
import math

import numpy as np
import torch

from .integrate import odeint, solve_ivp_reference


def mean_stderr(dist):
    """The paper's loss summary of a `(N, ...)` array of squared errors.

    mean = dist.mean(); stderr = dist.std() / sqrt(N), std over all elements, N = rows.
    """
    dist = torch.as_tensor(dist).detach().double()
    return {
        "mean": dist.mean().item(),
        "stderr": (dist.std(unbiased=False) / math.sqrt(dist.shape[0])).item(),
    }


def bootstrap_stderr(dist, groups=5):
    """The paper's `bootstrap_conf`: split `dist` along axis 0 into `groups` equal blocks and
    return std(block means) / sqrt(groups). Block means average every element of a block."""
    dist = np.asarray(dist, dtype=np.float64)
    if dist.shape[0] % groups:
        raise ValueError(f"cannot split {dist.shape[0]} rows into {groups} equal groups")
    means = [block.mean() for block in np.split(dist, groups)]
    return float(np.std(means) / math.sqrt(groups))


def summarize(dist, groups=5):
    """{"mean", "stderr"} of a distance array, with the bootstrap error over axis-0 groups."""
    dist = np.asarray(dist, dtype=np.float64)
    return {"mean": float(dist.mean()), "stderr": bootstrap_stderr(dist, groups)}


@torch.no_grad()
def loss_summary(model, x, dx):
    """Train/test loss of a dynamics model over a whole split: mean and stderr of (dx - f(x))^2."""
    return mean_stderr((model.time_derivative(x) - dx) ** 2)


@torch.no_grad()
def rollout(model, x0, t, substeps=10, solver="rk4", rtol=1e-9):
    """Roll a dynamics model out from `x0` (batch, d) over the grid `t`; numpy `(batch, T, d)`.

    `solver="rk4"` integrates the whole batch at once in torch; `solver="scipy"` is the original
    per-trajectory `solve_ivp` (RK45) path with tolerance `rtol`.
    """
    param = next(model.parameters())
    x0 = torch.as_tensor(x0, dtype=param.dtype, device=param.device)
    if solver == "rk4":
        return odeint(model.time_derivative, x0, t, substeps=substeps).cpu().double().numpy()
    if solver == "scipy":
        return solve_ivp_reference(model.time_derivative, x0, t, rtol=rtol)
    raise ValueError(f"unknown solver {solver!r}; expected 'rk4' or 'scipy'")


def energy_distance(energy_fn, true_states, model_states):
    """(E(true) - E(model))^2 per trajectory and time, shape `(batch, T)`.

    `energy_fn` maps numpy states `(..., d)` to energies `(...)`."""
    return (energy_fn(np.asarray(true_states)) - energy_fn(np.asarray(model_states))) ** 2


def energy_mse(model, energy_fn, x0, t, true_states, *, substeps=10, solver="rk4", rtol=1e-9,
               groups=5, over="trajectories"):
    """Energy MSE of a model's rollouts against true trajectories from the same starts.

    `true_states` is `(batch, T, d)` on the grid `t`; the model is rolled out from `x0` (batch, d)
    by `rollout` (batched RK4 with `substeps`, or scipy's RK45 at `rtol`).
    The distance (E_true - E_model)^2 is averaged over everything; its bootstrap error splits
    `over="trajectories"` into `groups` groups of trajectories, or `over="time"` (one trajectory)
    into `groups` contiguous time blocks. Returns {"mean", "stderr"}.
    """
    model_states = rollout(model, x0, t, substeps=substeps, solver=solver, rtol=rtol)
    dist = energy_distance(energy_fn, true_states, model_states)
    if over == "time":
        if dist.shape[0] != 1:
            raise ValueError(f"over='time' needs one trajectory, got {dist.shape[0]}")
        dist = dist[0]
    elif over != "trajectories":
        raise ValueError(f"over must be 'trajectories' or 'time', got {over!r}")
    return summarize(dist, groups)
