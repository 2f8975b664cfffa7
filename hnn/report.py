"""Result tables: our numbers beside the paper's, for whichever tasks were run.

`results` maps run names (`{task}-{model}-seed{N}`) to the metrics saved by `Task.run`; the
tasks (`hnn.tasks.Task`) give each row's title, table and paper numbers.
"""
import os

import numpy as np

from .checkpoint import read_json
from .config import REPO_ROOT
from .runs import parse_run_name, run_name
from .tasks import METRICS, TABLES

COLUMNS = [(metric, model) for metric in METRICS for model in ("baseline", "hnn")]
GENERAL_NOTES = [
    "Rollouts for every energy MSE use batched fixed-step RK4 (several steps per output "
    "interval) instead of per-trajectory scipy RK45; the tests check both give the same spring "
    "energy MSE within 2%, and finer steps leave the orbit numbers unchanged to 4 digits.",
    "Random streams (numpy Generator) differ from the original's, so the sampled trajectories, "
    "orbits and frames are not the same ones and single-seed numbers move within their noise.",
]


def cell_stats(results, task, model, metric, seeds):
    """(mean, error) of one cell: the run's mean ± stderr for one seed, or the mean ± std of the
    per-seed means over several seeds. None if a run or its metric is missing."""
    values = []
    for seed in seeds:
        run = results.get(run_name(task, model, seed))
        if run is None or metric not in run:
            return None
        values.append(run[metric])
    if len(values) == 1:
        return values[0]["mean"], values[0]["stderr"]
    means = np.array([v["mean"] for v in values])
    return float(means.mean()), float(means.std(ddof=1))


def differs(ours, paper):
    """True when the two means are further apart than their error bars added."""
    return abs(ours[0] - paper[0]) > ours[1] + paper[1]


def fmt(stats):
    return f"{stats[0]:.2e} ± {stats[1]:.1e}"


def seeds_of(results, task, model=None):
    """The seeds with runs of the task named `task` (of `model`, if given) in `results`, sorted."""
    return sorted({seed for name, kind, seed in map(parse_run_name, results)
                   if name == task and model in (None, kind)})


def render_table(results, tasks):
    """A Markdown table: per task and column, ours over the paper's; † marks a miss, – no number.

    Each row uses every seed of its task in `results`; rows over several seeds name them."""
    header = "| Task | " + " | ".join(f"{m.replace('_', ' ')} ({'HNN' if k == 'hnn' else 'baseline'})"
                                       for m, k in COLUMNS) + " |"
    lines = [header, "|" + " --- |" * (len(COLUMNS) + 1)]
    for task in tasks:
        seeds = seeds_of(results, task.name)
        title = task.title if len(seeds) == 1 else f"{task.title} (seeds {', '.join(map(str, seeds))})"
        cells = []
        for metric, model in COLUMNS:
            ours = cell_stats(results, task.name, model, metric, seeds)
            ref = (task.paper or {}).get(model, {}).get(metric)
            text = fmt(ours) if ours else "not run"
            if ours and ref and differs(ours, ref):
                text += " †"
            cells.append(f"{text}<br>paper {fmt(ref) if ref else '–'}")
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


MODEL_LABELS = {"baseline": "baseline", "hnn": "HNN", "dhnn": "D-HNN", "shnn": "separable HNN"}


def render_model_table(results, tasks, models, metrics=METRICS):
    """A Markdown table with a row per task and metric and a column per model (no paper
    numbers); each row uses every seed of its task in `results`."""
    lines = ["| Task | metric | " + " | ".join(MODEL_LABELS[m] for m in models) + " |",
             "|" + " --- |" * (len(models) + 2)]
    for task in tasks:
        seeds = seeds_of(results, task.name)
        title = task.title if len(seeds) == 1 else f"{task.title} (seeds {', '.join(map(str, seeds))})"
        for metric in metrics:
            cells = [cell_stats(results, task.name, model, metric, seeds) for model in models]
            lines.append(f"| {title} | {metric.replace('_', ' ')} | " +
                         " | ".join(fmt(c) if c else "not run" for c in cells) + " |")
    return "\n".join(lines)


def original_protocol_lines(task, results, seeds, metric, heading):
    """Our `metric`, the energy MSE measured the original's way, beside the paper's energy MSE:
    Markdown lines under `heading` (none if a run lacks the metric)."""
    ours = {model: cell_stats(results, task.name, model, metric, seeds) for model in ("hnn", "baseline")}
    if not all(ours.values()):
        return []
    ref = {model: task.paper[model]["energy_mse"] for model in ("hnn", "baseline")}
    return [f"## {heading}", "",
            f"- Ours: HNN {fmt(ours['hnn'])}, baseline {fmt(ours['baseline'])} "
            f"({ours['baseline'][0] / ours['hnn'][0]:.0f}x).",
            f"- Paper: HNN {fmt(ref['hnn'])}, baseline {fmt(ref['baseline'])} "
            f"({ref['baseline'][0] / ref['hnn'][0]:.0f}x).", ""]


def energy_verdicts(results, tasks):
    """One line per task: is the HNN's energy MSE below the baseline's?"""
    lines = []
    for task in tasks:
        seeds = seeds_of(results, task.name)
        hnn = cell_stats(results, task.name, "hnn", "energy_mse", seeds)
        base = cell_stats(results, task.name, "baseline", "energy_mse", seeds)
        if hnn and base:
            verdict = "below" if hnn[0] < base[0] else "NOT below"
            lines.append(f"- {task.title}: HNN energy MSE {hnn[0]:.2e} is {verdict} the "
                         f"baseline's {base[0]:.2e} ({base[0] / hnn[0]:.0f}x).")
    return lines


def tasks_in(results, tasks):
    """The tasks (from the {name: task} dict `tasks`) that have runs in `results`, in table order."""
    present = {parse_run_name(name)[0] for name in results}
    return [task for name, task in tasks.items() if name in present]


def render_tables(results, tasks, quick=False):
    """The whole table.md of `results` (every run in it): one table per paper table (and
    extensions), the energy verdicts, each task's extra lines and the protocol notes."""
    shown = tasks_in(results, tasks)
    out = [f"# Results{' (quick profile: NOT the paper settings)' if quick else ''}", "",
           "Each cell: ours (mean ± stderr of one run; over several seeds, named in the row, "
           "mean ± std of the runs' means) over the paper's (mean ± stderr, seed 0; – where the "
           "paper has none). † marks a cell whose mean misses the paper's by more than the two "
           "error bars added.", ""]
    for table in TABLES:
        rows = [task for task in shown if task.table == table]
        if rows:
            out += [f"## {table}", "", render_table(results, rows), ""]
    friction = [task for task in shown if seeds_of(results, task.name, "dhnn")]
    if friction:
        out += ["## Friction: baseline, HNN and dissipative HNN", "",
                render_model_table(results, friction, ("baseline", "hnn", "dhnn")), ""]
        floors = [line for task in friction
                  for line in task.friction_lines(results, seeds_of(results, task.name, "dhnn"))]
        out += floors + [""] if floors else []
    separable = [task for task in shown if seeds_of(results, task.name, "shnn")]
    if separable:
        out += ["## Separable HNN: H = T(p) + V(q)", "",
                render_model_table(results, separable, ("hnn", "shnn"),
                                   ("train_loss", "test_loss", "energy_mse", "state_mse")), ""]
    out += ["## Energy conservation", ""] + energy_verdicts(results, shown) + [""]
    for task in shown:
        out += task.report_lines(results, seeds_of(results, task.name))
    notes = GENERAL_NOTES + [note for task in shown for note in task.notes]
    out += ["## Where our protocol differs from the original", ""] + [f"- {n}" for n in notes] + [""]
    return "\n".join(out)


def results_dir():
    """Where reproduce.py wrote its results: `$HNN_RESULTS_DIR`, or `<repo>/results`."""
    return os.environ.get("HNN_RESULTS_DIR", os.path.join(REPO_ROOT, "results"))


def task_table(results_path, tasks):
    """The table rows of `tasks` (Task objects) from a results folder's results.json."""
    results = read_json(os.path.join(results_path, "results.json"))
    missing = [task.name for task in tasks if not seeds_of(results, task.name)]
    if missing:
        raise ValueError(f"{results_path}/results.json has no runs of {missing}; "
                         "run reproduce.py first")
    return render_table(results, tasks)
