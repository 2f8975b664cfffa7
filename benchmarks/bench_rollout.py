"""One rollout training step of horizon K against one derivative-matching step, per task, side
by side.

    python benchmarks/bench_rollout.py [--tasks spring pend damped 2body] [--model hnn]
                                       [--horizons 1 5 10] [--integrator rk4] [--steps 50]

Each step is built as `train.py` builds it (`Task.rollout_training`, the task's defaults; under
--loss rollout a minibatch counts trajectories, so 2body's batch of 200 is 200 chunks), and the
steps are interleaved in rounds so that a drift in the machine's speed hits them alike. Prints ms
per step, and each rollout step's ratio to the derivative step and to K derivative steps.
"""
import argparse

import torch
from bench_models import interleaved

from hnn.experiments import find_tasks
from hnn.optim import Adam
from hnn.tasks import to_tensors
from hnn.training import _sample


def trainer(task, config):
    """A function doing one training step of `config` on `task`'s training data."""
    dataset = task.dataset(config)
    if config.loss == "rollout":
        loss, (train, _, _), _ = task.rollout_training(dataset, config)
    else:
        loss, train = task.loss, to_tensors(task.splits(dataset)[0], "cpu")
    torch.manual_seed(0)
    model = task.build(config)
    optimizer = Adam(model.parameters(), lr=config.learn_rate, weight_decay=config.weight_decay)
    generator = torch.Generator().manual_seed(0)

    def step():
        value = loss(model, _sample(train, config.batch_size, generator))
        optimizer.zero_grad()
        value.backward()
        optimizer.step()
    return step


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=["spring", "pend", "damped", "2body"],
                        help="tasks to time")
    parser.add_argument("--model", default="hnn", help="the model of every step")
    parser.add_argument("--horizons", nargs="+", type=int, default=[1, 5, 10],
                        help="the rollout horizons K to time")
    parser.add_argument("--integrator", default="rk4", help="the rollouts' integrator")
    parser.add_argument("--steps", type=int, default=50, help="timed steps per variant, in rounds")
    args = parser.parse_args()
    torch.set_num_threads(1)
    tasks = find_tasks()
    print(f"torch {torch.__version__}, 1 thread, {args.model}, {args.integrator} rollouts; ms per "
          f"training step (ratio to a derivative step; to K derivative steps)")
    for name in args.tasks:
        task = tasks[name]
        variants = {"derivative": task.config(model=args.model, quiet=True)}
        variants.update({f"K={k}": task.config(model=args.model, quiet=True, loss="rollout",
                                               horizon=k, train_integrator=args.integrator)
                         for k in args.horizons})
        totals = interleaved({label: trainer(task, config) for label, config in variants.items()},
                             args.steps, warmup=3)
        base = totals["derivative"]
        parts = [f"derivative {base * 1e3:.2f}"] + [
            f"K={k} {totals[f'K={k}'] * 1e3:.2f} ({totals[f'K={k}'] / base:.1f}x; "
            f"{totals[f'K={k}'] / base / k:.2f}x K)" for k in args.horizons]
        print(f"{name}: " + ", ".join(parts), flush=True)


if __name__ == "__main__":
    main()
