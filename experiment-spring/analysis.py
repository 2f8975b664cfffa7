"""Figures for the Ideal mass-spring task from its saved runs."""
from hnn.experiment import import_sibling
from hnn.plots import save_phase_space

spring = import_sibling(__file__, "data")


def make_figures(save_dir, figures_dir, seed=0):
    """Learned vs true H, a rollout and its energy: `{figures_dir}/spring-phase-seed{seed}.png`."""
    return save_phase_space(save_dir, figures_dir, "spring", "Ideal mass-spring", spring, limit=1.2, seed=seed)
