"""Dynamics models: the Hamiltonian neural network, its separable variant, the baseline, and the
second-order neural ODE (the Lagrangian network is in `hnn.lagrangian`).

All map a batch of states `x` of shape `(batch, 2n)`, ordered `[q_1..q_n, p_1..p_n]`, to their
time derivatives `dx/dt` of the same shape through `time_derivative(x)`.
"""
import torch
from torch import nn

from .integrate import SeparableField, split_qp
from .lagrangian import LNN
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
                f"HNN state must have an even last dimension [q..., p...], "
                f"got shape {tuple(x.shape)}"
            )
        return self.net(x).squeeze(-1)

    def time_derivative(self, x):
        """dx/dt of shape `(batch, 2n)` from Hamilton's equations (plus dissipation, if any)."""
        field = self.conservative_field(x)
        if self.dissipation is not None:
            field = field + self.dissipative_field(x)
        return field

    def conservative_field(self, x):
        """The symplectic gradient J grad H = (dH/dp, -dH/dq), `(batch, 2n)`."""
        return symplectic_gradient(_gradient(self.hamiltonian, x))

    def dissipation_function(self, x):
        """D(x), shape `(batch,)`; only for a model built with a dissipation network."""
        if self.dissipation is None:
            raise TypeError("this HNN has no dissipation network")
        return self.dissipation(x).squeeze(-1)

    def dissipative_field(self, x):
        """grad D, `(batch, 2n)`: zero for an HNN without a dissipation network."""
        if self.dissipation is None:
            return torch.zeros_like(x)
        return _gradient(self.dissipation_function, x)

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


class SeparableHNN(nn.Module):
    """HNN with a separable Hamiltonian H(q, p) = T(p) + V(q), for the Leapfrog integrator.

    `kinetic_net` maps p `(batch, n)` to T `(batch, 1)`; `potential_net` maps q `(batch, n)` to
    V `(batch, 1)`. `time_derivative(x)` is Hamilton's field of H, `(dT/dp, -dV/dq)`, computed
    by autograd like `HNN`'s (keeping the graph when gradients are enabled, detached under
    `torch.no_grad()`). `field()` returns it as a `SeparableField`, which every integrator
    accepts and Leapfrog needs: `odeint(model.field(), x0, t, solver=Leapfrog())`.
    """

    def __init__(self, kinetic_net, potential_net):
        super().__init__()
        self.kinetic_net = kinetic_net
        self.potential_net = potential_net

    def kinetic(self, p):
        """T(p), shape `(batch,)` for p of shape `(batch, n)`."""
        return self.kinetic_net(p).squeeze(-1)

    def potential(self, q):
        """V(q), shape `(batch,)` for q of shape `(batch, n)`."""
        return self.potential_net(q).squeeze(-1)

    def hamiltonian(self, x):
        """H(x) = T(p) + V(q), shape `(batch,)` for x of shape `(batch, 2n)`."""
        q, p = split_qp(x)
        return self.kinetic(p) + self.potential(q)

    def dq_dt(self, p):
        """dq/dt = dT/dp, `(batch, n)`."""
        return _gradient(self.kinetic, p)

    def dp_dt(self, q):
        """dp/dt = -dV/dq, `(batch, n)`."""
        return -_gradient(self.potential, q)

    def field(self):
        """The model's field as a `SeparableField` (for Leapfrog and any other integrator)."""
        return SeparableField(self.dq_dt, self.dp_dt)

    def time_derivative(self, x):
        """dx/dt = [dT/dp, -dV/dq] of shape `(batch, 2n)`."""
        return self.field()(x)

    def forward(self, x):
        return self.time_derivative(x)


class SecondOrderODE(nn.Module):
    """NODE + SO (Gruver et al. 2022): dq/dt = M⁻¹(q) p with a learned positive-definite
    inverse mass matrix, dp/dt = F(q, p) from a plain network; no Hamiltonian, no symplectic
    structure, only the second-order form.

    `mass_net` maps q `(batch, n)` to the n(n+1)/2 entries of a lower-triangular C(q) (row by
    row); its diagonal goes through softplus and gets `eps` added, and M⁻¹ = C Cᵀ. `force_net`
    maps states `(batch, 2n)` to dp/dt `(batch, n)`. `time_derivative` returns `[dq/dt, dp/dt]`,
    `(batch, 2n)`.
    """

    def __init__(self, mass_net, force_net, eps=1e-3):
        super().__init__()
        self.mass_net, self.force_net, self.eps = mass_net, force_net, eps

    def inverse_mass(self, q):
        """M⁻¹(q) = C Cᵀ, `(batch, n, n)`, symmetric positive definite."""
        n = q.shape[-1]
        rows, cols = torch.tril_indices(n, n, device=q.device)
        entries = self.mass_net(q)
        entries = torch.where(rows == cols, nn.functional.softplus(entries) + self.eps, entries)
        factor = q.new_zeros(q.shape[0], n, n)
        factor[:, rows, cols] = entries
        return factor @ factor.transpose(-1, -2)

    def time_derivative(self, x):
        q, p = split_qp(x)
        dq = (self.inverse_mass(q) @ p.unsqueeze(-1)).squeeze(-1)
        return torch.cat([dq, self.force_net(x)], dim=-1)

    def forward(self, x):
        return self.time_derivative(x)


def build_model(input_dim, hidden_dim=200, nonlinearity="tanh", baseline=False, dissipative=False,
                separable=False, second_order=False, lagrangian=False, mass_matrix=None):
    """The paper's model for a state of size `input_dim`: an HNN, or the baseline MLP.

    `dissipative=True` gives the dissipative HNN (Sosanya & Greydanus 2022): a second MLP
    learns D, and the field is J grad H + grad D.
    `separable=True` gives a `SeparableHNN`, H = T(p) + V(q), with one MLP(n, hidden_dim, 1)
    for T and then one for V, n = input_dim / 2.
    `second_order=True` gives a `SecondOrderODE` (NODE + SO): MLP(n, hidden_dim, n(n+1)/2) for
    the inverse mass matrix's factor, MLP(2n, hidden_dim, n) for dp/dt.
    `lagrangian=True` gives an `hnn.lagrangian.LNN` with MLP(2n, hidden_dim, 1) for L, taking
    canonical states through `mass_matrix` (see `LNN`), or velocity-form states if it is None.
    At most one of these options is set."""
    for label, size in (("input_dim", input_dim), ("hidden_dim", hidden_dim)):
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"{label} must be an integer of at least 1, got {size!r}")
    chosen = [name for name, on in (("baseline", baseline), ("dissipative", dissipative),
                                    ("separable", separable), ("second_order", second_order),
                                    ("lagrangian", lagrangian)) if on]
    if len(chosen) > 1:
        raise ValueError(f"a model is one kind: set at most one of baseline, dissipative, "
                         f"separable, second_order, lagrangian; got {', '.join(chosen)}")
    if baseline:
        return Baseline(MLP(input_dim, hidden_dim, input_dim, nonlinearity))
    if input_dim % 2:
        raise ValueError(f"an HNN needs an even input_dim ([q..., p...]), got {input_dim}")
    n = input_dim // 2
    if second_order:
        return SecondOrderODE(MLP(n, hidden_dim, n * (n + 1) // 2, nonlinearity),
                              MLP(input_dim, hidden_dim, n, nonlinearity))
    if lagrangian:
        return LNN(MLP(input_dim, hidden_dim, 1, nonlinearity), mass_matrix)
    if separable:
        return SeparableHNN(MLP(n, hidden_dim, 1, nonlinearity),
                            MLP(n, hidden_dim, 1, nonlinearity))
    net = MLP(input_dim, hidden_dim, 1, nonlinearity)
    return HNN(net, MLP(input_dim, hidden_dim, 1, nonlinearity) if dissipative else None)
