"""Fixed-step integrators in torch, batched over initial states, and a scipy reference path.

    odeint(f, x0, t, solver=RK4(), substeps=1) -> (batch, len(t), d)

Fields are autonomous: `f` maps states `(batch, d)` to time derivatives `(batch, d)`.
Trajectories are returned batch first: `(batch, len(t), d)`.

Every integrator has `step(f, x, dt)` -> the state after one step of size `dt` (negative steps
go backward in time), and declares its `order` and whether it is `symplectic` (preserves
dq ^ dp for a Hamiltonian field) and `symmetric` (stepping by -dt undoes a step by dt).

    integrator                 fields it accepts                 order  symplectic  symmetric
    Euler, RK4                 any f                             1, 4   no          no
    ImplicitMidpoint           any f                             2      yes         yes
    Leapfrog                   a SeparableField only             2      yes         yes
    Yoshida4(base)             what `base` accepts               4      as base     yes

A `SeparableField` is the field of H(q, p) = T(p) + V(q), with states `[q..., p...]`; it is a
plain field too, so every integrator accepts it (`SeparableHNN.field()` returns one).
"""
import math
import numbers

import numpy as np
import torch


def split_qp(x):
    """The halves `q, p` (each `(..., n)`) of states `x = [q..., p...]` of shape `(..., 2n)`;
    raises ValueError if the last dimension is odd."""
    if x.shape[-1] % 2:
        raise ValueError(f"state must have an even last dimension [q..., p...], "
                         f"got shape {tuple(x.shape)}")
    return x.chunk(2, dim=-1)


class SeparableField:
    """The field of a separable Hamiltonian H(q, p) = T(p) + V(q), given by its two halves.

    `dq_dt(p)` = dT/dp and `dp_dt(q)` = -dV/dq each map `(batch, n)` to `(batch, n)`. Called on
    states `x = [q, p]` of shape `(batch, 2n)`, the field returns `[dq_dt(p), dp_dt(q)]`, so any
    integrator accepts it; `Leapfrog` needs it.
    """

    def __init__(self, dq_dt, dp_dt):
        self.dq_dt = dq_dt
        self.dp_dt = dp_dt

    def __call__(self, x):
        q, p = split_qp(x)
        return torch.cat([self.dq_dt(p), self.dp_dt(q)], dim=-1)


class Euler:
    """Forward Euler; global error O(dt). Accepts any field."""

    order = 1
    symplectic = False
    symmetric = False

    def step(self, f, x, dt):
        return x + dt * f(x)


class RK4:
    """Classical fourth-order Runge-Kutta; global error O(dt^4). Accepts any field."""

    order = 4
    symplectic = False
    symmetric = False

    def step(self, f, x, dt):
        k1 = f(x)
        k2 = f(x + 0.5 * dt * k1)
        k3 = f(x + 0.5 * dt * k2)
        k4 = f(x + dt * k3)
        return x + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


class Leapfrog:
    """Stormer-Verlet (kick-drift-kick) for separable H(q, p) = T(p) + V(q); global error O(dt^2).

    Accepts only a `SeparableField` (e.g. `SeparableHNN.field()`): it updates q and p in turn,
    half a kick p += dt/2 dp_dt(q), a drift q += dt dq_dt(p), and another half kick.
    Raises TypeError for any other field.
    """

    order = 2
    symplectic = True
    symmetric = True

    def step(self, f, x, dt):
        if not isinstance(f, SeparableField):
            name = getattr(f, "__qualname__", type(f).__name__)
            raise TypeError(f"Leapfrog needs a SeparableField with dq_dt(p) and dp_dt(q), "
                            f"the field of a separable H = T(p) + V(q) "
                            f"(e.g. SeparableHNN.field()), got {name}")
        q, p = split_qp(x)
        p = p + 0.5 * dt * f.dp_dt(q)
        q = q + dt * f.dq_dt(p)
        p = p + 0.5 * dt * f.dp_dt(q)
        return torch.cat([q, p], dim=-1)


class ConvergenceError(RuntimeError):
    """An implicit step whose equation was not solved to its tolerance."""


class ImplicitMidpoint:
    """Implicit midpoint rule x1 = x0 + dt f((x0 + x1) / 2); global error O(dt^2). Accepts any
    field.

    Symplectic for any Hamiltonian field and symmetric, both up to the solve's tolerance. Each
    step solves for x1 by fixed-point iteration from x1 = x0 until the largest relative change
    |x1_new - x1| / (1 + |x0|) over the batch is at most `tol` (default: 10 machine epsilons of
    x's dtype), at most `max_iter` times. The iteration contracts when dt times f's Lipschitz
    constant is below 2. Differentiable: under autograd the result carries the iterations' graph.
    Raises ConvergenceError (a RuntimeError) naming the step size and the residual reached
    rather than return an unconverged state.
    """

    order = 2
    symplectic = True
    symmetric = True

    def __init__(self, tol=None, max_iter=100):
        if tol is not None and not tol > 0:
            raise ValueError(f"tol must be > 0 (or None for 10 machine epsilons), got {tol}")
        if max_iter < 1:
            raise ValueError(f"max_iter must be >= 1, got {max_iter}")
        self.tol = tol
        self.max_iter = max_iter

    def step(self, f, x, dt):
        tol = 10 * torch.finfo(x.dtype).eps if self.tol is None else self.tol
        scale = 1 + x.detach().abs()
        x1 = x
        for iteration in range(1, self.max_iter + 1):
            x_next = x + dt * f(0.5 * (x + x1))
            change = (x_next - x1).detach().abs() / scale
            residual = change.max().item() if change.numel() else 0.0
            x1 = x_next
            if residual <= tol:
                return x1
            if not math.isfinite(residual):   # diverged: more iterations cannot help
                break
        raise ConvergenceError(f"ImplicitMidpoint did not converge at step size "
                               f"dt={float(dt):.6g}: residual {residual:.3e} > tol {tol:.3e} "
                               f"after {iteration} iterations")


class Yoshida4:
    """Yoshida's fourth-order "triple jump": steps of w1 dt, w0 dt, w1 dt of a symmetric
    second-order `base`, w1 = 1 / (2 - 2^(1/3)), w0 = 1 - 2 w1 (negative); global error O(dt^4).

    Accepts the fields `base` accepts (any field for ImplicitMidpoint, a SeparableField for
    Leapfrog). Symmetric; symplectic iff `base` is. Raises ValueError for another `base`.
    `weights` holds (w1, w0, w1).
    """

    order = 4
    symmetric = True

    def __init__(self, base):
        if base.order != 2 or not base.symmetric:
            raise ValueError(f"Yoshida4 composes a symmetric second-order integrator, got "
                             f"{type(base).__name__} (order {base.order}, "
                             f"symmetric={base.symmetric})")
        self.base = base
        self.symplectic = base.symplectic
        w1 = 1 / (2 - 2 ** (1 / 3))
        self.weights = (w1, 1 - 2 * w1, w1)

    def step(self, f, x, dt):
        for w in self.weights:
            x = self.base.step(f, x, w * dt)
        return x


_INTEGRATORS = {
    "rk4": RK4,
    "euler": Euler,
    "leapfrog": Leapfrog,
    "midpoint": ImplicitMidpoint,
    "yoshida4": lambda: Yoshida4(ImplicitMidpoint()),
    "yoshida4-leapfrog": lambda: Yoshida4(Leapfrog()),
}


INTEGRATORS = tuple(_INTEGRATORS)
SEPARABLE_INTEGRATORS = ("leapfrog", "yoshida4-leapfrog")   # these need a SeparableField


def get_integrator(name="rk4"):
    """A new integrator called `name`: "rk4", "euler", "leapfrog", "midpoint" (ImplicitMidpoint),
    "yoshida4" (of ImplicitMidpoint, any field) or "yoshida4-leapfrog" (a SeparableField only).
    Raises ValueError naming an unknown `name` and the choices."""
    if name not in _INTEGRATORS:
        raise ValueError(f"unknown integrator {name!r}; expected one of {sorted(_INTEGRATORS)}")
    return _INTEGRATORS[name]()


def odeint(f, x0, t, solver=None, substeps=1):
    """Integrate `dx/dt = f(x)` from `x0` (batch, d) at `t[0]` and report the state at each `t`.

    `t` is a 1-D grid of at least one finite point (tensor or array, need not be uniform), cast
    to x0's dtype: strictly increasing integrates forward in time, strictly decreasing backward.
    Each interval is split into `substeps` equal steps of `solver` (RK4 by default; any
    integrator of this module, see its docstring for the fields each accepts).
    Returns `(batch, len(t), d)`, the first point being `x0`.
    Raises TypeError if x0 is not real floating point (an integer x0 would make `t` integer), and
    ValueError for substeps < 1, an x0 that is not (batch, d) or not finite, or a bad `t`.
    """
    solver = RK4() if solver is None else solver
    if isinstance(substeps, bool) or not isinstance(substeps, numbers.Integral):
        raise TypeError(f"substeps must be an integer, got {substeps!r}")
    if substeps < 1:
        raise ValueError(f"substeps must be >= 1, got {substeps}")
    x = torch.as_tensor(x0)
    if not x.is_floating_point():
        raise TypeError(f"x0 must be a real floating-point array, got dtype {x.dtype}; "
                        f"an integer x0 would cast the time grid t to integers")
    if torch.finfo(x.dtype).bits < 32:
        raise TypeError(f"x0 must be float32 or float64, got {x.dtype}: the time grid is cast "
                        f"to x0's dtype, and {x.dtype} would quantise it")
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
