"""Train an HNN (or, with --baseline, the baseline MLP) on the real pendulum of Schmidt & Lipson.

    python experiment-lipson/train.py [--baseline] [--seed 0] [--device cpu] [--save-dir DIR]

Writes {save_dir}/lipson-{hnn|baseline}-seed{N}.pt and .json: train/test loss, and the energy MSE
of a rollout over the test segment against the data, with H = 2.4 (1 - cos q) + p^2 and the
bootstrap error over 5 contiguous time blocks, as the paper did.
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from hnn import energy_mse  # noqa: E402
from hnn.experiment import import_sibling, is_up_to_date, parse_args, save_run, train_dynamics  # noqa: E402

lipson = import_sibling(__file__, "data")

# The authors' settings (paper-settings.md, Task 3; weight decay as in their code, not the paper).
DEFAULTS = dict(
    input_dim=2, hidden_dim=200, nonlinearity="tanh",
    learn_rate=1e-3, weight_decay=1e-5, total_steps=2000, batch_size=0,  # 0: full batch
    train_fraction=0.8, eval_substeps=10,
)
QUICK = dict(total_steps=20, eval_substeps=1)


def main(argv=None):
    config = parse_args("lipson", DEFAULTS, argv, QUICK)
    if config["skip_existing"] and is_up_to_date(config):
        return None
    started = time.time()
    dataset = lipson.get_dataset(train_fraction=config["train_fraction"])
    model, curves, metrics = train_dynamics(config, dataset)
    x0, t, truth = lipson.evaluation_segment(dataset)
    metrics["energy_mse"] = energy_mse(model, lipson.hamiltonian, x0, t, truth,
                                       substeps=config["eval_substeps"], over="time")
    save_run(config, model, curves, metrics, started)
    return metrics


if __name__ == "__main__":
    main()
