"""Train an HNN (or, with --baseline, the baseline MLP) on the ideal mass-spring.

    python experiment-spring/train.py [--baseline] [--seed 0] [--device cpu] [--save-dir DIR]

Writes {save_dir}/spring-{hnn|baseline}-seed{N}.pt and .json (train/test loss, energy MSE).
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from hnn import energy_mse  # noqa: E402
from hnn.experiment import import_sibling, is_up_to_date, parse_args, save_run, train_dynamics  # noqa: E402

spring = import_sibling(__file__, "data")

# The authors' settings (paper-settings.md, Task 1).
DEFAULTS = dict(
    input_dim=2, hidden_dim=200, nonlinearity="tanh",
    learn_rate=1e-3, weight_decay=1e-4, total_steps=2000, batch_size=0,  # 0: full batch
    samples=50, noise_std=0.1, eval_substeps=2,  # RK4 step 0.1; within 0.2% of scipy RK45
)
QUICK = dict(total_steps=20, samples=10, eval_substeps=1)


def main(argv=None):
    config = parse_args("spring", DEFAULTS, argv, QUICK)
    if config["skip_existing"] and is_up_to_date(config):
        return None
    started = time.time()
    dataset = spring.get_dataset(config["seed"], config["samples"], config["noise_std"])
    model, curves, metrics = train_dynamics(config, dataset)
    x0, t, truth = spring.evaluation_trajectories()
    metrics["energy_mse"] = energy_mse(model, spring.hamiltonian, x0, t, truth,
                                       substeps=config["eval_substeps"])
    metrics["energy_mse_original_horizon"] = spring.original_horizon_energy_mse(model)
    save_run(config, model, curves, metrics, started)
    return metrics


if __name__ == "__main__":
    main()
