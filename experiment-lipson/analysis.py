"""Figures for the real pendulum: data vs baseline vs HNN over the test segment.

    make_figures(task, runs, figures_dir, seed=0)
        -> [paths of {task}-rollouts-seed{N}.png and {task}-field-seed{N}.png]

The dissipative HNN is drawn too when its run is saved.

Loads the saved `{task}-{hnn,baseline}-seed{N}.pt` runs from `runs` (an `hnn.runs.RunsFolder`).
"""
import os

import numpy as np

from hnn.metrics import rollout
from hnn.plots import COLORS, pyplot, save_figure, vector_field_figure

from . import data as lipson


def segment_rollouts(task, runs, seed=0):
    """Roll the saved models of `runs` (an `hnn.runs.RunsFolder`) out over the test segment
    from its first point.

    Returns `t` (110,), a dict of states `(110, 2)` for "data", "baseline" and "hnn", the runs'
    metrics, the loaded models and the dataset."""
    states, metrics, models = {}, {}, {}
    dataset = None
    for kind, (model, ckpt) in runs.load_models(task, seed).items():
        models[kind] = model
        config = ckpt["config"]
        if dataset is None:
            dataset = lipson.get_dataset(config["train_fraction"],
                                         derivative=config.get("derivative", "forward"))
            x0, t, truth = lipson.evaluation_segment(dataset)
            states["data"] = truth[0]
        states[kind] = rollout(model, x0, t, substeps=config["eval_substeps"])[0]
        metrics[kind] = ckpt["metrics"]
    return t, states, metrics, models, dataset


def make_figures(task, runs, figures_dir, seed=0):
    """Angle, phase portrait and energy H = 2.4 (1 - cos q) + p^2 over the test segment, for the
    data and both models' rollouts. Returns the list of written paths."""
    t, states, metrics, models, dataset = segment_rollouts(task, runs, seed)
    fig, axes = pyplot().subplots(1, 3, figsize=(13, 3.8))
    for name, x in states.items():
        label = name if name == "data" else (
            f"{name} (energy MSE {metrics[name]['energy_mse']['mean']:.2e})")
        style = dict(color=COLORS[name], lw=1.5, label=label)
        axes[0].plot(t, x[:, 0], **style)
        axes[1].plot(x[:, 0], x[:, 1], **style)
        axes[2].plot(t, lipson.hamiltonian(x), **style)
    axes[0].set(xlabel="time since start of test segment", ylabel="angle q (rad)", title="Angle")
    axes[1].set(xlabel="q", ylabel="p (angular velocity)", title="Phase space")
    axes[2].set(xlabel="time since start of test segment", ylabel="H = 2.4(1 - cos q) + p²",
                title="Energy")
    axes[0].legend(fontsize=8)
    fig.suptitle(f"{task.title} (Schmidt & Lipson): test segment, data vs the models' rollouts")
    fig.tight_layout()
    field = vector_field_figure(
        f"{task.title}: dx/dt, measured (every 4th training point) and learned",
        (dataset["x"][::4], dataset["dx"][::4]),
        {k: models[k] for k in ("baseline", "hnn", "dhnn") if k in models},
        limit=float(np.abs(dataset["x"]).max()))
    return [save_figure(fig, os.path.join(figures_dir, f"{task.name}-rollouts-seed{seed}.png")),
            save_figure(field, os.path.join(figures_dir, f"{task.name}-field-seed{seed}.png"))]
