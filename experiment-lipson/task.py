"""The real-pendulum task: the authors' settings, the evaluation protocol and the paper's numbers.

The energy MSE is that of one rollout over the test segment against the data, with
H = 2.4 (1 - cos q) + p^2 and the bootstrap error over 5 contiguous time blocks, as the paper did;
the state MSE is taken along the same rollout.
"""
import dataclasses

from hnn import TABLE_1, Task, TrainConfig, arg, rollout_errors

from . import data


@dataclasses.dataclass
class LipsonConfig(TrainConfig):
    """`TrainConfig` plus the split of the recording."""

    train_fraction: float = arg(0.8, "the first part of the recording that trains (the original's "
                                     "`test_split=0.8`); the next 110 points test")

    def rules(self):
        return super().rules() + [("train_fraction", 0 < self.train_fraction < 1, "in (0, 1)")]


# The authors' settings (paper-settings.md, Task 3; weight decay as in their code, not the paper).
DEFAULTS = LipsonConfig(weight_decay=1e-5, total_steps=2000, batch_size=0, eval_substeps=10)
QUICK = dict(total_steps=20, eval_substeps=1)
# The authors' README (full precision of Table 1): (mean, stderr) of their seed-0 runs.
PAPER = {
    "baseline": {"train_loss": (0.0027455, 0.00020735), "test_loss": (0.0021864, 0.00033296), "energy_mse": (0.38564, 0.0692)},
    "hnn": {"train_loss": (0.0092376, 0.00050263), "test_loss": (0.0059584, 0.00061798), "energy_mse": (0.014477, 0.00465)},
}


class LipsonTask(Task):
    def dataset(self, config):
        return data.get_dataset(config.train_fraction)

    def evaluate(self, model, dataset, config):
        x0, t, truth = data.evaluation_segment(dataset)
        return rollout_errors(model, data.hamiltonian, x0, t, truth,
                              substeps=config.eval_substeps, over="time")

    def figures(self, runs_dir, figures_dir, seed=0):
        from . import analysis
        return analysis.make_figures(self, runs_dir, figures_dir, seed)


TASKS = [LipsonTask("lipson", "Real pendulum", DEFAULTS, table=TABLE_1, order=3, quick=QUICK,
                    paper=PAPER, state_dim=2)]
