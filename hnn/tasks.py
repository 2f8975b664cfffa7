"""Tasks: what an experiment folder declares, and the one way to run it, `task.run(config)`.

A `Task` names a learning problem (data, model, loss, evaluation, figures) and holds its default
config. The base class trains a dynamics model (`hnn.models.build_model`, HNN or baseline) on
`{"x", "dx"}` pairs with the L2 derivative loss; a task overrides only what differs. `OneDofTask`
is a complete task for any system with one degree of freedom and a known Hamiltonian field.

    task.run(config) -> metrics    # data -> training -> checkpoint + metrics (.pt and .json)
"""
import dataclasses
import os
import time

import numpy as np
import torch

from .checkpoint import load_checkpoint, read_json
from .config import MODELS, TrainConfig, arg, parse_config, stored_config
from .data import evaluation_states, trajectory_dataset
from .metrics import loss_summary, rollout_errors
from .models import build_model
from .runs import check_writable, is_up_to_date, load_run, run_name, run_paths, save_run
from .training import derivative_loss, fit

TABLE_1 = "Table 1"
TABLE_2 = "Table 2 (appendix)"
EXTENSION = "Extensions (no paper numbers)"
TABLES = (TABLE_1, TABLE_2, EXTENSION)
METRICS = ("train_loss", "test_loss", "energy_mse", "state_mse")


@dataclasses.dataclass
class Reference:
    """A task's known physics. `x0`: held-out starts `(n, d)`; `energy(states)`: true energy of
    numpy states `(..., d)`; `solution(x0, t)`: true trajectories `(n, T, d)` from numpy starts on
    the grid `t`; `dt`: the step of the evaluation rollouts; `t_end`: their horizon."""

    x0: np.ndarray
    energy: object
    solution: object
    dt: float
    t_end: float


def to_tensors(arrays, device, dtype=torch.float32):
    """numpy arrays -> tensors on `device`, same keys."""
    return {k: torch.as_tensor(v, dtype=dtype, device=device) for k, v in arrays.items()}


class Task:
    """One task of an experiment folder.

    Args:
        name: the task's name in run names, `reproduce.py --tasks` and the tables (no hyphen).
        title: its row title in `table.md`.
        defaults: a `TrainConfig` (subclass) instance holding every default setting.
        table: `TABLE_1`, `TABLE_2` or `EXTENSION`, the table its row goes in.
        order: position among the tasks (the paper's row order; extensions sort last).
        quick: setting overrides of the tiny smoke profile (`--quick`).
        paper: the paper's numbers, `{model: {metric: (mean, stderr)}}`, or None.
        notes: how the protocol differs from the original's, one sentence each.
        state_dim: size of a state `[q..., p...]` for the default `build`.
        models: the models `reproduce.py` trains: baseline and HNN, "dhnn" (the dissipative
            HNN) where the task is about friction, and "shnn" (the separable HNN).
        time_reversal: whether the time-reversal study (`hnn.reversal`) takes this task's HNN;
            it needs `reference`. long_horizon: the end time of its long-horizon rollouts, if any.

    Override `dataset`, `evaluate` and, where the task has them, `figures` and `report_lines`;
    a task that is not a plain dynamics model also overrides `build`, `splits`, `loss` and
    `loss_summary`.
    """

    def __init__(self, name, title, defaults, *, table=EXTENSION, order=100, quick=None,
                 paper=None, notes=(), state_dim=None, models=("baseline", "hnn"),
                 time_reversal=False, long_horizon=None):
        if "-" in name or not name:
            raise ValueError(f"task name {name!r} must be non-empty and have no hyphen")
        if table not in TABLES:
            raise ValueError(f"task {name}: table must be one of {TABLES}, got {table!r}")
        if not isinstance(defaults, TrainConfig):
            raise TypeError(f"task {name}: defaults must be a TrainConfig instance, got {type(defaults)}")
        self.name, self.title, self.defaults, self.table, self.order = name, title, defaults, table, order
        self.quick = dict(quick or {})
        self.paper, self.notes, self.state_dim = paper, list(notes), state_dim
        unknown = set(models) - set(MODELS)
        if unknown or not {"baseline", "hnn"} <= set(models):
            raise ValueError(f"task {name}: models must hold baseline and hnn, and only {MODELS}; "
                             f"got {models}")
        self.models = tuple(models)
        self.time_reversal, self.long_horizon = time_reversal, long_horizon
        self.config(quick=True)                      # the quick profile must be a valid config

    def __repr__(self):
        return f"<{type(self).__name__} {self.name}>"

    # What a task defines.
    def dataset(self, config):
        """The task's data as a dict of numpy arrays: `x, dx, test_x, test_dx` by default."""
        raise NotImplementedError

    def evaluate(self, model, dataset, config):
        """Metrics beyond the losses: `energy_mse` and `state_mse` (along the same rollouts), each
        `{"mean", "stderr"}`, and any others the task records."""
        raise NotImplementedError

    def figures(self, runs_dir, figures_dir, seed=0):
        """Write the task's figures from its saved runs; returns their paths."""
        return []

    def reference(self, config):
        """The known physics behind the energy MSE, for studies beyond it (`hnn.reversal`): a
        `Reference` of held-out starts, the true energy, the true trajectories from any starts on
        any grid, and the evaluation rollouts' step. Tasks without a known field have none."""
        raise NotImplementedError(f"task {self.name} declares no reference physics")

    def report_lines(self, results, seeds):
        """Extra Markdown lines for `table.md` about this task (none by default)."""
        return []

    def friction_lines(self, results, seeds):
        """Markdown lines under `table.md`'s friction table about this task (none by default)."""
        return []

    def build(self, config):
        """The empty model a config describes."""
        return build_model(self.state_dim, config.hidden_dim, config.nonlinearity,
                           baseline=config.model == "baseline",
                           dissipative=config.model == "dhnn", separable=config.model == "shnn")

    def splits(self, dataset):
        """(train, test) dicts of numpy arrays, the batches `loss` takes."""
        return ({"x": dataset["x"], "dx": dataset["dx"]},
                {"x": dataset["test_x"], "dx": dataset["test_dx"]})

    def loss(self, model, batch):
        """The training loss of a batch (a scalar tensor)."""
        return derivative_loss(model, batch)

    def loss_summary(self, model, split):
        """Mean ± standard error of the loss over a whole split (tensors)."""
        return loss_summary(model, split["x"], split["dx"])

    # What every task shares.
    def config(self, quick=False, **overrides):
        """The defaults, with the quick profile if `quick`, then `overrides`."""
        return dataclasses.replace(self.defaults, **{**(self.quick if quick else {}), **overrides})

    def run_name(self, config):
        return run_name(self.name, config.model, config.seed)

    def stored_config(self, config):
        """What identifies the run's results: the task's name and every setting."""
        return {"task": self.name, **stored_config(config)}

    def is_up_to_date(self, config):
        """True if this run is saved in `config.save_dir` with the same settings: its `.json`
        and its checkpoint both hold this config, and the checkpoint loads into the model."""
        stored = self.stored_config(config)
        if not is_up_to_date(config.save_dir, self.run_name(config), stored):
            return False
        try:
            _, ckpt = self.load(config.save_dir, config.model, config.seed)
        except (OSError, ValueError):
            return False
        return ckpt["config"] == stored

    def run(self, config):
        """Make the data, train a model, evaluate it and save the run; returns its metrics.

        Writes `{save_dir}/{task}-{model}-seed{N}.pt` and `.json` (see `hnn.runs`)."""
        if config.model not in self.models:
            raise ValueError(f"task {self.name} trains the models {', '.join(self.models)}, "
                             f"not {config.model}")
        if config.device.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError(f"device {config.device} was asked for, but torch sees no CUDA device")
        check_writable(config.save_dir)
        if config.threads:
            torch.set_num_threads(config.threads)
        started = time.time()
        dataset = self.dataset(config)
        torch.manual_seed(config.seed)
        model = self.build(config).to(config.device)
        train, test = (to_tensors(split, config.device) for split in self.splits(dataset))
        curves = fit(model, self.loss, train, test, total_steps=config.total_steps,
                     learn_rate=config.learn_rate, weight_decay=config.weight_decay,
                     batch_size=config.batch_size, seed=config.seed, quiet=config.quiet,
                     desc=self.run_name(config))
        metrics = {"train_loss": self.loss_summary(model, train),
                   "test_loss": self.loss_summary(model, test)}
        metrics.update(self.evaluate(model, dataset, config))
        save_run(config.save_dir, self.run_name(config), model, self.stored_config(config),
                 curves, metrics, started, quiet=config.quiet)
        return metrics

    def main(self, argv=None, epilog=None):
        """The command line of `train.py`: parse the flags, then run (or skip an up-to-date run)."""
        config, options = parse_config(self.defaults, argv, self.quick, epilog=epilog,
                                       description=f"Train one model on the task {self.name}: {self.title}.")
        if options.skip_existing and self.is_up_to_date(config):
            if not config.quiet:
                print(f"{self.run_name(config)} is up to date in {config.save_dir}")
            return None
        return self.run(config)

    def load(self, save_dir, model="hnn", seed=0):
        """A saved run of this task: (model in eval mode on cpu, checkpoint dict).

        A checkpoint whose stored task, model or seed is not the one asked for raises ValueError."""
        path = self.checkpoint_path(save_dir, model, seed)

        def build(stored):
            held = tuple(stored.get(key) for key in ("task", "model", "seed"))
            if held != (self.name, model, seed):
                raise ValueError(f"checkpoint {path} holds a run of task {held[0]}, model "
                                 f"{held[1]}, seed {held[2]}; expected task {self.name}, model "
                                 f"{model}, seed {seed}")
            return self.build(self.config(**{k: v for k, v in stored.items() if k != "task"}))
        return load_run(path, build)

    def load_pair(self, save_dir, seed=0):
        """{"baseline": (model, ckpt), "hnn": (model, ckpt)} of one seed."""
        return {model: self.load(save_dir, model, seed) for model in ("baseline", "hnn")}

    def load_all(self, save_dir, seed=0):
        """`load_pair`, plus each other model of `self.models` whose run is saved."""
        return {model: self.load(save_dir, model, seed) for model in self.shown_models(save_dir, seed)}

    def shown_models(self, save_dir, seed=0):
        """Baseline and HNN, then each other model of `self.models` whose run is saved."""
        return [model for model in self.models if model in ("baseline", "hnn")
                or os.path.exists(self.checkpoint_path(save_dir, model, seed))]

    def checkpoint_path(self, save_dir, model, seed=0):
        return run_paths(save_dir, run_name(self.name, model, seed))[0]

    def has_runs(self, save_dir, seed=0):
        """True if both the baseline and the HNN of `seed` are saved in `save_dir`."""
        return all(os.path.exists(self.checkpoint_path(save_dir, model, seed))
                   for model in ("baseline", "hnn"))

    def save_loss_curves(self, runs_dir, figures_dir, seed=0):
        """`{figures_dir}/{task}-curves-seed{seed}.png` from the saved runs of `shown_models`."""
        from .plots import loss_curves_figure, save_figure
        ckpts = {model: load_checkpoint(self.checkpoint_path(runs_dir, model, seed))
                 for model in self.shown_models(runs_dir, seed)}
        return save_figure(loss_curves_figure(ckpts, f"{self.name}: loss curves"),
                           os.path.join(figures_dir, f"{self.name}-curves-seed{seed}.png"))

    def read_metrics(self, runs_dir, model, seed):
        """The saved `.json` of one run (metrics and stored config)."""
        return read_json(run_paths(runs_dir, run_name(self.name, model, seed))[1])


@dataclasses.dataclass
class OneDofConfig(TrainConfig):
    """`TrainConfig` plus the data settings of `OneDofTask`."""

    samples: int = arg(50, "trajectories in the dataset")
    noise_std: float = arg(0.1, "std of the Gaussian noise on the inputs (the targets stay clean)")

    def rules(self):
        return super().rules() + [
            ("samples", self.samples >= 2, "at least 2 (one trajectory to train, one to test)"),
            ("noise_std", 0 <= self.noise_std < float("inf"), "finite and at least 0"),
        ]


class OneDofTask(Task):
    """A system with one degree of freedom, state `[q, p]`, and a known Hamiltonian field.

    The data follow the paper's recipe for the spring and pendulum: `samples` starts on a ring
    of phase-space radii `radius`, trajectories sampled on `t_span` at `points_per_unit` points
    per time unit, targets from the exact field at the clean states, Gaussian noise on the inputs,
    and the first `train_fraction` of points (in trajectory order) for training. The energy MSE
    rolls the model out from `eval_trajectories` fresh starts (each component in ±[0.2, 1], drawn
    with `eval_seed`, the same for every training seed) over `eval_points` times in
    [0, eval_t_end], against `eval_solution` (by default `solution`).

    Physics, all on numpy `(..., 2)` states: `hamiltonian(x) -> (...)`, `dynamics(x) -> (..., 2)`,
    `solution(x0 (batch, 2), t (T,)) -> (batch, T, 2)`. `plot_limit` bounds the phase-space figure.
    `linear=True` declares the field linear, x' = A x: `table.md` then shows what a least-squares
    A fitted to the same training data scores (`least_squares_reference`), what an L2 fit of the
    physics' exact form reaches on these data.
    """

    def __init__(self, name, title, defaults, *, hamiltonian, dynamics, solution, t_span,
                 points_per_unit, radius, train_fraction=0.5, eval_t_end=20.0, eval_points=100,
                 eval_seed=1000, eval_trajectories=15, eval_solution=None, plot_limit=2.0,
                 linear=False, **kwargs):
        if not isinstance(defaults, OneDofConfig):
            raise TypeError(f"task {name}: defaults must be a OneDofConfig, got {type(defaults)}")
        super().__init__(name, title, defaults, state_dim=2, **kwargs)
        self.hamiltonian, self.dynamics, self.solution = hamiltonian, dynamics, solution
        self.eval_solution = eval_solution or solution
        self.t = np.linspace(*t_span, int(points_per_unit * (t_span[1] - t_span[0])))
        self.radius, self.train_fraction = radius, train_fraction
        self.eval_t = np.linspace(0, eval_t_end, eval_points)
        self.eval_seed, self.eval_trajectories = eval_seed, eval_trajectories
        self.plot_limit, self.linear = plot_limit, linear

    def dataset(self, config):
        """`x, dx, test_x, test_dx`, each `(N, 2)`, and the sample times `t`."""
        return trajectory_dataset(np.random.default_rng(config.seed), self.solution, self.dynamics,
                                  config.samples, self.radius, self.t, config.noise_std,
                                  self.train_fraction)

    def evaluation_starts(self):
        """The energy MSE's starts `(n, 2)`, from the fixed evaluation seed."""
        return evaluation_states(np.random.default_rng(self.eval_seed), self.eval_trajectories)

    def evaluation_trajectories(self):
        """Starts `(n, 2)`, times `(T,)` and true trajectories `(n, T, 2)` of the energy MSE."""
        x0 = self.evaluation_starts()
        return x0, self.eval_t, self.eval_solution(x0, self.eval_t)

    def reference(self, config):
        x0 = self.evaluation_starts()     # the truth is solved on the grid the study asks for
        dt = float(self.eval_t[1] - self.eval_t[0]) / config.eval_substeps
        return Reference(x0, self.hamiltonian, self.eval_solution, dt, float(self.eval_t[-1]))

    def evaluate(self, model, dataset, config):
        x0, t, truth = self.evaluation_trajectories()
        return rollout_errors(model, self.hamiltonian, x0, t, truth, substeps=config.eval_substeps,
                              solver=config.eval_integrator)

    def linear_field_metrics(self, A):
        """The metrics of the linear field x' = A x (`A` (2, 2)), rolled out exactly from the
        evaluation starts: `energy_mse`, `state_mse` and `divergence` (trace A)."""
        import scipy.linalg

        x0, t, truth = self.evaluation_trajectories()
        states = np.einsum("tij,bj->bti", np.stack([scipy.linalg.expm(A * ti) for ti in t]), x0)
        return {"energy_mse": float(np.mean((self.hamiltonian(states) - self.hamiltonian(truth)) ** 2)),
                "state_mse": float(np.mean((states - truth) ** 2)), "divergence": float(np.trace(A))}

    def least_squares_reference(self, seed, **overrides):
        """`linear_field_metrics` of the A that fits the training data of `seed` (and the config
        `overrides`) by least squares."""
        dataset = self.dataset(self.config(seed=seed, **overrides))
        return self.linear_field_metrics(np.linalg.lstsq(dataset["x"], dataset["dx"], rcond=None)[0].T)

    def friction_lines(self, results, seeds):
        """For a linear task, the least-squares field's metrics over `seeds` (mean ± std)."""
        if not self.linear:
            return []
        values = [self.least_squares_reference(seed) for seed in seeds]
        stats = {key: (np.mean([v[key] for v in values]),
                       np.std([v[key] for v in values], ddof=1) if len(values) > 1 else 0.0)
                 for key in values[0]}
        return [f"- {self.title}, least-squares linear field (the physics' exact form, 4 numbers "
                f"fitted to the same noisy training data, seeds {', '.join(map(str, seeds))}): "
                + ", ".join(f"{key.replace('_', ' ')} {m:.2e} ± {e:.1e}" for key, (m, e) in stats.items())
                + ". Input noise shrinks and scatters its divergence."]

    def figures(self, runs_dir, figures_dir, seed=0):
        """`{task}-phase-seed{seed}.png`: learned vs true H, a rollout and its energy;
        `{task}-field-seed{seed}.png`: the true, baseline and HNN fields (the paper's Figure 2)."""
        from .plots import phase_space_figure, save_figure, vector_field_figure
        models = {kind: model for kind, (model, _) in self.load_all(runs_dir, seed).items()}
        x0 = self.evaluation_trajectories()[0][0]
        fig = phase_space_figure(self.title, self.hamiltonian, self.solution, models, x0,
                                 limit=self.plot_limit)
        field = vector_field_figure(f"{self.title}: dx/dt", self.dynamics,
                                    {k: models[k] for k in ("baseline", "hnn")}, self.plot_limit)
        return [save_figure(fig, os.path.join(figures_dir, f"{self.name}-phase-seed{seed}.png")),
                save_figure(field, os.path.join(figures_dir, f"{self.name}-field-seed{seed}.png"))]
