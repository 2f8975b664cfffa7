"""Fixed-step integrators in torch, batched over initial states, and a scipy reference path.

    odeint(f, x0, t, solver=RK4(), substeps=1) -> (batch, len(t), d)

Fields are autonomous: `f` maps states `(batch, d)` to time derivatives `(batch, d)`.
Trajectories are returned batch first: `(batch, len(t), d)`.
"""
import numpy as np
import torch


class Euler:
    """Forward Euler; global error O(dt)."""

    order = 1

    def step(self, f, x, dt):
        return x + dt * f(x)


class RK4:
    """Classical fourth-order Runge-Kutta; global error O(dt^4)."""

    order = 4

    def step(self, f, x, dt):
        k1 = f(x)
        k2 = f(x + 0.5 * dt * k1)
        k3 = f(x + 0.5 * dt * k2)
        k4 = f(x + dt * k3)
        return x + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


def odeint(f, x0, t, solver=None, substeps=1):
    """Integrate `dx/dt = f(x)` from `x0` (batch, d) at `t[0]` and report the state at each `t`.

    `t` is a 1-D grid of at least one finite point (tensor or array, need not be uniform), cast
    to x0's dtype: strictly increasing integrates forward in time, strictly decreasing backward.
    Each interval is split into `substeps` equal steps of `solver` (RK4 by default).
    Returns `(batch, len(t), d)`, the first point being `x0`.
    Raises TypeError if x0 is not real floating point (an integer x0 would make `t` integer), and
    ValueError for substeps < 1, an x0 that is not (batch, d) or not finite, or a bad `t`.
    """
    solver = RK4() if solver is None else solver
    if substeps < 1:
        raise ValueError(f"substeps must be >= 1, got {substeps}")
    x = torch.as_tensor(x0)
    if not x.is_floating_point():
        raise TypeError(f"x0 must be a real floating-point array, got dtype {x.dtype}; "
                        f"an integer x0 would cast the time grid t to integers")
    if x.ndim != 2:
        raise ValueError(f"x0 must have shape (batch, d), got {tuple(x.shape)}")
    bad = ~torch.isfinite(x)
    if bad.any():
        row, col = torch.nonzero(bad)[0].tolist()
        raise ValueError(f"x0 must be finite, but x0[{row}, {col}] = {x[row, col].item()}")
    t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
    steps = _check_grid(t)
    states = [x]
    for dt in steps.tolist():
        h = dt / substeps
        for _ in range(substeps):
            x = solver.step(f, x, h)
        states.append(x)
    return torch.stack(states, dim=1)


def _check_grid(t):
    """The intervals `torch.diff(t)` of a 1-D, non-empty, finite, strictly monotonic grid `t`;
    raises ValueError naming `t` otherwise."""
    if t.ndim != 1 or len(t) == 0:
        raise ValueError(f"t must be a 1-D grid of at least one time, got shape {tuple(t.shape)}")
    finite = torch.isfinite(t)
    if not finite.all():
        i = int(torch.nonzero(~finite)[0])
        raise ValueError(f"t must be finite, but t[{i}] = {t[i].item()}")
    steps = torch.diff(t)
    if len(steps) and not ((steps > 0).all() or (steps < 0).all()):
        i = int(torch.nonzero(steps <= 0 if steps[0] > 0 else steps >= 0)[0])
        raise ValueError(f"t must be strictly increasing (forward in time) or strictly decreasing "
                         f"(backward), but t[{i}] = {t[i].item()}, t[{i + 1}] = {t[i + 1].item()}")
    return steps


def solve_ivp_reference(f, x0, t, rtol=1e-9, atol=1e-6, method="RK45"):
    """The original protocol: `scipy.integrate.solve_ivp` one trajectory at a time, batch size 1.

    `f` is a torch field as for `odeint`; it is called on `(1, d)` tensors of x0's dtype.
    `atol` keeps scipy's default, as the original did: far tighter, the float32 model's rounding
    makes the adaptive step collapse.
    Returns a numpy array `(batch, len(t), d)`.
    """
    import scipy.integrate  # slow to import; only this reference path needs it

    x0 = torch.as_tensor(x0)
    t = np.asarray(t, dtype=np.float64)

    def rhs(_, y):
        x = torch.as_tensor(y, dtype=x0.dtype, device=x0.device).reshape(1, -1)
        return f(x).reshape(-1).detach().cpu().double().numpy()

    out = []
    for y0 in x0.detach().cpu().double().numpy():
        sol = scipy.integrate.solve_ivp(
            rhs, (t[0], t[-1]), y0, t_eval=t, rtol=rtol, atol=atol, method=method
        )
        if not sol.success:
            raise RuntimeError(f"solve_ivp failed from x0={y0}: {sol.message}")
        out.append(sol.y.T)
    return np.stack(out)
