"""Train an autoencoder with a latent HNN (or, with --baseline, a latent baseline MLP) on frames
of a swinging pendulum.

    python experiment-pixels/train.py [--baseline] [--seed 0] [--device cpu] [--save-dir DIR]

Writes {save_dir}/pixels-{hnn|baseline}-seed{N}.pt and .json: train/test loss (the per-example
total pixel loss, ae + cc + 0.1 * latent, mean ± standard error over the whole split) and the
energy MSE along one decoded rollout (mean ± bootstrap error over 5 blocks of time).
"""
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from hnn.autoencoder import (build_pixel_model, latent_energy_mse, pixel_loss,  # noqa: E402
                             pixel_loss_summary)
from hnn.experiment import (fit_config, import_sibling, is_up_to_date, parse_args,  # noqa: E402
                            save_run, to_tensors)
from hnn.training import seed_everything  # noqa: E402

pixels = import_sibling(__file__, "data")

# The authors' settings (paper-settings.md, Task 5).
DEFAULTS = dict(
    hidden_dim=200, latent_dim=2, ae_nonlinearity="relu", nonlinearity="tanh",
    learn_rate=1e-3, weight_decay=1e-5, total_steps=10000, batch_size=200,
    trials=200, timesteps=103, render_size=pixels.RENDER_SIZE, eval_substeps=10,
)
QUICK = dict(total_steps=20, trials=5, timesteps=8, render_size=100)


def build(config):
    """The empty pixel model a config describes (for `load_run(path, build=build)`)."""
    return build_pixel_model(pixels.PAIR_DIM, config["hidden_dim"], config["latent_dim"],
                             config["baseline"], config["ae_nonlinearity"], config["nonlinearity"])


def evaluation_grid(steps):
    """Rollout times of `steps` observations one frame apart, in frames (the latent model's
    time unit: it is trained with an Euler step of one frame)."""
    return np.arange(steps, dtype=np.float64)


def main(argv=None):
    config = parse_args("pixels", DEFAULTS, argv, QUICK)
    if config["skip_existing"] and is_up_to_date(config):
        return None
    started = time.time()
    dataset = pixels.get_dataset(config["seed"], config["trials"], config["timesteps"],
                                 config["render_size"], quiet=config["quiet"])
    seed_everything(config["seed"])
    model = build(config).to(config["device"])
    train = to_tensors({"x": dataset["x"], "next_x": dataset["next_x"]}, config["device"])
    test = to_tensors({"x": dataset["test_x"], "next_x": dataset["test_next_x"]}, config["device"])
    curves = fit_config(config, model, pixel_loss, train, test)
    eval_x, eval_coords = pixels.evaluation_trajectory(config["render_size"])
    metrics = {
        "train_loss": pixel_loss_summary(model, train["x"], train["next_x"]),
        "test_loss": pixel_loss_summary(model, test["x"], test["next_x"]),
        "energy_mse": latent_energy_mse(model, pixels.hamiltonian, dataset["x"], dataset["coords"],
                                        eval_x[:1], evaluation_grid(len(eval_x)), eval_coords,
                                        substeps=config["eval_substeps"]),
    }
    save_run(config, model, curves, metrics, started)
    return metrics


if __name__ == "__main__":
    main()
