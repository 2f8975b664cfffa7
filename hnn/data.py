"""Dataset helpers: sampling states, integrating known fields and splitting trajectories."""
import numpy as np


def ring_states(rng, n, radius_low, radius_high):
    """`n` phase-space states `(n, 2)` = [q, p]: a direction from U(-1, 1)^2, normalised, times a
    radius from U(radius_low, radius_high). The original's recipe for 1-DOF systems."""
    direction = rng.uniform(-1, 1, size=(n, 2))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    radius = rng.uniform(radius_low, radius_high, size=(n, 1))
    return direction * radius


def evaluation_states(rng, n=15):
    """The original notebooks' fresh starts for 1-DOF energy rollouts: each component in
    ±[0.2, 1.0]; `(n, 2)`."""
    x = rng.uniform(-0.8, 0.8, size=(n, 2))
    return x + 0.2 * np.sign(x)


def solve_batch(field, x0, t, rtol=1e-10, atol=1e-12):
    """Integrate `dx/dt = field(x)` for a whole batch `(batch, d)` as one `solve_ivp` system.

    `field` maps numpy `(batch, d)` to `(batch, d)`. Returns `(batch, len(t), d)`."""
    import scipy.integrate  # slow to import; spring data does not need it

    x0 = np.asarray(x0, dtype=np.float64)
    shape = x0.shape

    def rhs(_, y):
        return field(y.reshape(shape)).reshape(-1)

    sol = scipy.integrate.solve_ivp(rhs, (t[0], t[-1]), x0.reshape(-1), t_eval=t, rtol=rtol,
                                    atol=atol)
    if not sol.success:
        raise RuntimeError(f"solve_ivp failed: {sol.message}")
    return sol.y.T.reshape(len(t), *shape).swapaxes(0, 1)


def trajectory_dataset(rng, solution, dynamics, x0, t, noise_std, train_fraction):
    """The original's recipe: trajectories from the starts `x0` `(samples, d)` sampled on `t`
    (`solution(x0, t)` gives `(samples, T, d)`); targets are `dynamics` at the clean states, then
    Gaussian noise of `noise_std` from `rng` goes on the inputs only. Returns the in-order split
    (`x, dx, test_x, test_dx`, each `(N, d)`) and `t`."""
    x = solution(x0, t).reshape(-1, x0.shape[-1])
    dx = dynamics(x)
    x = x + noise_std * rng.standard_normal(x.shape)
    return {**split_in_order(x, dx, train_fraction), "t": t}


def split_in_order(x, dx, train_fraction):
    """The original split: the first `train_fraction` of rows train, the rest test, no shuffle."""
    n_train = int(len(x) * train_fraction)
    if not 0 < n_train < len(x):
        raise ValueError(f"train_fraction {train_fraction} of {len(x)} rows leaves {n_train} to "
                         f"train and {len(x) - n_train} to test; each split needs at least one")
    return {"x": x[:n_train], "dx": dx[:n_train], "test_x": x[n_train:], "test_dx": dx[n_train:]}
