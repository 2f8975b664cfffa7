"""Geometric integrators (Leapfrog, ImplicitMidpoint, Yoshida4) and the separable HNN.

Each property is checked against a known answer, with RK4 as the negative control where the
property is one RK4 lacks: convergence order against the spring's exact flow, symplecticity of
one step's Jacobian, time symmetry over 10^4 steps, bounded energy error over 10^4 steps.
"""
import numpy as np
import pytest
import torch
from known import Scalar
from torch import nn

from hnn import (
    HNN,
    MLP,
    RK4,
    ConvergenceError,
    Euler,
    ImplicitMidpoint,
    Leapfrog,
    SeparableField,
    SeparableHNN,
    Yoshida4,
    build_model,
    get_integrator,
    odeint,
    rollout,
)

F64 = torch.float64


# Spring H = q^2 + p^2: dq/dt = 2p, dp/dt = -2q.

def spring_field(x):
    return torch.stack([2 * x[:, 1], -2 * x[:, 0]], 1)


SPRING = SeparableField(lambda p: 2 * p, lambda q: -2 * q)


def spring_flow(x0, t):
    """Exact flow from x0 (batch, 2) over time t: (batch, 2)."""
    q0, p0 = x0[:, 0], x0[:, 1]
    c, s = np.cos(2 * t), np.sin(2 * t)
    return np.stack([q0 * c + p0 * s, p0 * c - q0 * s], 1)


# Pendulum H = p^2/2 + 1 - cos q.

PENDULUM = SeparableField(lambda p: p, lambda q: -torch.sin(q))


def pendulum_energy(x):
    return 0.5 * x[..., 1] ** 2 + 1 - torch.cos(x[..., 0])


# Two pendulums coupled by a spring, separable: H = |p|^2/2 + sum(1 - cos q) + (q1 - q2)^2 / 2.

COUPLED_PENDULUMS = SeparableField(
    lambda p: p,
    lambda q: -torch.sin(q) - (q[:, :1] - q[:, 1:]) * torch.tensor([1.0, -1.0], dtype=q.dtype))


# Non-separable, two degrees of freedom, state [q1, q2, p1, p2]:
# H = |q|^2/2 + |p|^2/2 + q1^2 p2^2 / 2 + 0.2 q2 p1 (positive definite, so orbits are bounded).

def coupled_H(x):
    q1, q2, p1, p2 = x.unbind(1)
    return 0.5 * (q1 ** 2 + q2 ** 2 + p1 ** 2 + p2 ** 2) + 0.5 * q1 ** 2 * p2 ** 2 + 0.2 * q2 * p1


def coupled_field(x):
    q1, q2, p1, p2 = x.unbind(1)
    return torch.stack([p1 + 0.2 * q2, p2 + q1 ** 2 * p2, -(q1 + q1 * p2 ** 2),
                        -(q2 + 0.2 * p1)], 1)


def test_coupled_field_is_hamiltons_field_of_coupled_H():
    x = torch.randn(32, 4, dtype=F64)
    exact = HNN(Scalar(coupled_H)).time_derivative(x)
    torch.testing.assert_close(coupled_field(x), exact, rtol=0, atol=1e-13)


# Declared properties and the factory

@pytest.mark.parametrize("name, kind, order, symplectic, symmetric", [
    ("rk4", RK4, 4, False, False),
    ("euler", Euler, 1, False, False),
    ("leapfrog", Leapfrog, 2, True, True),
    ("midpoint", ImplicitMidpoint, 2, True, True),
    ("yoshida4", Yoshida4, 4, True, True),
    ("yoshida4-leapfrog", Yoshida4, 4, True, True),
])
def test_get_integrator_and_declared_properties(name, kind, order, symplectic, symmetric):
    solver = get_integrator(name)
    assert type(solver) is kind
    assert (solver.order, solver.symplectic, solver.symmetric) == (order, symplectic, symmetric)


def test_get_integrator_default_yoshida_bases_and_errors():
    assert type(get_integrator()) is RK4
    assert type(get_integrator("yoshida4").base) is ImplicitMidpoint
    assert type(get_integrator("yoshida4-leapfrog").base) is Leapfrog
    with pytest.raises(ValueError, match=r"unknown integrator 'rk5'; expected one of "
                                         r"\['euler', 'leapfrog', "
                                         r"'midpoint', 'rk4', 'yoshida4', 'yoshida4-leapfrog'\]"):
        get_integrator("rk5")
    with pytest.raises(ValueError, match=r"symmetric second-order integrator, got RK4 "
                                         r"\(order 4, symmetric=False\)"):
        Yoshida4(RK4())
    w1, w0, w2 = Yoshida4(Leapfrog()).weights
    assert (w1 == w2 == pytest.approx(1.3512071919596578)
            and w0 == pytest.approx(-1.7024143839193155))
    assert (2 * w1 + w0 == pytest.approx(1, abs=1e-15)
            and 2 * w1 ** 3 + w0 ** 3 == pytest.approx(0, abs=1e-14))


def test_implicit_midpoint_rejects_bad_settings():
    with pytest.raises(ValueError, match="tol must be > 0"):
        ImplicitMidpoint(tol=0.0)
    with pytest.raises(ValueError, match="max_iter must be >= 1, got 0"):
        ImplicitMidpoint(max_iter=0)


# Convergence order against the spring's exact flow

X0 = np.array([[0.3, -0.8], [1.0, 0.0], [-0.2, 0.5]])


@pytest.mark.parametrize("name", ["leapfrog", "midpoint", "yoshida4", "yoshida4-leapfrog"])
def test_convergence_slope_matches_declared_order(name):
    solver = get_integrator(name)
    field = SPRING if "leapfrog" in name else spring_field   # midpoint takes a plain field
    t_end, steps = 2.0, np.array([16, 32, 64, 128])
    exact = spring_flow(X0, t_end)
    errors = np.array([
        np.abs(odeint(field, torch.tensor(X0), [0.0, t_end], solver=solver,
                      substeps=n)[:, -1].numpy()
               - exact).max()
        for n in steps])
    slope = -np.polyfit(np.log(steps), np.log(errors), 1)[0]
    assert abs(slope - solver.order) < 0.3, (slope, errors)
    assert errors[-1] < 1e-3


# Symplecticity: the Jacobian M of one step satisfies M^T J M = J

def step_jacobian(solver, field, x, dt):
    """d(step)/dx at one state x (d,), float64: (d, d)."""
    return torch.autograd.functional.jacobian(lambda y: solver.step(field, y[None], dt)[0], x)


def symplectic_defect(M):
    n = M.shape[0] // 2
    eye, zero = torch.eye(n, dtype=M.dtype), torch.zeros(n, n, dtype=M.dtype)
    J = torch.cat([torch.cat([zero, eye], 1), torch.cat([-eye, zero], 1)], 0)
    return (M.T @ J @ M - J).abs().max().item()


X_2DOF = torch.tensor([0.7, -0.4, 0.3, 0.9], dtype=F64)


@pytest.mark.parametrize("solver, field", [
    (ImplicitMidpoint(), coupled_field),
    (Yoshida4(ImplicitMidpoint()), coupled_field),
    (Leapfrog(), COUPLED_PENDULUMS),
    (Yoshida4(Leapfrog()), COUPLED_PENDULUMS),
], ids=["midpoint-nonseparable", "yoshida4-nonseparable",
        "leapfrog-separable", "yoshida4-leapfrog-separable"])
def test_one_step_is_symplectic(solver, field):
    M = step_jacobian(solver, field, X_2DOF, 0.3)
    assert (M - torch.eye(4, dtype=F64)).abs().max() > 0.05      # the step does move the state
    assert symplectic_defect(M) < 1e-10


def test_rk4_step_is_not_symplectic():
    # RK4's M^T J M - J is of order dt^5; at dt = 0.5 it is 2e-3 and 3e-3 for these fields.
    assert symplectic_defect(step_jacobian(RK4(), coupled_field, X_2DOF, 0.5)) > 1e-4
    assert symplectic_defect(step_jacobian(RK4(), COUPLED_PENDULUMS, X_2DOF, 0.5)) > 1e-4


# Time symmetry: 10^4 steps of dt, then 10^4 of -dt, return to the start

X_PEND = torch.tensor([[1.0, 0.3], [0.2, -1.1], [2.0, 0.0]], dtype=F64)


def round_trip_error(solver, field, dt, steps=10_000):
    x = X_PEND
    for h in (dt, -dt):
        for _ in range(steps):
            x = solver.step(field, x, h)
    return (x - X_PEND).abs().max().item()


# Yoshida4 of ImplicitMidpoint solves three implicit steps per step: 2 x 10^3 steps keep it fast.
@pytest.mark.parametrize("name, steps", [
    ("leapfrog", 10_000), pytest.param("midpoint", 10_000, marks=pytest.mark.slow),
    pytest.param("yoshida4", 2_000, marks=pytest.mark.slow), ("yoshida4-leapfrog", 10_000)])
def test_symmetric_integrators_retrace_their_steps(name, steps):
    assert round_trip_error(get_integrator(name), PENDULUM, 0.02, steps) < 1e-10


def test_rk4_does_not_retrace_its_steps():
    # About 4e-7: Phi(-dt) Phi(dt) - id is O(dt^6) per step for RK4, not zero.
    assert round_trip_error(RK4(), PENDULUM, 0.02) > 1e-8


# Long-horizon energy error on the pendulum

def energy_error(solver, dt, steps=10_000):
    """|H(x_k) - H(x_0)| over k = 0..steps, (batch, steps + 1)."""
    x = odeint(PENDULUM, X_PEND, np.arange(steps + 1) * dt, solver=solver)
    return (pendulum_energy(x) - pendulum_energy(X_PEND)[:, None]).abs()


def early_and_late(error):
    tenth = error.shape[1] // 10
    return error[:, 1:tenth + 1].max().item(), error[:, -tenth:].max().item()


def test_leapfrog_energy_error_stays_bounded():
    early, late = early_and_late(energy_error(Leapfrog(), 0.1))
    assert 1e-4 < early < 1e-2      # an O(dt^2) oscillation, about 3e-3
    assert late <= 2 * early


def test_rk4_energy_drifts_at_a_large_step():
    early, late = early_and_late(energy_error(RK4(), 0.5))
    assert late > 2 * early          # the drift grows with time (late / early is about 7)


# The separable HNN

MASSES = torch.tensor([1.0, 2.0, 0.5, 3.0], dtype=F64)
STIFF = torch.tensor([0.3, 1.0, 2.0, 0.7], dtype=F64)


def kinetic(p):
    return (p ** 2 / (2 * MASSES)).sum(1)


def potential(q):
    return (STIFF * q ** 4).sum(1) + torch.cos(q).sum(1)


def test_separable_hnn_gives_the_exact_field():
    model = SeparableHNN(Scalar(kinetic), Scalar(potential))
    x = torch.randn(64, 8, dtype=F64)
    q, p = x[:, :4], x[:, 4:]
    dq, dp = p / MASSES, -(4 * STIFF * q ** 3 - torch.sin(q))
    torch.testing.assert_close(model.dq_dt(p), dq, rtol=0, atol=1e-12)
    torch.testing.assert_close(model.dp_dt(q), dp, rtol=0, atol=1e-12)
    torch.testing.assert_close(model.time_derivative(x), torch.cat([dq, dp], 1), rtol=0, atol=1e-12)
    torch.testing.assert_close(model(x), torch.cat([dq, dp], 1), rtol=0, atol=1e-12)
    torch.testing.assert_close(model.field()(x), torch.cat([dq, dp], 1), rtol=0, atol=1e-12)
    torch.testing.assert_close(model.hamiltonian(x), kinetic(p) + potential(q), rtol=0, atol=1e-12)
    hnn = HNN(Scalar(lambda y: kinetic(y[:, 4:]) + potential(y[:, :4])))
    torch.testing.assert_close(model.time_derivative(x), hnn.time_derivative(x), rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match=r"even last dimension \[q..., p...\], got shape \(2, 3\)"):
        model.time_derivative(torch.zeros(2, 3, dtype=F64))


def test_separable_hnn_rolls_out_with_leapfrog_under_no_grad():
    model = SeparableHNN(Scalar(lambda p: 0.5 * (p ** 2).sum(1)),
                         Scalar(lambda q: (1 - torch.cos(q)).sum(1)))
    t = np.linspace(0, 5, 11)
    with torch.no_grad():
        learned = odeint(model.field(), X_PEND, t, solver=Leapfrog(), substeps=20)
    assert not learned.requires_grad
    known = odeint(PENDULUM, X_PEND, t, solver=Leapfrog(), substeps=20)
    torch.testing.assert_close(learned, known, rtol=0, atol=1e-12)


def test_build_model_separable():
    torch.manual_seed(3)
    model = build_model(4, 8, separable=True)
    torch.manual_seed(3)
    kinetic_net, potential_net = MLP(2, 8, 1), MLP(2, 8, 1)          # T first, then V
    assert isinstance(model, SeparableHNN)
    for built, expected in [(model.kinetic_net, kinetic_net), (model.potential_net, potential_net)]:
        for a, b in zip(built.parameters(), expected.parameters()):
            assert torch.equal(a, b)
    torch.manual_seed(3)
    plain = build_model(4, 8)                                          # unchanged default
    torch.manual_seed(3)
    assert isinstance(plain, HNN) and torch.equal(plain.net.linear1.weight,
                                                  MLP(4, 8, 1).linear1.weight)
    with pytest.raises(ValueError, match="got baseline, separable"):
        build_model(4, 8, baseline=True, separable=True)
    with pytest.raises(ValueError, match="even input_dim"):
        build_model(3, 8, separable=True)


def test_separable_hnn_detaches_under_no_grad_and_trains_otherwise():
    model = build_model(4, 16, separable=True).double()
    x = torch.randn(5, 4, dtype=F64)
    with torch.no_grad():
        frozen = model.time_derivative(x)
    assert not frozen.requires_grad
    live = model.time_derivative(x)
    torch.testing.assert_close(frozen, live.detach(), rtol=0, atol=0)
    live.pow(2).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


# Fields an integrator cannot take, and steps it cannot solve

def test_leapfrog_rejects_a_non_separable_field():
    x = torch.tensor(X0)
    need = r"Leapfrog needs a SeparableField with dq_dt\(p\) and dp_dt\(q\)"
    with pytest.raises(TypeError, match=need + r".*got spring_field"):
        Leapfrog().step(spring_field, x, 0.1)
    with pytest.raises(TypeError, match=need + r".*got HNN.time_derivative"):
        odeint(build_model(2, 8).time_derivative, torch.randn(3, 2), [0.0, 1.0],
               solver=Yoshida4(Leapfrog()))


def test_implicit_midpoint_solves_the_midpoint_equation():
    # For f(x) = -x the midpoint step is x1 = x0 (1 - dt/2) / (1 + dt/2). At dt = 1.9 the
    # fixed-point iteration contracts by 0.95 a step: it converges only given enough iterations.
    x = torch.tensor([[1.0, -2.0]], dtype=F64)
    x1 = ImplicitMidpoint(max_iter=2000).step(lambda y: -y, x, 1.9)
    torch.testing.assert_close(x1, x * (0.05 / 1.95), rtol=0, atol=1e-14)
    message = r"dt=1.9: residual \d\.\d{3}e-0\d > tol 2\.220e-15 after 20 iterations"
    with pytest.raises(ConvergenceError, match=message):
        ImplicitMidpoint(max_iter=20).step(lambda y: -y, x, 1.9)


def stiff_field(x):
    return -1e4 * x


def test_implicit_midpoint_raises_on_a_stiff_field_at_a_huge_step():
    # dt times the Lipschitz constant is 5000: the fixed-point iteration blows up.
    message = r"did not converge at step size dt=0.5: residual \d\.\d{3}e\+\d+ > tol"
    with pytest.raises(RuntimeError, match=message):
        odeint(stiff_field, torch.tensor(X0), [0.0, 0.5], solver=ImplicitMidpoint(max_iter=5))
    # Given many iterations, it stops once the iterate overflows.
    with pytest.raises(ConvergenceError,
                       match=r"dt=0.5: residual inf > tol .* after 9\d iterations"):
        ImplicitMidpoint(max_iter=200).step(stiff_field, torch.tensor(X0), 0.5)


def test_implicit_midpoint_takes_an_hnn_field_under_no_grad():
    # For the spring's linear field A the midpoint step is (I - dt A / 2)^-1 (I + dt A / 2).
    model = HNN(Scalar(lambda y: y[:, 0] ** 2 + y[:, 1] ** 2))
    dt, A = 0.1, torch.tensor([[0.0, 2.0], [-2.0, 0.0]], dtype=F64)
    eye = torch.eye(2, dtype=F64)
    step = torch.linalg.solve(eye - dt / 2 * A, eye + dt / 2 * A)
    x = torch.tensor(X0)
    with torch.no_grad():
        x1 = ImplicitMidpoint().step(model.time_derivative, x, dt)
    assert not x1.requires_grad
    torch.testing.assert_close(x1, x @ step.T, rtol=0, atol=1e-14)


@pytest.mark.parametrize("solver", ["leapfrog", "midpoint",
                                    pytest.param("yoshida4", marks=pytest.mark.slow),
                                    "yoshida4-leapfrog"])
def test_rollout_takes_every_integrator_by_name(solver):
    """`rollout` runs each integrator by name (passing `field()` to the separable ones): on a
    separable HNN of the known pendulum H, its energy error stays bounded over 15 periods of
    steps, the last 10% no worse than twice the first 10%."""
    model = SeparableHNN(Scalar(lambda p: 0.5 * (p ** 2).sum(-1)),
                         Scalar(lambda q: (1 - torch.cos(q)).sum(-1)))
    model.unit = nn.Parameter(torch.tensor(1.0, dtype=F64))     # rollout takes the dtype from it
    x0 = np.array([[1.0, 0.5]])
    t = np.linspace(0, 100, 101)

    def energy(x):
        return 0.5 * x[..., 1] ** 2 + 1 - np.cos(x[..., 0])
    error = np.abs(energy(rollout(model, x0, t, substeps=4, solver=solver)) - energy(x0))[0]
    assert 1e-12 < error[-100:].max() <= 2 * error[:100].max() < 0.05
    with pytest.raises(TypeError, match="needs a separable model"):
        rollout(build_model(2, 8).double(), x0, t[:3], solver="leapfrog")
