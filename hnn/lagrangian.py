"""Lagrangian neural network (Cranmer et al. 2020): a learned L(q, q̇) and Euler–Lagrange motion.

States in velocity form are `[q_1..q_n, v_1..v_n]` with v = q̇; the Euler–Lagrange equations
d/dt ∂L/∂v = ∂L/∂q give the acceleration

    a = (∂²L/∂v²)⁻¹ [∂L/∂q − (∂²L/∂v∂q) v],

computed with `torch.autograd.grad` (the gradient, then one more pass per velocity) and a batched
linear solve (never an explicit inverse); `torch.func.jvp` gives dM/dt of the mass matrix. Data
in canonical form `[q, p]` enter through the task's known mass matrix M(q), p = M(q) v, so that
an LNN trains and is scored on the same states as an HNN.
"""
import torch
from torch import func, nn


class SingularLagrangianError(FloatingPointError):
    """∂²L/∂v² is singular or too ill-conditioned to solve for the acceleration."""


def constant_mass_matrix(matrix):
    """M(q) = `matrix` `(n, n)` for every q: a function `(batch, n) -> (batch, n, n)`."""
    matrix = torch.as_tensor(matrix, dtype=torch.float64)

    def mass_matrix(q):
        return matrix.to(q).expand(q.shape[0], *matrix.shape)
    mass_matrix.constant = True             # dM/dt = 0: the LNN skips differentiating it
    return mass_matrix


class LNN(nn.Module):
    """Lagrangian neural network.

    Args:
        net: maps velocity-form states `(batch, 2n)` (or one state `(2n,)`) to L, `(..., 1)`.
        mass_matrix: None, and `time_derivative` takes and returns velocity-form states
            `[q, v] -> [v, a]`; or the task's M(q), a function `(batch, n) -> (batch, n, n)`,
            and `time_derivative` takes canonical states `[q, p]`, with v = M(q)⁻¹ p, and returns
            `[dq/dt, dp/dt] = [v, (dM/dt) v + M a]`.
        max_condition: the largest condition number of ∂²L/∂v² accepted; beyond it (or where
            it is singular, or the acceleration is not finite) `acceleration` raises
            `SingularLagrangianError` naming how many states failed, instead of returning NaN.
    """

    def __init__(self, net, mass_matrix=None, max_condition=1e12):
        super().__init__()
        self.net = net
        self.mass_matrix = mass_matrix
        self.max_condition = max_condition

    def lagrangian(self, y):
        """L(q, v), shape `(batch,)` for velocity-form states `y` `(batch, 2n)`."""
        return self.net(y).squeeze(-1)

    def _derivatives(self, y):
        """∂L/∂y `(batch, 2n)` and ∂/∂y of it along each velocity, `(batch, 2n, n)`: column i
        is ∂²L/∂y∂v_i. Reverse over reverse, one `autograd.grad` per velocity through the batched
        gradient (states are independent, so the gradient of the summed L is each state's),
        keeping the graph for training. Not `torch.func.jvp`: the same numbers, bit for bit,
        but 2.2x slower at batch 200 (`benchmarks/bench_models.py`)."""
        n = y.shape[-1] // 2
        create_graph = torch.is_grad_enabled()
        with torch.enable_grad():
            if not y.requires_grad:
                y = y.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(self.net(y).sum(), y, create_graph=True)
            columns = [torch.autograd.grad(grad[:, n + i].sum(), y, create_graph=create_graph,
                                           retain_graph=True)[0] for i in range(n)]
        if not create_graph:
            grad = grad.detach()
        return grad, torch.stack(columns, dim=-1)

    def acceleration(self, y):
        """q̈ from the Euler–Lagrange equations at velocity-form states `y` `(batch, 2n)`;
        `(batch, n)`."""
        n = y.shape[-1] // 2
        grad, columns = self._derivatives(y)
        h_vv, h_vq = columns[:, n:, :], columns[:, :n, :].transpose(1, 2)
        rhs = grad[:, :n] - (h_vq @ y[:, n:, None]).squeeze(-1)
        a, info = torch.linalg.solve_ex(h_vv, rhs)
        cond = self.condition(h_vv)
        finite = torch.isfinite(y).all(-1)      # a state that is already NaN is the caller's
        bad = finite & ((info != 0) | ~torch.isfinite(a).all(-1) | ~(cond <= self.max_condition))
        if bad.any():
            raise SingularLagrangianError(
                f"the LNN's ∂²L/∂q̇² is singular or ill-conditioned at {int(bad.sum())} of "
                f"{len(y)} states (largest condition number {float(cond.max()):.3g}, limit "
                f"{self.max_condition:.0e}): the Euler–Lagrange equations do not fix the "
                f"acceleration there")
        return a

    @staticmethod
    @torch.no_grad()
    def condition(h_vv):
        """The 2-norm condition number of each ∂²L/∂v² `(batch, n, n)`; `(batch,)`."""
        return torch.linalg.cond(h_vv.detach())

    def velocity_hessian_condition(self, y):
        """Condition numbers of ∂²L/∂v² at velocity-form states `y`; `(batch,)`."""
        return self.condition(self._derivatives(y)[1][:, y.shape[-1] // 2:, :])

    def velocity_field(self, y):
        """[v, a] of shape `(batch, 2n)` at velocity-form states `y` `(batch, 2n)`."""
        return torch.cat([y[:, y.shape[-1] // 2:], self.acceleration(y)], dim=-1)

    def to_velocity(self, x):
        """Canonical `[q, p]` -> velocity form `[q, M(q)⁻¹ p]`, `(batch, 2n)`."""
        q, p = x.chunk(2, dim=-1)
        v = torch.linalg.solve(self.mass_matrix(q), p.unsqueeze(-1)).squeeze(-1)
        return torch.cat([q, v], dim=-1)

    def time_derivative(self, x):
        """dx/dt `(batch, 2n)`: `[v, a]` of velocity-form states if the model has no mass
        matrix, else `[dq/dt, dp/dt]` of canonical states (see the class)."""
        if self.mass_matrix is None:
            return self.velocity_field(x)
        y = self.to_velocity(x)
        q, v = y.chunk(2, dim=-1)
        a = self.acceleration(y)
        if getattr(self.mass_matrix, "constant", False):
            dp = (self.mass_matrix(q) @ a.unsqueeze(-1)).squeeze(-1)
        else:
            mass, mass_rate = func.jvp(self.mass_matrix, (q,), (v,))     # M(q) and dM/dt
            dp = (mass_rate @ v.unsqueeze(-1) + mass @ a.unsqueeze(-1)).squeeze(-1)
        return torch.cat([v, dp], dim=-1)

    def forward(self, x):
        return self.time_derivative(x)


def as_mass_matrix(mass_matrix):
    """A task's `mass_matrix=` as a function `(batch, n) -> (batch, n, n)`: a callable is kept,
    a constant `(n, n)` (or a number, n = 1) is made one by `constant_mass_matrix`."""
    if mass_matrix is None or callable(mass_matrix):
        return mass_matrix
    return constant_mass_matrix(torch.as_tensor(mass_matrix, dtype=torch.float64).reshape(
        *(torch.as_tensor(mass_matrix).shape or (1, 1))))


def mass_matrix_from_hamiltonian(hamiltonian, n, rng=None, tolerance=1e-9):
    """M(q) of a known H = ½ pᵀ M(q)⁻¹ p + V(q), by autograd: the inverse of ∂²H/∂p² at p = 0.

    `hamiltonian` maps torch states `(..., 2n)` to `(...)`. Returns a function
    `(batch, n) -> (batch, n, n)`, or None where H does not take torch tensors or is not of
    that form (checked at random states: ∂H/∂p must equal M(q)⁻¹ p to `tolerance`). A matrix
    that is the same at every probed q is returned as `constant_mass_matrix`."""
    def inverse_mass(q):
        def energy(p, q_one):
            return hamiltonian(torch.cat([q_one, p])[None])[0]
        return func.vmap(func.hessian(energy))(torch.zeros_like(q), q)

    def mass_matrix(q):
        return torch.linalg.inv(inverse_mass(q))

    rng = rng or torch.Generator().manual_seed(0)
    x = torch.randn(8, 2 * n, generator=rng, dtype=torch.float64)
    try:
        q, p = x[:, :n], x[:, n:]
        (dh_dp,) = torch.autograd.grad(hamiltonian(x.requires_grad_(True)).sum(), x)
        expected = (inverse_mass(q) @ p.unsqueeze(-1)).squeeze(-1)
    except (TypeError, RuntimeError, AttributeError):
        return None
    if (dh_dp[:, n:] - expected).abs().max() > tolerance * (1 + expected.abs().max()):
        return None
    inverses = inverse_mass(q).detach()
    if (inverses - inverses[:1]).abs().max() <= tolerance * (1 + inverses.abs().max()):
        return constant_mass_matrix(torch.linalg.inv(inverses[0]))     # the same at every q
    return mass_matrix
