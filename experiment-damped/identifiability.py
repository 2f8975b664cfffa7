"""What the spring data can identify of friction, and the D-HNN where the data hide none of it.

    python experiment-damped/identifiability.py [--runs results/seeds5/runs] [--out results/seeds5]

The damped and the ideal spring train on 25 trajectories whose inputs carry noise (std 0.1) and
whose targets are exact. This script measures, without changing either task:
1. each training set's own divergence (the trace of a linear field fitted to it), on the table's
   seeds and over `--many` seeds: by least squares, which an L2 fit on noisy inputs approaches
   and which the noise shrinks toward 0, and by reverse regression (inputs on the exact targets,
   then inverted), which input noise does not bias; and how many disjoint five-seed means of each
   lie within 10% of the truth. Beside them, the divergence the saved D-HNNs learned;
2. on the ideal spring, what a learned friction costs: the energy MSE of the exact conservative
   field plus the friction that gives it the training data's least-squares divergence (per seed,
   and over the disjoint five-seed means of `--many` seeds) or the D-HNN's learned one;
3. the three models trained on noise-free data (`noise_std=0`, the D-HNN paper's setting, all
   else the tasks' own), runs in {out}/runs-noisefree (two at a time, a few minutes; up-to-date
   runs are kept), with the issue's acceptance checks on them.
It prints Markdown and writes it, with the numbers, to {out}/friction-identifiability.{md,json}.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from hnn.checkpoint import write_json, write_text  # noqa: E402
from hnn.experiments import find_tasks, load_folder  # noqa: E402
from hnn.sweep import Options, Run, make_executor, run_all  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
data = load_folder(HERE, "data")
task_module = load_folder(HERE, "task")
TASKS = {"damped": -2 * data.GAMMA, "spring": 0.0}      # task: its true divergence
MODELS = ("baseline", "hnn", "dhnn")
NOISE_FREE = dict(noise_std=0.0)
CONSERVATIVE = data.conservative_part(np.eye(2)).T     # both tasks' J grad H = [2p, -2q]
TOLERANCE = 0.1


def data_divergence(task, seed, **overrides):
    """The divergence of `seed`'s training data: (least squares, reverse regression)."""
    dataset = task.dataset(task.config(seed=seed, **overrides))
    x, dx = dataset["x"], dataset["dx"]
    forward = np.linalg.lstsq(x, dx, rcond=None)[0].T           # dx = A x
    reverse = np.linalg.lstsq(dx, x, rcond=None)[0].T           # x = B dx, so A = B^-1
    return float(np.trace(forward)), float(np.trace(np.linalg.inv(reverse)))


def friction_field(divergence):
    """The exact conservative field plus the friction that gives it `divergence`: A (2, 2)."""
    return CONSERVATIVE + np.diag([0.0, divergence])


def five_seed_means(values):
    """Means of disjoint groups of five consecutive seeds, `(len // 5,)`."""
    values = np.asarray(values)
    return values[: len(values) // 5 * 5].reshape(-1, 5).mean(axis=1)


def learned_divergence(task, runs_dir, seed):
    """The mean divergence of the saved D-HNN of `seed` on the damped task's grid."""
    model, _ = task.load(runs_dir, "dhnn", seed)
    return float(task_module.grid_divergence(model).mean())


def data_study(tasks, seeds, many, runs_dir):
    """Parts 1 and 2: {task: {...}} of per-seed and many-seed numbers."""
    study = {}
    for name, truth in TASKS.items():
        task = tasks[name]
        pairs = np.array([data_divergence(task, seed) for seed in range(max(many, max(seeds) + 1))])
        entry = {"truth": truth, "seeds": {}, "many": many}
        for seed in seeds:
            entry["seeds"][seed] = {
                "least_squares": pairs[seed, 0], "reverse": pairs[seed, 1],
                "dhnn": learned_divergence(task, runs_dir, seed),
                **{f"{model}_energy_mse": task.read_metrics(runs_dir, model, seed)["energy_mse"]["mean"]
                   for model in MODELS}}
        for key, column in (("least_squares", 0), ("reverse", 1)):
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


def noise_free_study(tasks, seeds, runs_dir, quick=False):
    """Part 3: train what is not up to date, then {task: {model: {metric: [per seed]}}}."""
    options = Options(quick=quick, overrides=tuple(NOISE_FREE.items()))
    runs = [Run(name, model, seed) for name in TASKS for model in MODELS for seed in seeds]
    todo = [run for run in runs
            if not tasks[run.task].is_up_to_date(options.config(tasks[run.task], run, runs_dir))]
    if todo:
        os.makedirs(runs_dir, exist_ok=True)
        executor = make_executor(2, options=options)
        try:
            run_all(todo, runs_dir, options, executor, quiet=quick)
        finally:
            executor.close()
    study = {}
    for name in TASKS:
        task = tasks[name]
        study[name] = {}
        for model in MODELS:
            stored = [task.read_metrics(runs_dir, model, seed) for seed in seeds]
            study[name][model] = {m: [s[m]["mean"] for s in stored]
                                  for m in ("energy_mse", "state_mse", "energy_decay_rate")
                                  if m in stored[0]}
            if model == "dhnn":
                study[name][model]["divergence"] = [learned_divergence(task, runs_dir, seed)
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
             abs(pick(d["dhnn"]["divergence"]) - TASKS["damped"]) <= TOLERANCE * abs(TASKS["damped"])),
            (f"{label}: damped D-HNN energy decay rate within 10% of the truth's {rate:.3f}",
             abs(pick(d["dhnn"]["energy_decay_rate"]) - rate) <= TOLERANCE * rate),
            (f"{label}: ideal spring D-HNN energy MSE within 3x HNN",
             pick(s["dhnn"]["energy_mse"]) <= 3 * pick(s["hnn"]["energy_mse"])),
            (f"{label}: ideal spring D-HNN energy MSE >= 30x below baseline",
             pick(s["baseline"]["energy_mse"]) >= 30 * pick(s["dhnn"]["energy_mse"]))]
    return checks


def markdown(data_part, noise_free, checks, seeds):
    lines = ["### 1. The training data's own divergence", "",
             "| task | seeds | least squares | reverse regression | D-HNN learned |",
             "| --- | --- | --- | --- | --- |"]
    for name, entry in data_part.items():
        rows = entry["seeds"]
        for seed, row in rows.items():
            lines.append(f"| {name} | {seed} | {row['least_squares']:.3f} | {row['reverse']:.3f} | "
                         f"{row['dhnn']:.3f} |")
        mean = {k: np.mean([row[k] for row in rows.values()]) for k in ("least_squares", "reverse", "dhnn")}
        lines.append(f"| {name} | mean of {', '.join(map(str, seeds))} | {mean['least_squares']:.3f} | "
                     f"{mean['reverse']:.3f} | {mean['dhnn']:.3f} |")
        many = {k: entry[k] for k in ("least_squares", "reverse")}
        lines.append(f"| {name} | {entry['many']} seeds: mean ± std | "
                     + " | ".join(f"{v['mean']:.3f} ± {v['std']:.3f}" for v in many.values()) + " | |")
        if entry["truth"]:
            lines.append(f"| {name} | five-seed means within 10% of {entry['truth']} | "
                         + " | ".join(f"{v['groups_within']} of {v['groups']}" for v in many.values())
                         + " | |")
    spring = data_part["spring"]["friction_cost"]
    lines += ["", "### 2. The ideal spring: what a learned friction costs", "",
              "Energy MSE of the runs beside the exact conservative field plus a friction that "
              "gives it the training data's least-squares divergence, or the D-HNN's learned one, "
              "rolled out exactly:", "",
              "| seed | exact field, data's divergence | exact field, D-HNN's divergence | baseline | "
              "HNN | D-HNN |", "| --- | --- | --- | --- | --- | --- |"]
    for seed, value in spring["data"].items():
        row = data_part["spring"]["seeds"][seed]
        lines.append(f"| {seed} | {value:.2e} | {spring['dhnn'][seed]:.2e} | "
                     f"{row['baseline_energy_mse']:.2e} | {row['hnn_energy_mse']:.2e} | "
                     f"{row['dhnn_energy_mse']:.2e} |")
    lines += ["", f"Over {data_part['spring']['many']} seeds the exact field with the data's "
              f"divergence has energy MSE {spring['many_mean']:.2e} on average; "
              f"{spring['groups_within_3x_hnn']} of {spring['groups']} disjoint five-seed means are "
              f"within 3x of the HNN's five-seed mean ({spring['hnn_mean']:.2e}).", "",
              "### 3. Noise-free data (noise_std 0, the D-HNN paper's setting)", "",
              f"Seeds {', '.join(map(str, seeds))}, mean (per seed):", "",
              "| task | metric | baseline | HNN | D-HNN |", "| --- | --- | --- | --- | --- |"]
    for name in TASKS:
        for metric in ("energy_mse", "state_mse", "energy_decay_rate", "divergence"):
            cells = []
            for model in MODELS:
                values = noise_free[name][model].get(metric)
                cells.append("–" if values is None else f"{np.mean(values):.2e} ("
                             + ", ".join(f"{v:.1e}" for v in values) + ")")
            if any(c != "–" for c in cells):
                lines.append(f"| {name} | {metric.replace('_', ' ')} | " + " | ".join(cells) + " |")
    lines += ["", f"True energy decay rate (damped): {noise_free['damped']['true_decay_rate']:.3f}; "
              f"true divergence: damped {TASKS['damped']}, spring 0.", "",
              "The issue's acceptance checks on the noise-free runs:", ""]
    lines += [f"- {check}: {'met' if met else 'NOT met'}" for check, met in checks]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", default=os.path.join("results", "seeds5", "runs"),
                        help="the saved runs of the damped and spring tasks")
    parser.add_argument("--out", default=os.path.join("results", "seeds5"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--many", type=int, default=200, help="seeds of the data-only statistics")
    parser.add_argument("--quick", action="store_true", help="the noise-free runs' quick profile")
    args = parser.parse_args(argv)
    tasks = find_tasks()
    for name in TASKS:
        for model in MODELS:
            for seed in args.seeds:
                if not os.path.exists(tasks[name].checkpoint_path(args.runs, model, seed)):
                    raise SystemExit(f"{args.runs} holds no {name}-{model}-seed{seed}; run "
                                     f"reproduce.py --tasks damped spring --seeds ... first")
    data_part = data_study(tasks, args.seeds, args.many, args.runs)
    noise_free = noise_free_study(tasks, args.seeds, os.path.join(args.out, "runs-noisefree"),
                                  args.quick)
    checks = acceptance(noise_free, args.seeds)
    text = markdown(data_part, noise_free, checks, args.seeds)
    print(text)
    write_json(os.path.join(args.out, "friction-identifiability.json"),
               {"data": data_part, "noise_free": noise_free,
                "acceptance": [{"check": c, "met": bool(m)} for c, m in checks]})
    write_text(os.path.join(args.out, "friction-identifiability.md"), text + "\n")


if __name__ == "__main__":
    main()
