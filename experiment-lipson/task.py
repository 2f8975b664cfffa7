"""The real-pendulum tasks: the authors' settings, the evaluation protocol and the papers' numbers.

`lipson` is the HNN paper's Task 3: forward-difference targets. The energy MSE is that of one
rollout over the test segment against the data, with H = 2.4 (1 - cos q) + p^2 and the bootstrap
error over 5 contiguous time blocks, as the paper did; the state MSE is taken along the same
rollout. `lipson_central` is the D-HNN paper's version of the recording: central-difference
targets and its split, with the same training settings and metric (its error over time points).
"""
import dataclasses

import numpy as np
import torch

from hnn import (
    EXTENSION,
    TABLE_1,
    Note,
    Task,
    TrainConfig,
    TrajectoryStudy,
    arg,
    rollout,
    rollout_errors,
)
from hnn.report import PaperComparison
from hnn.trajectories import fit_starts, uniform_step, windows

from . import analysis, data


@dataclasses.dataclass
class LipsonConfig(TrainConfig):
    """`TrainConfig` plus the split of the recording."""

    train_fraction: float = arg(0.8, "the first part of the recording that trains (the original's "
                                     "`test_split=0.8`); the next 110 points test")
    derivative: str = arg("forward", "the targets dx: 'forward' differences (the HNN paper's) or "
                                     "'central' ones and the D-HNN paper's split")

    def rules(self):
        return super().rules() + [
            ("train_fraction", 0 < self.train_fraction < 1, "in (0, 1)"),
            ("derivative", self.derivative in data.DERIVATIVES, f"one of {data.DERIVATIVES}")]


# The authors' settings (docs/paper-settings.md, Task 3; weight decay as in their code, not the
# paper).
DEFAULTS = LipsonConfig(weight_decay=1e-5, total_steps=2000, batch_size=0, eval_substeps=10)
QUICK = dict(total_steps=20, eval_substeps=1)
# The authors' README (full precision of Table 1): (mean, stderr) of their seed-0 runs.
PAPER = {
    "baseline": {"train_loss": (0.0027455, 0.00020735), "test_loss": (0.0021864, 0.00033296),
                 "energy_mse": (0.38564, 0.0692)},
    "hnn": {"train_loss": (0.0092376, 0.00050263), "test_loss": (0.0059584, 0.00061798),
            "energy_mse": (0.014477, 0.00465)},
}


# The D-HNN authors' notebook (greydanus/dissipative_hnns), energy MSE along the same test
# segment: their MLP had a residual layer, 256 units and other training settings, so only the
# ordering and the D-HNN's figure are comparable with ours.
DHNN_PAPER = {"baseline": (1.17e-3, 1.1e-4), "hnn": (1.02e-2, 8e-4), "dhnn": (1.07e-3, 1.1e-4)}
DHNN_PAPER_TEST_LOSS = {"baseline": 1.11e-3, "hnn": 1.40e-3, "dhnn": 9.46e-4}


class LipsonTask(Task):
    def dataset(self, config):
        return data.get_dataset(config.train_fraction, derivative=config.derivative)

    def evaluate(self, model, dataset, config):
        x0, t, truth = data.evaluation_segment(dataset)
        x0 = self.evaluation_start(model, x0, t, truth, config)
        # The HNN paper's error is its 5-block bootstrap; the D-HNN paper's, over time points.
        groups = 5 if config.derivative == "forward" else None
        return rollout_errors(model, data.hamiltonian, x0, t, truth, substeps=config.eval_substeps,
                              solver=config.eval_integrator, over="time", groups=groups)

    def evaluation_start(self, model, x0, t, truth, config):
        """The evaluation rollout's start: the first test observation, or with --infer-starts
        the state whose path fits the first --horizon + 1 test observations, the model fixed."""
        if not config.infer_starts:
            return x0
        param = next(model.parameters())
        length = config.horizon + 1
        observed = torch.as_tensor(truth[:, :length], dtype=param.dtype, device=param.device)
        dt = uniform_step(t[:length], "the test segment's first times")
        return fit_starts(model, observed, dt, config.train_integrator,
                          config.train_substeps).cpu().numpy()

    def segment_energy(self, model, dataset, config):
        """(t, the recording's energy, the model's energy), each `(T,)`, along the evaluation
        rollout over the test segment."""
        x0, t, truth = data.evaluation_segment(dataset)
        x0 = self.evaluation_start(model, x0, t, truth, config)
        states = rollout(model, x0, t, substeps=config.eval_substeps,
                         solver=config.eval_integrator)
        return t, data.hamiltonian(truth[0]), data.hamiltonian(states[0])

    def trajectories(self, dataset, config):
        """The recording's own states (no differences): every window of --horizon + 1 points of
        the training segment and of the test segment that are one recording step (1/6 s)
        apart; windows across a dropped frame are left out."""
        dt = float(np.median(np.diff(dataset["t"])))
        length = config.horizon + 1
        return (windows(dataset["x"], dataset["t"], length, dt, "the training segment"),
                windows(dataset["test_x"], dataset["test_t"], length, dt, "the test segment"), dt)

    def figures(self, runs, figures_dir, seed=0):
        return analysis.make_figures(self, runs, figures_dir, seed)


DHNN_COMPARISON = PaperComparison(
    "Real pendulum with friction: ours beside the D-HNN paper's", "D-HNN paper", DHNN_PAPER, notes=[
        "Both use the D-HNN paper's central-difference targets, split and metric. The D-HNN "
        "paper trained one seed (42) with lr 5e-3, no weight decay, 5000 steps of 128 "
        "sequential rows, and its MLP had 256 units and a residual layer; ours are the HNN "
        "paper's real-pendulum settings. So only the ordering and the D-HNN's number are "
        "comparable. Its test losses: MLP "
        f"{DHNN_PAPER_TEST_LOSS['baseline']:.2e}, HNN {DHNN_PAPER_TEST_LOSS['hnn']:.2e}, "
        f"D-HNN {DHNN_PAPER_TEST_LOSS['dhnn']:.2e}.",
        "With the HNN paper's forward differences (`lipson`), a model that can dissipate "
        "learns the friction that the difference adds, (1 - cos wh)/h, about 0.4 per unit "
        "time here, and its rollout's energy falls to zero over the test segment."])
FORWARD_NOTE = Note(
    "Real pendulum: the HNN paper's forward-difference targets and split, from the recording "
    "itself (445 training and 110 test points).",
    "dx = (x[1:] − x[:-1]) / (t[1:] − t[:-1]); `test_split=0.8` is the train fraction, 445 train "
    "and 110 test points",
    "[HNN] `experiment-real/data.py` (`get_dataset`), `experiment-real/utils.py`")
CENTRAL = dataclasses.replace(DEFAULTS, derivative="central")
CENTRAL_NOTE = Note(
    "Real pendulum, central differences (an extension, `lipson_central`): the D-HNN paper's "
    "targets, the mean of the forward differences before and after each state, and its split "
    "(rows 1-444 of the recording train, 445-555 test); the settings and metric are `lipson`'s, "
    "with the error over time points as the D-HNN paper's.",
    "targets are the mean of the forward differences around each state, paired with `x[1:]`; "
    "the first `int(556 · 0.8)` rows train; the energy MSE is the mean over the test segment's "
    "time points of (H_data − H_model)², H = 2.4 (1 − cos q) + p², rolled out by `solve_ivp` "
    "from the first test state, with the standard error over time points. The D-HNN paper's "
    "numbers: MLP 1.17e-3, HNN 1.02e-2, D-HNN 1.07e-3 energy MSE; seed 42, lr 5e-3, no weight "
    "decay, 5000 steps of 128 sequential rows, 256 units with a residual layer",
    "[D-HNN] `experiment_realpend/data.py` (`get_lipson_data`), `analyze_realpend.ipynb` "
    "(printed output), `models.py`, `train.py`")

TASKS = [LipsonTask("lipson", "Real pendulum", DEFAULTS, table=TABLE_1, order=3, quick=QUICK,
                    paper=PAPER, state_dim=2, models=("baseline", "hnn", "dhnn", "shnn"),
                    friction=True, notes=[FORWARD_NOTE],
                    trajectory_study=TrajectoryStudy("real", ("baseline", "hnn", "dhnn"),
                                                     beside=("lipson", "lipson_central"))),
         LipsonTask("lipson_central", "Real pendulum, central differences", CENTRAL,
                    table=EXTENSION, order=11, quick=QUICK, state_dim=2,
                    models=("baseline", "hnn", "dhnn", "node2"), friction=True,
                    notes=[CENTRAL_NOTE],
                    sections=[DHNN_COMPARISON])]
