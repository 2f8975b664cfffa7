"""HNN.time_derivative against Hamilton's equations for Hamiltonians known in closed form."""
import pytest
import torch
from known import Scalar

from hnn import HNN, MLP, Baseline, build_model


def spring_H(x):
    return x[:, 0] ** 2 + x[:, 1] ** 2


def pend_H(x):
    return 3 * (1 - torch.cos(x[:, 0])) + x[:, 1] ** 2


torch.manual_seed(0)
_B = torch.randn(4, 4, dtype=torch.float64)
QUAD_A = _B @ _B.T + torch.eye(4, dtype=torch.float64)          # symmetric positive definite
MASSES = torch.tensor([1.0, 2.0, 0.5, 3.0], dtype=torch.float64)
STIFF = torch.tensor([0.3, 1.0, 2.0, 0.7], dtype=torch.float64)


def quad_H(x):
    return 0.5 * torch.einsum("bi,ij,bj->b", x, QUAD_A, x)


def separable_H(x):  # 8-dim: q = x[:, :4], p = x[:, 4:]
    q, p = x[:, :4], x[:, 4:]
    return (p ** 2 / (2 * MASSES)).sum(1) + (STIFF * q ** 4).sum(1) + torch.cos(q).sum(1)


CASES = {
    "spring": (spring_H, 2, lambda x: torch.stack([2 * x[:, 1], -2 * x[:, 0]], 1)),
    "pendulum": (pend_H, 2, lambda x: torch.stack([2 * x[:, 1], -3 * torch.sin(x[:, 0])], 1)),
    "quadratic": (quad_H, 4, lambda x: torch.cat([(x @ QUAD_A)[:, 2:], -(x @ QUAD_A)[:, :2]], 1)),
    "separable-8d": (separable_H, 8, lambda x: torch.cat(
        [x[:, 4:] / MASSES, -(4 * STIFF * x[:, :4] ** 3 - torch.sin(x[:, :4]))], 1)),
}


@pytest.mark.parametrize("name", CASES)
def test_time_derivative_is_hamiltons_equations(name):
    H, dim, exact = CASES[name]
    x = torch.randn(64, dim, dtype=torch.float64)
    field = HNN(Scalar(H)).time_derivative(x)
    assert field.shape == (64, dim)
    torch.testing.assert_close(field, exact(x), rtol=0, atol=1e-12)


def test_state_order_is_q_then_p():
    # H = q1 + 5 p1 in 2 dims: dq/dt = dH/dp = 5, dp/dt = -dH/dq = -1.
    model = HNN(Scalar(lambda x: x[:, 0] + 5 * x[:, 1]))
    field = model.time_derivative(torch.zeros(3, 2, dtype=torch.float64))
    assert field.tolist() == [[5.0, -1.0]] * 3


def test_works_under_no_grad_and_keeps_graph_when_training():
    model = build_model(2, 16).double()
    x = torch.randn(5, 2, dtype=torch.float64)
    with torch.no_grad():
        frozen = model.time_derivative(x)
    assert not frozen.requires_grad
    live = model.time_derivative(x)
    assert live.requires_grad
    torch.testing.assert_close(frozen, live.detach(), rtol=0, atol=0)
    live.pow(2).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_untrained_hnn_field_conserves_its_H():
    torch.manual_seed(1)
    model = build_model(6, 32).double()
    x = torch.randn(200, 6, dtype=torch.float64, requires_grad=True)
    (grad_H,) = torch.autograd.grad(model.hamiltonian(x).sum(), x)
    dHdt = (grad_H * model.time_derivative(x)).sum(1)
    assert dHdt.abs().max().item() < 1e-12
    assert grad_H.abs().mean().item() > 1e-2          # H is not trivially flat
    # A baseline field of the same size does not conserve that H: the check can fail.
    baseline = Baseline(MLP(6, 32, 6)).double()
    assert (grad_H * baseline.time_derivative(x)).sum(1).abs().mean().item() > 1e-3


def test_hamiltonian_shape_and_odd_dimension_error():
    model = build_model(4, 8)
    assert model.hamiltonian(torch.randn(7, 4)).shape == (7,)
    with pytest.raises(ValueError, match="even input_dim"):
        build_model(3, 8)
    with pytest.raises(ValueError, match="even last dimension"):
        HNN(MLP(3, 8, 1)).time_derivative(torch.randn(2, 3))


def test_mlp_matches_paper_architecture():
    mlp = MLP(2, 200, 1)
    assert [tuple(p.shape) for p in mlp.parameters()] == [(200, 2), (200,), (200, 200), (200,),
                                                          (1, 200)]
    w = mlp.linear2.weight.detach()
    torch.testing.assert_close(w @ w.T, torch.eye(200), atol=1e-5, rtol=0)   # orthogonal init
    with pytest.raises(ValueError, match="unknown nonlinearity 'cube'"):
        MLP(2, 8, 1, "cube")


def test_dissipation_adds_a_gradient_field():
    # H = (q^2 + p^2)/2 and D = -(q^2 + p^2)/2: f = (p, -q) - (q, p), energy decays.
    hnn = HNN(Scalar(lambda x: 0.5 * (x ** 2).sum(1)),
              dissipation=Scalar(lambda x: -0.5 * (x ** 2).sum(1)))
    x = torch.tensor([[1.0, 2.0]], dtype=torch.float64)
    assert hnn.time_derivative(x).tolist() == [[2.0 - 1.0, -1.0 - 2.0]]
