"""Tasks: what an experiment folder declares, and the one way to run it, `task.run(config)`.

A `Task` names a learning problem (data, model, loss, evaluation, figures) and holds its default
config. The base class trains a dynamics model (`hnn.models.build_model`, HNN or baseline) on
`{"x", "dx"}` pairs with the L2 derivative loss; a task overrides only what differs.
`HamiltonianTask` is a complete task for any system with a known Hamiltonian, states
`[q_1..q_n, p_1..p_n]`; `OneDofTask` is its one-degree-of-freedom case with the paper's recipe.

    task.run(config) -> metrics    # data -> training -> checkpoint + metrics (.pt and .json)

Saved runs are read through `hnn.runs.RunsFolder`, tables through `hnn.report`.
"""
import dataclasses
import inspect
import os
import re
import time

import numpy as np
import torch

from .cache import cached, file_digest
from .config import MODELS, REPO_ROOT, TrainConfig, arg, parse_config, run_model, stored_config
from .data import evaluation_states, ring_states, solve_batch, trajectory_dataset
from .lagrangian import as_mass_matrix, mass_matrix_from_hamiltonian
from .metrics import loss_summary, rollout_errors
from .models import build_model
from .runs import BOOKKEEPING, RunsFolder, check_writable, is_up_to_date, run_name, save_run
from .training import derivative_loss, fit
from .trajectories import RolloutLoss, as_trajectories, uniform_step

TABLE_1 = "Table 1"
TABLE_2 = "Table 2 (appendix)"
EXTENSION = "Extensions (no paper numbers)"
TABLES = (TABLE_1, TABLE_2, EXTENSION)
METRICS = ("train_loss", "test_loss", "energy_mse", "state_mse")


@dataclasses.dataclass(frozen=True)
class Note:
    """How a protocol differs from the original's: `text` (one or two sentences, shown under
    table.md), what the `original` did, and the `source` files of the original that show it
    (`docs/protocol.md` lists them)."""

    text: str
    original: str = ""
    source: str = ""


@dataclasses.dataclass(frozen=True)
class TimeReversal:
    """What the time-reversal study (`hnn.reversal`) does with a task's HNN: the first `starts`
    evaluation starts, round trips of each of `round_trip_steps` steps, and, if `long_horizon`
    is set, rollouts to that end time."""

    starts: int = 2
    round_trip_steps: tuple = (10, 100, 1000, 10000)
    long_horizon: float = None

    def __post_init__(self):
        if self.starts < 1 or not self.round_trip_steps or min(self.round_trip_steps) < 1:
            raise ValueError(f"TimeReversal needs starts >= 1 and round_trip_steps >= 1, "
                             f"got {self}")


@dataclasses.dataclass(frozen=True)
class SampleSizes:
    """What the sample-efficiency study (`hnn.efficiency`) does with a task: train on the first
    n trajectories of one large set, for each n of `sizes` (training trajectories), the set made
    with the setting overrides `largest` ((field, value) pairs); `paper` is the paper's number
    of training trajectories."""

    sizes: tuple
    largest: tuple
    paper: int

    def __post_init__(self):
        if not self.sizes or min(self.sizes) < 1 or self.paper not in self.sizes:
            raise ValueError(f"SampleSizes needs sizes >= 1 that include the paper's, got {self}")


@dataclasses.dataclass(frozen=True)
class TrajectoryStudy:
    """What the trajectory-training study (`hnn.trajectory_study`) does with a task, `part`:
    "noise", a noise sweep of `models` (the task needs `true_divergence`, `true_decay_rate` and
    `least_squares_reference`); "real", `models` trained by rollout beside the derivative-matched
    runs of the tasks `beside` (each needs `segment_energy`); or "long", `models` by rollout
    against derivative matching, scored along training. `more_seeds` (noise only): at the task's
    own noise level the first model, by derivative matching and by the default rollout with ISO,
    also over seeds 0 .. more_seeds - 1, for a mean whose standard error is small beside the
    bias it measures."""

    part: str
    models: tuple = ("hnn",)
    beside: tuple = ()
    more_seeds: int = 0

    def __post_init__(self):
        if self.part not in ("noise", "real", "long"):
            raise ValueError(f"TrajectoryStudy part must be noise, real or long, got {self.part!r}")


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
        name: the task's name in run names, `reproduce.py --tasks` and the tables (letters,
            digits and underscores).
        title: its row title in `table.md`.
        defaults: a `TrainConfig` (subclass) instance holding every default setting.
        table: `TABLE_1`, `TABLE_2` or `EXTENSION`, the table its row goes in.
        order: position among the tasks (the paper's row order; extensions sort last).
        quick: setting overrides of the tiny smoke profile (`--quick`).
        paper: the paper's numbers, `{model: {metric: (mean, stderr)}}`, or None.
        notes: `Note`s on how the protocol differs from the original's.
        state_dim: size of a state `[q..., p...]` (even) for the default `build`.
        models: the models `reproduce.py` trains: baseline and HNN, "dhnn" (the dissipative
            HNN), "shnn" (the separable HNN), "node2" (NODE + SO) and "lnn" (the Lagrangian
            network, which needs `mass_matrix`).
        mass_matrix: the map from canonical momenta to velocities, p = M(q) q̇: a function of
            torch positions `(batch, n)` returning `(batch, n, n)`, or a constant `(n, n)` (a
            number for n = 1). An LNN trains and is scored in the task's `[q, p]` through it.
        friction: the task is about friction (or a control for it): table.md shows it in the
            friction table.
        time_reversal: a `TimeReversal` if the time-reversal study takes this task's HNN; it
            needs `reference`.
        sections: `hnn.report` sections that table.md adds for this task.
        expensive: its runs take many minutes; the optional studies over many tasks (end of
            training) leave it out.
        sample_sizes: a `SampleSizes` if the sample-efficiency study takes this task; it needs
            `rows_per_trajectory`.
        trajectory_study: a `TrajectoryStudy` if the trajectory-training study takes this task.

    Override `dataset`, `evaluate` and, where the task has them, `figures` and `reference`;
    a task that is not a plain dynamics model also overrides `build`, `splits`, `loss` and
    `loss_summary`.
    """

    def __init__(self, name, title, defaults, *, table=EXTENSION, order=100, quick=None,
                 paper=None, notes=(), state_dim=None, models=("baseline", "hnn"),
                 friction=False, time_reversal=None, sections=(), mass_matrix=None,
                 expensive=False, sample_sizes=None, trajectory_study=None):
        if not isinstance(name, str) or not re.fullmatch(r"\w+", name, re.ASCII):
            raise ValueError(f"task name {name!r} must be letters, digits and underscores "
                             f"(a run is named task-model-seedN, and files are named after it)")
        if table not in TABLES:
            raise ValueError(f"task {name}: table must be one of {TABLES}, got {table!r}")
        if not isinstance(defaults, TrainConfig):
            raise TypeError(f"task {name}: defaults must be a TrainConfig instance, "
                            f"got {type(defaults)}")
        if type(self).build is Task.build and (not isinstance(state_dim, int) or state_dim < 2
                                               or state_dim % 2):
            raise ValueError(f"task {name}: set state_dim= to the size of a state [q..., p...] "
                             f"(an even number, 2 per degree of freedom), got {state_dim!r}; or "
                             f"override build() for a model that is not a plain dynamics model")
        if time_reversal is not None and not isinstance(time_reversal, TimeReversal):
            raise TypeError(f"task {name}: time_reversal must be an hnn.tasks.TimeReversal or "
                            f"None, "
                            f"got {time_reversal!r}")
        if time_reversal and type(self).reference is Task.reference:
            raise ValueError(f"task {name}: time_reversal needs the known physics: define "
                             f"reference(config) (see hnn.tasks.Reference), or leave time_reversal "
                             f"unset")
        self.name, self.title, self.defaults, self.table, self.order = (name, title, defaults,
                                                                        table, order)
        self.quick = dict(quick or {})
        self.paper, self.state_dim = paper, state_dim
        self.notes = [note if isinstance(note, Note) else Note(note) for note in notes]
        unknown = set(models) - set(MODELS)
        if unknown or not {"baseline", "hnn"} <= set(models):
            raise ValueError(f"task {name}: models must hold baseline and hnn, and only {MODELS}; "
                             f"got {models}")
        self.models = tuple(models)
        self.mass_matrix = as_mass_matrix(mass_matrix)
        if "lnn" in self.models and self.mass_matrix is None:
            raise ValueError(f"task {name}: models holds lnn, which needs mass_matrix= (the map "
                             f"p = M(q) dq/dt from the task's momenta to velocities)")
        self.friction, self.time_reversal, self.sections = friction, time_reversal, tuple(sections)
        self.expensive, self.sample_sizes = expensive, sample_sizes
        self.trajectory_study = trajectory_study
        self.config(quick=True)                      # the quick profile must be a valid config

    def __repr__(self):
        return f"<{type(self).__name__} {self.name}>"

    caches_data = False
    """Whether `dataset` keeps its data in a cache (`hnn.cache`), so that a sweep makes each
    dataset once before training (`hnn.sweep.run_jobs`)."""

    # What a task defines.
    def dataset(self, config):
        """The task's data as a dict of numpy arrays: `x, dx, test_x, test_dx` by default."""
        raise NotImplementedError

    def evaluate(self, model, dataset, config):
        """Metrics beyond the losses: `energy_mse` and `state_mse` (along the same rollouts), each
        `{"mean", "stderr"}`, and any others the task records."""
        raise NotImplementedError

    def figures(self, runs, figures_dir, seed=0):
        """Write the task's figures from its saved runs (an `hnn.runs.RunsFolder`); returns their
        paths."""
        return []

    def reference(self, config):
        """The known physics behind the energy MSE, for studies beyond it (`hnn.reversal`): a
        `Reference` of held-out starts, the true energy, the true trajectories from any starts on
        any grid, and the evaluation rollouts' step. Tasks without a known field have none."""
        raise NotImplementedError(f"task {self.name} declares no reference physics")

    def rows_per_trajectory(self, config):
        """Rows of the training split per trajectory (rows are in trajectory order), for
        `train_trajectories`; tasks without whole trajectories in their split have none."""
        raise NotImplementedError(f"task {self.name} does not say how many rows a trajectory "
                                  f"has, so --train-trajectories cannot take whole ones")

    def trajectories(self, dataset, config):
        """(train, test, dt): the observed states `(n, T, d)` of the training and the test
        trajectories, in the order of the splits' rows, and their time step, for --loss rollout.
        By default the splits' inputs (`splits`, key "x") cut into trajectories of
        `rows_per_trajectory` points on the uniform grid `dataset["t"]`."""
        if "t" not in dataset:
            raise NotImplementedError(f"task {self.name} keeps no time grid 't' in its dataset")
        train, test = self.splits(dataset)
        rows = self.rows_per_trajectory(config)
        return (as_trajectories(train["x"], rows, "the training split"),
                as_trajectories(test["x"], rows, "the test split"),
                uniform_step(dataset["t"], f"task {self.name}'s time grid"))

    def build(self, config):
        """The empty model a config describes."""
        lagrangian = config.model == "lnn"
        return build_model(self.state_dim, config.hidden_dim,
                           config.lnn_nonlinearity if lagrangian else config.nonlinearity,
                           baseline=config.model == "baseline",
                           dissipative=config.model == "dhnn", separable=config.model == "shnn",
                           second_order=config.model == "node2", lagrangian=lagrangian,
                           mass_matrix=self.mass_matrix)

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
        return run_name(self.name, self.run_model(config), config.seed)

    def run_model(self, config):
        """The model part of the run's name, which says how it was trained (`run_model`)."""
        return run_model(config.model, config.loss, config.infer_starts)

    def stored_config(self, config):
        """What identifies the run's results: the task's name and every setting."""
        return {"task": self.name, **stored_config(config)}

    def is_up_to_date(self, config):
        """True if this run is saved in `config.save_dir` with the same settings: its `.json`
        and its checkpoint both hold this config, the checkpoint loads into the model, and its
        metrics are the `.json`'s (so the two files come from the same training)."""
        stored = self.stored_config(config)
        if not is_up_to_date(config.save_dir, self.run_name(config), stored):
            return False
        runs = RunsFolder(config.save_dir)
        try:
            _, ckpt = runs.load(self, self.run_model(config), config.seed)
            saved = runs.metrics(self, self.run_model(config), config.seed)
        except (OSError, ValueError):
            return False
        return ckpt["config"] == stored and ckpt["metrics"] == {
            k: v for k, v in saved.items() if k not in BOOKKEEPING}

    def run(self, config):
        """Make the data, train a model, evaluate it and save the run; returns its metrics.

        A model whose evaluation rollouts fail (`FloatingPointError`: they became non-finite, or
        an LNN met a singular ∂²L/∂q̇²) is saved with the reason under `diverged` in place of
        its rollout metrics, and the tables say "diverged".

        Writes `{save_dir}/{task}-{model}-seed{N}.pt` and `.json` (see `hnn.runs`)."""
        if config.model == "lnn" and self.mass_matrix is None:
            raise ValueError(f"task {self.name} cannot train --model lnn: it declares no "
                             f"mass_matrix (the map from its states' momenta to velocities, "
                             f"p = M(q) dq/dt), so a Lagrangian has no velocities to act on")
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
        train, validation, test = self.training_data(dataset, config)
        if config.loss == "rollout":
            loss, fitted, extra = self.rollout_training(dataset, config)
        else:
            loss, fitted, extra = self.loss, (train, validation, test), ()
        tracked, snapshots = tracked_steps(config), {}
        clock = time.perf_counter()

        def snapshot(step, kept):
            if step in tracked:
                snapshots[step] = (time.perf_counter() - clock,
                                   {k: v.detach().clone() for k, v in kept.state_dict().items()})
        curves = fit(model, loss, fitted[0], fitted[2], total_steps=config.total_steps,
                     learn_rate=config.learn_rate, weight_decay=config.weight_decay,
                     batch_size=config.batch_size, seed=config.seed, quiet=config.quiet,
                     desc=self.run_name(config), schedule=config.lr_schedule,
                     lr_final=config.lr_final, ema_decay=config.ema_decay,
                     clip_grad=config.clip_grad, validation=fitted[1],
                     on_step=snapshot if tracked else None,
                     test_loss_fn=getattr(loss, "held_out", None), extra_params=extra)
        metrics = {"train_loss": self.loss_summary(model, train),
                   "test_loss": self.loss_summary(model, test)}
        metrics.update(self.rollout_metrics(model, dataset, config))
        if snapshots:
            curves["tracked"] = self.score_snapshots(snapshots, dataset, test, config)
        save_run(config.save_dir, self.run_name(config), model, self.stored_config(config),
                 curves, metrics, started, quiet=config.quiet)
        return metrics

    def training_data(self, dataset, config):
        """(train, validation or None, test) tensors on the config's device: `splits`, the
        training split cut to its first `train_trajectories` trajectories, then the last
        `val_fraction` of its rows held out for validation."""
        train, test = (to_tensors(split, config.device) for split in self.splits(dataset))
        if config.train_trajectories:
            train = first_trajectories(train, config.train_trajectories,
                                       self.rows_per_trajectory(config))
        train, validation = carve_validation(train, config.val_fraction)
        return train, validation, test

    def trajectory_data(self, dataset, config):
        """(train, validation or None, test, dt) of --loss rollout: dicts of the trajectories
        `(n, T, d)` ("trajectories") and their rows ("index"), cut and carved as
        `training_data` cuts rows (whole trajectories), and the time step."""
        try:
            train, test, dt = self.trajectories(dataset, config)
        except NotImplementedError as err:
            raise ValueError(f"--loss rollout needs trajectories, and task {self.name} has none: "
                             f"{err}") from None
        train, test = (to_tensors({"trajectories": split}, config.device)
                       for split in (train, test))
        if config.train_trajectories:
            train = first_trajectories(train, config.train_trajectories, 1)
        train, validation = carve_validation(train, config.val_fraction)
        for split in (train, validation, test):
            if split is not None:
                split["index"] = torch.arange(len(split["trajectories"]), device=config.device)
        return train, validation, test, dt

    def rollout_training(self, dataset, config):
        """(loss, (train, validation, test), extra parameters) of --loss rollout: a
        `hnn.trajectories.RolloutLoss` over the task's trajectories, and with --infer-starts its
        inferred starts (trained with the model when --iso-method joint)."""
        train, validation, test, dt = self.trajectory_data(dataset, config)
        loss = RolloutLoss(dt, config.horizon, config.train_integrator, config.train_substeps,
                           config.rollout_norm, seed=config.seed)
        for name, split in (("training", train), ("validation", validation), ("test", test)):
            if split is not None:
                loss.check(split["trajectories"], name)
        extra = ()
        if config.infer_starts:
            starts = loss.infer_starts(train["trajectories"], config.iso_method,
                                       config.total_steps)
            extra = (starts,) if config.iso_method == "joint" else ()
        return loss, (train, validation, test), extra

    def rollout_metrics(self, model, dataset, config):
        """`evaluate`, or `{"diverged": reason}` if its rollouts fail (`FloatingPointError`)."""
        try:
            return self.evaluate(model, dataset, config)
        except FloatingPointError as err:     # a rollout that blows up, or a singular LNN
            return {"diverged": str(err)}

    def score_snapshots(self, snapshots, dataset, test, config):
        """{"step", "seconds", "test_loss", "energy_mse", "state_mse"} (lists) of the models
        `snapshots` holds ({step: (training seconds, state_dict)}); None where one diverged."""
        scored = {"step": [], "seconds": [], "test_loss": [], "energy_mse": [], "state_mse": []}
        model = self.build(config).to(config.device)
        for step, (seconds, state) in sorted(snapshots.items()):
            model.load_state_dict(state)
            metrics = self.rollout_metrics(model, dataset, config)
            scored["step"].append(step)
            scored["seconds"].append(seconds)
            scored["test_loss"].append(self.loss_summary(model, test)["mean"])
            for key in ("energy_mse", "state_mse"):
                scored[key].append(metrics[key]["mean"] if key in metrics else None)
        return scored

    def main(self, argv=None, epilog=None, defaults=None):
        """The command line of `train.py`: parse the flags (over `defaults`, by default the
        task's), then run (or skip an up-to-date run)."""
        config, options = parse_config(
            defaults or self.defaults, argv, self.quick, epilog=epilog,
            description=f"Train one model on the task {self.name}: {self.title}.")
        if options.skip_existing and self.is_up_to_date(config):
            if not config.quiet:
                print(f"{self.run_name(config)} is up to date in {config.save_dir}")
            return None
        return self.run(config)


def first_trajectories(train, count, rows):
    """The first `count` trajectories (`rows` rows each) of the training split."""
    available = len(next(iter(train.values()))) // rows
    if count > available:
        raise ValueError(f"--train-trajectories {count} asks for more than the {available} "
                         f"training trajectories the data hold; raise the dataset's size")
    return {k: v[:count * rows] for k, v in train.items()}


def carve_validation(train, fraction):
    """(train, validation): the last `fraction` of the training rows (in order, so whole
    trajectories where rows are in trajectory order) held out, or (train, None) for 0."""
    if not fraction:
        return train, None
    n = len(next(iter(train.values())))
    keep = int(round(n * (1 - fraction)))
    if not 0 < keep < n:
        raise ValueError(f"--val-fraction {fraction} of {n} training rows leaves {keep} to train "
                         f"and {n - keep} to validate; each needs at least one")
    return ({k: v[:keep] for k, v in train.items()}, {k: v[keep:] for k, v in train.items()})


def tracked_steps(config):
    """The steps at which a run scores its model along training: each of the last `track_last`,
    and `track_points` evenly spaced ones from the first to the last."""
    last = range(max(config.total_steps - config.track_last + 1, 0), config.total_steps + 1)
    steps = set(last) if config.track_last else set()
    if config.track_points:
        steps |= {int(round(s)) for s in np.linspace(0, config.total_steps, config.track_points)}
    return steps


@dataclasses.dataclass
class HamiltonianConfig(TrainConfig):
    """`TrainConfig` plus the data settings of `HamiltonianTask`."""

    samples: int = arg(50, "trajectories in the dataset")
    noise_std: float = arg(0.1, "std of the Gaussian noise on the inputs (the targets stay clean)")

    def rules(self):
        return super().rules() + [
            ("samples", self.samples >= 2, "at least 2 (one trajectory to train, one to test)"),
            ("noise_std", 0 <= self.noise_std < float("inf"), "finite and at least 0"),
        ]


def _repo_path(path):
    relative = os.path.relpath(path, REPO_ROOT)
    return path if relative.startswith(os.pardir) else relative


def hamiltonian_field(hamiltonian, state_dim):
    """The field [dH/dp, -dH/dq] of `hamiltonian`, by autograd in float64: a function of numpy
    states `(..., state_dim)`. `hamiltonian` must take torch tensors (operators or torch
    functions) and return `(...)`."""
    n = state_dim // 2

    def field(x):
        x = torch.tensor(np.asarray(x, dtype=np.float64), requires_grad=True)
        try:
            with torch.enable_grad():           # callers may be under torch.no_grad()
                energy = hamiltonian(x)
                (grad,) = torch.autograd.grad(energy.sum(), x)
        except (TypeError, RuntimeError, AttributeError) as err:
            raise TypeError("the field is derived from the hamiltonian by autograd, so the "
                            "hamiltonian must take torch tensors (use operators or torch "
                            f"functions), or pass dynamics=; it failed with: {err}") from err
        grad = grad.numpy()
        return np.concatenate([grad[..., n:], -grad[..., :n]], axis=-1)
    return field


class HamiltonianTask(Task):
    """A system with a known Hamiltonian and `state_dim // 2` degrees of freedom, states
    `[q_1..q_n, p_1..p_n]`.

    Data, the paper's recipe: `samples` starts from `starts(rng, n) -> (n, d)`, trajectories
    sampled on `t_span` at `points_per_unit` points per time unit, targets from the exact field
    at the clean states, Gaussian noise of `noise_std` on the inputs, and the first
    `train_fraction` of points (in trajectory order) train. The energy and state MSE roll the
    model out from `eval_trajectories` starts drawn by `eval_starts` (default `starts`) with
    `eval_seed` (the same for every training seed), over `eval_points` times in [0, eval_t_end],
    against `eval_solution` (default `solution`).

    Physics on numpy states: `hamiltonian(x (..., d)) -> (...)`; `dynamics(x) -> (..., d)`
    (default: the field of `hamiltonian` by autograd, which then must take torch tensors too);
    `solution(x0 (batch, d), t (T,)) -> (batch, T, d)` (default: scipy's solve_ivp of
    `dynamics`). `linear=True` declares the field linear, x' = A x (see `least_squares_reference`).
    `plot_limit` bounds the figures' phase-space axes. `mass_matrix` (see `Task`) is by default
    derived from `hamiltonian` by autograd where H = ½ pᵀ M(q)⁻¹ p + V(q) takes torch tensors.
    `cache=True` keeps each dataset as an `.npz` (`hnn.cache`), for systems whose trajectories are
    slow to solve; its key holds the data settings and a digest of the source files that define
    the data (`data_sources`), so an edit to the physics makes it anew.
    """

    def __init__(self, name, title, defaults, *, state_dim, hamiltonian, starts, t_span,
                 points_per_unit, dynamics=None, solution=None, train_fraction=0.5,
                 eval_starts=None, eval_t_end=20.0, eval_points=100, eval_seed=1000,
                 eval_trajectories=15, eval_solution=None, plot_limit=2.0, linear=False,
                 mass_matrix=None, cache=False, **kwargs):
        if not isinstance(defaults, HamiltonianConfig):
            raise TypeError(f"task {name}: defaults must be a HamiltonianConfig, "
                            f"got {type(defaults)}")
        if mass_matrix is None and isinstance(state_dim, int) and state_dim % 2 == 0:
            mass_matrix = mass_matrix_from_hamiltonian(hamiltonian, state_dim // 2)
        super().__init__(name, title, defaults, state_dim=state_dim, mass_matrix=mass_matrix,
                         **kwargs)
        if not 0 < train_fraction < 1:
            raise ValueError(f"task {name}: train_fraction must be in (0, 1), got {train_fraction}")
        if eval_trajectories < 5 or eval_trajectories % 5:
            raise ValueError(f"task {name}: eval_trajectories must be a multiple of 5 (the energy "
                             f"MSE's error splits the trajectories into 5 groups), got "
                             f"{eval_trajectories}")
        self.hamiltonian, self.starts = hamiltonian, starts
        self.dynamics = dynamics or hamiltonian_field(hamiltonian, state_dim)
        if dynamics is None:             # fail now, not after the data are half made
            try:
                self.dynamics(np.zeros((1, state_dim)))
            except TypeError as err:
                raise TypeError(f"task {name}: {err}") from None
        self.solution = solution or (lambda x0, t: solve_batch(self.dynamics, x0, t))
        self.eval_solution = eval_solution or self.solution
        self.eval_starts = eval_starts or starts
        self.t = np.linspace(*t_span, int(points_per_unit * (t_span[1] - t_span[0])))
        self.train_fraction = train_fraction
        self.eval_t = np.linspace(0, eval_t_end, eval_points)
        self.eval_seed, self.eval_trajectories = eval_seed, eval_trajectories
        self.plot_limit, self.linear = plot_limit, linear
        self.caches_data = cache
        self._sources = {"hamiltonian": hamiltonian, "starts": starts, "dynamics": dynamics,
                         "solution": solution}
        if cache:
            self.data_sources()                  # fail now if a source file cannot be found

    def dataset(self, config):
        """`x, dx, test_x, test_dx`, each `(N, d)`, and the sample times `t`; cached with
        `cache=True`."""
        def make():
            rng = np.random.default_rng(config.seed)
            return trajectory_dataset(rng, self.solution, self.dynamics,
                                      self.starts(rng, config.samples), self.t, config.noise_std,
                                      self.train_fraction)
        if not self.caches_data:
            return make()
        settings = {"seed": config.seed, "samples": config.samples,
                    "noise_std": config.noise_std, "train_fraction": self.train_fraction,
                    "t": [float(self.t[0]), float(self.t[-1]), len(self.t)],
                    "sources": self.data_sources()}
        return cached(f"{self.name}-trajectories", settings, make, quiet=config.quiet)

    def data_sources(self):
        """{file: sha256} of the source files that define the data: the task's class, its
        physics functions, and the recipe (`hnn.tasks`, `hnn.data`); paths within the repository
        are relative to it."""
        files = {os.path.abspath(inspect.getsourcefile(f))
                 for f in (type(self), hamiltonian_field, trajectory_dataset)}
        for label, function in self._sources.items():
            try:
                files.add(os.path.abspath(inspect.getsourcefile(function)))
            except TypeError:
                if function is not None:
                    raise TypeError(f"task {self.name}: cache=True keys the data by the source "
                                    f"files of its physics, and {label}= ({function!r}) has "
                                    f"none; pass a function defined in a file") from None
        return {_repo_path(path): file_digest(path) for path in sorted(files)}

    def rows_per_trajectory(self, config):
        return len(self.t)

    def evaluation_starts(self):
        """The energy MSE's starts `(n, d)`, from the fixed evaluation seed."""
        return self.eval_starts(np.random.default_rng(self.eval_seed), self.eval_trajectories)

    def evaluation_trajectories(self):
        """Starts `(n, d)`, times `(T,)` and true trajectories `(n, T, d)` of the energy MSE."""
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
        """The metrics of the linear field x' = A x (`A` (d, d)), rolled out exactly from the
        evaluation starts: `energy_mse`, `state_mse` and `divergence` (trace A)."""
        import scipy.linalg

        x0, t, truth = self.evaluation_trajectories()
        states = np.einsum("tij,bj->bti", np.stack([scipy.linalg.expm(A * ti) for ti in t]), x0)
        return {"energy_mse": float(np.mean((self.hamiltonian(states)
                                             - self.hamiltonian(truth)) ** 2)),
                "state_mse": float(np.mean((states - truth) ** 2)),
                "divergence": float(np.trace(A))}

    def least_squares_reference(self, seed, **overrides):
        """`linear_field_metrics` of the A that fits the training data of `seed` (and the config
        `overrides`) by least squares: what an L2 fit of a linear field's exact form reaches."""
        dataset = self.dataset(self.config(seed=seed, **overrides))
        return self.linear_field_metrics(
            np.linalg.lstsq(dataset["x"], dataset["dx"], rcond=None)[0].T)

    def figures(self, runs, figures_dir, seed=0):
        """`{task}-rollouts-seed{seed}.png`: the true energy and the (q_1, p_1) projection along
        the first evaluation rollout of the truth and each saved model."""
        from .plots import rollout_projection_figure, save_figure
        models = {kind: model for kind, (model, _) in runs.load_models(self, seed).items()}
        x0, t, truth = self.evaluation_trajectories()
        fig = rollout_projection_figure(self.title, self.hamiltonian, x0[:1], t, truth[:1], models)
        return [save_figure(fig, os.path.join(figures_dir, f"{self.name}-rollouts-seed{seed}.png"))]


class OneDofTask(HamiltonianTask):
    """A system with one degree of freedom, state `[q, p]`, and the paper's spring and pendulum
    recipe: starts on a ring of phase-space radii `radius`, evaluation starts with each
    component in ±[0.2, 1] (`hnn.data.evaluation_states`). Its figures: learned vs true H, a
    rollout and its energy (`{task}-phase-seed{N}.png`), and the true, baseline and HNN fields
    (`{task}-field-seed{N}.png`, the paper's Figure 2)."""

    def __init__(self, name, title, defaults, *, radius, dynamics, solution, **kwargs):
        super().__init__(name, title, defaults, state_dim=2, dynamics=dynamics, solution=solution,
                         starts=lambda rng, n: ring_states(rng, n, *radius),
                         eval_starts=evaluation_states, **kwargs)
        self.radius = radius

    def figures(self, runs, figures_dir, seed=0):
        from .plots import phase_space_figure, save_figure, vector_field_figure
        models = {kind: model for kind, (model, _) in runs.load_models(self, seed).items()}
        x0 = self.evaluation_trajectories()[0][0]
        fig = phase_space_figure(self.title, self.hamiltonian, self.solution, models, x0,
                                 limit=self.plot_limit)
        field = vector_field_figure(f"{self.title}: dx/dt", self.dynamics,
                                    {k: models[k] for k in ("baseline", "hnn")}, self.plot_limit)
        return [save_figure(fig, os.path.join(figures_dir, f"{self.name}-phase-seed{seed}.png")),
                save_figure(field, os.path.join(figures_dir, f"{self.name}-field-seed{seed}.png"))]
