"""The damped mass-spring task: friction, which an HNN cannot model and a dissipative HNN can.

Besides the losses and the energy and state MSE (against the true, decaying energy and states),
it records what field data can identify of the dissipation: the split f = J grad H + grad D is
unique only up to a harmonic gradient, but the field's divergence equals the Laplacian of D (the
symplectic part is divergence-free). Here it is -2 gamma everywhere.
"""
from hnn import (
    EXTENSION,
    HamiltonianConfig,
    Note,
    OneDofTask,
    TrajectoryStudy,
    mean_stderr,
    rollout,
)
from hnn.metrics import decay_rate
from hnn.report import LinearFieldFloor, ModelMetrics

from . import analysis, data

# The spring's settings (Task 1) but no weight decay, as the D-HNN authors trained: with the
# spring's 1e-4 the D-HNN's learned divergence was -0.153 (five-seed mean), against -0.167 for a
# least-squares linear field on the same data and -0.163 without weight decay.
DEFAULTS = HamiltonianConfig(samples=50, noise_std=0.1, weight_decay=0.0, total_steps=2000,
                        batch_size=0, eval_substeps=2)
QUICK = dict(total_steps=20, samples=10, eval_substeps=1)


class DampedTask(OneDofTask):
    """`OneDofTask` that also records the learned field's divergence and the energy's decay rate."""

    def evaluate(self, model, dataset, config):
        metrics = super().evaluate(model, dataset, config)
        metrics["divergence"] = mean_stderr(data.grid_divergence(model))
        x0, t, _ = self.evaluation_trajectories()
        states = rollout(model, x0, t, substeps=config.eval_substeps, solver=config.eval_integrator)
        metrics["energy_decay_rate"] = mean_stderr(decay_rate(t, data.hamiltonian(states)))
        return metrics

    def true_divergence(self):
        """The true field's divergence, -2 gamma everywhere."""
        return -2 * data.GAMMA

    def true_decay_rate(self):
        """The decay rate of the true energy along the evaluation trajectories (mean over them)."""
        _, t, truth = self.evaluation_trajectories()
        return float(decay_rate(t, data.hamiltonian(truth)).mean())

    def figures(self, runs, figures_dir, seed=0):
        return super().figures(runs, figures_dir, seed) + analysis.make_figures(
            self, runs, figures_dir, seed)


def truth(task):
    return [("divergence", -2 * data.GAMMA, "everywhere"),
            ("energy decay rate", task.true_decay_rate(), "along the evaluation trajectories")]


TASKS = [DampedTask(
    "damped", "Damped mass-spring", DEFAULTS, table=EXTENSION, order=10, quick=QUICK,
    models=("baseline", "hnn", "dhnn", "node2"), hamiltonian=data.hamiltonian,
    trajectory_study=TrajectoryStudy("noise", models=("dhnn",), more_seeds=20),
    dynamics=data.dynamics,
    solution=data.solution, t_span=data.T_SPAN, points_per_unit=data.POINTS_PER_UNIT,
    radius=data.RADIUS, train_fraction=data.TRAIN_FRACTION, plot_limit=1.2, linear=True,
    friction=True,
    sections=[LinearFieldFloor(),
              ModelMetrics("Damped mass-spring: what the dissipation looks like",
                           ("divergence", "energy_decay_rate"), truth)],
    notes=[Note("Damped mass-spring (an extension): the spring's recipe and settings on the field "
                "dq/dt = 2p, dp/dt = -2q - 0.2p, with no weight decay (the D-HNN authors'); the "
                "energy MSE is against the true, decaying energy.",
                "the D-HNN authors trained with `weight_decay=0`",
                "[D-HNN] `train.py` (defaults), `analyze_dampedspring.ipynb`")])]
