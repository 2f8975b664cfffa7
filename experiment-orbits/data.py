"""Gravitational N-body orbits (paper Task 4: two bodies; appendix: three bodies).

Units G = 1 and every mass m = 1, so a body's momentum equals its velocity and

    H = sum_i |p_i|^2 / 2  -  sum_{i<j} 1 / |q_i - q_j|,
    dq_i/dt = p_i,   dp_i/dt = sum_{j != i} (q_j - q_i) / |q_j - q_i|^3.

Canonical state ordering (the original's, input_dim 4N): positions first, then momenta; within each,
grouped by component and then by body. Two bodies:

    [qx1, qx2, qy1, qy2, px1, px2, py1, py2]

three bodies: [qx1, qx2, qx3, qy1, qy2, qy3, px1, px2, px3, py1, py2, py3]. `canonical_names`
spells it out and `positions_momenta` unpacks it; every function here uses that ordering.
"""
import numpy as np

from hnn.cache import cached
from hnn.data import solve_batch

# The original's dataset settings (docs/paper-settings.md, Task 4 and the three-body appendix); the
# number of orbits is a setting of the task (task.py).
SETTINGS = {
    2: dict(timesteps=50, t_span=(0.0, 20.0), orbit_noise=5e-2, min_radius=0.5, max_radius=1.5),
    3: dict(timesteps=20, t_span=(0.0, 5.0), orbit_noise=0.2, min_radius=0.9, max_radius=1.2),
}
RTOL = 1e-9
ATOL = 1e-9
TEST_FRACTION = 0.2          # the test split is the FIRST 20% of points (the first trajectories)
CHUNK = 100                  # orbits per solve_ivp system (one stiff orbit only slows its chunk)

EVAL_TRAJECTORIES = 15       # seeds 0..14, one orbit each; seed 0 is the dataset's first orbit


def canonical_names(bodies):
    """Names of the state entries in canonical order, e.g. ['qx1', 'qx2', 'qy1', ...]."""
    return [f"{kind}{axis}{i + 1}" for kind in "qp" for axis in "xy" for i in range(bodies)]


def _bodies_of(x):
    d = x.shape[-1]
    if d % 4 or d < 8:
        raise ValueError(f"an N-body state has 4N entries [qx.., qy.., px.., py..] with N >= 2, "
                         f"got last dimension {d}")
    return d // 4


def positions_momenta(x):
    """Split canonical states `(..., 4N)` into q and p, each `(..., 2, N)` = (component, body).

    Works on numpy arrays and torch tensors."""
    n = _bodies_of(x)
    shape = tuple(x.shape[:-1]) + (2, n)
    return x[..., :2 * n].reshape(shape), x[..., 2 * n:].reshape(shape)


def kinetic_energy(x):
    """sum_i |p_i|^2 / 2 of states `(..., 4N)`, shape `(...)`. numpy or torch."""
    return 0.5 * (x[..., x.shape[-1] // 2:] ** 2).sum(-1)


def potential_energy(x):
    """-sum over pairs i<j of 1/|q_i - q_j| (each pair once) of states `(..., 4N)`, shape `(...)`.

    numpy or torch."""
    q, _ = positions_momenta(x)
    n = q.shape[-1]
    total = 0.0
    for i in range(n):
        for j in range(i + 1, n):
            total = total - 1.0 / (((q[..., j] - q[..., i]) ** 2).sum(-1) ** 0.5)
    return total


def total_energy(x):
    """The Hamiltonian H(q, p) of states `(..., 4N)`, shape `(...)`. numpy or torch."""
    return kinetic_energy(x) + potential_energy(x)


def dynamics(x):
    """Exact time derivative [dH/dp, -dH/dq] of numpy states `(..., 4N)`, same shape and
    ordering."""
    x = np.asarray(x, dtype=np.float64)
    q, p = positions_momenta(x)
    n = q.shape[-1]
    delta = q[..., None, :] - q[..., :, None]             # (..., 2, i, j) = q_j - q_i
    dist3 = ((delta ** 2).sum(-3) ** 1.5)[..., None, :, :]
    dist3 = dist3 + np.where(np.eye(n, dtype=bool), np.inf, 0.0)   # no self-force
    accel = (delta / dist3).sum(-1)                        # (..., 2, N)
    return np.concatenate([p.reshape(x.shape[:-1] + (2 * n,)),
                           accel.reshape(x.shape[:-1] + (2 * n,))], axis=-1)


def _canonical(pos, vel):
    """Pack per-body positions and velocities `(N, 2)` into one canonical state `(4N,)`."""
    return np.concatenate([pos.T.reshape(-1), vel.T.reshape(-1)])


def random_config(rng, bodies, orbit_noise, min_radius, max_radius):
    """One perturbed circular configuration, canonical `(4N,)`, with the bodies centred on the
    origin.

    Two bodies (the original's recipe): body 1 at `U(min_radius, max_radius)` per component, so its
    distance r from the centre lies in [0.71, 2.12] for the defaults; the circular speed
    1/(2 sqrt r) perpendicular to it (counter-clockwise), scaled by one factor
    1 + orbit_noise * N(0, 1); body 2 = -body 1, so the total momentum is 0.

    Three bodies (the appendix): an equilateral triangle at distance r ~ U(min_radius, max_radius)
    from the centre, a random orientation, the circular speed 3^(-1/4) / sqrt(r), and every
    velocity component scaled by its own 1 + orbit_noise * U(-1, 1).
    """
    if bodies == 2:
        pos = rng.uniform(min_radius, max_radius, size=2)
        r = np.linalg.norm(pos)
        vel = np.array([-pos[1], pos[0]]) / (2 * r ** 1.5)
        vel = vel * (1 + orbit_noise * rng.standard_normal())
        return _canonical(np.stack([pos, -pos]), np.stack([vel, -vel]))
    if bodies == 3:
        r = rng.uniform(min_radius, max_radius)
        angle = rng.uniform(0, 2 * np.pi) + 2 * np.pi / 3 * np.arange(3)
        unit = np.stack([np.cos(angle), np.sin(angle)], axis=1)          # (3, 2)
        pos = r * unit
        vel = 3 ** -0.25 / np.sqrt(r) * np.stack([-unit[:, 1], unit[:, 0]], axis=1)
        vel = vel * (1 + orbit_noise * rng.uniform(-1, 1, size=(3, 2)))
        return _canonical(pos, vel)
    raise ValueError(f"bodies must be 2 or 3, got {bodies!r}")


def task_settings(bodies, **overrides):
    """The dataset settings of the `bodies`-body task, with `overrides` (None values ignored)."""
    if bodies not in SETTINGS:
        raise ValueError(f"bodies must be one of {sorted(SETTINGS)}, got {bodies!r}")
    unknown = set(overrides) - set(SETTINGS[bodies])
    if unknown:
        raise ValueError(f"unknown orbit settings {sorted(unknown)}; "
                         f"expected some of {sorted(SETTINGS[bodies])}")
    return {**SETTINGS[bodies], **{k: v for k, v in overrides.items() if v is not None}}


def initial_states(seed, bodies, n, **overrides):
    """`n` configurations `(n, 4N)` drawn one after another from `default_rng(seed)`, so the
    first state is the same for any `n`. Task settings unless overridden."""
    s = task_settings(bodies, **overrides)
    rng = np.random.default_rng(seed)
    return np.stack([random_config(rng, bodies, s["orbit_noise"], s["min_radius"], s["max_radius"])
                     for _ in range(n)])


def integrate_orbits(x0, t, rtol=RTOL, atol=ATOL, chunk=CHUNK):
    """Integrate states `(n, 4N)` over the grid `t` with solve_ivp (RK45): `(n, len(t), 4N)`.

    The orbits are solved `chunk` at a time as one vectorised system (the error norm is taken
    over the chunk)."""
    x0 = np.asarray(x0, dtype=np.float64)
    return np.concatenate([solve_batch(dynamics, x0[i:i + chunk], t, rtol=rtol, atol=atol)
                           for i in range(0, len(x0), chunk)])


def make_dataset(bodies, seed, trials, **overrides):
    """Generate the dataset of `trials` orbits (no cache) from the task settings, with `overrides`.

    Returns numpy arrays `x, dx` (train) and `test_x, test_dx`, each `(points, 4N)` in canonical
    order; dx is the exact `dynamics(x)` (no noise). The test split is the first 20% of points
    (the first trajectories), as in the original. `t` is the time grid `(timesteps,)`.
    """
    s = task_settings(bodies, **overrides)
    x0 = initial_states(seed, bodies, trials, **s)
    t = np.linspace(s["t_span"][0], s["t_span"][1], s["timesteps"])
    x = integrate_orbits(x0, t).reshape(-1, 4 * bodies)
    dx = dynamics(x)
    n_test = int(len(x) * TEST_FRACTION)
    return {"x": x[n_test:], "dx": dx[n_test:], "test_x": x[:n_test], "test_dx": dx[:n_test],
            "t": t}


def get_dataset(bodies, seed, trials, quiet=True, **overrides):
    """`make_dataset(bodies, seed, trials, **overrides)`, cached as `.npz` keyed by every
    setting, so changed settings regenerate it and a corrupt file is regenerated with a warning."""
    s = task_settings(bodies, **overrides)
    key = {"bodies": bodies, "seed": seed, "rtol": RTOL, "atol": ATOL, "chunk": CHUNK,
           "test_fraction": TEST_FRACTION, "trials": trials, **s, "t_span": list(s["t_span"])}
    return cached(f"{bodies}body-orbits", key, lambda: make_dataset(bodies, seed, trials, **s),
                  quiet=quiet)


def evaluation_starts(bodies, n=EVAL_TRAJECTORIES):
    """The energy-MSE protocol's starts `(n, 4N)`: orbit k starts from seed k's first
    configuration."""
    return np.stack([initial_states(seed, bodies, 1)[0] for seed in range(n)])


def true_orbits(x0, t):
    """The evaluation's true orbits `(n, T, 4N)` from starts `(n, 4N)` on the grid `t`
    (rtol 1e-9)."""
    return integrate_orbits(x0, t, atol=1e-12)


def evaluation_orbits(bodies, points, t_span, n=EVAL_TRAJECTORIES):
    """The energy-MSE protocol: `evaluation_starts` over `points` times in `t_span`.

    Returns starts `(n, 4N)`, grid `(points,)` and true orbits `(n, points, 4N)`."""
    x0 = evaluation_starts(bodies, n)
    t = np.linspace(t_span[0], t_span[1], points)
    return x0, t, true_orbits(x0, t)

