"""Figures for the Ideal pendulum task from its saved runs."""
from hnn.experiment import import_sibling
from hnn.plots import save_phase_space

pend = import_sibling(__file__, "data")


def make_figures(save_dir, figures_dir, seed=0):
    """Learned vs true H, a rollout and its energy: `{figures_dir}/pend-phase-seed{seed}.png`."""
    return save_phase_space(save_dir, figures_dir, "pend", "Ideal pendulum", pend, limit=2.5, seed=seed)
