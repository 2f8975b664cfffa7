"""Figures for the Ideal pendulum task from its saved runs."""
import os

from hnn.experiment import import_sibling, load_pair
from hnn.plots import phase_space_figure, save_figure

pend = import_sibling(__file__, "data")


def load_models(save_dir, seed=0):
    """The saved HNN and baseline of one seed: {"hnn": model, "baseline": model}."""
    return {kind: model for kind, (model, _) in load_pair(save_dir, "pend", seed).items()}


def make_figures(save_dir, figures_dir, seed=0):
    """Learned vs true H, a rollout and its energy: `{figures_dir}/pend-phase-seed{seed}.png`."""
    x0 = pend.evaluation_trajectories()[0][0]
    fig = phase_space_figure("Ideal pendulum", pend.hamiltonian, pend.solution,
                             load_models(save_dir, seed), x0, limit=2.5)
    return [save_figure(fig, os.path.join(figures_dir, f"pend-phase-seed{seed}.png"))]
