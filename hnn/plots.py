"""Figures: headless pyplot, atomic saving, GIFs, the 1-DOF phase-space figure and loss curves."""
import os

import numpy as np
import torch

from .checkpoint import atomic_write
from .metrics import rollout

# One colour per curve kind, used by every figure: the truth (or data) and each model.
COLORS = {"truth": "black", "data": "black", "baseline": "tab:red", "hnn": "tab:blue",
          "dhnn": "tab:green", "shnn": "tab:purple", "node2": "tab:orange", "lnn": "tab:brown"}


def model_rollouts(models, x0, t, substeps=2):
    """{label: rollout `(1, T, d)`} of each of `models` from `x0`; a model whose rollout fails
    (it diverges, or an LNN meets a singular ∂²L/∂q̇²) is left out with a warning."""
    import warnings
    paths = {}
    for label, model in models.items():
        try:
            paths[label] = rollout(model, x0, t, substeps=substeps)
        except FloatingPointError as err:
            warnings.warn(f"figure: the {label} rollout is left out: {err}")
    return paths


def pyplot():
    """matplotlib.pyplot on the headless Agg backend."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def panel_grid(rows, columns, width=3.6, height=3.0):
    """(fig, axes) of `rows` x `columns` panels, `axes[row][column]` even for one of either."""
    return pyplot().subplots(rows, columns, figsize=(width * columns, height * rows),
                             squeeze=False)


def plot_seeds(ax, model, curves, x, y, first_seed, **style):
    """One line per seed of `curves` ({seed: {x: [...], y: [...]}}) in the model's colour,
    labelled once; points where y is None are left out."""
    for seed, curve in curves.items():
        pairs = [(a, b) for a, b in zip(curve[x], curve[y]) if b is not None]
        if pairs:
            ax.plot(*zip(*pairs), color=COLORS[model], lw=0.8,
                    label=model if seed == first_seed else None, **style)


def save_figure(fig, path):
    """Save a matplotlib figure atomically (format from the extension) and close it."""
    fmt = os.path.splitext(path)[1][1:]
    atomic_write(path, lambda tmp: fig.savefig(tmp, format=fmt, dpi=110, bbox_inches="tight"))
    pyplot().close(fig)
    return path


def write_gif(path, frames, duration_ms):
    """Write frames `(T, H, W)` or `(T, H, W, 3)` (uint8) as a looping GIF, atomically."""
    import imageio.v3 as iio
    atomic_write(path, lambda tmp: iio.imwrite(tmp, np.stack(frames), extension=".gif",
                                               duration=duration_ms, loop=0))
    return path


def grid(limit, n=60):
    """A square `n x n` phase-space grid on [-limit, limit]^2: (Q, P) arrays and `(n*n, 2)`
    states."""
    q, p = np.meshgrid(np.linspace(-limit, limit, n), np.linspace(-limit, limit, n))
    return q, p, np.stack([q.ravel(), p.ravel()], 1)


@torch.no_grad()
def phase_space_figure(title, hamiltonian, solution, models, x0, limit, t_end=20.0, points=400):
    """Three panels for a 1-DOF task, states `[q, p]`:
    true H vs the HNN's learned H (contours through the same points (q_k, 0), since a learned H
    is fixed only up to a constant), one rollout of truth / baseline / HNN from `x0` (2,), and
    the true energy over time along it. `solution(x0 (batch, 2), t)` gives true trajectories;
    `models` maps "baseline"/"hnn" to loaded models."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    Q, P, states = grid(limit)
    anchors = np.stack([np.linspace(0.1, 0.95 * limit, 8), np.zeros(8)], 1)
    axes[0].contour(Q, P, hamiltonian(states).reshape(Q.shape), np.sort(hamiltonian(anchors)),
                    colors=COLORS["truth"], linewidths=0.8)
    if "hnn" in models:
        learned = models["hnn"].hamiltonian(torch.as_tensor(np.concatenate([states, anchors]),
                                                             dtype=torch.float32)).numpy()
        levels = np.unique(learned[len(states):])
        axes[0].contour(Q, P, learned[:len(states)].reshape(Q.shape), levels,
                        colors=COLORS["hnn"], linewidths=0.8, linestyles="dashed")
    axes[0].set(title="H: true (black), HNN (blue, dashed)", xlabel="q", ylabel="p")
    t = np.linspace(0, t_end, points)
    x0 = np.asarray(x0, dtype=np.float64).reshape(1, 2)
    paths = {"truth": solution(x0, t)}
    paths.update(model_rollouts(models, x0, t, substeps=2))
    for name, path in paths.items():
        axes[1].plot(path[0, :, 0], path[0, :, 1], color=COLORS[name], label=name, lw=1)
        axes[2].plot(t, hamiltonian(path[0]), color=COLORS[name], label=name)
    axes[1].set(title="Rollout in phase space", xlabel="q", ylabel="p")
    axes[2].set(title="True energy along the rollout", xlabel="t", ylabel="H(q, p)")
    axes[1].legend()
    axes[2].legend()
    fig.suptitle(title)
    return fig


def loss_curves_figure(checkpoints, title):
    """Train (solid) and test (dashed) loss against step for saved runs, log scale.
    `checkpoints` maps a label to a checkpoint dict (its "curves")."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, ckpt in checkpoints.items():
        curves = ckpt["curves"]
        color = COLORS.get(label)
        ax.plot(curves["step"], curves["train_loss"], color=color, label=f"{label} train")
        ax.plot(curves["test_step"], curves["test_loss"], color=color, ls="--",
                label=f"{label} test")
    ax.set(yscale="log", xlabel="step", ylabel="loss", title=title)
    ax.legend()
    return fig


def save_loss_curves(runs, task, figures_dir, seed=0):
    """`{figures_dir}/{task}-curves-seed{seed}.png` from the saved runs of `task` in `runs` (an
    `hnn.runs.RunsFolder`), one pair of curves per saved model; returns its path."""
    ckpts = {model: runs.checkpoint(task, model, seed) for model in runs.saved_models(task, seed)}
    return save_figure(loss_curves_figure(ckpts, f"{task.name}: loss curves"),
                       os.path.join(figures_dir, f"{task.name}-curves-seed{seed}.png"))


@torch.no_grad()
def rollout_projection_figure(title, hamiltonian, x0, t, truth, models, substeps=2):
    """Two panels for any system with states `[q..., p...]`: the true energy along one rollout
    from `x0` `(1, d)` of the truth `truth` `(1, T, d)` and each of `models` (label -> loaded
    model), and the rollouts projected on (q_1, p_1)."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    n = x0.shape[-1] // 2
    paths = {"truth": truth}
    paths.update(model_rollouts(models, x0, t, substeps=substeps))
    for name, path in paths.items():
        axes[0].plot(t, hamiltonian(path[0]), color=COLORS[name], label=name)
        axes[1].plot(path[0, :, 0], path[0, :, n], color=COLORS[name], label=name, lw=1)
    axes[0].set(title="True energy along the rollout", xlabel="t", ylabel="H")
    axes[1].set(title="Rollout projected on (q_1, p_1)", xlabel="q_1", ylabel="p_1")
    for ax in axes:
        ax.legend()
    fig.suptitle(title)
    return fig


INTEGRATOR_STYLES = {"rk4": dict(color="tab:red", marker="o"),
                     "midpoint": dict(color="tab:blue", marker="s"),
                     "yoshida4": dict(color="tab:green", marker="^"),
                     "rk4_equal_cost": dict(color="tab:red"),
                     "rk4_same_step": dict(color="tab:orange", ls=":")}


def _per_task_panels(study, titles, key, x_key, xlabel, ylabel, title):
    """One log-log panel per task of an `hnn.reversal.study` result: `entry[key][integrator]`
    against `entry[key][x_key]`, a line per integrator (non-finite points left out)."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(study), figsize=(5 * len(study), 4), squeeze=False)
    for ax, (name, entry) in zip(axes[0], study.items()):
        table = entry[key]
        for integrator, values in table.items():
            if integrator in INTEGRATOR_STYLES:
                values, x = np.array(values), np.array(table[x_key])
                finite = np.isfinite(values)
                ax.plot(x[finite], np.maximum(values[finite], 1e-17), label=integrator,
                        **INTEGRATOR_STYLES[integrator])
        ax.set(xscale="log", yscale="log", xlabel=xlabel, ylabel=ylabel, title=title(name, entry))
        ax.legend()
    return fig


def round_trip_figure(study, titles):
    """The return error after N steps forward and N back against N, per task of an
    `hnn.reversal.study` result and per integrator; `titles` maps task names to panel titles."""
    return _per_task_panels(study, titles, "round_trip", "steps", "steps each way",
                            "|x_back - x0| / |x0|",
                            lambda name, entry: f"{titles[name]} HNN, dt = {entry['dt']:.3g}")


def step_size_figure(study, titles):
    """The energy MSE against the true energy as the step grows, per task and integrator."""
    return _per_task_panels(study, titles, "step_size", "dt", "step dt", "energy MSE",
                            lambda name, entry: f"{titles[name]} HNN")


def long_horizon_figure(entry, title):
    """The learned energy's error |H(x_t) - H(x_0)| against t, for the runs of
    `hnn.reversal.long_horizon`."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for label, run in entry.items():
        ax.plot(run["t"][1:], np.maximum(run["error"][1:], 1e-17), lw=1,
                label=f"{label} (dt {run['dt']:.3g}, {run['evaluations_per_step']:.1f} evals/step)",
                **{k: v for k, v in INTEGRATOR_STYLES[label].items() if k != "marker"})
    ax.set(yscale="log", xlabel="t", ylabel="|H(x_t) - H(x_0)| (learned H)", title=title)
    ax.legend()
    return fig


@torch.no_grad()
def vector_field_figure(title, truth, models, limit, n=15):
    """The paper's Figure 2 panels: the field dx/dt over phase space `[q, p]`, one quiver panel
    for the truth and one per model of `models` (label -> loaded model). `truth` is a field
    (numpy `(N, 2)` -> `(N, 2)`) evaluated on an `n x n` grid on [-limit, limit]^2, or a pair of
    arrays `(x, dx)`, observed states and derivatives drawn as they are (real data)."""
    plt = pyplot()
    Q, P, states = grid(limit, n)
    panels = {"truth": (states, truth(states))} if callable(truth) else {"data": truth}
    for label, model in models.items():
        param = next(model.parameters(), None)
        x = torch.as_tensor(states, dtype=torch.float32 if param is None else param.dtype)
        panels[label] = (states, model.time_derivative(x).double().numpy())
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 4.2), squeeze=False)
    for ax, (label, (x, dx)) in zip(axes[0], panels.items()):
        ax.quiver(x[:, 0], x[:, 1], dx[:, 0], dx[:, 1], color=COLORS.get(label, "black"),
                  angles="xy", width=0.004)
        ax.set(title=label, xlabel="q", ylabel="p", xlim=(-1.1 * limit, 1.1 * limit),
               ylim=(-1.1 * limit, 1.1 * limit), aspect="equal")
    fig.suptitle(title)
    return fig
