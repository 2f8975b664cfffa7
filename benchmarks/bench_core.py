"""Speed of the core at the spring settings; prints figures and ratios (no asserts).

    python benchmarks/bench_core.py

1. one full-batch training step (750 points): HNN / baseline, and D-HNN / HNN;
2. the energy-MSE evaluation of 15 trajectories: batched torch RK4 vs the original's
   per-trajectory scipy solve_ivp (RK45, batch size 1, rtol 1e-12 and scipy's default atol, as
   the original notebook did), with both MSE values;
3. our training loop per step against a loop doing the authors' per-step work (authors_loop.py),
   timed back to back, since this machine's speed drifts;
4. a whole `experiment-spring/train.py` HNN run (data, training, evaluation), wall time.
"""
import subprocess
import sys
import tempfile
import time

import authors_loop
import torch

from hnn import derivative_loss, energy_mse
from hnn.config import REPO_ROOT
from hnn.experiments import find_tasks
from hnn.models import build_model
from hnn.optim import Adam
from hnn.runs import RunsFolder
from hnn.tasks import to_tensors

spring = find_tasks()["spring"]


def step_time(kind, steps=300, warmup=30):
    """Seconds per full-batch training step of the spring model `kind` (hnn, baseline, dhnn)."""
    torch.manual_seed(0)
    model = build_model(2, 200, "tanh", baseline=kind == "baseline", dissipative=kind == "dhnn")
    optimizer = Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
    data = spring.dataset(spring.config())
    batch = to_tensors({"x": data["x"], "dx": data["dx"]}, "cpu")
    for i in range(warmup + steps):
        if i == warmup:
            start = time.perf_counter()
        loss = derivative_loss(model, batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return (time.perf_counter() - start) / steps


def main():
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    hnn_step, base_step, dhnn_step = step_time("hnn"), step_time("baseline"), step_time("dhnn")
    print(f"training step (750 points): HNN {hnn_step * 1e3:.2f} ms, "
          f"baseline {base_step * 1e3:.2f} ms, "
          f"ratio {hnn_step / base_step:.2f}x")
    print(f"training step (750 points): D-HNN {dhnn_step * 1e3:.2f} ms, "
          f"{dhnn_step / hnn_step:.2f}x an HNN step")

    with tempfile.TemporaryDirectory() as tmp:
        spring.run(spring.config(quiet=True, total_steps=300, save_dir=tmp))
        model = RunsFolder(tmp).load(spring)[0]
    x0, t, truth = spring.evaluation_trajectories()
    timings = {}
    for solver, rtol in (("rk4", None), ("scipy", 1e-12)):
        start = time.perf_counter()
        result = energy_mse(model, spring.hamiltonian, x0, t, truth, solver=solver, rtol=rtol,
                            substeps=spring.defaults.eval_substeps)
        timings[solver, rtol] = time.perf_counter() - start
        label = "batched RK4" if solver == "rk4" else f"scipy RK45 rtol {rtol:.0e}"
        print(f"energy MSE, 15 trajectories, {label:>22}: {result['mean']:.4e} in "
              f"{timings[solver, rtol]:.2f} s")
    print(f"batched RK4 speed-up over per-trajectory scipy: "
          f"{timings['scipy', 1e-12] / timings['rk4', None]:.1f}x")

    data = spring.dataset(spring.config())
    ours, theirs = authors_loop.compare(
        to_tensors({"x": data["x"], "dx": data["dx"]}, "cpu"),
        to_tensors({"x": data["test_x"], "dx": data["test_dx"]}, "cpu"),
        batch_size=0, weight_decay=1e-4)
    print(f"training loop per step, full batch: ours {ours * 1e3:.2f} ms, authors' loop "
          f"{theirs * 1e3:.2f} ms, speed-up {theirs / ours:.2f}x")

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        subprocess.run([sys.executable, "experiment-spring/train.py", "--quiet", "--save-dir", tmp],
                       cwd=REPO_ROOT, check=True)
        print(f"whole spring HNN train.py run: {time.perf_counter() - start:.1f} s wall")


if __name__ == "__main__":
    main()
