"""Figures for the orbit tasks: truth vs baseline vs HNN on the first evaluation orbit (seed 0).

    make_figures(task, runs, figures_dir, seed=0) -> list of written paths

Writes `{task}-orbits-seed{N}.png` (trajectories and total energy over time) and
`{task}-orbits-seed{N}.gif` (the three orbits animated side by side).
"""
import os

import numpy as np

from hnn.metrics import rollout
from hnn.plots import COLORS, pyplot, save_figure, write_gif

from . import data as orbits

PANELS = ("truth", "baseline", "hnn")
TITLES = {"truth": "Ground truth", "baseline": "Baseline NN", "hnn": "Hamiltonian NN"}
BODY_COLORS = ("tab:orange", "tab:purple", "tab:green")
GIF_FRAMES = 100
GIF_FRAME_MS = 60
TRAIL = 40              # time points of trail behind each body in the GIF


def orbit_rollouts(task, runs):
    """The first evaluation orbit (seed 0's start) and both models' rollouts from it.

    `runs` maps "baseline" and "hnn" to (model, checkpoint), as `RunsFolder.load_models` gives.
    Returns `t` (T,), a dict of canonical states `(T, 4N)` for "truth", "baseline" and "hnn", and
    the runs' metrics."""
    states, metrics = {}, {}
    for kind, (model, ckpt) in runs.items():
        config = ckpt["config"]
        if "truth" not in states:
            x0, t, truth = orbits.evaluation_orbits(task.bodies, config["eval_points"],
                                                    (0.0, config["eval_t_end"]), n=1)
            states["truth"] = truth[0]
        states[kind] = rollout(model, x0, t, substeps=config["eval_substeps"])[0]
        metrics[kind] = ckpt["metrics"]
    return t, states, metrics


def _limits(states):
    q = np.concatenate([orbits.positions_momenta(x)[0].reshape(-1) for x in states.values()])
    q = q[np.isfinite(q)]
    bound = min(max(np.abs(q).max() * 1.1, 0.5), 5.0)
    return (-bound, bound)


def trajectory_figure(t, states, metrics, task, path):
    """Paths of the bodies in the plane for truth, baseline and HNN, and total energy over time."""
    bodies = states["truth"].shape[-1] // 4
    lim = _limits(states)
    fig, axes = pyplot().subplots(1, 4, figsize=(16, 4))
    for ax, name in zip(axes, PANELS):
        q, _ = orbits.positions_momenta(states[name])            # (T, 2, N)
        for body in range(bodies):
            ax.plot(q[:, 0, body], q[:, 1, body], color=BODY_COLORS[body], lw=1.2,
                    label=f"body {body + 1}")
            ax.plot(q[0, 0, body], q[0, 1, body], "o", color=BODY_COLORS[body], ms=5)
        ax.set(xlim=lim, ylim=lim, aspect="equal", xlabel="x", ylabel="y", title=TITLES[name])
    axes[0].legend(fontsize=8, loc="upper right")
    for name in PANELS:
        label = TITLES[name] if name == "truth" else (
            f"{TITLES[name]} (energy MSE {metrics[name]['energy_mse']['mean']:.1e})")
        axes[3].plot(t, orbits.total_energy(states[name]), color=COLORS[name], lw=1.5, label=label)
    axes[3].set(xlabel="time", ylabel="total energy H", title="Total energy")
    axes[3].legend(fontsize=8)
    fig.suptitle(f"{task}: orbit from evaluation seed 0")
    fig.tight_layout()
    return save_figure(fig, path)


def orbit_gif(states, task, path, frames=GIF_FRAMES):
    """An animated side-by-side comparison of the three orbits, like the paper's
    orbits-compare.gif."""
    bodies = states["truth"].shape[-1] // 4
    steps = len(states["truth"])
    lim = _limits(states)
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(9, 3.4), dpi=80)
    artists = {}
    for ax, name in zip(axes, PANELS):
        ax.set(xlim=lim, ylim=lim, aspect="equal", xticks=[], yticks=[],
               title=f"{task}: {TITLES[name]}")
        artists[name] = [(ax.plot([], [], color=BODY_COLORS[b], lw=1.5)[0],
                          ax.plot([], [], "o", color=BODY_COLORS[b], ms=7)[0])
                         for b in range(bodies)]
    fig.tight_layout()
    images = []
    for i in np.linspace(0, steps - 1, min(frames, steps)).astype(int):
        for name in PANELS:
            q, _ = orbits.positions_momenta(states[name][max(0, i - TRAIL):i + 1])
            for b, (trail, dot) in enumerate(artists[name]):
                trail.set_data(q[:, 0, b], q[:, 1, b])
                dot.set_data(q[-1:, 0, b], q[-1:, 1, b])
        fig.canvas.draw()
        images.append(np.asarray(fig.canvas.buffer_rgba())[..., :3].copy())
    plt.close(fig)
    return write_gif(path, images, GIF_FRAME_MS)


def make_figures(task, runs, figures_dir, seed=0):
    """Write the orbit task's figures from its two runs in `runs` (an `hnn.runs.RunsFolder`);
    returns their paths."""
    t, states, metrics = orbit_rollouts(task, runs.load_models(task, seed, ("baseline", "hnn")))
    stem = os.path.join(figures_dir, f"{task.name}-orbits-seed{seed}")
    return [trajectory_figure(t, states, metrics, task.name, stem + ".png"),
            orbit_gif(states, task.name, stem + ".gif")]
