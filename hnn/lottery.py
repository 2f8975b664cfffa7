"""Where training stops: the end-step lottery, the profile that removes it, and training speed.

Every Table 1 task that is not `expensive`, baseline and HNN, each seed, trained twice, scoring
the model at each of the last 21 steps and at 20 points along training (which leaves the final
metrics bit for bit as they are): under the paper's protocol, and under the `robust` profile
(`hnn.config.PROFILES`). Before that, a search: candidate profiles on the HNNs of the first two
seeds, from which the robust profile was chosen.

    python reproduce.py --study end-of-training --seeds 0 1 2 3 4 [--jobs 2]
"""
import os

import numpy as np

from .checkpoint import write_json, write_text
from .config import PROFILES
from .report import MODEL_LABELS, markdown_table, render_tables
from .studies import RunSet, Study, offered, offered_runs, runs_of
from .tasks import TABLE_1

MODELS = ("baseline", "hnn")
TRACKING = (("track_last", 21), ("track_points", 20))
QUICK_TRACKING = (("track_last", 3), ("track_points", 3))     # --quick: a smoke run
CANDIDATES = {"cosine": {"lr_schedule": "cosine"},
              "ema": {"ema_decay": 0.99},
              "cosine + ema": {"lr_schedule": "cosine", "ema_decay": 0.99}}
SEARCH_SEEDS = 2


def studied(context):
    return [name for name in context.selected
            if context.tasks[name].table == TABLE_1 and not context.tasks[name].expensive]


def folder_of(label):
    return "runs-" + label.replace(" + ", "-")


def tracking(context):
    return QUICK_TRACKING if context.quick else TRACKING


def needs(context):
    tasks, track = studied(context), tracking(context)
    runs = offered_runs(context, tasks, MODELS, context.seeds)
    sets = [RunSet(runs, "runs-paper", track),
            RunSet(runs, "runs-robust",
                   track + tuple(PROFILES["robust"].items()))]
    search = context.seeds[:SEARCH_SEEDS]
    sets += [RunSet(runs_of(tasks, ("hnn",), search), folder_of(label),
                    track + tuple(overrides.items()))
             for label, overrides in CANDIDATES.items()]
    return sets


def tracked(runs, task, model, seed):
    return runs.checkpoint(task, model, seed)["curves"]["tracked"]


def spread(values):
    """max / min of the finite, positive values (inf where none is left)."""
    values = [v for v in values if v is not None and v > 0]
    return float(max(values) / min(values)) if values else float("inf")


def lottery(runs, task, model, seeds):
    """The energy MSE at the last 21 steps of each seed's run: per-seed within-run spreads, the
    final values, their across-seed spread and coefficient of variation."""
    last = {}
    for seed in seeds:
        curve = tracked(runs, task, model, seed)
        steps = curve["step"][-21:]
        last[seed] = {"step": steps, "energy_mse": curve["energy_mse"][-21:],
                      "state_mse": curve["state_mse"][-21:]}
    final = [runs.metrics(task, model, seed).get("energy_mse", {}).get("mean") for seed in seeds]
    finite = [v for v in final if v is not None]
    return {"last": last, "within": [spread(last[s]["energy_mse"]) for s in seeds],
            "final": final, "across": spread(final),
            "cv": float(np.std(finite, ddof=1) / np.mean(finite)) if len(finite) > 1 else None}


def first_reaching(curve, levels):
    """The index of the first point of `curve` at which every metric named in `levels` is at or
    below its level (None if none is)."""
    for i in range(len(curve["step"])):
        values = [curve[key][i] for key in levels]
        if all(v is not None and v <= level for v, level in zip(values, levels.values())):
            return i
    return None


def speed(runs, task, model, seeds, levels, points):
    """Along training: each seed's tracked steps, seconds and metrics at `points` evenly spaced
    steps, and the first step and second at which it reaches the energy level alone and both
    the energy and the state levels (None if it never does)."""
    out = {"curves": {}, "reach": {"energy": {"step": [], "seconds": []},
                                   "both": {"step": [], "seconds": []}}}
    for seed in seeds:
        curve = tracked(runs, task, model, seed)
        spaced = {int(round(s)) for s in np.linspace(0, curve["step"][-1], points)}
        chosen = [i for i, step in enumerate(curve["step"]) if step in spaced]
        picked = {k: [curve[k][i] for i in chosen] for k in curve}
        out["curves"][seed] = picked
        for label, keys in (("energy", ("energy_mse",)), ("both", ("energy_mse", "state_mse"))):
            i = first_reaching(picked, {key: levels[key] for key in keys})
            for unit in ("step", "seconds"):
                out["reach"][label][unit].append(None if i is None else picked[unit][i])
    return out


def final_median(runs, task, model, seeds, key):
    """The median over the seeds of a run's final `key` (None where no seed has it)."""
    return median([runs.metrics(task, model, seed).get(key, {}).get("mean") for seed in seeds])


def analyse(context):
    tasks = {name: context.tasks[name] for name in studied(context)}
    seeds, search = context.seeds, context.seeds[:SEARCH_SEEDS]
    paper, robust = context.runs("runs-paper"), context.runs("runs-robust")
    out = {"seeds": list(seeds), "profile": PROFILES["robust"], "tasks": {}}
    for name, task in tasks.items():
        entry = {"title": task.title, "paper": {}, "robust": {}, "search": {}, "speed": {}}
        models = offered(task, MODELS)
        for model in models:
            entry["paper"][model] = lottery(paper, task, model, seeds)
            entry["robust"][model] = lottery(robust, task, model, seeds)
        entry["search"]["paper"] = lottery(paper, task, "hnn", search)["within"]
        for label in CANDIDATES:
            entry["search"][label] = lottery(context.runs(folder_of(label)), task, "hnn",
                                             search)["within"]
        levels = {key: final_median(paper, task, "baseline", seeds, key)
                  for key in ("energy_mse", "state_mse")}
        entry["speed"]["levels"] = levels
        for model in models:
            entry["speed"][model] = (speed(paper, task, model, seeds, levels,
                                           dict(tracking(context))["track_points"])
                                     if None not in levels.values() else None)
        out["tasks"][name] = entry
    return out


def median(values):
    finite = [v for v in values if v is not None]
    return float(np.median(finite)) if finite else None


def num(value, spec=".3g"):
    return "–" if value is None else format(value, spec)


def markdown(numbers):
    seeds = numbers["seeds"]
    profile = ", ".join(f"{k}={v}" for k, v in numbers["profile"].items())
    lines = [f"# Where training stops (seeds {', '.join(map(str, seeds))})", "",
             "Within-run spread: max / min of a run's energy MSE over its last 21 steps (median and"
             " "
             "largest over the seeds). Across seeds: max / min of the final energy MSE over the "
             "seeds, and its coefficient of variation (std / mean). Robust profile: " + profile
             + ".", ""]
    rows = []
    for entry in numbers["tasks"].values():
        for model in entry["paper"]:
            p, r = entry["paper"][model], entry["robust"][model]
            rows.append([entry["title"], MODEL_LABELS[model],
                         num(median(p["within"])), num(max(p["within"])), num(p["across"]),
                         num(p["cv"], ".2f"), num(median(r["within"])), num(max(r["within"])),
                         num(r["across"]), num(r["cv"], ".2f")])
    lines += ["## The end-step lottery, paper protocol against the robust profile", "",
              markdown_table(["Task", "model", "paper: within (median)", "paper: within (max)",
                              "paper: across seeds", "paper: CV", "robust: within (median)",
                              "robust: within (max)", "robust: across seeds", "robust: CV"],
                             rows), ""]
    labels = ["paper"] + list(CANDIDATES)
    rows = [[entry["title"]] + [num(median(entry["search"][label])) + " / "
                                + num(max(entry["search"][label])) for label in labels]
            for entry in numbers["tasks"].values()]
    lines += [f"## The search: the HNN's within-run spread (median / largest, seeds "
              f"{', '.join(map(str, seeds[:SEARCH_SEEDS]))})", "",
              markdown_table(["Task"] + labels, rows), ""]
    rows = []
    for entry in numbers["tasks"].values():
        levels = entry["speed"]["levels"]
        for model in entry["paper"]:
            s = entry["speed"][model]
            if s is None:
                continue
            both, energy = s["reach"]["both"], s["reach"]["energy"]
            reached = [v for v in both["step"] if v is not None]
            rows.append([entry["title"], MODEL_LABELS[model], num(levels["energy_mse"], ".2e"),
                         num(levels["state_mse"], ".2e"), f"{len(reached)} of {len(seeds)}",
                         num(median(both["step"]), ".0f"), num(median(both["seconds"]), ".1f"),
                         num(median(energy["step"]), ".0f"),
                         num(median(energy["seconds"]), ".1f")])
    lines += ["## Training speed: reaching the baseline's final errors", "",
              "The levels: the baseline's final energy MSE and state MSE, median over the seeds "
              "(paper protocol). Steps and seconds: the first of the evenly spaced scorings at "
              "which a run is at or below both levels, and below the energy level alone (median "
              "over the seeds that reach it; training seconds only, the scorings excluded). A "
              "model that barely moves keeps its energy, so the energy level alone can be met "
              "at step 0; the state level is what separates learning from standing still.", "",
              markdown_table(["Task", "model", "energy level", "state level",
                              "seeds reaching both", "both: steps (median)",
                              "both: seconds (median)", "energy alone: steps",
                              "energy alone: seconds"], rows), ""]
    return "\n".join(lines)


def lottery_figure(numbers):
    """Each seed's energy MSE over its last 21 steps, paper protocol (top) and robust profile."""
    from .plots import panel_grid, plot_seeds
    tasks = list(numbers["tasks"].values())
    fig, axes = panel_grid(2, len(tasks))
    for column, entry in enumerate(tasks):
        for row, protocol in enumerate(("paper", "robust")):
            ax = axes[row][column]
            for model in entry[protocol]:
                plot_seeds(ax, model, entry[protocol][model]["last"], "step", "energy_mse",
                           numbers["seeds"][0])
            ax.set(yscale="log", xlabel="step", ylabel="energy MSE",
                   title=f"{entry['title']}, {protocol}")
        axes[0][column].legend(fontsize=7)
    fig.tight_layout()
    return fig


def speed_figure(numbers):
    """Each seed's energy MSE and state MSE along training, against steps and training
    seconds, with the levels of the speed table (dashed)."""
    from .plots import panel_grid, plot_seeds
    tasks = list(numbers["tasks"].values())
    panels = [(metric, axis) for metric in ("energy_mse", "state_mse")
              for axis in ("step", "seconds")]
    fig, axes = panel_grid(len(panels), len(tasks))
    for column, entry in enumerate(tasks):
        for row, (metric, axis) in enumerate(panels):
            ax = axes[row][column]
            for model in entry["paper"]:
                plot_seeds(ax, model, (entry["speed"][model] or {}).get("curves", {}), axis,
                           metric, numbers["seeds"][0], alpha=0.8)
            level = entry["speed"]["levels"][metric]
            if level:
                ax.axhline(level, color="k", lw=0.6, ls="--")
            ax.set(yscale="log", ylabel=metric.replace("_mse", " MSE"), title=entry["title"],
                   xlabel="training step" if axis == "step" else "training seconds")
        axes[0][column].legend(fontsize=7)
    fig.tight_layout()
    return fig


def write(context):
    from .plots import save_figure
    if not studied(context):
        return []
    numbers = analyse(context)
    folder = context.folder
    json_path, md_path, table_path = (os.path.join(folder, name) for name in (
        "end-of-training.json", "end-of-training.md", "robust-table.md"))
    write_json(json_path, numbers, allow_nan=True)     # inf: a spread with no positive value
    write_text(md_path, markdown(numbers))
    robust = context.runs("runs-robust").saved_metrics()
    write_text(table_path, render_tables(robust, {n: context.tasks[n] for n in studied(context)},
                                         quick=context.quick).replace(
        "# Results", "# Results under the robust profile (" + ", ".join(
            f"{k}={v}" for k, v in PROFILES["robust"].items()) + ")", 1))
    return [json_path, md_path, table_path,
            save_figure(lottery_figure(numbers), os.path.join(folder, "lottery.png")),
            save_figure(speed_figure(numbers), os.path.join(folder, "training-speed.png"))]


STUDY = Study("end-of-training", "How much of a run's score is where training stops, what "
              "removes it, and how fast each model trains per step and per second.",
              needs=needs, write=write)
