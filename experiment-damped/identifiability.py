"""The study `friction-identifiability`: what the spring data can identify of friction, and the
D-HNN where the data hide none of it.

    python reproduce.py --study friction-identifiability --seeds 0 1 2 3 4 --out results/seeds5

The damped and the ideal spring train on 25 trajectories whose inputs carry noise (std 0.1) and
whose targets are exact. This script measures, without changing either task:
1. each training set's own divergence (the trace of a linear field fitted to it), on the table's
   seeds and over `--many` seeds: by least squares, which an L2 fit on noisy inputs approaches
   and which the noise shrinks toward 0; by reverse regression (inputs on the exact targets,
   then inverted), which input noise does not bias; and by maximum likelihood on the training
   trajectories with every chunk's start a parameter, which trajectory training with inferred
   starts (`--loss rollout --infer-starts`) approaches; and how many disjoint five-seed means of
   each lie within 10% of the truth (10 seeds with --quick). Beside them, the divergence the
   saved D-HNNs learned;
2. on the ideal spring, what a learned friction costs: the energy MSE of the exact conservative
   field plus the friction that gives it the training data's least-squares divergence (per seed,
   and over the disjoint five-seed means of `--many` seeds) or the D-HNN's learned one;
3. the three models trained on noise-free data (`noise_std=0`, the D-HNN paper's setting, all
   else the tasks' own), runs in the study's folder `runs-noisefree`, with the acceptance checks
   of the friction issue on them.
It writes the Markdown and the numbers to `{out}/studies/friction-identifiability/`
`friction-identifiability.{md,json}`; the tables' runs of both tasks are trained if needed.
"""
import os

import numpy as np
import scipy.linalg
import scipy.optimize
import torch

from hnn import RunSet, Study
from hnn.checkpoint import write_json, write_text
from hnn.report import markdown_table
from hnn.studies import runs_of
from hnn.trajectories import every_chunk

from . import data

TASKS = {"damped": -2 * data.GAMMA, "spring": 0.0}      # task: its true divergence
MODELS = ("baseline", "hnn", "dhnn")
NOISE_FREE = dict(noise_std=0.0)
CONSERVATIVE = data.conservative_part(np.eye(2)).T     # both tasks' J grad H = [2p, -2q]
TOLERANCE = 0.1
ESTIMATORS = ("least_squares", "reverse", "inferred_starts")   # the data's divergence, three ways
MANY, MANY_QUICK = 200, 10                              # seeds of the data-only statistics


def data_divergence(task, seed, **overrides):
    """The divergence of `seed`'s training data: (least squares, reverse regression)."""
    dataset = task.dataset(task.config(seed=seed, **overrides))
    x, dx = dataset["x"], dataset["dx"]
    forward = np.linalg.lstsq(x, dx, rcond=None)[0].T           # dx = A x
    reverse = np.linalg.lstsq(dx, x, rcond=None)[0].T           # x = B dx, so A = B^-1
    return float(np.trace(forward)), float(np.trace(np.linalg.inv(reverse)))


def trajectory_divergence(task, seed, **overrides):
    """The divergence of the maximum-likelihood linear field x' = A x of `seed`'s training
    trajectories with every chunk's start a parameter: the estimator that `--loss rollout
    --infer-starts` approaches, as least squares is the one derivative matching approaches.

    Chunks are every K + 1 consecutive observations (K the task's `--horizon`), each chunk's
    path is the exact flow expm(A k dt) z of its start z, z is fitted in closed form for each A
    (variable projection), and A by `scipy.optimize.least_squares` from the least-squares field
    of the derivative pairs."""
    config = task.config(seed=seed, **overrides)
    dataset = task.dataset(config)
    train, _, dt = task.trajectories(dataset, config)
    k = config.horizon
    observed = every_chunk(torch.as_tensor(train), k).numpy()              # (chunks, K + 1, 2)

    def residuals(a):
        flows = np.stack([scipy.linalg.expm(a.reshape(2, 2) * step * dt)
                          for step in range(k + 1)])                      # (K + 1, 2, 2)
        gram = np.einsum("kij,kil->jl", flows, flows)
        starts = np.linalg.solve(gram, np.einsum("kij,nki->jn", flows, observed)).T
        return (observed - np.einsum("kij,nj->nki", flows, starts)).ravel()
    initial = np.linalg.lstsq(dataset["x"], dataset["dx"], rcond=None)[0].T
    fitted = scipy.optimize.least_squares(residuals, initial.ravel(), xtol=1e-12, ftol=1e-12)
    return float(np.trace(fitted.x.reshape(2, 2)))


def friction_field(divergence):
    """The exact conservative field plus the friction that gives it `divergence`: A (2, 2)."""
    return CONSERVATIVE + np.diag([0.0, divergence])


def five_seed_means(values):
    """Means of disjoint groups of five consecutive seeds, `(len // 5,)`."""
    values = np.asarray(values)
    return values[: len(values) // 5 * 5].reshape(-1, 5).mean(axis=1)


def learned_divergence(task, runs, seed):
    """The mean divergence of the saved D-HNN of `seed` in `runs` on the damped task's grid."""
    model, _ = runs.load(task, "dhnn", seed)
    return float(data.grid_divergence(model).mean())


def data_study(tasks, seeds, many, runs):
    """Parts 1 and 2: {task: {...}} of per-seed and many-seed numbers."""
    study = {}
    for name, truth in TASKS.items():
        task = tasks[name]
        pairs = np.array([(*data_divergence(task, seed), trajectory_divergence(task, seed))
                          for seed in range(max(many, max(seeds) + 1))])
        entry = {"truth": truth, "seeds": {}, "many": many}
        for seed in seeds:
            entry["seeds"][seed] = {
                **{key: pairs[seed, column] for column, key in enumerate(ESTIMATORS)},
                "dhnn": learned_divergence(task, runs, seed),
                **{f"{model}_energy_mse": runs.metrics(task, model, seed)["energy_mse"]["mean"]
                   for model in MODELS}}
        for column, key in enumerate(ESTIMATORS):
            values = pairs[:many, column]
            entry[key] = {"mean": float(values.mean()), "std": float(values.std(ddof=1))}
            if truth:               # a relative tolerance needs a nonzero truth
                groups = five_seed_means(values)
                entry[key].update(groups=len(groups), groups_within=int(
                    np.sum(np.abs(groups - truth) <= TOLERANCE * abs(truth))))
        if truth == 0:
            cost = [task.linear_field_metrics(friction_field(d))["energy_mse"] for d in pairs[:, 0]]
            hnn_mean = float(np.mean([entry["seeds"][s]["hnn_energy_mse"] for s in seeds]))
            groups = five_seed_means(cost[:many])
            entry["friction_cost"] = {
                "data": {seed: cost[seed] for seed in seeds},
                "dhnn": {seed: task.linear_field_metrics(friction_field(
                    entry["seeds"][seed]["dhnn"]))["energy_mse"] for seed in seeds},
                "many_mean": float(np.mean(cost[:many])), "hnn_mean": hnn_mean,
                "groups": len(groups), "groups_within_3x_hnn": int(np.sum(groups <= 3 * hnn_mean))}
        study[name] = entry
    return study


def noise_free_study(tasks, seeds, runs):
    """Part 3: {task: {model: {metric: [per seed]}}} of the noise-free runs in `runs`."""
    study = {}
    for name in TASKS:
        task = tasks[name]
        study[name] = {}
        for model in MODELS:
            stored = [runs.metrics(task, model, seed) for seed in seeds]
            study[name][model] = {m: [s[m]["mean"] for s in stored]
                                  for m in ("energy_mse", "state_mse", "energy_decay_rate")
                                  if m in stored[0]}
            if model == "dhnn":
                study[name][model]["divergence"] = [learned_divergence(task, runs, seed)
                                                    for seed in seeds]
    study["damped"]["true_decay_rate"] = tasks["damped"].true_decay_rate()
    return study


def acceptance(study, seeds):
    """The issue's damped and ideal-spring checks on `study` (part 3): [(check, met)] for seed
    `seeds[0]` and for the mean over `seeds`."""
    checks = []
    for label, pick in ((f"seed {seeds[0]}", lambda v: v[0]), ("mean", np.mean)):
        d, s = study["damped"], study["spring"]
        rate = d["true_decay_rate"]
        checks += [
            (f"{label}: damped D-HNN energy MSE <= baseline",
             pick(d["dhnn"]["energy_mse"]) <= pick(d["baseline"]["energy_mse"])),
            (f"{label}: damped D-HNN state MSE <= baseline",
             pick(d["dhnn"]["state_mse"]) <= pick(d["baseline"]["state_mse"])),
            (f"{label}: damped HNN energy MSE >= 10x D-HNN",
             pick(d["hnn"]["energy_mse"]) >= 10 * pick(d["dhnn"]["energy_mse"])),
            (f"{label}: damped D-HNN divergence within 10% of {TASKS['damped']}",
             abs(pick(d["dhnn"]["divergence"]) - TASKS["damped"])
             <= TOLERANCE * abs(TASKS["damped"])),
            (f"{label}: damped D-HNN energy decay rate within 10% of the truth's {rate:.3f}",
             abs(pick(d["dhnn"]["energy_decay_rate"]) - rate) <= TOLERANCE * rate),
            (f"{label}: ideal spring D-HNN energy MSE within 3x HNN",
             pick(s["dhnn"]["energy_mse"]) <= 3 * pick(s["hnn"]["energy_mse"])),
            (f"{label}: ideal spring D-HNN energy MSE >= 30x below baseline",
             pick(s["baseline"]["energy_mse"]) >= 30 * pick(s["dhnn"]["energy_mse"]))]
    return checks


def markdown(data_part, noise_free, checks, seeds):
    rows = []
    for name, entry in data_part.items():
        per_seed = entry["seeds"]
        rows += [[name, seed, *(f"{row[k]:.3f}" for k in (*ESTIMATORS, "dhnn"))]
                 for seed, row in per_seed.items()]
        rows.append([name, f"mean of {', '.join(map(str, seeds))}",
                     *(f"{np.mean([row[k] for row in per_seed.values()]):.3f}"
                       for k in (*ESTIMATORS, "dhnn"))])
        many = [entry[k] for k in ESTIMATORS]
        rows.append([name, f"{entry['many']} seeds: mean ± std"]
                    + [f"{v['mean']:.3f} ± {v['std']:.3f}" for v in many] + [""])
        if entry["truth"]:
            rows.append([name, f"five-seed means within 10% of {entry['truth']}"]
                        + [f"{v['groups_within']} of {v['groups']}" for v in many] + [""])
    lines = ["### 1. The training data's own divergence", "",
             "The trace of a linear field fitted to each training set: by least squares on the "
             "derivative pairs (what derivative matching approaches), by reverse regression of "
             "the inputs on the exact targets (unbiased by input noise), and by maximum "
             "likelihood on the training trajectories' chunks of K + 1 points with every chunk's "
             "start a parameter (what `--loss rollout --infer-starts` approaches).", "",
             markdown_table(["task", "seeds", "least squares", "reverse regression",
                             "inferred starts", "D-HNN learned"], rows)]
    spring = data_part["spring"]["friction_cost"]
    rows = []
    for seed, value in spring["data"].items():
        row = data_part["spring"]["seeds"][seed]
        rows.append([seed, f"{value:.2e}", f"{spring['dhnn'][seed]:.2e}",
                     f"{row['baseline_energy_mse']:.2e}", f"{row['hnn_energy_mse']:.2e}",
                     f"{row['dhnn_energy_mse']:.2e}"])
    lines += ["", "### 2. The ideal spring: what a learned friction costs", "",
              "Energy MSE of the runs beside the exact conservative field plus a friction that "
              "gives it the training data's least-squares divergence, or the D-HNN's learned one, "
              "rolled out exactly:", "",
              markdown_table(["seed", "exact field, data's divergence",
                              "exact field, D-HNN's divergence",
                              "baseline", "HNN", "D-HNN"], rows)]
    rows = []
    for name in TASKS:
        for metric in ("energy_mse", "state_mse", "energy_decay_rate", "divergence"):
            cells = []
            for model in MODELS:
                values = noise_free[name][model].get(metric)
                cells.append("–" if values is None else f"{np.mean(values):.2e} ("
                             + ", ".join(f"{v:.1e}" for v in values) + ")")
            if any(c != "–" for c in cells):
                rows.append([name, metric.replace("_", " "), *cells])
    lines += ["", f"Over {data_part['spring']['many']} seeds the exact field with the data's "
              f"divergence has energy MSE {spring['many_mean']:.2e} on average; "
              f"{spring['groups_within_3x_hnn']} of {spring['groups']} disjoint five-seed means "
              f"are "
              f"within 3x of the HNN's five-seed mean ({spring['hnn_mean']:.2e}).", "",
              "### 3. Noise-free data (noise_std 0, the D-HNN paper's setting)", "",
              f"Seeds {', '.join(map(str, seeds))}, mean (per seed):", "",
              markdown_table(["task", "metric", "baseline", "HNN", "D-HNN"], rows)]
    lines += ["", f"True energy decay rate (damped): "
              f"{noise_free['damped']['true_decay_rate']:.3f}; "
              f"true divergence: damped {TASKS['damped']}, spring 0.", "",
              "The issue's acceptance checks on the noise-free runs:", ""]
    lines += [f"- {check}: {'met' if met else 'NOT met'}" for check, met in checks]
    return "\n".join(lines)


def needs(context):
    runs = runs_of(TASKS, MODELS, context.seeds)
    return [RunSet(runs), RunSet(runs, "runs-noisefree", tuple(NOISE_FREE.items()))]


def write(context):
    seeds, tasks = context.seeds, context.tasks
    data_part = data_study(tasks, seeds, MANY_QUICK if context.quick else MANY, context.runs())
    noise_free = noise_free_study(tasks, seeds, context.runs("runs-noisefree"))
    checks = acceptance(noise_free, seeds)
    text = markdown(data_part, noise_free, checks, seeds)
    paths = [os.path.join(context.folder, f"friction-identifiability.{ext}")
             for ext in ("json", "md")]
    write_json(paths[0], {"data": data_part, "noise_free": noise_free,
                          "acceptance": [{"check": c, "met": bool(m)} for c, m in checks]})
    write_text(paths[1], text + "\n")
    return paths


STUDY = Study("friction-identifiability", "What the noisy spring data identify of friction, and "
              "the D-HNN on noise-free data.", needs=needs, write=write)
