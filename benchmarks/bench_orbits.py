"""Timings of the two-body task: generating its 1000-orbit dataset, and a whole HNN train.py run
with the dataset already cached. Prints figures; asserts nothing.

    python benchmarks/bench_orbits.py [--repeats 3] [--skip-train]

The references are the authors' code: about 8 s to generate, about 30 s to train. On a shared
machine the numbers move with the load, which is printed alongside, so the training loop is also
timed per step back to back with a loop doing the authors' per-step work (authors_loop.py).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import authors_loop

from hnn.config import REPO_ROOT
from hnn.experiments import find_tasks, load_folder
from hnn.tasks import to_tensors

orbits = load_folder(os.path.join(REPO_ROOT, "experiment-orbits"), "data")
TRIALS = find_tasks()["2body"].defaults.trials


def time_generation(repeats):
    """Seconds per uncached generation of the default two-body dataset, `repeats` times."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        data = orbits.make_dataset(2, 0, TRIALS)
        times.append(time.perf_counter() - started)
    points = len(data["x"]) + len(data["test_x"])
    return times, points


def time_training(work_dir):
    """(wall seconds of the train.py process, its own wall_time_s) for a default two-body HNN run
    whose dataset is cached beforehand in `work_dir`."""
    env = {**os.environ, "HNN_CACHE_DIR": os.path.join(work_dir, "cache")}
    os.environ["HNN_CACHE_DIR"] = env["HNN_CACHE_DIR"]
    orbits.get_dataset(2, 0, TRIALS)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "experiment-orbits/train.py", "--quiet", "--save-dir", work_dir],
        cwd=REPO_ROOT, env=env, check=True)
    wall = time.perf_counter() - started
    with open(os.path.join(work_dir, "2body-hnn-seed0.json")) as f:
        return wall, json.load(f)["wall_time_s"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-train", action="store_true")
    args = parser.parse_args(argv)
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"CPU cores: {os.cpu_count()}; "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}; "
          f"load average before: {load}")
    times, points = time_generation(args.repeats)
    print(f"two-body dataset, 1000 orbits ({points} points): "
          f"median {statistics.median(times):.2f} s, best {min(times):.2f} s over {len(times)} "
          f"(authors' generator: about 8 s; goal: under 5 s)")
    if not args.skip_train:
        data = orbits.get_dataset(2, 0, TRIALS, quiet=True)
        ours, theirs = authors_loop.compare(
            to_tensors({"x": data["x"], "dx": data["dx"]}, "cpu"),
            to_tensors({"x": data["test_x"], "dx": data["test_dx"]}, "cpu"),
            batch_size=200, weight_decay=0.0, steps=500)
        print(f"training loop per step, batch 200: ours {ours * 1e3:.2f} ms, authors' loop "
              f"{theirs * 1e3:.2f} ms, speed-up {theirs / ours:.2f}x")
        with tempfile.TemporaryDirectory() as work_dir:
            wall, inner = time_training(work_dir)
        print(f"two-body HNN train.py with cached data: {wall:.1f} s for the process, "
              f"{inner:.1f} s inside task.run() (authors' script: about 30 s; goal: under 20 s)")
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"load average after: {load}")


if __name__ == "__main__":
    main()
