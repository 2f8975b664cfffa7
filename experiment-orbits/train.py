"""Train an HNN (or, with --baseline, the baseline MLP) on the two-body (paper Task 4) or, with
--bodies 3, the three-body (appendix) gravitational orbits.

    python experiment-orbits/train.py [--bodies 2|3] [--baseline] [--seed 0] [--save-dir DIR]

Writes {save_dir}/{2body|3body}-{hnn|baseline}-seed{N}.pt and .json (train/test loss, energy MSE
over 15 fresh orbits: t in [0, 25] for two bodies, [0, 5], the data's horizon, for three).
The dataset is cached as .npz (see data.py), so later runs skip generation.
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from hnn import energy_mse  # noqa: E402
from hnn.experiment import import_sibling, is_up_to_date, parse_args, save_run, train_dynamics  # noqa: E402

orbits = import_sibling(__file__, "data")

# The authors' settings (paper-settings.md, Task 4 and the three-body appendix), per body count.
DEFAULTS = {
    2: dict(
        bodies=2, input_dim=8, hidden_dim=200, nonlinearity="tanh",
        learn_rate=1e-3, weight_decay=0.0, total_steps=10000, batch_size=200,
        trials=1000, eval_t_end=25.0, eval_points=500, eval_substeps=1,  # RK4 step 0.05
    ),
    3: dict(
        bodies=3, input_dim=12, hidden_dim=200, nonlinearity="tanh",
        learn_rate=1e-3, weight_decay=0.0, total_steps=10000, batch_size=600,
        trials=5000, eval_t_end=5.0, eval_points=500, eval_substeps=1,   # RK4 step 0.01
    ),
}
QUICK = {
    2: dict(total_steps=20, trials=20, eval_points=50),
    3: dict(total_steps=20, trials=20, eval_points=50),
}


def bodies_from(argv):
    """The --bodies value (2 by default), read before the task's own flags are built."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--bodies", type=int, choices=sorted(DEFAULTS), default=2)
    return parser.parse_known_args(argv)[0].bodies


def main(argv=None):
    bodies = bodies_from(argv)
    config = parse_args(f"{bodies}body", DEFAULTS[bodies], argv, QUICK[bodies])
    if config["skip_existing"] and is_up_to_date(config):
        return None
    started = time.time()
    dataset = orbits.get_dataset(bodies, config["seed"], trials=config["trials"], quiet=config["quiet"])
    model, curves, metrics = train_dynamics(config, dataset)
    x0, t, truth = orbits.evaluation_orbits(bodies, points=config["eval_points"],
                                            t_span=(0.0, config["eval_t_end"]))
    metrics["energy_mse"] = energy_mse(model, orbits.total_energy, x0, t, truth,
                                       substeps=config["eval_substeps"])
    save_run(config, model, curves, metrics, started)
    return metrics


if __name__ == "__main__":
    main()
