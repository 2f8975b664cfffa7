"""The paper's metrics: losses with standard errors and energy MSE along rollouts."""
import math

import numpy as np
import torch

from .integrate import SEPARABLE_INTEGRATORS, get_integrator, odeint, solve_ivp_reference


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
    """{"mean", "stderr"} of a distance array, with the bootstrap error over axis-0 groups, or,
    for `groups=None`, the standard error of the axis-0 rows' means."""
    dist = np.asarray(dist, dtype=np.float64)
    if groups is None:
        return mean_stderr(dist.reshape(len(dist), -1).mean(axis=1))
    return {"mean": float(dist.mean()), "stderr": bootstrap_stderr(dist, groups)}


@torch.no_grad()
def loss_summary(model, x, dx):
    """Train/test loss of a dynamics model over a whole split: mean and stderr of (dx - f(x))^2."""
    return mean_stderr((model.time_derivative(x) - dx) ** 2)


@torch.no_grad()
def rollout(model, x0, t, substeps=10, solver="rk4", rtol=1e-9):
    """Roll a dynamics model out from `x0` (batch, d) over the grid `t`; numpy `(batch, T, d)`.

    `solver` names an integrator of `hnn.integrate.get_integrator` ("rk4", the default, "leapfrog",
    "midpoint", "yoshida4", ...), which integrates the whole batch at once in torch, with
    `substeps` steps per interval of `t`; integrators that need a separable field ("leapfrog",
    "yoshida4-leapfrog") take the model's `field()` (a `SeparableHNN`). `solver="scipy"` is the
    original per-trajectory `solve_ivp` (RK45) path with tolerance `rtol`.
    Raises FloatingPointError if the rollout becomes non-finite, naming the first time this
    happens and the first trajectory it happens to then.
    """
    param = next(model.parameters())
    x0 = torch.as_tensor(x0, dtype=param.dtype, device=param.device)
    if solver == "scipy":
        states = solve_ivp_reference(model.time_derivative, x0, t, rtol=rtol)
    else:
        integrator = get_integrator(solver)
        if solver in SEPARABLE_INTEGRATORS and not hasattr(model, "field"):
            raise TypeError(f"solver {solver!r} needs a separable model with field() "
                            f"(a SeparableHNN), got {type(model).__name__}")
        field = model.field() if solver in SEPARABLE_INTEGRATORS else model.time_derivative
        states = odeint(field, x0, t, solver=integrator, substeps=substeps).cpu().double().numpy()
    bad = ~np.isfinite(states).all(axis=-1)
    if bad.any():
        k = int(bad.any(axis=0).argmax())
        i = int(bad[:, k].argmax())
        raise FloatingPointError(f"the model's rollout became non-finite: trajectory {i} "
                                 f"at t[{k}] = {float(t[k])}")
    return states


def energy_distance(energy_fn, true_states, model_states):
    """(E(true) - E(model))^2 per trajectory and time, shape `(batch, T)`.

    `energy_fn` maps numpy states `(..., d)` to energies `(...)`."""
    return (energy_fn(np.asarray(true_states)) - energy_fn(np.asarray(model_states))) ** 2


def rollout_errors(model, energy_fn, x0, t, true_states, *, substeps=10, solver="rk4", rtol=1e-9,
                   groups=5, over="trajectories"):
    """Energy MSE and state MSE of a model's rollouts against true trajectories from the same
    starts: `{"energy_mse": {"mean", "stderr"}, "state_mse": {"mean", "stderr"}}`.

    `true_states` is `(batch, T, d)` on the grid `t`; the model is rolled out once from `x0`
    (batch, d) by `rollout` (batched RK4 with `substeps`, or scipy's RK45 at `rtol`). Energy:
    (E_true - E_model)^2 per trajectory and time. State: the squared distance between the true
    and the model's state, averaged over its d entries. A model that does not move conserves
    energy perfectly; the state MSE is what catches it. Each is averaged over everything; its
    bootstrap error splits `over="trajectories"` into `groups` groups of trajectories, or
    `over="time"` (one trajectory) into `groups` contiguous time blocks.
    Raises ValueError if `true_states` is not finite or not `(batch, len(t), d)` for x0 (batch, d),
    and FloatingPointError if the model's rollout becomes non-finite (see `rollout`).
    """
    true_states = np.asarray(true_states)
    x0_shape, t_shape = np.shape(x0), np.shape(t)
    if len(x0_shape) == 2 and len(t_shape) == 1:
        expected = (x0_shape[0], t_shape[0], x0_shape[1])
        if true_states.shape != expected:
            raise ValueError(f"true_states must have shape (batch, len(t), d) = {expected} "
                             f"to match x0 {tuple(x0_shape)} and t {tuple(t_shape)}, "
                             f"got {true_states.shape}")
    if not np.isfinite(true_states).all():
        index = tuple(int(i) for i in np.argwhere(~np.isfinite(true_states))[0])
        raise ValueError(f"true_states must be finite, but true_states{list(index)} "
                         f"= {true_states[index]}")
    if over not in ("trajectories", "time"):
        raise ValueError(f"over must be 'trajectories' or 'time', got {over!r}")
    if over == "time" and true_states.shape[0] != 1:
        raise ValueError(f"over='time' needs one trajectory, got {true_states.shape[0]}")
    model_states = rollout(model, x0, t, substeps=substeps, solver=solver, rtol=rtol)
    distances = {"energy_mse": energy_distance(energy_fn, true_states, model_states),
                 "state_mse": ((true_states - model_states) ** 2).mean(axis=-1)}
    return {name: summarize(dist[0] if over == "time" else dist, groups)
            for name, dist in distances.items()}


def energy_mse(model, energy_fn, x0, t, true_states, **options):
    """The energy MSE of `rollout_errors` alone: {"mean", "stderr"}."""
    return rollout_errors(model, energy_fn, x0, t, true_states, **options)["energy_mse"]


def decay_rate(t, energy):
    """The energy's decay rate per trajectory: minus the least-squares slope of log E against t,
    for `energy` (batch, T) on times `t` (T,); `(batch,)`."""
    log_energy = np.log(np.asarray(energy))
    t = np.asarray(t) - np.mean(t)
    slope = (log_energy - log_energy.mean(axis=1, keepdims=True)) @ t / (t @ t)
    return -slope


def divergence(field, x):
    """The divergence sum_i df_i/dx_i of a field at states `x` (batch, d); `(batch,)`.

    Exact, by autograd (one backward pass per dimension); `field` maps `(batch, d)` tensors to
    `(batch, d)` and may itself differentiate (an HNN's field does). A Hamiltonian field has
    divergence 0 (Liouville); a dissipative HNN's is the Laplacian of its D."""
    with torch.enable_grad():
        x = torch.as_tensor(x).detach().requires_grad_(True)
        f = field(x)
        parts = [torch.autograd.grad(f[:, i].sum(), x, retain_graph=True)[0][:, i]
                 for i in range(x.shape[1])]
    return torch.stack(parts).sum(0).detach()


VPT_THRESHOLD = 0.025       # Botev et al. 2021 ("Which priors matter?")


def valid_prediction_time(prediction, truth, threshold=VPT_THRESHOLD):
    """Valid prediction time of rollouts `prediction` against `truth`, both `(n, T, D)` (n
    trajectories of T frames of D pixels, or any flattened observation).

    Per trajectory: the index of the first time step t whose error, the mean over D of
    (prediction - truth)^2 divided by the mean over D of truth^2 at that step, exceeds
    `threshold`; T when none does. So a rollout wrong from its first frame scores 0. Returns
    `(n,)` integers; the score of a set of rollouts is their median (Botev et al. 2021)."""
    prediction, truth = np.asarray(prediction, dtype=np.float64), np.asarray(truth, np.float64)
    if prediction.shape != truth.shape or truth.ndim != 3:
        raise ValueError(f"prediction and truth must both be (n, T, D), got {prediction.shape} "
                         f"and {truth.shape}")
    scale = (truth ** 2).mean(axis=2)
    if np.any(scale == 0):
        raise ValueError("truth has an all-zero frame; its normalised error is undefined")
    over = ((prediction - truth) ** 2).mean(axis=2) / scale > threshold
    return np.where(over.any(axis=1), over.argmax(axis=1), truth.shape[1])
