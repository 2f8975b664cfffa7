"""Result tables: our numbers beside the paper's, for whichever tasks were run.

`results` maps run names (`{task}-{model}-seed{N}`) to the metrics saved by `Task.run`; the
tasks (`hnn.tasks.Task`) give each row's title, table and paper numbers.
A task declares extra sections (`OriginalProtocol`, `LinearFieldFloor`, `ModelMetrics`,
`PaperComparison`); this module writes their Markdown. `markdown_table` is the one table helper.
"""
import os

import numpy as np

from .checkpoint import read_json
from .config import REPO_ROOT, split_run_model
from .runs import parse_run_name, run_name
from .tasks import METRICS, TABLES, Note

COLUMNS = [(metric, model) for metric in METRICS for model in ("baseline", "hnn")]
# Notes that hold for every task with paper numbers.
GENERAL_NOTES = [
    Note("Rollouts for every energy MSE use batched fixed-step RK4 (several steps per output "
         "interval) instead of per-trajectory scipy RK45; the tests check both give the same "
         "spring energy MSE within 2%, and finer steps leave the orbit numbers unchanged to 4 "
         "digits.",
         "the energy rollouts used `scipy.integrate.solve_ivp`, default method RK45, one "
         "trajectory at a time",
         "[HNN] `analyze-spring.ipynb`, `analyze-pend.ipynb`, `analyze-real.ipynb`, "
         "`analyze-2body.ipynb`, `analyze-3body.ipynb`, `analyze-pixels.ipynb` "
         "(`integrate_model`/`integrate_models`, `solve_ivp(...)` with no `method`)"),
    Note("Random streams (numpy Generator) differ from the original's, so the sampled "
         "trajectories, orbits and frames are not the same ones and single-seed numbers move "
         "within their noise.",
         "the data used numpy's global `np.random.seed` stream",
         "[HNN] the `data.py` of each experiment folder (spring, pendulum, two-body, three-body, "
         "pixels)"),
]
ORIGINALS = [
    "**[HNN]** github.com/greydanus/hamiltonian-nn, final code commit `702d88f`. The authors "
    "later renamed their real-pendulum and orbit folders `experiment-real/` and "
    "`experiment-2body/`; the content did not change.",
    "**[D-HNN]** github.com/greydanus/dissipative_hnns (Sosanya & Greydanus 2022).",
]


def markdown_table(header, rows):
    """A Markdown table: `header` a list of column titles, `rows` lists of cell strings."""
    def line(cells):
        return "|" + "".join(f" {cell} |" if str(cell) else " |" for cell in cells)
    return "\n".join([line(header), "|" + " --- |" * len(header)] + [line(row) for row in rows])


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


def missing(results, task, model, seeds):
    """What a cell without numbers says: "diverged" if a run of it failed its rollouts."""
    runs = [results.get(run_name(task, model, seed)) or {} for seed in seeds]
    return "diverged" if any("diverged" in run for run in runs) else "not run"


def seeds_of(results, task, model=None):
    """The seeds with runs of the task named `task` in `results`, sorted: of `model` (a run model
    key, `hnn.config.run_model`) if given, else of any model trained by derivative matching."""
    return sorted({seed for name, kind, seed in map(parse_run_name, results)
                   if name == task and (kind == model if model else "+" not in kind)})


def row_title(task, seeds):
    return task.title if len(seeds) == 1 else f"{task.title} (seeds {', '.join(map(str, seeds))})"


def render_table(results, tasks):
    """A Markdown table: per task and column, ours over the paper's; † marks a miss, – no number.

    Each row uses every seed of its task in `results`; rows over several seeds name them."""
    header = ["Task"] + [f"{m.replace('_', ' ')} ({'HNN' if k == 'hnn' else 'baseline'})"
                         for m, k in COLUMNS]
    rows = []
    for task in tasks:
        seeds = seeds_of(results, task.name)
        cells = []
        for metric, model in COLUMNS:
            ours = cell_stats(results, task.name, model, metric, seeds)
            ref = (task.paper or {}).get(model, {}).get(metric)
            text = fmt(ours) if ours else missing(results, task.name, model, seeds)
            if ours and ref and differs(ours, ref):
                text += " †"
            cells.append(f"{text}<br>paper {fmt(ref) if ref else '–'}")
        rows.append([row_title(task, seeds)] + cells)
    return markdown_table(header, rows)


MODEL_LABELS = {"baseline": "baseline", "hnn": "HNN", "dhnn": "D-HNN", "shnn": "separable HNN",
                "node2": "NODE + SO", "lnn": "LNN"}


def model_label(key):
    """The label of a run model key (`hnn.config.run_model`): "HNN", "HNN (rollout)",
    "D-HNN (rollout + ISO)"."""
    model, settings = split_run_model(key)
    how = "rollout + ISO" if settings.get("infer_starts") else settings.get("loss")
    return MODEL_LABELS[model] + (f" ({how})" if how else "")


def render_model_table(results, tasks, models, metrics=METRICS, seeds_from=None):
    """A Markdown table with a row per task and metric and a column per model (no paper
    numbers); each row uses every seed of its task in `results` (of the model `seeds_from`, if
    given; see `seeds_of`)."""
    rows = []
    for task in tasks:
        seeds = seeds_of(results, task.name, seeds_from)
        for metric in metrics:
            cells = [cell_stats(results, task.name, model, metric, seeds) for model in models]
            rows.append([row_title(task, seeds), metric.replace("_", " ")]
                        + [fmt(c) if c else missing(results, task.name, model, seeds)
                           for c, model in zip(cells, models)])
    return markdown_table(["Task", "metric"] + [model_label(m) for m in models], rows)


class OriginalProtocol:
    """Our `metric`, the energy MSE measured the original's way, beside the paper's energy MSE,
    under `heading` (nothing if a run lacks the metric)."""

    placement = "task"

    def __init__(self, metric, heading):
        self.metric, self.heading = metric, heading

    def lines(self, task, results, seeds):
        ours = {model: cell_stats(results, task.name, model, self.metric, seeds)
                for model in ("hnn", "baseline")}
        if not all(ours.values()):
            return []
        ref = {model: task.paper[model]["energy_mse"] for model in ("hnn", "baseline")}
        return [f"## {self.heading}", "",
                f"- Ours: HNN {fmt(ours['hnn'])}, baseline {fmt(ours['baseline'])} "
                f"({ours['baseline'][0] / ours['hnn'][0]:.0f}x).",
                f"- Paper: HNN {fmt(ref['hnn'])}, baseline {fmt(ref['baseline'])} "
                f"({ref['baseline'][0] / ref['hnn'][0]:.0f}x).", ""]


class LinearFieldFloor:
    """Under the friction table: what a least-squares linear field fitted to the same training
    data scores (`HamiltonianTask.least_squares_reference`, for a task with a linear field)."""

    placement = "friction"

    def lines(self, task, results, seeds):
        values = [task.least_squares_reference(seed) for seed in seeds]
        stats = {key: (np.mean([v[key] for v in values]),
                       np.std([v[key] for v in values], ddof=1) if len(values) > 1 else 0.0)
                 for key in values[0]}
        return [f"- {task.title}, least-squares linear field (the physics' exact form, 4 numbers "
                f"fitted to the same noisy training data, seeds {', '.join(map(str, seeds))}): "
                + ", ".join(f"{key.replace('_', ' ')} {m:.2e} ± {e:.1e}"
                            for key, (m, e) in stats.items())
                + ". Input noise shrinks and scatters its divergence."]


class ModelMetrics:
    """A line per model of its `metrics` (mean ± error), under `heading`, after a line of the
    truth: `truth(task)` gives [(label, value, where)]."""

    placement = "task"

    def __init__(self, heading, metrics, truth=None):
        self.heading, self.metrics, self.truth = heading, metrics, truth

    def lines(self, task, results, seeds):
        lines = []
        for model in task.models:
            cells = [cell_stats(results, task.name, model, m, seeds) for m in self.metrics]
            if all(cells):
                lines.append(f"- {model}: " + ", ".join(f"{m.replace('_', ' ')} {fmt(c)}"
                                                        for m, c in zip(self.metrics, cells)))
        if not lines:
            return []
        truth = [] if self.truth is None else [
            "- Truth: " + ", ".join(f"{label} {value:.2e} {where}"
                                    for label, value, where in self.truth(task)) + "."]
        return [f"## {self.heading}", "", *truth, *lines, ""]


class PaperComparison:
    """Our `metric` per model beside another paper's numbers `paper` ({model: (mean, error)}),
    under `heading`, with `notes` (sentences) below; nothing unless every model has runs."""

    placement = "task"

    def __init__(self, heading, source, paper, notes=(), metric="energy_mse"):
        self.heading, self.source, self.paper = heading, source, paper
        self.notes, self.metric = list(notes), metric

    def lines(self, task, results, seeds):
        models = list(self.paper)
        ours = [cell_stats(results, task.name, model, self.metric, seeds) for model in models]
        if not all(ours):
            return []
        table = markdown_table([self.metric.replace("_", " ").replace("mse", "MSE")]
                               + [MODEL_LABELS[m] for m in models],
                               [[f"ours ({task.name})"] + [fmt(c) for c in ours],
                                [self.source] + [fmt(self.paper[m]) for m in models]])
        return [f"## {self.heading}", "", table, "", *[f"- {n}" for n in self.notes], ""]


def energy_verdicts(results, tasks):
    """One line per task: is the HNN's energy MSE below the baseline's, and its state MSE? (A
    model that does not move keeps its energy exactly; its state MSE shows it.)"""
    lines = []
    for task in tasks:
        seeds = seeds_of(results, task.name)
        hnn, base = (cell_stats(results, task.name, m, "energy_mse", seeds)
                     for m in ("hnn", "baseline"))
        if hnn and base:
            verdict = "below" if hnn[0] < base[0] else "NOT below"
            line = (f"- {task.title}: HNN energy MSE {hnn[0]:.2e} is {verdict} the "
                    f"baseline's {base[0]:.2e} ({base[0] / hnn[0]:.0f}x)")
            states = [cell_stats(results, task.name, m, "state_mse", seeds)
                      for m in ("hnn", "baseline")]
            if all(states):
                below = "below" if states[0][0] < states[1][0] else "NOT below"
                line += (f"; its state MSE {states[0][0]:.2e} is {below} the baseline's "
                         f"{states[1][0]:.2e}")
            lines.append(line + ".")
    return lines


def ratio_table(results, tasks):
    """Per task with paper numbers: the HNN's and the baseline's energy MSE and their ratio,
    beside the paper's ratio (a Markdown table; each row uses every seed in `results`)."""
    rows = []
    for task in tasks:
        seeds = seeds_of(results, task.name)
        hnn, base = (cell_stats(results, task.name, m, "energy_mse", seeds)
                     for m in ("hnn", "baseline"))
        paper_mse = {m: (task.paper or {}).get(m, {}).get("energy_mse")
                     for m in ("hnn", "baseline")}
        if all(paper_mse.values()) and hnn and base:
            paper = paper_mse["baseline"][0] / paper_mse["hnn"][0]
            rows.append([row_title(task, seeds), f"{hnn[0]:.2e}", f"{base[0]:.2e}",
                         f"{base[0] / hnn[0]:.0f}x",
                         f"{paper:.2g}x" if paper < 10 else f"{paper:.0f}x"])
    return markdown_table(["Task", "HNN energy MSE", "baseline energy MSE", "baseline / HNN",
                           "paper's baseline / HNN"], rows) if rows else ""


def tasks_in(results, tasks):
    """The tasks (from the {name: task} dict `tasks`) that have runs in `results`, in table
    order."""
    present = {parse_run_name(name)[0] for name in results}
    return [task for name, task in tasks.items() if name in present]


def render_tables(results, tasks, quick=False):
    """The whole table.md of `results` (every run in it): one table per paper table (and
    extensions), the tables of the other models, the energy verdicts, the tasks' own sections
    and the protocol notes."""
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
    friction = [task for task in shown if task.friction and seeds_of(results, task.name, "dhnn")]
    if friction:
        out += ["## Friction: baseline, HNN and dissipative HNN", "",
                render_model_table(results, friction, ("baseline", "hnn", "dhnn")), ""]
        floors = [line for task in friction for line in section_lines(
            task, results, seeds_of(results, task.name, "dhnn"), "friction")]
        out += floors + [""] if floors else []
    for model, heading in (("dhnn", "Dissipative HNN on tasks without friction"),
                           ("shnn", "Separable HNN: H = T(p) + V(q)")):
        rows = [task for task in shown if seeds_of(results, task.name, model)
                and not (model == "dhnn" and task.friction)]
        if rows:
            out += [f"## {heading}", "", render_model_table(results, rows, ("hnn", model)), ""]
    for models, heading in ((("baseline", "node2", "hnn", "lnn"),
                             "Second-order and Lagrangian models: NODE + SO and LNN"),
                            (("baseline", "node2", "hnn", "dhnn"),
                             "NODE + SO on systems that are not conservative")):
        rows = [task for task in shown if seeds_of(results, task.name, "node2")
                and (models[-1] == "lnn") == ("lnn" in task.models)]
        if rows:
            out += [f"## {heading}", "", render_model_table(results, rows, models), ""]
    out += rollout_tables(results, shown)
    out += ["## Energy conservation", ""] + energy_verdicts(results, shown) + [""]
    ratios = ratio_table(results, shown)
    if ratios:
        out += ["The HNN's energy MSE against the baseline's, means over the seeds, beside the "
                "paper's ratio:", "", ratios, ""]
    for task in shown:
        out += section_lines(task, results, seeds_of(results, task.name), "task")
    notes = protocol_notes(shown)
    if notes:
        out += ["## Where our protocol differs from the original", ""]
        out += [f"- {note.text}" for note in notes] + [""]
    return "\n".join(out)


def rollout_tables(results, tasks):
    """Markdown lines of one table per task with runs trained by rollout (`--loss rollout`):
    each such run model beside its derivative-matched model."""
    keys = {name: sorted({kind for task, kind, _ in map(parse_run_name, results)
                          if task == name and "+" in kind}) for name in (t.name for t in tasks)}
    lines = []
    for task in tasks:
        trained = keys[task.name]
        if not trained:
            continue
        models = []
        for key in trained:
            base = split_run_model(key)[0]
            models += [m for m in (base, key) if m not in models]
        lines += [f"## {task.title}: trained by rollout (`--loss rollout`)", "",
                  render_model_table(results, [task], models, seeds_from=trained[0]), ""]
    if lines:
        lines.insert(0, "")
    return lines


def section_lines(task, results, seeds, placement):
    """The Markdown lines of `task`'s declared sections placed at `placement` ("friction":
    under the friction table; "task": after the energy verdicts)."""
    return [line for section in task.sections if section.placement == placement
            for line in section.lines(task, results, seeds)]


def protocol_notes(tasks):
    """The notes of `tasks`, after the general ones if any task has paper numbers; each once."""
    general = GENERAL_NOTES if any(task.paper for task in tasks) else []
    return list(dict.fromkeys(general + [note for task in tasks for note in task.notes]))


def protocol_page(tasks):
    """docs/protocol.md: every protocol note of `tasks` ({name: task}), with what the original
    did and the files of the original that show it."""
    out = ["# Where our protocol differs from the original", "",
           "Generated from the tasks' own notes (`notes=` in each `task.py`, and "
           "`hnn.report.GENERAL_NOTES`) by `python reproduce.py --protocol-page`; `table.md` "
           "prints the same notes. The facts behind them are in [the paper's settings]"
           "(paper-settings.md). Where the paper and the authors' code disagree, we follow "
           "the code, which produced the published numbers. The originals, with paths relative to "
           "their repositories:", "", *[f"- {line}" for line in ORIGINALS], ""]
    sections = [("Every task with paper numbers", GENERAL_NOTES)] + [
        (f"{task.title} (`{task.name}`)", task.notes) for task in tasks.values() if task.notes]
    for heading, notes in sections:
        out += [f"## {heading}", ""]
        for note in notes:
            out += [f"- {note.text}"]
            out += [f"  - The original: {note.original}."] if note.original else []
            out += [f"  - Backed by: {note.source}."] if note.source else []
        out += [""]
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
