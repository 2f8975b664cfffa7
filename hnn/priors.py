"""Which part of the Hamiltonian prior pays? Every dynamics model on every fitting task, scored
against the baseline.

The tasks are those whose `models` hold the LNN (conservative systems with a velocity map) or
NODE + SO and the D-HNN (non-conservative ones). The models, from the least structure to the
most: the baseline (an MLP for dx/dt), NODE + SO (only the second-order form dq/dt = M⁻¹(q) p),
the HNN (a learned H: symplectic, conserves it) and the LNN (a learned L in the task's
velocities). On the conservative systems the question is what fraction of the HNN's gain over
the baseline NODE + SO recovers (on a log scale: log(baseline / NODE + SO) / log(baseline /
HNN)); on the non-conservative ones, where an HNN's prior is wrong, NODE + SO is set beside the
baseline, the HNN and the D-HNN.

    python reproduce.py --study which-prior --seeds 0 1 2 3 4 [--jobs 2]
"""
import math
import os

import numpy as np
import torch

from .checkpoint import write_json, write_text
from .report import MODEL_LABELS, markdown_table
from .studies import RunSet, Study, runs_of

CONSERVATIVE_MODELS = ("baseline", "node2", "hnn", "lnn")
DISSIPATIVE_MODELS = ("baseline", "node2", "hnn", "dhnn")
METRICS = ("energy_mse", "state_mse")


def groups(context):
    """[(task names, models)]: the selected tasks that train the LNN (conservative systems with
    a velocity map), and those that train NODE + SO and the D-HNN but not the LNN (the
    non-conservative ones), as their `models` declare."""
    tasks = [context.tasks[name] for name in context.selected]
    conservative = tuple(t.name for t in tasks if "lnn" in t.models)
    dissipative = tuple(t.name for t in tasks if "lnn" not in t.models
                        and {"node2", "dhnn"} <= set(t.models))
    return [(conservative, CONSERVATIVE_MODELS), (dissipative, DISSIPATIVE_MODELS)]


def needs(context):
    return [RunSet(runs_of(tasks, models, context.seeds)) for tasks, models in groups(context)]


def log_fraction(baseline, partial, full):
    """log(baseline / partial) / log(baseline / full): the share of `full`'s gain over the
    baseline (on a log scale) that `partial` recovers; None where `full` gains nothing."""
    if not full < baseline:
        return None
    return math.log(baseline / partial) / math.log(baseline / full)


def lnn_condition(task, runs, seed):
    """Median and largest condition number of the LNN's ∂²L/∂q̇² over the task's test states."""
    model = runs.load(task, "lnn", seed)[0]
    dataset = task.dataset(task.config(seed=seed, quiet=True))
    x = torch.as_tensor(dataset["test_x"], dtype=torch.float32)
    cond = model.velocity_hessian_condition(model.to_velocity(x))
    return {"median": float(cond.median()), "max": float(cond.max())}


def summarize_runs(context):
    """{task: {"models": {model: {metric: per-seed means, or None for a diverged run}},
    "ratio": {model: {metric: mean / baseline's mean}}, "node2_fraction": {metric: ...},
    "lnn_condition": [per seed]}} over the selected tasks and seeds."""
    runs = context.runs()
    out = {}
    for tasks, models in groups(context):
        for name in tasks:
            task = context.tasks[name]
            entry = {"title": task.title, "models": {}, "ratio": {}, "diverged": {}}
            for model in models:
                saved = [runs.metrics(task, model, seed) for seed in context.seeds]
                entry["models"][model] = {
                    metric: [run[metric]["mean"] if metric in run else None for run in saved]
                    for metric in METRICS}
                entry["diverged"][model] = [seed for seed, run in zip(context.seeds, saved)
                                            if "diverged" in run]
            means = {model: {metric: mean_of(values) for metric, values in numbers.items()}
                     for model, numbers in entry["models"].items()}
            entry["mean"] = means
            entry["ratio"] = {model: {metric: ratio(means[model][metric],
                                                    means["baseline"][metric])
                                      for metric in METRICS} for model in models}
            entry["node2_fraction"] = {
                metric: fraction(means, metric) for metric in METRICS}
            if "lnn" in models:
                entry["lnn_condition"] = [lnn_condition(task, runs, seed) if seed not in
                                          entry["diverged"]["lnn"] else None
                                          for seed in context.seeds]
            out[name] = entry
    return out


def mean_of(values):
    finite = [v for v in values if v is not None]
    return float(np.mean(finite)) if finite else None


def ratio(value, baseline):
    return None if value is None or baseline is None else value / baseline


def fraction(means, metric):
    numbers = [means[m][metric] for m in ("baseline", "node2", "hnn")]
    return None if None in numbers else log_fraction(*numbers)


def cell(values):
    """'mean ± std (k diverged)' of per-seed means."""
    finite = [v for v in values if v is not None]
    text = (f"{np.mean(finite):.2e} ± {np.std(finite, ddof=1) if len(finite) > 1 else 0:.1e}"
            if finite else "–")
    diverged = len(values) - len(finite)
    return text + (f" ({diverged} diverged)" if diverged else "")


def times(value):
    return "–" if value is None else f"{value:.3g}×"


def verdict(entry, metric):
    """One sentence on a conservative system: what NODE + SO recovers, where the LNN stands."""
    r, f = entry["ratio"], entry["node2_fraction"][metric]
    words = metric.replace("_", " ")
    if f is None:
        text = (f"{entry['title']}, {words}: the HNN does not beat the baseline "
                f"({times(r['hnn'][metric])} its error), so there is no gain to share.")
    else:
        text = (f"{entry['title']}, {words}: the HNN's error is {times(r['hnn'][metric])} the "
                f"baseline's, NODE + SO's {times(r['node2'][metric])}: NODE + SO recovers "
                f"{100 * f:.0f}% of the HNN's gain (log scale).")
    if "lnn" in r:
        diverged = entry["diverged"]["lnn"]
        if r["lnn"][metric] is None:
            text += f" Every LNN run diverged ({len(diverged)})."
        else:
            text += f" The LNN's error is {times(r['lnn'][metric])} the baseline's" + (
                f" ({len(diverged)} of its runs diverged)." if diverged else ".")
    return text


def markdown(numbers, seeds):
    lines = [f"# Which part of the Hamiltonian prior pays? (seeds {', '.join(map(str, seeds))})",
             "", "Each cell: the mean ± std over seeds of each run's mean error along the task's "
             "evaluation rollouts; ratio: the model's five-seed mean over the baseline's. NODE + "
             "SO's share: log(baseline / NODE + SO) / log(baseline / HNN), the fraction of the "
             "HNN's gain over the baseline that the second-order form alone recovers (100%: all "
             "of it; above 100%: more; below 0: worse than the baseline).", ""]
    for metric in METRICS:
        for models in (CONSERVATIVE_MODELS, DISSIPATIVE_MODELS):
            names = [n for n in numbers if set(numbers[n]["models"]) == set(models)]
            if not names:
                continue
            header = (["System"] + [MODEL_LABELS[m] for m in models]
                      + [f"{MODEL_LABELS[m]} / baseline" for m in models[1:]]
                      + ["NODE + SO's share"])
            rows = [[numbers[n]["title"]]
                    + [cell(numbers[n]["models"][m][metric]) for m in models]
                    + [times(numbers[n]["ratio"][m][metric]) for m in models[1:]]
                    + ["–" if numbers[n]["node2_fraction"][metric] is None
                       else f"{100 * numbers[n]['node2_fraction'][metric]:.0f}%"]
                    for n in names]
            kind = "conservative" if models is CONSERVATIVE_MODELS else "non-conservative"
            lines += [f"## {metric.replace('_', ' ')}, {kind} systems", "",
                      markdown_table(header, rows), ""]
    conservative = [n for n in numbers if "lnn" in numbers[n]["models"]]
    if conservative:
        lines += ["## System by system", ""]
        lines += [f"- {verdict(numbers[n], metric)}" for n in conservative for metric in METRICS]
        rows = [[numbers[n]["title"], f"seed {seed}", f"{c['median']:.3g}", f"{c['max']:.3g}"]
                for n in conservative for seed, c in zip(seeds, numbers[n]["lnn_condition"])
                if c is not None]
        lines += ["", "## The LNN's ∂²L/∂q̇² on the test states", "",
                  "Its condition number, which the Euler–Lagrange solve divides by (1 for one "
                  "degree of freedom).", "",
                  markdown_table(["System", "run", "median", "largest"], rows), ""]
    return "\n".join(lines)


def figure(numbers):
    """Each model's error over the baseline's, per system (log scale): bars at the five-seed
    means' ratio, dots at each seed's ratio to the same seed's baseline."""
    import matplotlib.pyplot as plt
    names = list(numbers)
    models = sorted({m for n in names for m in numbers[n]["models"]} - {"baseline"},
                    key=["node2", "hnn", "lnn", "dhnn"].index)
    fig, axes = plt.subplots(1, len(METRICS), figsize=(5.5 * len(METRICS), 3.6))
    width = 0.8 / len(models)
    for ax, metric in zip(axes, METRICS):
        for k, model in enumerate(models):
            xs = [i + (k - (len(models) - 1) / 2) * width for i in range(len(names))]
            for x, name in zip(xs, names):
                entry = numbers[name]
                if model not in entry["models"] or entry["ratio"][model][metric] is None:
                    continue
                ax.bar(x, entry["ratio"][model][metric], width, color=f"C{k}",
                       label=MODEL_LABELS[model] if name == names[0] or x == xs[-1] else None)
                per_seed = [m / b for m, b in zip(entry["models"][model][metric],
                                                  entry["models"]["baseline"][metric])
                            if m is not None and b is not None]
                ax.plot([x] * len(per_seed), per_seed, "k.", ms=3)
        ax.axhline(1, color="k", lw=0.8)
        ax.set_yscale("log")
        ax.set_xticks(range(len(names)), [numbers[n]["title"] for n in names], rotation=30,
                      ha="right", fontsize=8)
        ax.set_ylabel(f"{metric.replace('_', ' ')} / baseline's")
        handles, labels = ax.get_legend_handles_labels()
        unique = dict(zip(labels, handles))
        ax.legend(unique.values(), unique.keys(), fontsize=7)
    fig.tight_layout()
    return fig


def write(context):
    from .plots import save_figure
    numbers = summarize_runs(context)
    if not numbers:
        return []
    folder = context.folder
    json_path, md_path = (os.path.join(folder, f"which-prior.{ext}") for ext in ("json", "md"))
    write_json(json_path, {"seeds": list(context.seeds), "quick": context.quick,
                           "tasks": numbers})
    write_text(md_path, markdown(numbers, context.seeds))
    return [json_path, md_path,
            save_figure(figure(numbers), os.path.join(folder, "which-prior.png"))]


STUDY = Study("which-prior", "Which part of the Hamiltonian prior pays? Baseline, NODE + SO, HNN "
              "and LNN on every fitting task, and NODE + SO on the non-conservative ones.",
              needs=needs, write=write)
