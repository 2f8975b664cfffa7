"""Where a run of the sample-efficiency study spends its training time: the step with the test
loss taken every 10 steps (the training loop's curve, as the study runs) against the same steps
without it, per task, model and size, interleaved in rounds. Prints ms per step, the share of
a run's training that the curve costs, and its seconds over the run's steps.

    python benchmarks/bench_efficiency.py [--tasks spring pend 2body] [--models hnn baseline]
                                          [--steps 300] [--rounds 2]

The test split is the study's largest set's at every size (`hnn.efficiency`), so its curve costs
the same at every n while the steps grow with n: the small sizes pay for it most.
"""
import argparse
import time

import torch

from hnn.config import PROFILES
from hnn.efficiency import overrides
from hnn.experiments import find_tasks
from hnn.training import fit

EVAL_EVERY = 10       # the training loop's default, which the study uses
NEVER = 10 ** 9


def ms_per_step(task, config, data, eval_every, steps):
    train, _, test = data
    torch.manual_seed(config.seed)
    model = task.build(config)
    start = time.perf_counter()
    fit(model, task.loss, train, test, total_steps=steps, learn_rate=config.learn_rate,
        weight_decay=config.weight_decay, batch_size=config.batch_size, seed=config.seed,
        quiet=True, schedule=config.lr_schedule, lr_final=config.lr_final,
        ema_decay=config.ema_decay, eval_every=eval_every)
    return (time.perf_counter() - start) / (steps + 1) * 1e3


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=["spring", "pend", "2body"])
    parser.add_argument("--models", nargs="+", default=["hnn", "baseline"])
    parser.add_argument("--steps", type=int, default=300, help="steps timed per measurement")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds; best kept")
    args = parser.parse_args()
    torch.set_num_threads(1)
    tasks = find_tasks()
    print(f"torch {torch.__version__}, 1 thread, profile robust {PROFILES['robust']}")
    print("| task | model | n | train rows | test rows | ms/step with curve | without | "
          "curve's share | curve's seconds per run |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    context = argparse.Namespace(quick=False)
    for name in args.tasks:
        task = tasks[name]
        settings = task.sample_sizes
        for size in sorted({settings.sizes[0], settings.paper, settings.sizes[-1]}):
            base = task.config(**dict(overrides(task, size, context)), quiet=True)
            data = task.training_data(task.dataset(base), base)
            for model in args.models:
                config = task.config(**{**dict(overrides(task, size, context)), "model": model},
                                     quiet=True)
                best = {EVAL_EVERY: float("inf"), NEVER: float("inf")}
                for _ in range(args.rounds):
                    for every in best:
                        best[every] = min(best[every],
                                          ms_per_step(task, config, data, every, args.steps))
                share = 1 - best[NEVER] / best[EVAL_EVERY]
                seconds = (best[EVAL_EVERY] - best[NEVER]) * (config.total_steps + 1) / 1e3
                print(f"| {name} | {model} | {size} | {len(data[0]['x'])} | "
                      f"{len(data[2]['x'])} | {best[EVAL_EVERY]:.2f} | {best[NEVER]:.2f} | "
                      f"{share:.0%} | {seconds:.1f} |", flush=True)


if __name__ == "__main__":
    main()
