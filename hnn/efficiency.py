"""Is the HNN more sample efficient? Baseline, HNN and NODE + SO (where the task has it) trained
on n trajectories, for each task that declares `SampleSizes`, each seed, under the robust profile
(`hnn.config.PROFILES`). The LNN is left out: its step costs 2.7-5.6x the HNN's
(`benchmarks/bench_models.py`), and it diverges on the two-body task at the paper's size.

The sets are nested: size n is the first n training trajectories of one large set per seed
(`SampleSizes.largest`), so the curves are paired; the test split (that large set's) and the
evaluation starts are the same at every size. Every size trains the task's usual number of
steps. One note measures what changes when the steps scale with the size instead: the first
task, total_steps x n / paper size, for the sizes that differ from the paper's up to 4x it,
baseline and HNN, first two seeds.

Each task's section is measured from its own runs: `--tasks` measures the tasks it names and
keeps the other sections of the study's JSON (same seeds and profile), so a task is added or
updated without retraining the rest.

    python reproduce.py --study sample-efficiency --seeds 0 1 2 3 4 [--tasks dblpend] [--jobs 2]
"""
import os

import numpy as np

from .checkpoint import read_json, write_json, write_text
from .config import PROFILES
from .report import MODEL_LABELS, markdown_table
from .studies import RunSet, Study, finite_mean, offered
from .sweep import Run

MODELS = ("baseline", "hnn", "node2")
SCALED_MODELS = ("baseline", "hnn")
SCALED_SEEDS = 2          # the note on steps that scale with n: the first two seeds,
SCALED_UP_TO = 4          # and the sizes up to 4x the paper's (steps up to 4x the task's)


def studied(context):
    return [name for name in context.selected if context.tasks[name].sample_sizes]


def declared(context):
    """Every task that declares sizes, in the tasks' order (selected or not)."""
    return [name for name, task in context.tasks.items() if task.sample_sizes]


def scaled_task(context):
    """The task of the steps-scaled note: the first task that declares sizes, if selected."""
    return [name for name in declared(context)[:1] if name in context.selected]


def sizes(task, context):
    """The task's sizes; with --quick, the smallest and the paper's (a smoke run)."""
    settings = task.sample_sizes
    if context.quick:
        return sorted({settings.sizes[0], settings.paper})
    return list(settings.sizes)


def folder_of(name, size, scaled=False):
    return f"runs-{name}-n{size}" + ("-scaled" if scaled else "")


def overrides(task, size, context, scaled=False):
    settings = task.sample_sizes
    steps = ()
    if scaled:
        total = task.config(quick=context.quick).total_steps
        steps = (("total_steps", max(int(round(total * size / settings.paper)), 1)),)
    return (settings.largest + (("train_trajectories", size),)
            + tuple(PROFILES["robust"].items()) + steps)


def scaled_sizes(task, context):
    paper = task.sample_sizes.paper
    return [n for n in sizes(task, context) if n != paper and n <= SCALED_UP_TO * paper]


def needs(context):
    sets = []
    for name in studied(context):
        task = context.tasks[name]
        runs = tuple(Run(name, model, seed) for model in offered(task, MODELS)
                     for seed in context.seeds)
        sets += [RunSet(runs, folder_of(name, n), overrides(task, n, context))
                 for n in sizes(task, context)]
    for name in scaled_task(context):
        task = context.tasks[name]
        runs = tuple(Run(name, model, seed) for model in SCALED_MODELS
                     for seed in context.seeds[:SCALED_SEEDS])
        sets += [RunSet(runs, folder_of(name, n, True), overrides(task, n, context, True))
                 for n in scaled_sizes(task, context)]
    return sets


def analyse(context):
    out = {"seeds": list(context.seeds), "profile": PROFILES["robust"], "tasks": {}}
    for name in studied(context):
        task, settings = context.tasks[name], context.tasks[name].sample_sizes
        entry = {"title": task.title, "sizes": sizes(task, context), "paper": settings.paper,
                 "total_steps": task.config(quick=context.quick).total_steps, "models": {}}
        for model in offered(task, MODELS):
            entry["models"][model] = {
                metric: {str(n): context.runs(folder_of(name, n)).seed_means(
                    task, model, context.seeds, metric) for n in entry["sizes"]}
                for metric in ("energy_mse", "state_mse")}
        entry["matches"] = {}
        for metric in ("energy_mse", "state_mse"):
            target = finite_mean(entry["models"]["baseline"][metric][str(settings.paper)])
            hnn = [(n, finite_mean(entry["models"]["hnn"][metric][str(n)]))
                   for n in entry["sizes"]]
            hit = [n for n, v in hnn if v is not None and target is not None and v <= target]
            entry["matches"][metric] = {"baseline_at_paper": target,
                                        "smallest_n": min(hit) if hit else None}
        if name in scaled_task(context):
            entry["scaled"] = {model: {str(n): context.runs(folder_of(name, n, True)).seed_means(
                                           task, model, context.seeds[:SCALED_SEEDS],
                                           "energy_mse")
                                       for n in scaled_sizes(task, context)}
                               for model in SCALED_MODELS}
        out["tasks"][name] = entry
    return out


def merged(numbers, path, order):
    """`numbers` with the task sections of the study's earlier JSON at `path` that it does not
    measure, when that JSON has the same seeds and profile; tasks in the order of `order`."""
    try:
        earlier = read_json(path) if os.path.exists(path) else {}
    except ValueError:
        earlier = {}
    if (earlier.get("seeds"), earlier.get("profile")) != (numbers["seeds"], numbers["profile"]):
        return numbers
    tasks = {**earlier.get("tasks", {}), **numbers["tasks"]}
    return {**numbers, "tasks": {name: tasks[name] for name in order if name in tasks}}


def num(value, spec=".2e"):
    return "–" if value is None else format(value, spec)


def markdown(numbers):
    seeds = numbers["seeds"]
    profile = ", ".join(f"{k}={v}" for k, v in numbers["profile"].items())
    lines = [f"# Sample efficiency (seeds {', '.join(map(str, seeds))}; robust profile: "
             f"{profile})", "",
             "n: training trajectories, the first n of one large set per seed (nested); the test "
             "split and the evaluation starts are the same at every n; every n trains the task's "
             "usual number of steps. Cells: mean over the seeds (min – max).", ""]
    for name, entry in numbers["tasks"].items():
        for metric in ("energy_mse", "state_mse"):
            rows = []
            for n in entry["sizes"]:
                cells = [str(n) + (" (paper)" if n == entry["paper"] else "")]
                for model in entry["models"]:
                    xs = [x for x in entry["models"][model][metric][str(n)] if x is not None]
                    cells.append(f"{np.mean(xs):.2e} ({min(xs):.1e} – {max(xs):.1e})"
                                 if xs else "diverged")
                base = finite_mean(entry["models"]["baseline"][metric][str(n)])
                hnn = finite_mean(entry["models"]["hnn"][metric][str(n)])
                cells.append(num(base / hnn if base and hnn else None, ".3g") + "×")
                rows.append(cells)
            match = entry["matches"][metric]
            lines += [f"## {entry['title']}: {metric.replace('_', ' ')} "
                      f"({entry['total_steps']} steps at every n)", "",
                      markdown_table(["n"] + [MODEL_LABELS[m] for m in entry["models"]]
                                     + ["baseline / HNN"], rows), "",
                      f"The smallest n at which the HNN's mean is at or below the baseline's at "
                      f"the paper's size ({entry['paper']}, {num(match['baseline_at_paper'])}): "
                      f"{match['smallest_n'] if match['smallest_n'] else 'none of the sizes'}.",
                      ""]
        if "scaled" in entry:
            rows = [[str(n), str(max(int(round(entry["total_steps"] * n / entry["paper"])), 1))]
                    + [num(finite_mean(entry["scaled"][m][str(n)])) + " (fixed steps: "
                       + num(finite_mean(
                           entry["models"][m]["energy_mse"][str(n)][:SCALED_SEEDS]))
                       + ")"
                       for m in SCALED_MODELS] for n in entry["sizes"] if str(n) in
                    entry["scaled"]["hnn"]]
            lines += [f"## {entry['title']}: steps scaled with n (energy mse, seeds "
                      f"{', '.join(map(str, seeds[:SCALED_SEEDS]))})", "",
                      "The mean energy MSE with total_steps x n / the paper's size, beside the "
                      "same seeds at the fixed steps.", "",
                      markdown_table(["n", "steps"] + [MODEL_LABELS[m] for m in SCALED_MODELS],
                                     rows),
                      ""]
    return "\n".join(lines)


def figure(numbers):
    """Energy MSE (top) and state MSE against n, log-log: the mean over the seeds and the band
    from the lowest to the highest seed, per model; the paper's size dashed."""
    from .plots import COLORS, panel_grid
    tasks = list(numbers["tasks"].values())
    fig, axes = panel_grid(2, len(tasks), width=4.0, height=3.2)
    for column, entry in enumerate(tasks):
        for row, metric in enumerate(("energy_mse", "state_mse")):
            ax = axes[row][column]
            for model in entry["models"]:
                kept = [(n, xs) for n in entry["sizes"] if (xs := [
                    x for x in entry["models"][model][metric][str(n)] if x is not None])]
                sizes = [n for n, _ in kept]
                ax.plot(sizes, [np.mean(xs) for _, xs in kept], "o-", color=COLORS[model],
                        label=MODEL_LABELS[model])
                ax.fill_between(sizes, [min(xs) for _, xs in kept], [max(xs) for _, xs in kept],
                                color=COLORS[model], alpha=0.2)
            ax.axvline(entry["paper"], color="k", lw=0.6, ls="--")
            ax.set(xscale="log", yscale="log", title=entry["title"],
                   xlabel="training trajectories n", ylabel=metric.replace("_", " "))
        axes[0][column].legend(fontsize=7)
    fig.tight_layout()
    return fig


def write(context):
    from .plots import save_figure
    if not studied(context):
        return []
    folder = context.folder
    json_path, md_path = (os.path.join(folder, f"sample-efficiency.{ext}")
                          for ext in ("json", "md"))
    numbers = merged(analyse(context), json_path, declared(context))
    write_json(json_path, numbers)
    write_text(md_path, markdown(numbers))
    return [json_path, md_path,
            save_figure(figure(numbers), os.path.join(folder, "sample-efficiency.png"))]


STUDY = Study("sample-efficiency", "Is the HNN more sample efficient? Baseline, HNN and NODE + SO "
              "on nested training sets of n trajectories, under the robust profile.", needs=needs,
              write=write)
