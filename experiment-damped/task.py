"""The damped mass-spring task: friction, which an HNN cannot model and a dissipative HNN can.

Besides the losses and the energy and state MSE (against the true, decaying energy and states),
it records what field data can identify of the dissipation: the split f = J grad H + grad D is
unique only up to a harmonic gradient, but the field's divergence equals the Laplacian of D (the
symplectic part is divergence-free). Here it is -2 gamma everywhere.
"""
import numpy as np
import torch

from hnn import EXTENSION, OneDofConfig, OneDofTask, mean_stderr, rollout
from hnn.metrics import divergence
from hnn.report import cell_stats, fmt

from . import data

# The spring's settings (Task 1) but no weight decay, as the D-HNN authors trained: with the
# spring's 1e-4 the D-HNN's learned divergence was -0.153 (five-seed mean), against -0.167 for a
# least-squares linear field on the same data and -0.163 without weight decay.
DEFAULTS = OneDofConfig(samples=50, noise_std=0.1, weight_decay=0.0, total_steps=2000,
                        batch_size=0, eval_substeps=2)
QUICK = dict(total_steps=20, samples=10, eval_substeps=1)
GRID_POINTS = 25          # per axis, as the D-HNN paper's grid
GRID_LIMIT = 0.7          # inside the data's radii (0.1 to 1)


def grid_states(n=GRID_POINTS, limit=GRID_LIMIT):
    """An n x n grid of states on [-limit, limit]^2, `(n*n, 2)`."""
    q, p = np.meshgrid(np.linspace(-limit, limit, n), np.linspace(-limit, limit, n))
    return np.stack([q.ravel(), p.ravel()], axis=1)


def grid_divergence(model):
    """The divergence of `model`'s field on `grid_states()`, `(n*n,)` (its mean is the metric)."""
    param = next(model.parameters())
    grid = torch.as_tensor(grid_states(), dtype=param.dtype, device=param.device)
    return divergence(model.time_derivative, grid)


class DampedTask(OneDofTask):
    """`OneDofTask` that also records the learned field's divergence and the energy's decay rate."""

    def evaluate(self, model, dataset, config):
        metrics = super().evaluate(model, dataset, config)
        metrics["divergence"] = mean_stderr(grid_divergence(model))
        x0, t, _ = self.evaluation_trajectories()
        states = rollout(model, x0, t, substeps=config.eval_substeps, solver=config.eval_integrator)
        metrics["energy_decay_rate"] = mean_stderr(data.decay_rate(t, data.hamiltonian(states)))
        return metrics

    def true_decay_rate(self):
        """The decay rate of the true energy along the evaluation trajectories (mean over them)."""
        _, t, truth = self.evaluation_trajectories()
        return float(data.decay_rate(t, data.hamiltonian(truth)).mean())

    def report_lines(self, results, seeds):
        lines = []
        for model in self.models:
            div = cell_stats(results, self.name, model, "divergence", seeds)
            rate = cell_stats(results, self.name, model, "energy_decay_rate", seeds)
            if div and rate:
                lines.append(f"- {model}: divergence {fmt(div)}, energy decay rate {fmt(rate)}")
        if not lines:
            return []
        return ["## Damped mass-spring: what the dissipation looks like", "",
                f"- Truth: divergence {-2 * data.GAMMA:.2e} everywhere, energy decay rate "
                f"{self.true_decay_rate():.2e} along the evaluation trajectories.", *lines, ""]

    def figures(self, runs_dir, figures_dir, seed=0):
        from . import analysis
        return super().figures(runs_dir, figures_dir, seed) + analysis.make_figures(
            self, runs_dir, figures_dir, seed)


TASKS = [DampedTask(
    "damped", "Damped mass-spring", DEFAULTS, table=EXTENSION, order=10, quick=QUICK,
    models=("baseline", "hnn", "dhnn"), hamiltonian=data.hamiltonian, dynamics=data.dynamics,
    solution=data.solution, t_span=data.T_SPAN, points_per_unit=data.POINTS_PER_UNIT,
    radius=data.RADIUS, train_fraction=data.TRAIN_FRACTION, plot_limit=1.2, linear=True,
    notes=["Damped mass-spring (an extension): the spring's recipe and settings on the field "
           "dq/dt = 2p, dp/dt = -2q - 0.2p, with no weight decay (the D-HNN authors'); the energy "
           "MSE is against the true, decaying energy."])]
