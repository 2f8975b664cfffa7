"""Run configurations: typed dataclasses whose fields are the command-line flags.

A task declares its settings as a dataclass derived from `TrainConfig`, each field made by
`arg(default, help)`, and an instance of it holding the task's defaults. `parse_config` turns
`--flag value` arguments into a new instance; every field is a flag (`hidden_dim` is
`--hidden-dim`) and every flag has its help string.
"""
import argparse
import dataclasses
import os
import re
import typing

from .integrate import INTEGRATORS, SEPARABLE_INTEGRATORS
from .mlp import NONLINEARITIES
from .training import SCHEDULES

MODELS = ("hnn", "baseline", "dhnn", "shnn", "node2", "lnn")
LOSSES = ("derivative", "rollout")
ROLLOUT_NORMS = ("l2", "l1")
ISO_METHODS = ("alternating", "joint")
SMOOTH = ("tanh", "softplus", "sigmoid", "elu", "selu", "swish")    # twice differentiable enough
# Fields that say where and how a run executes; they are left out of the stored config, so
# changing them never makes a saved run stale. The thread count is stored: it changes the last
# bits of the numbers (MKL splits sums by thread).
RUNTIME_FIELDS = ("device", "save_dir", "quiet")
# Named setting profiles beside the paper's protocol (`--profile NAME`); the end-of-training study
# measured which options remove the end-step lottery (docs/training.md).
PROFILES = {"robust": {"lr_schedule": "cosine", "ema_decay": 0.99}}
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class ConfigError(ValueError):
    """A setting outside its sane range; `field` names it."""

    def __init__(self, field, value, expected):
        super().__init__(f"{_flag(field)} must be {expected}, got {value!r}")
        self.field = field


def arg(default, help, stored_if_default=True):
    """A config field with its default and its `--help` text. `stored_if_default=False` leaves
    the field out of a run's stored config while it holds its default, so that a setting added
    later does not make the runs saved before it stale."""
    return dataclasses.field(default=default,
                             metadata={"help": help, "stored_if_default": stored_if_default})


@dataclasses.dataclass
class TrainConfig:
    """Settings every task shares: which model, how it is trained and where the run goes."""

    seed: int = arg(0, "seed of the initial weights, the minibatches and the task's random data")
    model: str = arg("hnn", "the model to train: hnn, baseline (an MLP for dx/dt), dhnn (the "
                            "dissipative HNN: a learned H and a learned dissipation D), shnn "
                            "(the separable HNN: H = T(p) + V(q), two MLPs), node2 (NODE + SO: "
                            "dq/dt = M^-1(q) p with a learned mass matrix, dp/dt an MLP) or lnn "
                            "(a Lagrangian network: a learned L(q, dq/dt), Euler-Lagrange motion)")
    hidden_dim: int = arg(200, "hidden units per layer of every MLP")
    nonlinearity: str = arg("tanh", "activation of the dynamics MLP (tanh, relu, softplus, ...)")
    lnn_nonlinearity: str = arg("softplus", "activation of the LNN's Lagrangian MLP (--model lnn); "
                                            "smooth, since the motion takes L's second "
                                            "derivatives", stored_if_default=False)
    learn_rate: float = arg(1e-3, "Adam learning rate")
    weight_decay: float = arg(0.0, "Adam L2 weight decay")
    total_steps: int = arg(2000, "training steps (total_steps + 1 updates, as the original)")
    batch_size: int = arg(0, "minibatch size; 0 trains on the full batch")
    lr_schedule: str = arg("constant", "learning-rate schedule: constant (the paper's), cosine "
                                       "(down to --lr-final x the rate at the last step) or step "
                                       "(x sqrt(lr-final) from 50%% of the steps, x lr-final from "
                                       "75%%)", stored_if_default=False)
    lr_final: float = arg(0.01, "the schedule's last learning rate, as a fraction of "
                                "--learn-rate", stored_if_default=False)
    ema_decay: float = arg(0.0, "keep an exponential moving average of the weights with this "
                                "decay per step, and use it (0: off, the paper's)",
                           stored_if_default=False)
    clip_grad: float = arg(0.0, "clip the gradients' total norm to this before each step (0: "
                                "off)", stored_if_default=False)
    val_fraction: float = arg(0.0, "hold out this fraction of the training rows (the last ones) "
                                   "and keep the weights of the lowest loss on them (0: off; "
                                   "the test split is never used)", stored_if_default=False)
    train_trajectories: int = arg(0, "train on the first N trajectories of the training split "
                                     "only (0: all); the test split stays whole",
                                  stored_if_default=False)
    track_last: int = arg(0, "also score the model (test loss, energy and state MSE) at each of "
                             "the last N steps, into the checkpoint's curves; the final metrics "
                             "do not change", stored_if_default=False)
    track_points: int = arg(0, "also score the model at N evenly spaced steps along training "
                               "(the first and the last included), into the checkpoint's curves "
                               "(0: off)", stored_if_default=False)
    loss: str = arg("derivative", "how the model learns: derivative (the paper's: L2 between its "
                                  "field and the observed time derivatives) or rollout (integrate "
                                  "it over --horizon observed steps from an observed start and "
                                  "compare the path with the observations; no derivatives)",
                    stored_if_default=False)
    horizon: int = arg(5, "--loss rollout: observed steps K of each training chunk",
                       stored_if_default=False)
    train_integrator: str = arg("rk4", "--loss rollout: integrator of the training rollouts (rk4, "
                                       "midpoint, yoshida4, euler; leapfrog or yoshida4-leapfrog "
                                       "for --model shnn)", stored_if_default=False)
    train_substeps: int = arg(1, "--loss rollout: integrator steps per observed interval",
                              stored_if_default=False)
    rollout_norm: str = arg("l2", "--loss rollout: l2 (mean squared) or l1 (mean absolute) error "
                                  "between the path and the observations",
                            stored_if_default=False)
    infer_starts: bool = arg(False, "--loss rollout: fit each chunk's start as a parameter "
                                    "(initial-state optimisation) instead of taking its noisy "
                                    "observation", stored_if_default=False)
    iso_method: str = arg("alternating", "--infer-starts: alternating (every start refitted by "
                                         "L-BFGS with the model fixed, 20 times along training) "
                                         "or joint (the starts trained with the model by Adam)",
                          stored_if_default=False)
    eval_substeps: int = arg(10, "integrator steps per output interval of the evaluation rollouts")
    eval_integrator: str = arg("rk4", "integrator of the evaluation rollouts: rk4 (the paper's "
                                      "numbers), midpoint or yoshida4 (symplectic, any H), "
                                      "leapfrog or yoshida4-leapfrog (the separable HNN only), "
                                      "euler")
    device: str = arg("cpu", "torch device: cpu or cuda")
    threads: int = arg(1, "torch CPU threads (0: torch's default, one per core). The thread "
                          "count changes the last bits of the numbers; the committed ones use 1")
    save_dir: str = arg(os.path.join(REPO_ROOT, "results", "runs"),
                        "folder of the run's checkpoint (.pt) and metrics (.json)")
    quiet: bool = arg(False, "no progress bar or summary")

    def __post_init__(self):
        for name, ok, expected in self.rules():
            if not ok:
                raise ConfigError(name, getattr(self, name), expected)

    def integrator_rules(self, field):
        """The checks of an integrator setting `field`: a known name, and a separable one only
        for the separable HNN."""
        name = getattr(self, field)
        return [(field, name in INTEGRATORS, f"one of {', '.join(INTEGRATORS)}"),
                (field, name not in SEPARABLE_INTEGRATORS or self.model == "shnn",
                 "an integrator for any field unless --model shnn (leapfrog needs a separable H)")]

    def rules(self):
        """(field, holds, what is expected) for every range check; a subclass extends the list."""
        return [
            ("seed", 0 <= self.seed < 2 ** 32, "an integer in 0 ... 2**32 - 1"),
            ("model", self.model in MODELS, f"one of {', '.join(MODELS)}"),
            ("hidden_dim", self.hidden_dim >= 1, "at least 1"),
            ("nonlinearity", self.nonlinearity in NONLINEARITIES,
             f"one of {', '.join(sorted(NONLINEARITIES))}"),
            ("lnn_nonlinearity", self.lnn_nonlinearity in SMOOTH,
             f"a smooth activation, one of {', '.join(SMOOTH)}"),
            ("learn_rate", 0 < self.learn_rate <= 1, "in (0, 1]"),
            ("weight_decay", 0 <= self.weight_decay < float("inf"), "finite and at least 0"),
            ("total_steps", self.total_steps >= 0, "at least 0"),
            ("lr_schedule", self.lr_schedule in SCHEDULES, f"one of {', '.join(SCHEDULES)}"),
            ("lr_final", 0 < self.lr_final <= 1, "in (0, 1]"),
            ("ema_decay", 0 <= self.ema_decay < 1, "in [0, 1) (0: off)"),
            ("clip_grad", 0 <= self.clip_grad < float("inf"), "finite and at least 0 (0: off)"),
            ("val_fraction", 0 <= self.val_fraction < 1, "in [0, 1) (0: off)"),
            ("train_trajectories", self.train_trajectories >= 0, "at least 0 (0: all)"),
            ("track_last", self.track_last >= 0, "at least 0 (0: off)"),
            ("track_points", self.track_points >= 0, "at least 0 (0: off)"),
            ("batch_size", self.batch_size >= 0, "at least 0 (0: full batch)"),
            ("loss", self.loss in LOSSES, f"one of {', '.join(LOSSES)}"),
            ("horizon", self.horizon >= 1, "at least 1"),
            *self.integrator_rules("train_integrator"),
            ("train_substeps", self.train_substeps >= 1, "at least 1"),
            ("rollout_norm", self.rollout_norm in ROLLOUT_NORMS,
             f"one of {', '.join(ROLLOUT_NORMS)}"),
            ("infer_starts", not self.infer_starts or self.loss == "rollout",
             "off unless --loss rollout (it fits the starts of rollout chunks)"),
            ("iso_method", self.iso_method in ISO_METHODS, f"one of {', '.join(ISO_METHODS)}"),
            ("eval_substeps", self.eval_substeps >= 1, "at least 1"),
            *self.integrator_rules("eval_integrator"),
            ("threads", self.threads >= 0, "at least 0 (0: torch's default)"),
            ("device", re.fullmatch(r"cpu|cuda(:\d+)?", self.device) is not None,
             "cpu, cuda or cuda:N"),
        ]


CHOICES = {"model": MODELS, "eval_integrator": INTEGRATORS, "loss": LOSSES,
           "train_integrator": INTEGRATORS, "rollout_norm": ROLLOUT_NORMS,
           "iso_method": ISO_METHODS}


def run_model(model, loss="derivative", infer_starts=False):
    """The model part of a run's name: the model, then how it was trained where that is not the
    paper's derivative matching (`hnn`, `hnn+rollout`, `hnn+rollout+iso`), so that runs trained
    differently never share files."""
    return model + ("" if loss == "derivative" else "+" + loss) + ("+iso" if infer_starts else "")


def split_run_model(key):
    """(model, {setting: value}) of a `run_model` key; ValueError for an unknown part."""
    model, *parts = key.split("+")
    settings = {}
    for part in parts:
        if part in LOSSES and part != "derivative" and "loss" not in settings:
            settings["loss"] = part
        elif part == "iso" and settings.get("loss") == "rollout" and "infer_starts" not in settings:
            settings["infer_starts"] = True
        else:
            raise ValueError(f"run model {key!r}: expected a model, then +rollout and then +iso, "
                             f"got the part {part!r}")
    return model, settings


def _flag(name):
    return "--" + name.replace("_", "-")


def _field_type(config_class, field):
    kind = typing.get_type_hints(config_class)[field.name]
    if kind not in (int, float, str, bool):
        raise TypeError(f"config field {field.name} has type {kind}; "
                        f"flags take int, float, str or bool")
    return kind


def add_config_flags(parser, defaults):
    """Add one flag per field of the dataclass instance `defaults`, its value the default."""
    for field in dataclasses.fields(defaults):
        kind = _field_type(type(defaults), field)
        value = getattr(defaults, field.name)
        help_text = field.metadata.get("help", "").replace("%", "%%")     # argparse formats help
        if not help_text:
            raise ValueError(f"config field {field.name} has no help string; declare it with arg()")
        if kind is bool:
            parser.add_argument(_flag(field.name), action=argparse.BooleanOptionalAction,
                                default=value, help=help_text)
        elif field.name in CHOICES:
            parser.add_argument(_flag(field.name), choices=CHOICES[field.name],
                                default=value, help=help_text + " (default: %(default)s)")
        else:
            parser.add_argument(_flag(field.name), type=kind, default=value,
                                help=help_text + " (default: %(default)s)")


def config_parser(defaults, quick=None, description=None, epilog=None):
    """The parser of a `train.py`: a flag per setting of `defaults`, and `--baseline`, `--quick`
    and `--skip-existing`."""
    parser = argparse.ArgumentParser(description=description, epilog=epilog)
    parser.add_argument("--baseline", action="store_true", help="short for --model baseline")
    parser.add_argument("--separable", action="store_true", help="short for --model shnn")
    parser.add_argument("--quick", action="store_true",
                        help="tiny profile for smoke runs: " + ", ".join(
                            f"{key}={value}" for key, value in (quick or {}).items()))
    parser.add_argument("--skip-existing", action="store_true",
                        help="do nothing if this run is already saved with the same settings")
    parser.add_argument("--profile", choices=sorted(PROFILES), default=None,
                        help="a named set of settings beside the paper's protocol: " + "; ".join(
                            f"{name}: " + ", ".join(f"{k}={v}" for k, v in values.items())
                            for name, values in PROFILES.items()))
    add_config_flags(parser, defaults)
    return parser


def parse_config(defaults, argv=None, quick=None, description=None, epilog=None):
    """A config from `argv`: `defaults` (a dataclass instance) with the flags applied.

    `--quick` first applies the `quick` overrides (a tiny profile for smoke runs), then
    `--profile NAME` the settings of `PROFILES[NAME]`, then the flags; `--baseline` is short for
    `--model baseline`. Returns `(config, options)`, options holding the flags that
    are not settings (`quick`, `skip_existing`). A setting out of range exits with a usage error
    naming the flag."""
    parser = config_parser(defaults, quick, description, epilog)
    known = parser.parse_known_args(argv)[0]
    if known.quick:
        parser.set_defaults(**(quick or {}))
    if known.profile:
        parser.set_defaults(**PROFILES[known.profile])
    values = vars(parser.parse_args(argv))
    options = argparse.Namespace(quick=values.pop("quick"), profile=values.pop("profile"),
                                 skip_existing=values.pop("skip_existing"))
    for alias, model in (("baseline", "baseline"), ("separable", "shnn")):
        if values.pop(alias):
            values["model"] = model
    try:
        return dataclasses.replace(defaults, **values), options
    except ConfigError as err:
        parser.error(str(err))


def stored_config(config):
    """The settings that determine a run's results, as a plain dict (no runtime fields, and no
    field declared `stored_if_default=False` that holds its default)."""
    omitted = {field.name for field in dataclasses.fields(config)
               if not field.metadata.get("stored_if_default", True)
               and getattr(config, field.name) == field.default}
    return {k: v for k, v in dataclasses.asdict(config).items()
            if k not in RUNTIME_FIELDS and k not in omitted}
