"""The study `pixel-coordinates`: which coordinates from pixels. Each variant changes one choice
of the paper's pixel model, the encoder or the latent loss, and trains the baseline and the HNN
for the first `GRID_SEEDS` seeds, every run under the robust profile (`hnn.config.PROFILES`: a
cosine learning rate and an averaged model), so that the end-of-training lottery does not decide
the comparison:

    python reproduce.py --study pixel-coordinates --seeds 0 1 2 3 4 --out results/seeds5 --jobs 2

- `mlp, Euler`: the paper's model and loss;
- `conv, Euler`: the convolutional autoencoder (`--encoder conv`);
- `mlp, rollout`: the latent term over `HORIZON` frames (`--loss rollout`), the HNN rolled out by
  the implicit midpoint rule, the baseline by RK4.

The metrics are the pixel task's own: the test loss, the energy MSE and its
baseline / HNN ratio, the valid prediction time `vpt`, the 30-frame `pixel_mse` and `latent_r2`.
It writes `pixel-coordinates.{json,md}` and `pixel-coordinates.png`, the rollouts of the
variant whose HNN has the lowest mean energy MSE, under `{out}/studies/pixel-coordinates/`.
"""
import os

import numpy as np

from hnn import RunSet, Study
from hnn.autoencoder import pixel_rollout
from hnn.checkpoint import write_json, write_text
from hnn.config import PROFILES
from hnn.plots import pyplot, save_figure
from hnn.report import markdown_table
from hnn.studies import runs_of

from . import data

GRID_SEEDS = 3
HORIZON = 3
PAIR = ("baseline", "hnn")
METRICS = ("test_loss", "energy_mse", "vpt", "pixel_mse", "latent_r2")
PROFILE = tuple(PROFILES["robust"].items())
# name: (runs folder, {model: (run model, overrides beside the profile)})
VARIANTS = {
    "mlp, Euler": ("runs-mlp", {m: (m, ()) for m in PAIR}),
    "conv, Euler": ("runs-conv", {m: (m, (("encoder", "conv"),)) for m in PAIR}),
    "mlp, rollout": ("runs-rollout", {
        "baseline": ("baseline+rollout", (("horizon", HORIZON), ("train_integrator", "rk4"))),
        "hnn": ("hnn+rollout", (("horizon", HORIZON), ("train_integrator", "midpoint")))}),
}
LONGEST_FIRST = ("conv, Euler", "mlp, rollout", "mlp, Euler")      # the runs' order in the pool


def grid_seeds(context):
    return context.seeds[:GRID_SEEDS]


def needs(context):
    return [RunSet(runs_of(["pixels"], [run_model], grid_seeds(context)), folder,
                   PROFILE + overrides)
            for folder, models in map(VARIANTS.get, LONGEST_FIRST)
            for run_model, overrides in models.values()]


def measure(context):
    """{variant: {model: {metric: [per seed]}}}, each run's metrics file read once."""
    pixels, table = context.tasks["pixels"], {}

    def number(value):                              # a {mean, stderr} summary or a float
        return value["mean"] if isinstance(value, dict) else value

    for variant, (folder, models) in VARIANTS.items():
        runs, table[variant] = context.runs(folder), {}
        for model, (run_model, _) in models.items():
            saved = [runs.metrics(pixels, run_model, seed) for seed in grid_seeds(context)]
            table[variant][model] = {m: [number(s[m]) for s in saved] for m in METRICS}
    return table


def cell(values):
    return f"{np.mean(values):.3g} ({min(values):.3g} – {max(values):.3g})"


def markdown(table, seeds):
    rows = []
    for variant, models in table.items():
        for model in PAIR:
            rows.append([variant, model] + [cell(models[model][m]) for m in METRICS])
        ratio = np.mean(models["baseline"]["energy_mse"]) / np.mean(models["hnn"]["energy_mse"])
        rows.append([variant, "baseline / HNN energy MSE", "", f"{ratio:.1f}x", "", "", ""])
    head = (f"Seeds {', '.join(map(str, seeds))}, the robust profile: mean (min – max) over the "
            "seeds; the ratio of the seeds' mean energy MSEs.\n\n")
    return head + markdown_table(["variant", "model", "test loss", "energy MSE",
                                  "VPT (frames)", "30-frame pixel MSE", "latent R²"], rows)


def best_variant(table):
    """The variant whose HNN has the lowest mean energy MSE."""
    return min(table, key=lambda v: np.mean(table[v]["hnn"]["energy_mse"]))


def draw_rollouts(path, models, config, frames=(0, 5, 10, 20, 30)):
    """Truth, baseline and HNN frames (decoded rollouts from the first pair of the evaluation
    trajectory) at the given frame numbers, one row each."""
    plt = pyplot()
    eval_x, _ = data.evaluation_trajectory(config["render_size"], rod_value=config["rod_value"])
    grid = data.evaluation_grid(len(eval_x))
    rows = {"truth": eval_x}
    for label, model in models.items():
        rows[label] = pixel_rollout(model, eval_x[:1], grid, config["eval_substeps"])[1][0]
    fig, axes = plt.subplots(len(rows), len(frames), figsize=(1.4 * len(frames), 1.5 * len(rows)))
    for i, (label, images) in enumerate(rows.items()):
        for j, frame in enumerate(frames):
            ax = axes[i, j]
            ax.imshow(images[frame][:data.FRAME_DIM].reshape(data.FRAME_SIZE, data.FRAME_SIZE),
                      cmap="gray_r", vmin=0, vmax=config["rod_value"])
            ax.set_xticks([]), ax.set_yticks([])
            if i == 0:
                ax.set_title(f"frame {frame}", fontsize=8)
            if j == 0:
                ax.set_ylabel(label, fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def write(context):
    seeds = grid_seeds(context)
    table = measure(context)
    best = best_variant(table)
    folder, models = VARIANTS[best]
    runs, pixels = context.runs(folder), context.tasks["pixels"]
    loaded = {model: runs.load(pixels, run_model, seeds[0]) for model, (run_model, _) in
              models.items()}
    paths = [os.path.join(context.folder, f"pixel-coordinates.{ext}")
             for ext in ("json", "md", "png")]
    write_json(paths[0], {"seeds": seeds, "profile": PROFILES["robust"], "horizon": HORIZON,
                          "best": best, "variants": table})
    text = markdown(table, seeds)
    text += (f"\n\nThe variant whose HNN has the lowest mean energy MSE: {best} "
             f"(`pixel-coordinates.png`: its seed-{seeds[0]} rollouts).\n")
    write_text(paths[1], text)
    draw_rollouts(paths[2], {m: loaded[m][0] for m in PAIR}, loaded["hnn"][1]["config"])
    return paths


STUDY = Study("pixel-coordinates", "Which coordinates from pixels: the encoder and the latent "
              "loss, each changed alone, for the baseline and the HNN.", needs=needs, write=write)
