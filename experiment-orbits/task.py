"""The two- and three-body tasks: the authors' settings, the evaluation protocol and the paper's
numbers. The energy and state MSE roll the model out over 15 fresh orbits (seeds 0..14)."""
import dataclasses

import numpy as np

from hnn import (
    TABLE_1,
    TABLE_2,
    Note,
    Reference,
    SampleSizes,
    Task,
    TimeReversal,
    TrainConfig,
    TrajectoryStudy,
    arg,
    rollout_errors,
)

from . import analysis, data


@dataclasses.dataclass
class OrbitConfig(TrainConfig):
    """`TrainConfig` plus the orbit data and evaluation settings."""

    trials: int = arg(1000, "orbits in the dataset")
    eval_t_end: float = arg(25.0, "end time of the energy-MSE rollouts (they start at 0)")
    eval_points: int = arg(500, "time points of each energy-MSE rollout")

    def rules(self):
        return super().rules() + [
            ("trials", self.trials >= 5, "at least 5 (the first 20% of the points test)"),
            ("eval_t_end", 0 < self.eval_t_end < float("inf"), "finite and above 0"),
            ("eval_points", self.eval_points >= 2, "at least 2"),
        ]


# The authors' settings (docs/paper-settings.md, Task 4 and the three-body appendix): the two-body
# experiment-2body/train.py (no weight decay) and analyze-2body.ipynb (energy over [0, 25]), the
# three-body experiment-3body/train.py (batch 600, weight decay 1e-4) and analyze-3body.ipynb
# (energy over [0, 3], 500 points).
TWO_BODY = OrbitConfig(trials=1000, total_steps=10000, batch_size=200, weight_decay=0.0,
                       eval_t_end=25.0, eval_points=500, eval_substeps=1)    # RK4 step 0.05
THREE_BODY = OrbitConfig(trials=5000, total_steps=10000, batch_size=600, weight_decay=1e-4,
                         eval_t_end=3.0, eval_points=500, eval_substeps=1)   # RK4 step 0.006
QUICK = dict(total_steps=20, trials=20, eval_points=50)
# The authors' README (full precision of Table 1 and the appendix's Table 2).
PAPER_TWO_BODY = {
    "baseline": {"train_loss": (3.2682e-05, 1.2022e-06), "test_loss": (2.9575e-05, 8.89e-07),
                 "energy_mse": (0.063276, 0.0336)},
    "hnn": {"train_loss": (2.9959e-06, 6.55e-08), "test_loss": (2.8218e-06, 4.202e-08),
            "energy_mse": (3.8751e-05, 5.04e-06)},
}
PAPER_THREE_BODY = {
    "baseline": {"train_loss": (0.095573, 0.06561), "test_loss": (0.38, 0.41612),
                 "energy_mse": (109.06, 77.4)},
    "hnn": {"train_loss": (0.080346, 0.02147), "test_loss": (0.48809, 0.47745),
            "energy_mse": (0.041926, 0.0339)},
}
NOTES_TWO_BODY = [
    Note("Orbits are generated 100 at a time as one solve_ivp system (rtol 1e-9 on the joint "
         "error norm) instead of one by one.",
         "`get_orbit` calls `solve_ivp` for one orbit at a time, rtol 1e-9",
         "[HNN] `experiment-2body/data.py` (`get_orbit`), `experiment-3body/data.py`"),
]
NOTES_THREE_BODY = [
    Note("Three-body: the starts follow the original's recipe (an equilateral triangle at a "
         "random angle and distance in [0.9, 1.2], circular-orbit speeds perturbed by "
         "1 + 0.2 U(-1, 1) per component), and so do the settings: weight decay 1e-4 and batch 600 "
         "(experiment-3body/train.py), the energy MSE over t in [0, 3] with 500 points "
         "(analyze-3body.ipynb).",
         "an equilateral triangle at a random angle and a distance in [0.9, 1.2], circular-orbit "
         "speeds times 1 + 0.2 U(−1, 1) per component (the velocity sum has its `+=` inside the "
         "loop); weight decay 1e-4 and batch 600; the energy MSE over t in [0, 3] with 500 points "
         "for 15 trials",
         "[HNN] `experiment-3body/data.py` (`random_config`), `experiment-3body/train.py` "
         "(defaults), `analyze-3body.ipynb`"),
]


class OrbitTask(Task):
    """Gravity between `bodies` unit masses, G = 1; states `(4N,)` in the canonical order of
    `data.canonical_names`."""

    caches_data = True

    def __init__(self, name, title, defaults, bodies, **kwargs):
        super().__init__(name, title, defaults, state_dim=4 * bodies, **kwargs)
        self.bodies = bodies

    def dataset(self, config):
        return data.get_dataset(self.bodies, config.seed, config.trials, quiet=config.quiet)

    def rows_per_trajectory(self, config):
        return data.SETTINGS[self.bodies]["timesteps"]

    def reference(self, config):
        dt = config.eval_t_end / (config.eval_points - 1) / config.eval_substeps
        return Reference(data.evaluation_starts(self.bodies), data.total_energy, data.true_orbits,
                         dt, config.eval_t_end)

    def evaluation_orbits(self, config, n=data.EVAL_TRAJECTORIES):
        """Starts `(n, 4N)`, times `(T,)` and true orbits `(n, T, 4N)` of the energy MSE."""
        return data.evaluation_orbits(self.bodies, config.eval_points, (0.0, config.eval_t_end), n)

    def evaluate(self, model, dataset, config):
        x0, t, truth = self.evaluation_orbits(config)
        return rollout_errors(model, data.total_energy, x0, t, truth, substeps=config.eval_substeps,
                              solver=config.eval_integrator)

    def figures(self, runs, figures_dir, seed=0):
        return analysis.make_figures(self, runs, figures_dir, seed)


TASKS = [
    OrbitTask("2body", "Two body", TWO_BODY, bodies=2, table=TABLE_1, order=4, quick=QUICK,
              paper=PAPER_TWO_BODY, notes=NOTES_TWO_BODY,
              models=("baseline", "hnn", "shnn", "node2", "lnn"), mass_matrix=np.eye(4),
              sample_sizes=SampleSizes((25, 50, 100, 250, 500, 800, 1000), (("trials", 1250),),
                                       paper=800),
              trajectory_study=TrajectoryStudy("long"),
              time_reversal=TimeReversal(starts=2,
                                         long_horizon=100 * data.SETTINGS[2]["t_span"][1])),
    OrbitTask("3body", "Three body", THREE_BODY, bodies=3, table=TABLE_2, order=6, quick=QUICK,
              paper=PAPER_THREE_BODY, notes=NOTES_THREE_BODY, models=("baseline", "hnn", "shnn"),
              mass_matrix=np.eye(6)),
]
