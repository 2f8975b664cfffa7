"""The study `iso-horizon`: how long a chunk inferred starts need to pin the damped spring's
friction in a D-HNN, and which horizon held-out data choose without the truth.

    python reproduce.py --study iso-horizon --seeds 0 1 2 3 4 --out results/seeds5 --jobs 2

The D-HNN trained by rollout with inferred starts (`--loss rollout --infer-starts`, alternating)
at each horizon of `HORIZONS` and noise level of `NOISES`, all else the task's own. Per run:
1. the learned divergence and energy decay rate against the truth's, and the energy and state
   MSE (the task's metrics);
2. a held-out score that needs no truth: each test trajectory's start fitted to its first
   `SCORE_POINTS` observations with the model fixed, then the mean squared error of the model's
   path against the trajectory's later observations (its floor is sigma^2);
3. beside it, the linear field's maximum likelihood at the same horizon
   (`identifiability.trajectory_divergence`), what the data identify with that many points per
   fitted start.
At the task's noise level the horizon with the lowest mean held-out score is the study's choice,
and its checks are the trajectory-training issue's: divergence and decay rate within 10% of the
truth, and its divergence at the highest noise within 10% of its value at noise 0.
It writes `{out}/studies/iso-horizon/iso-horizon.{md,json}`; runs go to `runs-k{K}-noise{sigma}`.
"""
import os

import numpy as np
import torch

from hnn import RunSet, Study
from hnn.checkpoint import write_json, write_text
from hnn.report import markdown_table
from hnn.studies import finite_mean, runs_of
from hnn.trajectories import fit_starts, path
from hnn.trajectory_study import spread

from .identifiability import TOLERANCE, trajectory_divergence

TASK = "damped"
MODEL = "dhnn+rollout+iso"
HORIZONS = (5, 10, 29)                 # 29: each 30-point trajectory is one chunk
NOISES = (0.0, 0.1, 0.2)
QUICK_HORIZONS, QUICK_NOISES = (5, 29), (0.0, 0.1)
SCORE_POINTS = 6                       # observations that fit a held-out start (K = 5's chunk)
METRICS = ("divergence", "energy_decay_rate", "energy_mse", "state_mse")


def grid(context):
    """(horizons, noise levels) of the runs: the quick profile's fewer, for smoke runs."""
    return (QUICK_HORIZONS, QUICK_NOISES) if context.quick else (HORIZONS, NOISES)


def folder(horizon, sigma):
    return f"runs-k{horizon}-noise{sigma:g}"


def held_out_score(task, model, config):
    """The mean squared error of `model`'s paths on the test trajectories `(n, T, d)` after
    their first `SCORE_POINTS` observations, each path from the start fitted to those with the
    model fixed (`hnn.trajectories.fit_starts`, the run's integrator and substeps)."""
    _, test, dt = task.trajectories(task.dataset(config), config)
    observed = torch.as_tensor(test, dtype=next(model.parameters()).dtype)
    start = fit_starts(model, observed[:, :SCORE_POINTS], dt, config.train_integrator,
                       config.train_substeps)
    with torch.no_grad():
        predicted = path(model, start, dt, observed.shape[1] - 1, config.train_integrator,
                         config.train_substeps)
    return float((predicted - observed)[:, SCORE_POINTS:].square().mean())


def needs(context):
    runs, (horizons, noises) = runs_of([TASK], [MODEL], context.seeds), grid(context)
    return [RunSet(runs, folder(k, sigma), (("horizon", k), ("noise_std", sigma)))
            for k in horizons for sigma in noises]


def analyse(context):
    task, seeds = context.tasks[TASK], context.seeds
    quick = task.quick if context.quick else {}
    horizons, noises = grid(context)
    out = {"seeds": list(seeds), "noise_std": task.defaults.noise_std, "noises": list(noises),
           "truth": {"divergence": task.true_divergence(),
                     "energy_decay_rate": task.true_decay_rate()}, "horizons": {}}
    for k in horizons:
        out["horizons"][str(k)] = entry = {}
        for sigma in noises:
            runs = context.runs(folder(k, sigma))
            cell = {m: runs.seed_means(task, MODEL, seeds, m) for m in METRICS}
            cell["held_out"], cell["linear_likelihood"] = [], []
            for seed in seeds:
                model, ckpt = runs.load(task, MODEL, seed)
                config = task.config(**{key: value for key, value in ckpt["config"].items()
                                         if key != "task"})
                cell["held_out"].append(held_out_score(task, model, config))
                cell["linear_likelihood"].append(trajectory_divergence(
                    task, seed, **quick, horizon=k, noise_std=sigma))
            entry[f"{sigma:g}"] = cell
    own = f"{out['noise_std']:g}"
    out["chosen"] = int(min(out["horizons"], key=lambda k: np.mean(
        out["horizons"][k][own]["held_out"])))
    out["checks"] = [{"check": c, "met": bool(m)} for c, m in checks(out)]
    return out


def checks(numbers):
    """The trajectory-training issue's damped checks on the chosen horizon: [(check, met)]."""
    chosen = numbers["horizons"][str(numbers["chosen"])]
    own = f"{numbers['noise_std']:g}"
    low, high = (f"{numbers['noises'][i]:g}" for i in (0, -1))
    found = []
    for metric in ("divergence", "energy_decay_rate"):
        truth, mean = numbers["truth"][metric], finite_mean(chosen[own][metric])
        found.append((f"K = {numbers['chosen']}, σ = {own}: {metric.replace('_', ' ')} "
                      f"{mean:.3f} within 10% of the truth's {truth:.3f}",
                      abs(mean - truth) <= TOLERANCE * abs(truth)))
    start, end = (finite_mean(chosen[s]["divergence"]) for s in (low, high))
    found.append((f"K = {numbers['chosen']}: divergence at σ = {high} ({end:.3f}) within 10% of "
                  f"its value at σ = {low} ({start:.3f})",
                  abs(end - start) <= TOLERANCE * abs(start)))
    return found


def markdown(numbers):
    rows = []
    for sigma in map("{:g}".format, numbers["noises"]):
        for k, entry in numbers["horizons"].items():
            cell = entry[sigma]
            rows.append([sigma, k, spread(cell["divergence"]), spread(cell["energy_decay_rate"]),
                         spread(cell["energy_mse"], ".2e"), spread(cell["state_mse"], ".2e"),
                         f"{np.mean(cell['held_out']):.4e}",
                         f"{np.mean(cell['linear_likelihood']):.3f}"])
    truth, seeds = numbers["truth"], numbers["seeds"]
    lines = [f"# How long a chunk inferred starts need (seeds {', '.join(map(str, seeds))})", "",
             f"The damped spring's D-HNN trained by rollout with inferred starts (alternating) at "
             f"horizon K. Cells: mean over the seeds (min – max). Held-out score: each test "
             f"trajectory's start fitted to its first {SCORE_POINTS} observations with the "
             f"model fixed, then the mean squared error of the path against its later "
             f"observations (floor σ²). Linear likelihood: the divergence of the maximum-"
             f"likelihood linear field on the same chunks, every start fitted. Truth: "
             f"divergence {truth['divergence']:.3g}, energy decay rate "
             f"{truth['energy_decay_rate']:.3g}.", "",
             markdown_table(["noise σ", "K", "divergence", "energy decay rate", "energy MSE",
                             "state MSE", "held-out score", "linear likelihood"], rows), "",
             f"Chosen by the lowest held-out score at σ = {numbers['noise_std']:g}: "
             f"K = {numbers['chosen']}.", ""]
    lines += [f"- {c['check']}: {'met' if c['met'] else 'NOT met'}" for c in numbers["checks"]]
    return "\n".join(lines) + "\n"


def write(context):
    numbers = analyse(context)
    paths = [os.path.join(context.folder, f"iso-horizon.{ext}") for ext in ("json", "md")]
    write_json(paths[0], numbers)
    write_text(paths[1], markdown(numbers))
    return paths


STUDY = Study("iso-horizon", "How long a chunk inferred starts need to pin the damped spring's "
              "friction, chosen by a held-out score.", needs=needs, write=write)
