"""Dynamics models: the Hamiltonian neural network and the baseline it is compared with.

Both map a batch of states `x` of shape `(batch, 2n)`, ordered `[q_1..q_n, p_1..p_n]`, to their
time derivatives `dx/dt` of the same shape through `time_derivative(x)`.
"""
import torch
from torch import nn

from .mlp import MLP


def symplectic_gradient(dH):
    """Turn `dH = [dH/dq, dH/dp]` of shape `(..., 2n)` into `[dH/dp, -dH/dq]`."""
    dHdq, dHdp = dH.chunk(2, dim=-1)
    return torch.cat([dHdp, -dHdq], dim=-1)


def _gradient(fn, x):
    """Gradient of `fn(x).sum()` with respect to x, shape of x.

    Keeps the graph (so a loss on the result can be trained) whenever gradients are enabled
    outside; under `torch.no_grad()` it still differentiates but returns a detached tensor.
    """
    create_graph = torch.is_grad_enabled()
    with torch.enable_grad():
        if not x.requires_grad:
            x = x.detach().requires_grad_(True)
        value = fn(x)
        (grad,) = torch.autograd.grad(value.sum(), x, create_graph=create_graph)
    return grad if create_graph else grad.detach()


class HNN(nn.Module):
    """Hamiltonian neural network: a learned scalar H(q, p) and Hamilton's equations.

    `net` maps `(batch, 2n)` to `(batch, 1)`; it is the Hamiltonian. `time_derivative(x)`
    returns `(dH/dp, -dH/dq)`, i.e. `dq/dt = dH/dp` and `dp/dt = -dH/dq`.

    `dissipation`, if given, is a second scalar network D(x) whose gradient is added to the
    field, `f = J grad H + grad D` (the Helmholtz split of dissipative HNNs). Left as None, the
    model conserves its learned H exactly along its own flow.
    """

    def __init__(self, net, dissipation=None):
        super().__init__()
        self.net = net
        self.dissipation = dissipation

    def hamiltonian(self, x):
        """H(x), shape `(batch,)` for x of shape `(batch, 2n)`."""
        if x.shape[-1] % 2:
            raise ValueError(
                f"HNN state must have an even last dimension [q..., p...], got shape {tuple(x.shape)}"
            )
        return self.net(x).squeeze(-1)

    def time_derivative(self, x):
        """dx/dt of shape `(batch, 2n)` from Hamilton's equations (plus dissipation, if any)."""
        field = symplectic_gradient(_gradient(self.hamiltonian, x))
        if self.dissipation is not None:
            field = field + _gradient(lambda y: self.dissipation(y).squeeze(-1), x)
        return field

    def forward(self, x):
        return self.time_derivative(x)


class Baseline(nn.Module):
    """Baseline: a network that outputs `dx/dt` directly, shape `(batch, d) -> (batch, d)`."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def time_derivative(self, x):
        return self.net(x)

    def forward(self, x):
        return self.time_derivative(x)


def build_model(input_dim, hidden_dim=200, nonlinearity="tanh", baseline=False):
    """The paper's model for a state of size `input_dim`: an HNN, or the baseline MLP."""
    if baseline:
        return Baseline(MLP(input_dim, hidden_dim, input_dim, nonlinearity))
    if input_dim % 2:
        raise ValueError(f"an HNN needs an even input_dim ([q..., p...]), got {input_dim}")
    return HNN(MLP(input_dim, hidden_dim, 1, nonlinearity))
