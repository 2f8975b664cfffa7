"""Figures: headless pyplot, atomic saving, GIFs, the 1-DOF phase-space figure and loss curves."""
import os

import numpy as np
import torch

from .checkpoint import atomic_write
from .metrics import rollout

# One colour per curve kind, used by every figure: the truth (or data) and each model.
COLORS = {"truth": "black", "data": "black", "baseline": "tab:red", "hnn": "tab:blue",
          "dhnn": "tab:green", "shnn": "tab:purple"}


def pyplot():
    """matplotlib.pyplot on the headless Agg backend."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


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
    """A square `n x n` phase-space grid on [-limit, limit]^2: (Q, P) arrays and `(n*n, 2)` states."""
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
    paths.update({k: rollout(m, x0, t, substeps=2) for k, m in models.items()})
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
        ax.plot(curves["test_step"], curves["test_loss"], color=color, ls="--", label=f"{label} test")
    ax.set(yscale="log", xlabel="step", ylabel="loss", title=title)
    ax.legend()
    return fig
