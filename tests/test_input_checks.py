"""Bad input to odeint, rollout, energy_mse and fit fails up front, naming the argument."""
import numpy as np
import pytest
import torch
from torch import nn

from hnn import derivative_loss, energy_mse, fit, odeint, rollout
from hnn.models import build_model


def spring_field(x):
    """H = q^2 + p^2: dq/dt = 2p, dp/dt = -2q."""
    return torch.stack([2 * x[:, 1], -2 * x[:, 0]], 1)


def spring_flow(x0, t):
    """The exact spring flow from x0 (batch, 2) at time 0 to the times t; (batch, T, 2)."""
    c, s = np.cos(2 * t)[None, :], np.sin(2 * t)[None, :]
    q0, p0 = x0[:, :1], x0[:, 1:]
    return np.stack([q0 * c + p0 * s, p0 * c - q0 * s], axis=-1)


X0 = np.array([[0.3, -0.8], [1.0, 0.0], [-0.2, 0.5]])
T = np.linspace(0.0, 1.0, 5)


# odeint

@pytest.mark.parametrize("x0", [np.array([[1, 0], [0, 2]]), torch.tensor([[True, False]])],
                         ids=["int64", "bool"])
def test_odeint_rejects_non_floating_x0(x0):
    dtype = torch.as_tensor(x0).dtype
    message = rf"x0 must be a real floating-point array, got dtype {dtype}"
    with pytest.raises(TypeError, match=message):
        odeint(spring_field, x0, T)
    assert odeint(spring_field, np.asarray(x0, dtype=np.float32), T).dtype == torch.float32


@pytest.mark.parametrize("t, message", [
    (np.zeros((2, 3)), r"t must be a 1-D grid of at least one time, got shape \(2, 3\)"),
    (np.array([]), r"t must be a 1-D grid of at least one time, got shape \(0,\)"),
    (np.array([0.0, np.nan, 1.0]), r"t must be finite, but t\[1\] = nan"),
    (np.array([0.0, 1.0, np.inf]), r"t must be finite, but t\[2\] = inf"),
], ids=["2-D", "empty", "nan", "inf"])
def test_odeint_rejects_grid_that_is_not_1d_non_empty_and_finite(t, message):
    with pytest.raises(ValueError, match=message):
        odeint(spring_field, torch.tensor(X0), t)


@pytest.mark.parametrize("t, pair", [
    ([0.0, 1.0, 0.5], r"t\[1\] = 1.0, t\[2\] = 0.5"),
    ([0.0, 1.0, 1.0, 2.0], r"t\[1\] = 1.0, t\[2\] = 1.0"),
    ([1.0, 0.0, 0.5], r"t\[1\] = 0.0, t\[2\] = 0.5"),
    ([0.5, 0.5], r"t\[0\] = 0.5, t\[1\] = 0.5"),
], ids=["up-down", "repeated", "down-up", "constant"])
def test_odeint_rejects_non_monotonic_grid(t, pair):
    message = (r"t must be strictly increasing \(forward in time\) or strictly decreasing "
               r"\(backward\), but " + pair)
    with pytest.raises(ValueError, match=message):
        odeint(spring_field, torch.tensor(X0), t)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_odeint_rejects_non_finite_x0(bad):
    x0 = X0.copy()
    x0[2, 1] = bad
    with pytest.raises(ValueError, match=rf"x0 must be finite, but x0\[2, 1\] = {bad}"):
        odeint(spring_field, torch.tensor(x0), T)


def test_odeint_keeps_substeps_and_shape_checks():
    with pytest.raises(ValueError, match="substeps must be >= 1, got 0"):
        odeint(spring_field, torch.tensor(X0), T, substeps=0)
    with pytest.raises(ValueError, match=r"x0 must have shape \(batch, d\), got \(2,\)"):
        odeint(spring_field, torch.zeros(2, dtype=torch.float64), T)


def test_odeint_backward_grid_follows_exact_flow_backward_in_time():
    t = np.array([0.0, -0.1, -0.35, -1.0, -2.0])           # strictly decreasing, non-uniform
    out = odeint(spring_field, torch.tensor(X0), t, substeps=200)
    assert out.dtype == torch.float64 and out.shape == (3, 5, 2)
    assert np.abs(out.numpy() - spring_flow(X0, t)).max() < 1e-9
    assert np.array_equal(out[:, 0].numpy(), X0)
    single = odeint(spring_field, torch.tensor(X0), t[:1])  # one point: just x0
    assert single.shape == (3, 1, 2) and np.array_equal(single[:, 0].numpy(), X0)


# rollout and energy_mse

class Drift(nn.Module):
    """dq/dt = rate, dp/dt = 0 (float64), but a NaN field wherever q > limit."""

    def __init__(self, limit):
        super().__init__()
        self.rate = nn.Parameter(torch.ones((), dtype=torch.float64))
        self.limit = limit

    def time_derivative(self, x):
        field = torch.stack([self.rate.expand(len(x)), torch.zeros_like(x[:, 1])], 1)
        return torch.where(x[:, :1] > self.limit, float("nan"), field)


def energy(states):
    return (np.asarray(states) ** 2).sum(-1)


# With dt = 0.25 and one RK4 step per interval, row 1 (q0 = 0.6) probes q = 1.6 on its fourth
# step, so is NaN at t[4]; row 2 (q0 = 1.2) probes q = 1.575 on its second step, NaN from t[2],
# the earliest time, so row 2 is named. Row 0 (q0 = 0) never exceeds q = 1.
DRIFT_X0 = np.array([[0.0, 0.0], [0.6, 0.0], [1.2, 0.0]])


@pytest.mark.parametrize("call", ["rollout", "energy_mse"])
def test_non_finite_rollout_is_reported(call):
    model = Drift(limit=1.5)
    message = r"the model's rollout became non-finite: trajectory 2 at t\[2\] = 0.5"
    with pytest.raises(FloatingPointError, match=message):
        if call == "rollout":
            rollout(model, DRIFT_X0, T, substeps=1)
        else:
            energy_mse(model, energy, DRIFT_X0, T, spring_flow(DRIFT_X0, T), substeps=1, groups=1)
    ok = rollout(Drift(limit=10.0), DRIFT_X0, T, substeps=1)    # never exceeds the limit
    np.testing.assert_allclose(ok[:, :, 0], DRIFT_X0[:, :1] + T[None, :], rtol=0, atol=1e-12)


def test_energy_mse_rejects_non_finite_true_states():
    truth = spring_flow(DRIFT_X0, T)
    truth[1, 3, 0] = np.nan
    message = r"true_states must be finite, but true_states\[1, 3, 0\] = nan"
    with pytest.raises(ValueError, match=message):
        energy_mse(Drift(limit=10.0), energy, DRIFT_X0, T, truth, substeps=1, groups=1)


@pytest.mark.parametrize("shape", [(1, 5, 2), (3, 4, 2), (3, 5, 1)], ids=["batch", "time", "d"])
def test_energy_mse_rejects_true_states_of_wrong_shape(shape):
    truth = np.zeros(shape)     # (1, 5, 2) would broadcast silently against (3, 5, 2)
    message = (r"true_states must have shape \(batch, len\(t\), d\) = \(3, 5, 2\) to match "
               rf"x0 \(3, 2\) and t \(5,\), got \({shape[0]}, {shape[1]}, {shape[2]}\)")
    with pytest.raises(ValueError, match=message):
        energy_mse(Drift(limit=10.0), energy, DRIFT_X0, T, truth, substeps=1, groups=1)


# fit

def split(n=10, dtype=torch.float32, **overrides):
    """A split {"x", "dx"} of `n` random rows, with any tensor replaced by `overrides`."""
    generator = torch.Generator().manual_seed(n)
    data = {"x": torch.randn(n, 2, generator=generator, dtype=dtype),
            "dx": torch.randn(n, 2, generator=generator, dtype=dtype)}
    return {**data, **overrides}


def assert_rejected_before_training(error, message, train, test, **kwargs):
    """fit raises `error` matching `message` without calling the loss or moving a weight."""
    torch.manual_seed(0)
    model = build_model(2, 8)
    before = [p.detach().clone() for p in model.parameters()]
    calls = []

    def loss_fn(m, batch):
        calls.append(batch)
        return derivative_loss(m, batch)

    with pytest.raises(error, match=message):
        fit(model, loss_fn, train, test, quiet=True, **{"total_steps": 3, **kwargs})
    assert not calls
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


@pytest.mark.parametrize("train, test, message", [
    ({}, split(), "train must be a non-empty dict of tensors, got an empty dict"),
    (split(), (torch.zeros(10, 2), torch.zeros(10, 2)),
     "test must be a non-empty dict of tensors, got tuple"),
    (split(), split(dx=np.zeros((10, 2), dtype=np.float32)),
     r"test\['dx'\] must be a tensor with a row dimension, got ndarray of shape \(10, 2\)"),
    (split(0), split(),
     r"train is empty: it needs at least one row, got lengths \{'x': 0, 'dx': 0\}"),
    (split(dx=torch.zeros(9, 2)), split(),
     r"train tensors must share their first dimension, got lengths \{'x': 10, 'dx': 9\}"),
    (split(), split(x=torch.zeros(12, 2)),
     r"test tensors must share their first dimension, got lengths \{'x': 12, 'dx': 10\}"),
], ids=["empty-dict", "not-dict", "not-tensor", "no-rows", "train-lengths", "test-lengths"])
def test_fit_rejects_bad_split_before_training(train, test, message):
    assert_rejected_before_training(ValueError, message, train, test)


def test_fit_rejects_non_finite_test_loss():
    model = build_model(2, 8)
    test = split(dx=torch.full((10, 2), float("inf")))
    with pytest.raises(FloatingPointError, match="train: test loss became inf at step 0"):
        fit(model, derivative_loss, split(), test, total_steps=5, quiet=True)


@pytest.mark.parametrize("train, test, message", [
    (split(dtype=torch.float64), split(), r"train\['x'\] has dtype torch.float64"),
    (split(), split(dx=torch.zeros(10, 2, dtype=torch.float64)),
     r"test\['dx'\] has dtype torch.float64"),
], ids=["train", "test"])
def test_fit_rejects_data_dtype_other_than_parameters(train, test, message):
    message += " but the model's parameters are torch.float32"
    assert_rejected_before_training(TypeError, message, train, test)


@pytest.mark.parametrize("kwargs, message", [
    (dict(total_steps=-1), "total_steps must be >= 0, got -1"),
    (dict(batch_size=-1), r"batch_size must be >= 0 \(0 = full batch\), got -1"),
], ids=["total_steps", "batch_size"])
def test_fit_rejects_negative_counts(kwargs, message):
    assert_rejected_before_training(ValueError, message, split(), split(), **kwargs)
