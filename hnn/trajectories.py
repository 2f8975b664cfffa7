"""Trajectory training: fit a dynamics model through the integrator, from observed trajectories
alone (no time derivatives), optionally with the chunks' starts inferred.

    loss = RolloutLoss(dt, horizon=5, integrator="rk4")
    loss(model, {"trajectories": (n, T, d), "index": (n,)})   -> scalar

Each call draws one chunk of `horizon` + 1 consecutive observations per trajectory, at a random
position (as CHNN does), integrates the model over the chunk from its start and compares the
path with the observations. Gradients flow back through every integrator step: on chunks of a
few steps that is exact and cheap, where an adjoint solve would add a backward integration and
its own discretisation error.

With inferred starts (initial-state optimisation, ISO), every chunk start z[n, s] is a free
state, initialised at its noisy observation and fitted to the chunk's observations with the
model: by L-BFGS with the model fixed, 20 times along training ("alternating"), or by Adam with
the model ("joint"). Observations y = x + noise then enter only as targets, which is maximum
likelihood with the starts as parameters; derivative matching, and a rollout from a noisy start,
regress on noisy inputs and shrink the field (errors in variables).

States are `[q..., p...]`; trajectories are `(n, T, d)` on a uniform time grid of step `dt`.
"""
import numpy as np
import torch

from .integrate import SEPARABLE_INTEGRATORS, get_integrator, odeint

REFITS = 20               # alternating ISO: how many times the starts are refitted along training
REFIT_ITERATIONS = 20     # L-BFGS iterations of each refit


def as_trajectories(rows, per_trajectory, name="the split"):
    """`(n * T, d)` rows in trajectory order -> `(n, T, d)`, `T = per_trajectory`."""
    if len(rows) % per_trajectory:
        raise ValueError(f"{name} has {len(rows)} rows, not a whole number of trajectories of "
                         f"{per_trajectory} points")
    return rows.reshape(len(rows) // per_trajectory, per_trajectory, rows.shape[-1])


def uniform_step(t, name="the time grid"):
    """The step of a uniform grid `t` (at least two points); ValueError if it is not uniform."""
    t = torch.as_tensor(t, dtype=torch.float64)
    if t.ndim != 1 or len(t) < 2:
        raise ValueError(f"{name} must be 1-D with at least two times, got shape {tuple(t.shape)}")
    steps = torch.diff(t)
    dt = float(steps.mean())
    if not dt > 0 or (steps - dt).abs().max() > 1e-9 * max(1.0, abs(dt)):
        raise ValueError(f"{name} must be uniform and increasing for --loss rollout, got steps "
                         f"from {float(steps.min())} to {float(steps.max())}")
    return dt


def windows(states, t, length, dt, name="the recording"):
    """Every window of `length` consecutive points of one recording, `states` `(N, d)` at times
    `t` `(N,)`, whose points are `dt` apart (to 1e-6 of dt): `(n, length, d)`. A window across a
    dropped frame is left out. ValueError if none is left."""
    t = np.asarray(t, dtype=np.float64)
    steps_ok = np.abs(np.diff(t) - dt) <= 1e-6 * dt
    starts = [i for i in range(len(t) - length + 1) if steps_ok[i:i + length - 1].all()]
    if not starts:
        raise ValueError(f"{name} has no window of {length} points {dt:.6g} apart "
                         f"(--horizon {length - 1})")
    return np.stack([states[i:i + length] for i in starts])


def chunks(trajectories, positions, horizon):
    """The chunks of `horizon` + 1 points of `trajectories` `(n, T, d)` that start at
    `positions`, one per trajectory `(n,)` or several `(n, m)`: `(n, horizon + 1, d)` or
    `(n, m, horizon + 1, d)`."""
    offsets = positions[..., None] + torch.arange(horizon + 1, device=trajectories.device)
    rows = torch.arange(len(trajectories), device=trajectories.device)
    return trajectories[rows.reshape((-1,) + (1,) * positions.ndim), offsets]


def every_chunk(trajectories, horizon, stride=1):
    """The chunks at positions 0, stride, 2 stride, ... of every trajectory, flattened:
    `(n * m, horizon + 1, d)`."""
    n, length, d = trajectories.shape
    positions = torch.arange(0, length - horizon, stride, device=trajectories.device)
    return chunks(trajectories, positions.expand(n, -1), horizon).reshape(-1, horizon + 1, d)


def path(model, start, dt, horizon, integrator, substeps=1):
    """The model's path `(n, horizon + 1, d)` from `start` `(n, d)`, `substeps` steps of the
    integrator `integrator` (a name of `hnn.integrate.get_integrator`) per interval `dt`;
    differentiable. Integrators that need a separable field take the model's `field()`."""
    if integrator in SEPARABLE_INTEGRATORS:
        if not hasattr(model, "field"):
            raise TypeError(f"--train-integrator {integrator} needs a separable model with "
                            f"field() (--model shnn), got {type(model).__name__}")
        field = model.field()
    else:
        field = model.time_derivative
    t = dt * torch.arange(horizon + 1, dtype=start.dtype, device=start.device)
    return odeint(field, start, t, solver=get_integrator(integrator), substeps=substeps)


def path_error(predicted, observed, norm="l2"):
    """The mean squared ("l2") or absolute ("l1") difference of two paths."""
    difference = predicted - observed
    return difference.square().mean() if norm == "l2" else difference.abs().mean()


def fit_starts(model, observed, dt, integrator="rk4", substeps=1, initial=None,
               iterations=REFIT_ITERATIONS):
    """The starts `(n, d)` whose paths of the fixed `model` best fit the chunks `observed`
    `(n, K + 1, d)` (squared error over all K + 1 points), from `initial` (default: each chunk's
    first observation), by L-BFGS with a strong Wolfe line search, every chunk at once (their
    errors are independent given the model)."""
    horizon = observed.shape[1] - 1
    initial = observed[:, 0] if initial is None else initial
    start = initial.detach().clone().requires_grad_(True)
    optimizer = torch.optim.LBFGS([start], max_iter=iterations, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        error = (path(model, start, dt, horizon, integrator, substeps) - observed).square().sum()
        error.backward(inputs=[start])
        return error
    with torch.enable_grad():
        optimizer.step(closure)
    return start.detach()


class RolloutLoss:
    """The rollout loss of a model on a batch of trajectories, `loss(model, batch)`.

    `batch`: {"trajectories": (n, T, d), "index": (n,)}, "index" naming each trajectory's row of
    the inferred starts. Without inferred starts, the chunk's first observation is its start and
    the error is over the `horizon` points after it; with them (`infer_starts(train)`), the start
    is the fitted state and the error is over all `horizon` + 1 points. `held_out` is the same
    loss over fixed chunks (positions 0, K, 2K, ...) from observed starts, for test splits.

    Args:
        dt: the time step of the observations.
        horizon: K, the observed steps of a chunk (at most T - 1).
        integrator, substeps: the integrator of the rollouts and its steps per interval.
        norm: "l2" or "l1".
        seed: seed of the chunks' positions.
    """

    def __init__(self, dt, horizon, integrator="rk4", substeps=1, norm="l2", seed=0):
        self.dt, self.horizon, self.integrator, self.substeps = dt, horizon, integrator, substeps
        self.norm = norm
        self.generator = torch.Generator().manual_seed(seed)
        self.starts, self.method, self.refit_every, self.calls = None, None, None, 0

    def check(self, trajectories, name):
        """ValueError naming --horizon unless every chunk fits in `trajectories` `(n, T, d)`."""
        if trajectories.ndim != 3:
            raise ValueError(f"{name} trajectories must be (n, T, d), got "
                             f"{tuple(trajectories.shape)}")
        if self.horizon > trajectories.shape[1] - 1:
            points = trajectories.shape[1]
            raise ValueError(f"--horizon {self.horizon} is longer than the {name} trajectories, "
                             f"which have {points} points ({points - 1} steps)")

    def infer_starts(self, train, method="alternating", total_steps=0):
        """Make every chunk start of the training trajectories `train` `(n, T, d)` a parameter
        `(n, T - K, d)`, initialised at its observation, and return it: the caller trains it with
        the model ("joint"), or `__call__` refits it by L-BFGS with the model fixed every
        `total_steps // REFITS` steps ("alternating")."""
        self.check(train, "training")
        self.starts = torch.nn.Parameter(train[:, :train.shape[1] - self.horizon].clone())
        self.method = method
        self.refit_every = max(total_steps // REFITS, 1)
        return self.starts

    def __call__(self, model, batch):
        trajectories = batch["trajectories"]
        n, length = trajectories.shape[:2]
        positions = torch.randint(0, length - self.horizon, (n,), generator=self.generator)
        positions = positions.to(trajectories.device)
        observed = chunks(trajectories, positions, self.horizon)
        if self.starts is None:
            predicted = path(model, observed[:, 0], self.dt, self.horizon, self.integrator,
                             self.substeps)
            return path_error(predicted[:, 1:], observed[:, 1:], self.norm)
        if self.method == "alternating" and self.calls and not self.calls % self.refit_every:
            self.refit(model, batch)
        self.calls += 1
        start = self.starts[batch["index"], positions]
        predicted = path(model, start, self.dt, self.horizon, self.integrator, self.substeps)
        return path_error(predicted, observed, self.norm)

    def refit(self, model, batch, iterations=REFIT_ITERATIONS):
        """Fit the starts of `batch`'s trajectories to their chunks with the model fixed."""
        trajectories, index = batch["trajectories"], batch["index"]
        n, length, d = trajectories.shape
        initial = self.starts.detach()[index].reshape(-1, d)
        start = fit_starts(model, every_chunk(trajectories, self.horizon), self.dt,
                           self.integrator, self.substeps, initial, iterations)
        with torch.no_grad():
            self.starts[index] = start.reshape(n, length - self.horizon, d)

    @torch.no_grad()
    def held_out(self, model, batch):
        """The loss over the chunks at positions 0, K, 2K, ... of `batch`'s trajectories, from
        their observed starts (the same every call)."""
        trajectories = batch["trajectories"]
        self.check(trajectories, "held-out")
        observed = every_chunk(trajectories, self.horizon, stride=self.horizon)
        predicted = path(model, observed[:, 0], self.dt, self.horizon, self.integrator,
                         self.substeps)
        return path_error(predicted[:, 1:], observed[:, 1:], self.norm)
