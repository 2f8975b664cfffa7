"""Hamiltonian Neural Networks (Greydanus, Dzamba & Yosinski, 2019) in PyTorch.

States are vectors `[q_1..q_n, p_1..p_n]`; batches are `(batch, 2n)`. The library knows no
experiment: experiment folders declare `Task`s (see `hnn.tasks`), which `hnn.experiments` finds.

Importing `hnn` turns on MKL's conditional numerical reproducibility (`MKL_CBWR=AUTO`, fixed
thread count) unless the environment already sets it, so that one command gives the same bits in
every run; it takes effect if no MKL routine has run yet in the process.
"""
import os

os.environ.setdefault("MKL_CBWR", "AUTO")
os.environ.setdefault("MKL_DYNAMIC", "FALSE")

from .autoencoder import MLPAutoencoder, PixelModel, build_pixel_model
from .checkpoint import load_checkpoint, load_state, save_checkpoint, write_json
from .config import TrainConfig, arg, parse_config
from .integrate import (
    RK4,
    ConvergenceError,
    Euler,
    ImplicitMidpoint,
    Leapfrog,
    SeparableField,
    Yoshida4,
    get_integrator,
    odeint,
    solve_ivp_reference,
    split_qp,
)
from .metrics import (
    bootstrap_stderr,
    energy_distance,
    energy_mse,
    loss_summary,
    mean_stderr,
    rollout,
    rollout_errors,
    summarize,
    valid_prediction_time,
)
from .mlp import MLP
from .models import HNN, Baseline, SeparableHNN, build_model, symplectic_gradient
from .runs import RunsFolder
from .studies import Context, RunSet, Study
from .tasks import (
    EXTENSION,
    TABLE_1,
    TABLE_2,
    HamiltonianConfig,
    HamiltonianTask,
    Note,
    OneDofTask,
    Reference,
    SampleSizes,
    Task,
    TimeReversal,
    TrajectoryStudy,
)
from .training import derivative_loss, fit

__all__ = [
    "MLP", "HNN", "Baseline", "SeparableHNN", "build_model", "symplectic_gradient",
    "MLPAutoencoder", "PixelModel", "build_pixel_model",
    "RK4", "Euler", "odeint", "solve_ivp_reference",
    "Leapfrog", "ImplicitMidpoint", "Yoshida4", "ConvergenceError", "SeparableField", "split_qp",
    "get_integrator",
    "fit", "derivative_loss",
    "mean_stderr", "bootstrap_stderr", "summarize", "loss_summary", "rollout", "rollout_errors",
    "energy_distance", "energy_mse", "valid_prediction_time",
    "save_checkpoint", "load_checkpoint", "load_state", "write_json",
    "TrainConfig", "arg", "parse_config",
    "Task", "HamiltonianTask", "HamiltonianConfig", "OneDofTask", "Reference", "Note",
    "SampleSizes",
    "TimeReversal", "TrajectoryStudy",
    "TABLE_1", "TABLE_2", "EXTENSION", "RunsFolder", "Study", "RunSet", "Context",
]
