"""What trajectory training buys (`--loss rollout`, `hnn.trajectories`), in three parts, each
taking the tasks that declare it (`hnn.tasks.TrajectoryStudy`):

1. "noise" (the damped spring): its models trained by derivative matching, by rollout and by
   rollout with inferred starts, at each noise level of `NOISES` on the observations; the learned
   divergence and energy decay rate against the truth's and against the training data's own
   least-squares divergence, and the energy and state MSE; the starts are inferred by both
   methods (`--iso-method` alternating, the default, and joint). At the task's own noise level,
   derivative matching and the default ISO also over `more_seeds` seeds (two with --quick).
2. "real" (the real pendulum): its models trained by rollout on windows of the raw recording,
   beside the derivative-matched runs of the tasks it names (`lipson`'s forward differences and
   `lipson_central`); each rollout's energy decay rate beside the recording's.
3. "long" (spring, pendulum, two-body): the HNN trained by rollout against the
   derivative-matched HNN, at equal training steps and, from 20 scorings along training, at
   equal training seconds.

    python reproduce.py --study trajectory-training --seeds 0 1 2 3 4 [--jobs 2]
"""
import os

import numpy as np

from .checkpoint import write_json, write_text
from .metrics import decay_rate
from .report import MODEL_LABELS, markdown_table
from .studies import RunSet, Study, finite_mean, runs_of

NOISES = (0.0, 0.025, 0.05, 0.1, 0.2)
QUICK_NOISES = (0.0, 0.1)
# label: (run-name suffix, folder suffix, overrides beyond the noise)
TRAININGS = {"derivative": ("", "", ()), "rollout": ("+rollout", "", ()),
             "rollout + ISO (alternating)": ("+rollout+iso", "", ()),
             "rollout + ISO (joint)": ("+rollout+iso", "-joint", (("iso_method", "joint"),))}
LONG_TRACKING = (("track_points", 20),)
MORE_SEEDS_TRAININGS = ("derivative", "rollout + ISO (alternating)")
QUICK_MORE_SEEDS = 2


def noises(context):
    return QUICK_NOISES if context.quick else NOISES


def noise_folder(sigma, suffix=""):
    return f"runs-noise{sigma:g}{suffix}"


def more_seeds(context, name, study):
    """(the task's own noise level, the seeds of the `more_seeds` runs), or None."""
    if not study.more_seeds:
        return None
    count = QUICK_MORE_SEEDS if context.quick else study.more_seeds
    return context.tasks[name].defaults.noise_std, list(range(count))


def declared(context, part):
    """{name: its TrajectoryStudy} of the selected tasks that take `part`."""
    found = {name: context.tasks[name].trajectory_study for name in context.selected}
    return {name: study for name, study in found.items() if study and study.part == part}


def needs(context):
    seeds, sets = context.seeds, []
    for name, study in declared(context, "noise").items():
        folders = {}
        for suffix, folder, overrides in TRAININGS.values():
            folders.setdefault((folder, overrides), []).extend(m + suffix for m in study.models)
        sets += [RunSet(runs_of([name], models, seeds), noise_folder(sigma, folder),
                        (("noise_std", sigma), *overrides))
                 for sigma in noises(context) for (folder, overrides), models in folders.items()]
        if extended := more_seeds(context, name, study):
            sigma, extra = extended
            models = [study.models[0] + TRAININGS[label][0] for label in MORE_SEEDS_TRAININGS]
            sets.append(RunSet(runs_of([name], models, [s for s in extra if s not in seeds]),
                               noise_folder(sigma), (("noise_std", sigma),)))
    for name, study in declared(context, "real").items():
        sets.append(RunSet(runs_of([name], [m + "+rollout" for m in study.models], seeds),
                           "runs-raw"))
        sets.append(RunSet(runs_of([t for t in study.beside if t in context.selected],
                                study.models, seeds)))
    for name, study in declared(context, "long").items():
        models = [m + suffix for m in study.models for suffix in ("", "+rollout")]
        sets.append(RunSet(runs_of([name], models, seeds), "runs-long", LONG_TRACKING))
    return sets


def noise_part(context, name, study):
    task, seeds = context.tasks[name], context.seeds
    quick = task.quick if context.quick else {}
    model = study.models[0]
    out = {"model": model, "truth": {"divergence": task.true_divergence(),
                                     "energy_decay_rate": task.true_decay_rate()}, "noises": {}}
    metrics = ("divergence", "energy_decay_rate", "energy_mse", "state_mse")
    for sigma in noises(context):
        entry = {"least_squares": [task.least_squares_reference(
            seed, **quick, noise_std=sigma)["divergence"] for seed in seeds]}
        for label, (suffix, folder, _) in TRAININGS.items():
            runs = context.runs(noise_folder(sigma, folder))
            entry[label] = {m: runs.seed_means(task, model + suffix, seeds, m) for m in metrics}
        out["noises"][f"{sigma:g}"] = entry
    if extended := more_seeds(context, name, study):
        sigma, extra = extended
        runs = context.runs(noise_folder(sigma))
        out["more_seeds"] = {"noise_std": sigma, "seeds": extra, **{
            label: {m: runs.seed_means(task, model + TRAININGS[label][0], extra, m)
                    for m in ("divergence", "energy_decay_rate")}
            for label in MORE_SEEDS_TRAININGS}}
    return out


def real_part(context, name, study):
    seeds, out = context.seeds, {"models": list(study.models), "trainings": {}}
    sources = [(t, "", context.runs()) for t in study.beside if t in context.selected]
    sources.append((name, "+rollout", context.runs("runs-raw")))
    for source, suffix, folder in sources:
        task = context.tasks[source]
        label = source + (" rollout (raw)" if suffix else " derivative")
        entry = {}
        for model in study.models:
            rates, paths = [], None
            for seed in seeds:
                module, ckpt = folder.load(task, model + suffix, seed)
                config = task.config(**{k: v for k, v in ckpt["config"].items() if k != "task"})
                t, recording, energy = task.segment_energy(module, task.dataset(config), config)
                rates.append(float(decay_rate(t, energy[None])[0]))
                if seed == seeds[0]:
                    paths = {"t": t.tolist(), "recording": recording.tolist(),
                             "model": energy.tolist()}
                    entry.setdefault("recording_decay_rate",
                                     float(decay_rate(t, recording[None])[0]))
            entry[model] = {key: folder.seed_means(task, model + suffix, seeds, key)
                            for key in ("energy_mse", "state_mse")}
            entry[model].update({
                            "decay_rate": rates, "first_seed_path": paths})
        out["trainings"][label] = entry
    return out


def at_seconds(curve, seconds, key):
    """The value of `key` at the last scoring of `curve` at or before `seconds`."""
    kept = [i for i, s in enumerate(curve["seconds"]) if s <= seconds]
    return curve[key][kept[-1]] if kept else None


def long_part(context, name, study):
    folder, seeds, task = context.runs("runs-long"), context.seeds, context.tasks[name]
    model = study.models[0]
    pair = (model, model + "+rollout")
    entry = {m: {k: folder.seed_means(task, m, seeds, k) for k in ("state_mse", "energy_mse")}
             for m in pair}
    equal_time = {"derivative": [], "rollout": [], "seconds": []}
    for seed in seeds:
        curves = [folder.checkpoint(task, m, seed)["curves"]["tracked"] for m in pair]
        seconds = min(c["seconds"][-1] for c in curves)
        equal_time["seconds"].append(seconds)
        for label, curve in zip(("derivative", "rollout"), curves):
            equal_time[label].append(at_seconds(curve, seconds, "state_mse"))
    return {"derivative": entry[pair[0]], "rollout": entry[pair[1]],
            "equal_time_state_mse": equal_time}


def analyse(context):
    out = {"seeds": list(context.seeds)}
    for part, analysis in (("noise", noise_part), ("real", real_part), ("long", long_part)):
        tasks = declared(context, part)
        if tasks:
            out[part] = {name: analysis(context, name, study) for name, study in tasks.items()}
    return out


def num(value, spec=".3g"):
    return "–" if value is None else format(value, spec)


def ratio(top, bottom):
    """The ratio of two lists' finite means, as a table cell."""
    a, b = finite_mean(top), finite_mean(bottom)
    return num(a / b if a and b else None)


def spread(xs, spec=".3g"):
    xs = [x for x in xs if x is not None]
    if not xs:
        return "diverged"
    return f"{np.mean(xs):{spec}} ({min(xs):{spec}} – {max(xs):{spec}})"


def mean_error(xs, spec=".3f"):
    """`mean ± standard error` of the values that are not None, with how many were kept."""
    xs = [x for x in xs if x is not None]
    error = np.std(xs, ddof=1) / np.sqrt(len(xs)) if len(xs) > 1 else float("nan")
    return f"{np.mean(xs):{spec}} ± {error:{spec}} (n = {len(xs)})"


def markdown(numbers):
    seeds = numbers["seeds"]
    lines = [f"# What trajectory training buys (seeds {', '.join(map(str, seeds))})", "",
             "Cells: mean over the seeds (min – max).", ""]
    for name, noise in numbers.get("noise", {}).items():
        truth, model = noise["truth"], MODEL_LABELS[noise["model"]]
        rows = []
        for sigma, entry in noise["noises"].items():
            for label in TRAININGS:
                e = entry[label]
                least = finite_mean(entry["least_squares"])
                rows.append([sigma, label, spread(e["divergence"]),
                             spread(e["energy_decay_rate"]), spread(e["energy_mse"], ".2e"),
                             spread(e["state_mse"], ".2e"),
                             num(least) if label == "derivative" else ""])
        lines += [f"## {name}: the {model} against the noise on its observations", "",
                  f"Truth: divergence {truth['divergence']:.3g}, energy decay rate "
                  f"{truth['energy_decay_rate']:.3g}. Least squares: the divergence of a linear "
                  f"field fitted to the training pairs (what an L2 fit on noisy inputs "
                  f"approaches).", "",
                  markdown_table(["noise σ", "training", "divergence", "energy decay rate",
                                  "energy MSE", "state MSE", "least squares"], rows), ""]
        more = noise.get("more_seeds")
        if more:
            rows = [[label, mean_error(more[label]["divergence"]),
                     mean_error(more[label]["energy_decay_rate"])]
                    for label in MORE_SEEDS_TRAININGS]
            lines += [f"### At σ = {more['noise_std']:g} over seeds {more['seeds'][0]}–"
                      f"{more['seeds'][-1]}", "", "Cells: mean ± standard error over the seeds.",
                      "", markdown_table(["training", "divergence", "energy decay rate"], rows),
                      ""]
    for name, real in numbers.get("real", {}).items():
        rows = []
        for label, entry in real["trainings"].items():
            for model in real["models"]:
                e = entry[model]
                rows.append([label, MODEL_LABELS[model], spread(e["energy_mse"], ".2e"),
                             spread(e["state_mse"], ".2e"), spread(e["decay_rate"]),
                             num(entry["recording_decay_rate"])])
        lines += [f"## {name}: without derivatives", "",
                  "Decay rate: minus the slope of log energy against time along the rollout over "
                  "the test segment, beside the recording's own.", "",
                  markdown_table(["training", "model", "energy MSE", "state MSE",
                                  "energy decay rate", "recording's"], rows), ""]
    rows = []
    for name, entry in numbers.get("long", {}).items():
        d, r = entry["derivative"]["state_mse"], entry["rollout"]["state_mse"]
        t = entry["equal_time_state_mse"]
        rows.append([name, spread(d, ".2e"), spread(r, ".2e"), ratio(r, d),
                     spread(entry["derivative"]["energy_mse"], ".2e"),
                     spread(entry["rollout"]["energy_mse"], ".2e"),
                     num(finite_mean(t["seconds"]), ".1f"), ratio(t["rollout"], t["derivative"])])
    if rows:
        lines += ["## Long rollouts: the HNN trained by rollout against derivative matching", "",
                  "Equal steps: the runs' final metrics. Equal time: the state MSE of each at its "
                  "last scoring within the shorter run's training seconds.", "",
                  markdown_table(["task", "derivative: state MSE", "rollout: state MSE",
                                  "rollout / derivative", "derivative: energy MSE",
                                  "rollout: energy MSE", "equal time (s)",
                                  "rollout / derivative at equal time"], rows), ""]
    return "\n".join(lines)


def noise_figure(noise):
    """The D-HNN's divergence against the noise, per training (mean and seed band), with the
    truth and the training data's least-squares divergence."""
    from .plots import pyplot
    fig, ax = pyplot().subplots(figsize=(5.2, 3.8))
    sigmas = [float(s) for s in noise["noises"]]
    for label, color in zip(TRAININGS, ("tab:red", "tab:orange", "tab:blue", "tab:purple")):
        series = [[x for x in e[label]["divergence"] if x is not None]
                  for e in noise["noises"].values()]
        ax.plot(sigmas, [np.mean(xs) for xs in series], "o-", color=color, label=label)
        ax.fill_between(sigmas, [min(xs) for xs in series], [max(xs) for xs in series],
                        color=color, alpha=0.2)
    ax.plot(sigmas, [np.mean(e["least_squares"]) for e in noise["noises"].values()], "k:",
            label="least squares on the data")
    ax.axhline(noise["truth"]["divergence"], color="k", lw=0.8, label="truth")
    ax.set(xlabel="noise σ on the observations", ylabel="learned divergence",
           title=f"The {MODEL_LABELS[noise['model']]}'s divergence")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def energy_figure(real):
    """The energy along each first seed's rollout over the test segment, per training, beside
    the recording's."""
    from .plots import COLORS, panel_grid
    entries = list(real["trainings"].items())
    fig, axes = panel_grid(1, len(entries), width=4.2, height=3.4)
    for ax, (label, entry) in zip(axes[0], entries):
        first = entry[real["models"][0]]["first_seed_path"]
        ax.plot(first["t"], first["recording"], color="k", lw=1.5, label="recording")
        for model in real["models"]:
            path = entry[model]["first_seed_path"]
            ax.plot(path["t"], path["model"], color=COLORS[model], label=MODEL_LABELS[model])
        ax.set(xlabel="time since the test segment's start", ylabel="H", title=label)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def write(context):
    from .plots import save_figure
    numbers = analyse(context)
    if len(numbers) == 1:
        return []
    folder = context.folder
    json_path, md_path = (os.path.join(folder, f"trajectory-training.{ext}")
                          for ext in ("json", "md"))
    write_json(json_path, numbers)
    write_text(md_path, markdown(numbers))
    paths = [json_path, md_path]
    for name, noise in numbers.get("noise", {}).items():
        paths.append(save_figure(noise_figure(noise), os.path.join(
            folder, f"{name}-divergence-against-noise.png")))
    for name, real in numbers.get("real", {}).items():
        paths.append(save_figure(energy_figure(real), os.path.join(folder,
                                                                  f"{name}-energy.png")))
    return paths


STUDY = Study("trajectory-training", "What trajectory training buys: the damped spring's "
              "friction under noise, the real pendulum without derivatives, and long rollouts.",
              needs=needs, write=write)
