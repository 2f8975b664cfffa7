"""The damped spring's field split: the true conservative and dissipative parts beside the
dissipative HNN's, on a grid (the D-HNN paper's signature figure).

    make_figures(task, runs, figures_dir, seed=0) -> [path of damped-field-split-seed{N}.png]
"""
import os

import torch

from hnn.plots import pyplot, save_figure

from . import data

GRID = 15        # arrows per axis


@torch.no_grad()
def learned_parts(model, states):
    """The D-HNN's conservative J grad H and dissipative grad D at numpy states (N, 2)."""
    x = torch.as_tensor(states, dtype=next(model.parameters()).dtype)
    return model.conservative_field(x).numpy(), model.dissipative_field(x).numpy()


def make_figures(task, runs, figures_dir, seed=0):
    """The field-split figure of the saved D-HNN of `seed` in `runs` (an `hnn.runs.RunsFolder`),
    if there is one; returns its paths."""
    if not runs.has(task, "dhnn", seed):
        return []
    model, _ = runs.load(task, "dhnn", seed)
    states = data.grid_states(GRID, 1.0)
    learned_div = data.grid_divergence(model).mean().item()
    conservative, dissipative = learned_parts(model, states)
    panels = {"true J grad H": data.conservative_part(states),
              "true grad D (friction)": data.dissipative_part(states),
              "D-HNN J grad H": conservative, "D-HNN grad D": dissipative}
    fig, axes = pyplot().subplots(1, 4, figsize=(17, 4.2))
    for ax, (title, field) in zip(axes, panels.items()):
        ax.quiver(states[:, 0], states[:, 1], field[:, 0], field[:, 1],
                  color="black" if title.startswith("true") else "tab:green")
        ax.set(title=title, xlabel="q", ylabel="p", aspect="equal")
    fig.suptitle(f"Damped spring, seed {seed}: the field split into conservative and dissipative "
                 f"parts. The split is unique only up to a harmonic gradient; what data fix is "
                 f"the divergence: learned {learned_div:.3f}, true {-2 * data.GAMMA:.3f}.",
                 fontsize=10)
    fig.tight_layout()
    return [save_figure(fig, os.path.join(figures_dir, f"damped-field-split-seed{seed}.png"))]
