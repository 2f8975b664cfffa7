"""A training run on a busy machine: wall time with and without a busy-loop process beside it.

    python benchmarks/bench_busy.py

Times a whole `experiment-spring/train.py` HNN run (the defaults, no flag: one torch thread)
alone, then beside one Python busy loop, then the same two with `--threads 2` (torch's old
default here: one thread per core). Prints the seconds and the busy/idle ratios. Run it on an
otherwise idle machine.
"""
import os
import subprocess
import sys
import tempfile
import time

from hnn.config import REPO_ROOT

SCRIPT = os.path.join(REPO_ROOT, "experiment-spring", "train.py")


def train_seconds(*flags):
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        subprocess.run([sys.executable, SCRIPT, "--quiet", "--save-dir", tmp, *flags], check=True)
        return time.perf_counter() - start


def busy_seconds(*flags):
    loop = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        return train_seconds(*flags)
    finally:
        loop.kill()
        loop.wait()


def main():
    train_seconds()     # the dataset cache and the page cache warm up
    print(f"{'spring HNN train.py':<28} {'idle':>8} {'busy':>8} {'busy/idle':>10}")
    for label, flags in (("no flag (1 thread)", ()), ("--threads 2", ("--threads", "2"))):
        idle, busy = train_seconds(*flags), busy_seconds(*flags)
        print(f"{label:<28} {idle:7.1f}s {busy:7.1f}s {busy / idle:9.2f}x")


if __name__ == "__main__":
    main()
