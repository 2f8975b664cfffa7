"""One training step of each dynamics model against one HNN step, per task, side by side.

    python benchmarks/bench_models.py [--tasks spring pend 2body dblpend] [--steps 100]

Each model is built and trained on its task's data exactly as `train.py` would (the task's
defaults: full batch, or batch 200 for 2body); the steps of the models are interleaved in rounds
so that a drift in the machine's speed hits them alike. Prints ms per step and each model's
ratio to the HNN's, and, for the LNN, where its step goes (the Euler-Lagrange derivatives, the
solve and the map to canonical coordinates, forward only).
"""
import argparse
import time

import torch

from hnn.experiments import find_tasks
from hnn.optim import Adam
from hnn.tasks import to_tensors
from hnn.training import _sample

MODELS = ("baseline", "hnn", "node2", "lnn")


def trainer(task, model_name):
    """A function doing one training step of `model_name` on `task`'s training data."""
    config = task.config(model=model_name, quiet=True)
    train, _ = (to_tensors(split, "cpu") for split in task.splits(task.dataset(config)))
    torch.manual_seed(0)
    model = task.build(config)
    optimizer = Adam(model.parameters(), lr=config.learn_rate, weight_decay=config.weight_decay)
    generator = torch.Generator().manual_seed(0)

    def step():
        batch = _sample(train, config.batch_size, generator)
        loss = task.loss(model, batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return step, model, train


def timed(fn, repeats):
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def interleaved(steps, total, rounds=5, warmup=5):
    """Seconds per call of each function of `steps` ({label: fn}), after `warmup` calls each,
    from `total` calls each taken in `rounds` interleaved rounds, so that a drift in the
    machine's speed hits them alike."""
    for step in steps.values():
        for _ in range(warmup):
            step()
    seconds = dict.fromkeys(steps, 0.0)
    for _ in range(rounds):
        for label, step in steps.items():
            seconds[label] += timed(step, max(total // rounds, 1)) / rounds
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=["spring", "pend", "2body", "dblpend"],
                        help="tasks to time")
    parser.add_argument("--steps", type=int, default=100, help="timed steps per model, in rounds")
    args = parser.parse_args()
    torch.set_num_threads(1)
    tasks = find_tasks()
    print(f"torch {torch.__version__}, 1 thread; ms per training step (ratio to the HNN's)")
    for name in args.tasks:
        task = tasks[name]
        steps = {m: trainer(task, m) for m in MODELS if m in task.models}
        totals = interleaved({m: step for m, (step, _, _) in steps.items()}, args.steps)
        line = ", ".join(f"{m} {t * 1e3:.2f} ({t / totals['hnn']:.2f}x)" for m, t in totals.items())
        print(f"{name}: {line}")
        if "lnn" in steps:
            _, lnn, train = steps["lnn"]
            x = train["x"][:200] if task.config().batch_size else train["x"]
            y = lnn.to_velocity(x)
            parts = {"derivatives": lambda: lnn._derivatives(y),
                     "acceleration (derivatives + solve)": lambda: lnn.acceleration(y),
                     "time_derivative (+ map to [q, p])": lambda: lnn.time_derivative(x)}
            print("  lnn forward: " + ", ".join(f"{k} {timed(f, 20) * 1e3:.2f} ms"
                                                for k, f in parts.items()))


if __name__ == "__main__":
    main()
