"""Benchmark of the pixel pendulum: generating the dataset, then one full training run.

    python benchmarks/bench_pixels.py [--baseline] [--total-steps N] [--skip-training]

Prints wall times (figures, not asserts). The dataset is generated afresh into a temporary
cache; the training run then reads it from there and saves into a temporary folder. Torch's
thread count and the load average are printed with the times: on a shared CPU they matter.
"""
import argparse
import os
import tempfile
import time

import torch

from hnn.experiments import find_tasks


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", action="store_true")
    parser.add_argument("--total-steps", type=int, default=None, help="default: train.py's")
    parser.add_argument("--skip-training", action="store_true")
    args = parser.parse_args()
    task = find_tasks()["pixels"]
    defaults = task.defaults
    print(f"torch threads {torch.get_num_threads()}, cpus {os.cpu_count()}, "
          f"load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="bench-pixels-") as scratch:
        os.environ["HNN_CACHE_DIR"] = os.path.join(scratch, "cache")
        started = time.perf_counter()
        dataset = task.dataset(task.config(quiet=True))
        seconds = time.perf_counter() - started
        print(f"dataset: {len(dataset['x']) + len(dataset['test_x'])} examples from "
              f"{defaults.trials} trials x {defaults.timesteps} frames rendered at "
              f"{defaults.render_size}px in {seconds:.1f} s")
        if args.skip_training:
            return
        steps = args.total_steps or defaults.total_steps
        config = task.config(quiet=True, save_dir=os.path.join(scratch, "runs"), total_steps=steps,
                             model="baseline" if args.baseline else "hnn")
        started = time.perf_counter()
        metrics = task.run(config)
        seconds = time.perf_counter() - started
        print(f"training: {'baseline' if args.baseline else 'HNN'}, {steps} steps + evaluation "
              f"in {seconds:.1f} s ({seconds / (steps + 1) * 1e3:.1f} ms/step)")
        for key in ("train_loss", "test_loss", "energy_mse"):
            print(f"  {key:<10} {metrics[key]['mean']:.4e} ± {metrics[key]['stderr']:.2e}")
        print(f"load average after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
