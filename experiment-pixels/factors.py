"""Why our pixel HNN/baseline energy ratio differs from the paper's: the factors that need no
retraining, measured on saved runs.

    python experiment-pixels/factors.py [--runs results/seeds5/runs] [--out results/seeds5]

Two of the original's choices change only the evaluation, so saved runs can be rescored with them:
- the latent map: the original notebook (analyze-pixels.ipynb) fitted each model's
  latent-to-(q, p) map on that model's own encoder, but re-encoded both models' decoded rollouts
  with the HNN's encoder, so the baseline's map met latents of another encoder;
- the labels: the original labelled each frame pair with the state one step after its second
  frame, ours with the state at its first frame; the labels fit the map and are the truth.
This script scores every seed with both runs saved: ours, then each of the original's choices.

One choice of the frames is tested by retraining, with `--contrast-seeds 0 ...`: the original's
frames held the rod's red minus green over 255 (127/255, about 0.5), ours scale it to 1. The
variant task `pixels_contrast` trains the HNN and the baseline on frames with the rod at 0.5
(two runs at a time, about 25 minutes a seed here; up-to-date runs in {out}/runs-contrast are
kept), and the table shows its losses and energy MSE beside ours for the same seeds.

It prints Markdown tables and writes them, with the numbers, to {out}/pixels-factors.{md,json}.
"""
import argparse
import concurrent.futures
import multiprocessing
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from hnn.checkpoint import write_json  # noqa: E402
from hnn.experiments import find_tasks, load_folder  # noqa: E402
from hnn.runs import parse_run_name  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
data = load_folder(HERE, "data")
losses = load_folder(HERE, "losses")
task_module = load_folder(HERE, "task")
ORIGINAL_ROD_VALUE = 0.5
CONTRAST = task_module.PixelTask("pixels_contrast", "Pixel pendulum, rod at half contrast",
                                 task_module.DEFAULTS, rod_value=ORIGINAL_ROD_VALUE,
                                 quick=task_module.QUICK)


PROTOCOLS = {"ours": "ours: each model's own encoder, first-frame labels",
             "original_map": "rollouts re-encoded by the HNN's encoder",
             "original_labels": "labels one step after the second frame"}


def energy_mse(model, reencoder, config, dataset, evaluation):
    """The energy MSE of `model`'s rollout, re-encoded by `reencoder`, on `evaluation`, the
    frames and coordinates of `data.evaluation_trajectory`, labelled as `dataset` is."""
    eval_x, eval_coords = evaluation
    return losses.latent_rollout_errors(
        model, data.hamiltonian, dataset["x"], dataset["coords"], eval_x,
        task_module.evaluation_grid(len(eval_x)), eval_coords, substeps=config["eval_substeps"],
        reencoder=reencoder)["energy_mse"]["mean"]


def measure(runs_dir):
    """{seed: {protocol: {model: mse}}} for every seed with both runs (see PROTOCOLS)."""
    task = find_tasks()["pixels"]
    names = [os.path.splitext(f)[0] for f in os.listdir(runs_dir)
             if f.startswith(f"{task.name}-") and f.endswith(".json")]
    seeds = sorted({seed for _, _, seed in map(parse_run_name, names) if task.has_runs(runs_dir, seed)})
    evaluations = {}                    # (render size, label offset) -> the rendered trajectory

    def evaluation(render_size, offset):
        if (render_size, offset) not in evaluations:
            evaluations[render_size, offset] = data.evaluation_trajectory(render_size, offset)
        return evaluations[render_size, offset]

    table = {}
    for seed in seeds:
        (hnn, ckpt), (base, _) = task.load(runs_dir, "hnn", seed), task.load(runs_dir, "baseline", seed)
        config = ckpt["config"]
        ours, original = ({"dataset": data.get_dataset(config["seed"], config["trials"],
                                                       config["timesteps"], config["render_size"],
                                                       quiet=True, label_offset=offset),
                           "evaluation": evaluation(config["render_size"], offset)}
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
    lines = ["| seed | protocol | baseline | HNN | baseline / HNN |", "| --- | --- | --- | --- | --- |"]
    for seed, rows in table.items():
        for protocol, label in PROTOCOLS.items():
            b, h = rows[protocol]["baseline"], rows[protocol]["hnn"]
            lines.append(f"| {seed} | {label} | {b:.2e} | {h:.2e} | {b / h:.0f}x |")
    for protocol, label in PROTOCOLS.items():
        b = np.mean([rows[protocol]["baseline"] for rows in table.values()])
        h = np.mean([rows[protocol]["hnn"] for rows in table.values()])
        lines.append(f"| mean of seeds | {label} | {b:.2e} | {h:.2e} | {b / h:.0f}x |")
    return "\n".join(lines)


def train_contrast(config):
    """Train one run of the half-contrast variant (in a worker process); returns its name."""
    CONTRAST.run(config)
    return CONTRAST.run_name(config)


def contrast_runs(seeds, runs_dir, ours_dir):
    """Train the half-contrast pairs of `seeds` that are not up to date in `runs_dir`; returns
    rows of {seed, model, metric: (half contrast, ours)} for the losses and the energy MSE."""
    configs = [CONTRAST.config(seed=seed, model=model, save_dir=runs_dir, quiet=True)
               for seed in seeds for model in ("hnn", "baseline")]
    todo = [config for config in configs if not CONTRAST.is_up_to_date(config)]
    for config in todo[::2]:
        CONTRAST.dataset(config)                    # render each seed's frames once, cached
    with concurrent.futures.ProcessPoolExecutor(
            2, mp_context=multiprocessing.get_context("spawn")) as pool:
        for name in pool.map(train_contrast, todo):
            print(f"trained {name}", flush=True)
    ours = find_tasks()["pixels"]
    rows = []
    for config in configs:
        half = CONTRAST.read_metrics(runs_dir, config.model, config.seed)
        base = ours.read_metrics(ours_dir, config.model, config.seed)
        rows.append({"seed": config.seed, "model": config.model,
                     **{m: (half[m]["mean"], base[m]["mean"])
                        for m in ("train_loss", "test_loss", "energy_mse")}})
    return rows


def contrast_markdown(rows):
    lines = ["| seed | model | train loss: rod 0.5 / ours | test loss: rod 0.5 / ours | "
             "energy MSE: rod 0.5 / ours |", "| --- | --- | --- | --- | --- |"]
    for row in rows:
        lines.append(f"| {row['seed']} | {row['model']} | " + " | ".join(
            f"{row[m][0]:.2e} / {row[m][1]:.2e}" for m in ("train_loss", "test_loss", "energy_mse")) + " |")
    ratios = {}
    for seed in sorted({row["seed"] for row in rows}):
        energy = {row["model"]: row["energy_mse"] for row in rows if row["seed"] == seed}
        ratios[seed] = [energy["baseline"][k] / energy["hnn"][k] for k in (0, 1)]
        lines.append(f"| {seed} | baseline / HNN energy | | | {ratios[seed][0]:.0f}x / {ratios[seed][1]:.0f}x |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", default=os.path.join("results", "seeds5", "runs"))
    parser.add_argument("--out", default=os.path.join("results", "seeds5"))
    parser.add_argument("--contrast-seeds", type=int, nargs="*", default=[],
                        help="seeds of the half-contrast variant to train and compare")
    args = parser.parse_args(argv)
    table = measure(args.runs)
    if not table:
        raise SystemExit(f"{args.runs} holds no seed with both pixel runs (pixels-hnn-seedN.pt "
                         f"and pixels-baseline-seedN.pt); run reproduce.py --tasks pixels first")
    text = markdown(table)
    numbers = {str(k): v for k, v in table.items()}
    if args.contrast_seeds:
        rows = contrast_runs(args.contrast_seeds, os.path.join(args.out, "runs-contrast"), args.runs)
        text += "\n\nFrames with the rod at 0.5, as the original's, against ours (rod at 1):\n\n"
        text += contrast_markdown(rows)
        numbers["contrast"] = rows
    print(text)
    write_json(os.path.join(args.out, "pixels-factors.json"), numbers)
    with open(os.path.join(args.out, "pixels-factors.md"), "w") as f:
        f.write(text + "\n")


if __name__ == "__main__":
    main()
