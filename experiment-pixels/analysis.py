"""Figures of the pixel pendulum from saved runs (pixels-{hnn,baseline}-seed{N}.pt):

* `pixels-compare-seed{N}.gif`: truth | baseline | HNN, each model rolled out in its latent space
  from the first observation pair of the fresh test trajectory and decoded back to pixels;
* `pixels-add-energy-seed{N}.gif`: the HNN rollout, with its latent state pushed outward in phase
  space halfway through (scaled by ENERGY_PUSH about the orbit's centre; the original's notebook
  instead integrated grad H for 1.8 time units); the learned H is printed under each frame. A
  push outward need not raise a learned H, so `make_figures` prints H before and after it, and
  the caption says whether it rose;
* `pixels-latent-seed{N}.png`: the HNN's latent phase space, level sets of its H, the encoded test
  data and the rollout.
"""
import os

import numpy as np
import torch
from PIL import Image, ImageDraw

from hnn.autoencoder import decode_numpy, encode_numpy, pixel_rollout
from hnn.metrics import rollout
from hnn.plots import pyplot, save_figure, write_gif

from . import data as pixels

ZOOM = 4                 # GIF pixels per frame pixel
LABEL_HEIGHT = 16        # GIF pixels above (and, with a caption, below) each panel
GAP = 4                  # GIF pixels between panels
FRAME_MS = round(1000 * pixels.ENV_DT)   # real time: one frame per env step
ENERGY_PUSH = 1.5        # factor on the latent distance from the orbit centre, halfway


def to_frames(pairs):
    """The first frame of each observation pair `(T, 1568)`, as `(T, 28, 28)` clipped to [0, 1]."""
    pairs = np.asarray(pairs)
    return np.clip(pairs[:, :pixels.FRAME_DIM], 0, 1).reshape(-1, pixels.FRAME_SIZE,
                                                              pixels.FRAME_SIZE)


def panel(frame, label, caption=None):
    """One labelled GIF panel: a `(28, 28)` frame in [0, 1] zoomed, the label above it and an
    optional caption below; uint8 `(H, W)`."""
    image = Image.fromarray(np.round(255 * frame).astype(np.uint8)).resize(
        (ZOOM * frame.shape[1], ZOOM * frame.shape[0]), Image.Resampling.NEAREST)
    rows = LABEL_HEIGHT + image.height + (LABEL_HEIGHT if caption else 0)
    canvas = Image.new("L", (image.width, rows), 0)
    canvas.paste(image, (0, LABEL_HEIGHT))
    draw = ImageDraw.Draw(canvas)
    draw.text((3, 2), label, fill=255)
    if caption:
        draw.text((3, LABEL_HEIGHT + image.height + 2), caption, fill=255)
    return np.asarray(canvas)


def side_by_side(panels):
    """Panels `(H, W_i)` of equal height joined with a grey gap; uint8 `(H, sum W + gaps)`."""
    gap = np.full((panels[0].shape[0], GAP), 96, dtype=np.uint8)
    parts = [panels[0]]
    for p in panels[1:]:
        parts += [gap, p]
    return np.concatenate(parts, axis=1)


def compare_frames(truth, baseline, hnn):
    """GIF frames of truth | baseline | HNN from `(T, 28, 28)` stacks."""
    return [side_by_side([panel(a, "truth"), panel(b, "baseline"), panel(c, "HNN")])
            for a, b, c in zip(truth, baseline, hnn)]


@torch.no_grad()
def add_energy_rollout(model, x0, t, substeps=10, push=ENERGY_PUSH):
    """Roll the HNN out from `x0` (1, 1568) over `t` (T,), but halfway push the latent state
    outward: z <- c + push * (z - c), c being the mean of the first half's orbit (its centre).

    Returns numpy latents `(T, 2)`, decoded pairs `(T, 1568)` and learned energies H `(T,)`."""
    half = len(t) // 2
    first = rollout(model.dynamics, encode_numpy(model, x0), t[:half], substeps=substeps)[0]
    centre = first.mean(axis=0)
    pushed = centre + push * (first[-1] - centre)
    second = rollout(model.dynamics, pushed[None], t[half - 1:], substeps=substeps)[0, 1:]
    latents = np.concatenate([first, second])
    param = next(model.parameters())
    energy = model.hamiltonian(torch.as_tensor(latents, dtype=param.dtype)).double().numpy()
    return latents, decode_numpy(model, latents), energy


def energy_change(energy):
    """(mean learned H before the push, after it) of an add-energy rollout's energies `(T,)`."""
    half = len(energy) // 2
    return float(np.mean(energy[:half])), float(np.mean(energy[half:]))


def add_energy_frames(decoded, energy):
    """GIF frames of the add-energy rollout, captioned with the learned H; after the push the
    label says whether the learned H rose."""
    half = len(decoded) // 2
    before, after = energy_change(energy)
    label = "HNN, energy added" if after > before else "HNN, pushed (H fell)"
    return [panel(frame, "HNN" if i < half else label, f"H = {h:.4f}")
            for i, (frame, h) in enumerate(zip(to_frames(decoded), energy))]


@torch.no_grad()
def plot_latent_phase_space(path, model, z_data, z_rollout):
    """Level sets of the HNN's H over its latent plane, the encoded data `(N, 2)` and one
    rollout `(T, 2)`; written atomically as PNG. Returns path."""
    both = np.concatenate([z_data, z_rollout])
    low, high = both.min(axis=0), both.max(axis=0)
    margin = 0.15 * (high - low)
    q = np.linspace(low[0] - margin[0], high[0] + margin[0], 120)
    p = np.linspace(low[1] - margin[1], high[1] + margin[1], 120)
    grid = np.stack(np.meshgrid(q, p), axis=-1)
    param = next(model.parameters())
    energy = model.hamiltonian(torch.as_tensor(grid.reshape(-1, 2), dtype=param.dtype))
    energy = energy.double().numpy().reshape(grid.shape[:2])

    fig, ax = pyplot().subplots(figsize=(5.5, 5), dpi=120)
    contours = ax.contour(q, p, energy, levels=20, cmap="viridis", linewidths=0.8)
    fig.colorbar(contours, ax=ax, label="learned H")
    ax.scatter(z_data[:, 0], z_data[:, 1], s=2, c="0.5", alpha=0.4, label="encoded test data")
    ax.plot(z_rollout[:, 0], z_rollout[:, 1], c="tab:red", lw=1.2, label="HNN rollout")
    ax.set_xlabel("latent $z_q$")
    ax.set_ylabel("latent $z_p$")
    ax.set_title("Pixel pendulum: the HNN's latent phase space")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def make_figures(task, runs, figures_dir, seed=0):
    """Write the pixel pendulum's figures from the runs in `runs` (an `hnn.runs.RunsFolder`);
    returns their paths."""
    runs = runs.load_models(task, seed, ("baseline", "hnn"))
    hnn, config = runs["hnn"][0], runs["hnn"][1]["config"]
    baseline = runs["baseline"][0]
    eval_x, _ = pixels.evaluation_trajectory(config["render_size"],
                                             rod_value=config["rod_value"])
    t = pixels.evaluation_grid(len(eval_x))
    substeps = config["eval_substeps"]
    hnn_latents, hnn_decoded = pixel_rollout(hnn, eval_x[:1], t, substeps)
    _, baseline_decoded = pixel_rollout(baseline, eval_x[:1], t, substeps)

    os.makedirs(figures_dir, exist_ok=True)

    def figure(kind, extension):
        return os.path.join(figures_dir, f"pixels-{kind}-seed{seed}.{extension}")

    paths = [write_gif(figure("compare", "gif"), compare_frames(
        to_frames(eval_x), to_frames(baseline_decoded[0]), to_frames(hnn_decoded[0])), FRAME_MS)]
    _, pushed_decoded, energy = add_energy_rollout(hnn, eval_x[:1], t, substeps)
    before, after = energy_change(energy)
    print(f"pixels seed {seed}: the push moved the learned H from {before:.4f} to {after:.4f} "
          f"({'rose' if after > before else 'FELL'})")
    paths.append(write_gif(figure("add-energy", "gif"), add_energy_frames(pushed_decoded, energy),
                           FRAME_MS))
    dataset = pixels.get_dataset(config["seed"], config["trials"], config["timesteps"],
                                 config["render_size"], quiet=True,
                                 rod_value=config["rod_value"])
    paths.append(plot_latent_phase_space(figure("latent", "png"), hnn,
                                         encode_numpy(hnn, dataset["test_x"]), hnn_latents[0]))
    return paths

