"""Benchmark of the pixel pendulum: generating the dataset, then one full training run.

    python benchmarks/bench_pixels.py [--baseline] [--total-steps N] [--skip-training]

Prints wall times (figures, not asserts). The dataset is generated afresh into a temporary
cache; the training run then reads it from there and saves into a temporary folder. Torch's
thread count and the load average are printed with the times: on a shared CPU they matter.
"""
import argparse
import os
import sys
import tempfile
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from hnn.experiment import import_experiment  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", action="store_true")
    parser.add_argument("--total-steps", type=int, default=None, help="default: train.py's")
    parser.add_argument("--skip-training", action="store_true")
    args = parser.parse_args()
    data = import_experiment("experiment-pixels", "data")
    train = import_experiment("experiment-pixels", "train")
    print(f"torch threads {torch.get_num_threads()}, cpus {os.cpu_count()}, "
          f"load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="bench-pixels-") as scratch:
        os.environ["HNN_CACHE_DIR"] = os.path.join(scratch, "cache")
        started = time.perf_counter()
        dataset = data.get_dataset(seed=0, quiet=True)
        seconds = time.perf_counter() - started
        print(f"dataset: {len(dataset['x']) + len(dataset['test_x'])} examples from "
              f"{train.DEFAULTS['trials']} trials x {train.DEFAULTS['timesteps']} frames rendered at "
              f"{data.RENDER_SIZE}px in {seconds:.1f} s")
        if args.skip_training:
            return
        argv = ["--quiet", "--save-dir", os.path.join(scratch, "runs")]
        argv += ["--baseline"] if args.baseline else []
        argv += ["--total-steps", str(args.total_steps)] if args.total_steps else []
        started = time.perf_counter()
        metrics = train.main(argv)
        seconds = time.perf_counter() - started
        steps = args.total_steps or train.DEFAULTS["total_steps"]
        print(f"training: {'baseline' if args.baseline else 'HNN'}, {steps} steps + evaluation "
              f"in {seconds:.1f} s ({seconds / (steps + 1) * 1e3:.1f} ms/step)")
        for key in ("train_loss", "test_loss", "energy_mse"):
            print(f"  {key:<10} {metrics[key]['mean']:.4e} ± {metrics[key]['stderr']:.2e}")
        print(f"load average after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
