"""The study `pixel-factors`: why our pixel HNN/baseline energy ratio differs from the paper's,
factor by factor.

    python reproduce.py --study pixel-factors --seeds 0 1 2 3 4 --out results/seeds5

Two of the original's choices change only the evaluation, so saved runs can be rescored with them:
- the latent map: the original notebook (analyze-pixels.ipynb) fitted each model's
  latent-to-(q, p) map on that model's own encoder, but re-encoded both models' decoded rollouts
  with the HNN's encoder, so the baseline's map met latents of another encoder;
- the labels: the original labelled each frame pair with the state one step after its second
  frame, ours with the state at its first frame; the labels fit the map and are the truth.
The study scores every seed's pixel runs (trained if needed) with ours, then each of the
original's choices.

One choice of the frames is tested by retraining: the original's frames held the rod's red minus
green over 255 (127/255, about 0.5), as the task's do now (`--rod-value 0.5`); before that, ours
scaled it to 1. The study trains the HNN and the baseline again with the rod at 1 (`ROD1`), for
the first `CONTRAST_SEEDS` seeds only (about 25 minutes a seed on one core), in the study's
folder `runs-contrast`, and the second table shows their losses and energy MSE beside the task's
for the same seeds.

It writes the tables and the numbers to `{out}/studies/pixel-factors/pixel-factors.{md,json}`.
"""
import os

import numpy as np

from hnn import RunSet, Study
from hnn.checkpoint import write_json, write_text
from hnn.report import markdown_table
from hnn.studies import runs_of

from . import data, losses

CONTRAST_SEEDS = 2
ROD1 = (("rod_value", 1.0),)
PAIR = ("hnn", "baseline")
PROTOCOLS = {"ours": "ours: each model's own encoder, first-frame labels",
             "original_map": "rollouts re-encoded by the HNN's encoder",
             "original_labels": "labels one step after the second frame"}


def energy_mse(model, reencoder, config, dataset, evaluation):
    """The energy MSE of `model`'s rollout, re-encoded by `reencoder`, on `evaluation`, the
    frames and coordinates of `data.evaluation_trajectory`, labelled as `dataset` is."""
    eval_x, eval_coords = evaluation
    return losses.latent_rollout_errors(
        model, data.hamiltonian, dataset["x"], dataset["coords"], eval_x,
        data.evaluation_grid(len(eval_x)), eval_coords, substeps=config["eval_substeps"],
        reencoder=reencoder)["energy_mse"]["mean"]


def measure(pixels, runs, seeds):
    """{seed: {protocol: {model: mse}}} for the pixel runs of `seeds` in `runs` (see PROTOCOLS)."""
    evaluations = {}            # (render size, label offset, rod) -> the rendered trajectory

    def evaluation(render_size, offset, rod_value):
        key = render_size, offset, rod_value
        if key not in evaluations:
            evaluations[key] = data.evaluation_trajectory(*key)
        return evaluations[key]

    table = {}
    for seed in seeds:
        (hnn, ckpt), (base, _) = runs.load(pixels, "hnn", seed), runs.load(pixels, "baseline", seed)
        config = ckpt["config"]
        ours, original = ({"dataset": data.get_dataset(config["seed"], config["trials"],
                                                       config["timesteps"], config["render_size"],
                                                       quiet=True, label_offset=offset,
                                                       rod_value=config["rod_value"]),
                           "evaluation": evaluation(config["render_size"], offset,
                                                    config["rod_value"])}
                          for offset in (0, 2))
        mse = {"hnn": energy_mse(hnn, hnn, config, **ours),
               "baseline": energy_mse(base, base, config, **ours)}
        table[seed] = {
            "ours": mse,
            "original_map": {"hnn": mse["hnn"], "baseline": energy_mse(base, hnn, config, **ours)},
            "original_labels": {kind: energy_mse(model, model, config, **original)
                                for kind, model in (("hnn", hnn), ("baseline", base))}}
    return table


def markdown(table):
    rows = []
    for seed, protocols in table.items():
        for protocol, label in PROTOCOLS.items():
            b, h = protocols[protocol]["baseline"], protocols[protocol]["hnn"]
            rows.append([seed, label, f"{b:.2e}", f"{h:.2e}", f"{b / h:.0f}x"])
    for protocol, label in PROTOCOLS.items():
        b = np.mean([protocols[protocol]["baseline"] for protocols in table.values()])
        h = np.mean([protocols[protocol]["hnn"] for protocols in table.values()])
        rows.append(["mean of seeds", label, f"{b:.2e}", f"{h:.2e}", f"{b / h:.0f}x"])
    return markdown_table(["seed", "protocol", "baseline", "HNN", "baseline / HNN"], rows)


def contrast_rows(pixels, ours, rod1, seeds):
    """Rows of {seed, model, metric: (the task's, rod at 1)} for the losses and the energy MSE of
    the runs of `seeds` in the RunsFolders `ours` (the task's, rod at 0.5) and `rod1` (the
    variant's)."""
    rows = []
    for seed in seeds:
        for model in PAIR:
            a, b = ours.metrics(pixels, model, seed), rod1.metrics(pixels, model, seed)
            rows.append({"seed": seed, "model": model,
                         **{m: (a[m]["mean"], b[m]["mean"])
                            for m in ("train_loss", "test_loss", "energy_mse")}})
    return rows


def contrast_markdown(rows):
    cells = [[row["seed"], row["model"]] + [f"{row[m][0]:.2e} / {row[m][1]:.2e}"
                                            for m in ("train_loss", "test_loss", "energy_mse")]
             for row in rows]
    for seed in sorted({row["seed"] for row in rows}):
        energy = {row["model"]: row["energy_mse"] for row in rows if row["seed"] == seed}
        ratios = [energy["baseline"][k] / energy["hnn"][k] for k in (0, 1)]
        cells.append([seed, "baseline / HNN energy", "", "",
                      f"{ratios[0]:.0f}x / {ratios[1]:.0f}x"])
    return markdown_table(["seed", "model", "train loss: rod 0.5 / rod 1",
                           "test loss: rod 0.5 / rod 1", "energy MSE: rod 0.5 / rod 1"], cells)


def needs(context):
    return [RunSet(runs_of(["pixels"], PAIR, context.seeds)),
            RunSet(runs_of(["pixels"], PAIR, context.seeds[:CONTRAST_SEEDS]), "runs-contrast",
                   ROD1)]


def write(context):
    pixels, ours = context.tasks["pixels"], context.runs()
    table = measure(pixels, ours, context.seeds)
    text = markdown(table)
    numbers = {str(k): v for k, v in table.items()}
    rows = contrast_rows(pixels, ours, context.runs("runs-contrast"),
                         context.seeds[:CONTRAST_SEEDS])
    text += ("\n\nThe task's frames, the rod at 0.5 as in the original's, against the rod at 1 "
             "(the task's frames before):\n\n")
    text += contrast_markdown(rows)
    numbers["contrast"] = rows
    paths = [os.path.join(context.folder, f"pixel-factors.{ext}") for ext in ("json", "md")]
    write_json(paths[0], numbers)
    write_text(paths[1], text + "\n")
    return paths


STUDY = Study("pixel-factors", "Why the pixel HNN/baseline energy ratio differs from the paper's: "
              "the original's latent map, labels and frame contrast.", needs=needs, write=write)
