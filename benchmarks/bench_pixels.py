"""Benchmark of the pixel pendulum: generating the dataset, then one full training run; or, with
`--matmul`, the training step as it was (`today`) and under each `--matmul` now, side by side.

    python benchmarks/bench_pixels.py [--baseline] [--total-steps N] [--skip-training]
    python benchmarks/bench_pixels.py --matmul [--total-steps 300] [--rounds 3]
    python benchmarks/bench_pixels.py --study-cost [--jobs 2]
    python benchmarks/bench_pixels.py --floor [--total-steps 100] [--rounds 3]

Prints wall times (figures, not asserts). The dataset is generated afresh into a temporary
cache; the training run then reads it from there and saves into a temporary folder. Torch's
thread count and the load average are printed with the times: on a shared CPU they matter.

`--study-cost` prices the study `pixel-coordinates` and the variants the issue asks for beyond it
(a variational encoder, the conv encoder with the latent rollout): each variant's baseline and
HNN runs whole (`Task.run`, the study's overrides, evaluation included) at 20 and 220 steps; the
difference gives the seconds per step, the rest the fixed cost, and the two the projected run at
the task's steps. Then the grid's cost (`GRID_SEEDS` seeds) with the best variant at five seeds,
in one-thread hours and in wall hours at `--jobs`.

`--matmul` trains both latent models from the same start on the same batches (the task's own
`hnn.training.fit`, the paper's settings, the cached dataset of seed 0) for `--total-steps`
steps in turn as `today` (`todays_step`: the code when the speed issue was filed), `torch` (the
default now) and `onednn`, `--rounds` times, and prints the best ms per step of each, the ratios
to today's, whether torch's losses are today's bit for bit, and the largest relative difference
between onednn's training losses and today's over the first 20 steps and over all of them
(training is chaotic: rounding differences grow along a run). Then,
step by step along the first 20 steps of the torch run, each matmul's loss and gradients from the
same parameters and batch against float64's: the largest relative errors of each.

`--floor` bounds what a step can gain while its matrix products stay as they are: it records
the shapes of every product (`aten::mm`, `aten::addmm`) along the steps timed (the test-loss
curve included) with `torch.profiler`, replays them alone on random operands of those shapes,
and times that beside today's step and the step now (`--total-steps` steps, best of
`--rounds`). Today's step over the products' time is the speed-up that removing all the rest
would give.
"""
import argparse
import contextlib
import dataclasses
import importlib
import os
import sys
import tempfile
import time

import torch

from hnn.experiments import find_tasks


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", action="store_true")
    parser.add_argument("--total-steps", type=int, default=None, help="default: train.py's")
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--matmul", action="store_true",
                        help="compare the training step under each --matmul, side by side")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the --matmul timing")
    parser.add_argument("--study-cost", action="store_true",
                        help="price the pixel-coordinates study and the variants beyond it")
    parser.add_argument("--jobs", type=int, default=2, help="runs at once, for --study-cost")
    parser.add_argument("--floor", action="store_true",
                        help="time the step's matrix products alone beside the whole step")
    args = parser.parse_args()
    task = find_tasks()["pixels"]
    if args.study_cost:
        return study_cost(task, args.jobs)
    if args.matmul:
        return compare_matmuls(task, args.total_steps or 300, args.rounds)
    if args.floor:
        return product_floor(task, args.total_steps or 100, args.rounds)
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


@contextlib.contextmanager
def todays_step(task):
    """The pixel step as it was when the speed issue was filed: autograd's backward of the
    reconstruction term (not `losses.reconstruction_error`'s one pass) and the minibatch by
    advanced indexing (not `index_select`). Both give the same numbers bit for bit, only slower."""
    import hnn.training
    losses = sys.modules[type(task).__module__.rsplit(".", 1)[0] + ".losses"]
    fused, sample = losses.reconstruction_error, hnn.training._sample

    def autograd_error(x, reconstruction):
        return ((x - reconstruction) ** 2).mean(dim=1)

    def indexed_sample(data, batch_size, generator):
        first = next(iter(data.values()))
        idx = torch.randperm(len(first), generator=generator)[:batch_size]
        return {k: v[idx] for k, v in data.items()}

    losses.reconstruction_error, hnn.training._sample = autograd_error, indexed_sample
    try:
        yield
    finally:
        losses.reconstruction_error, hnn.training._sample = fused, sample


def study_cost(task, jobs, steps=(20, 220), seeds=5):
    """Print each variant's seconds per step, fixed seconds and projected run, then the grid's."""
    from hnn.sweep import Options, Run
    coordinates = importlib.import_module(type(task).__module__.rsplit(".", 1)[0] + ".coordinates")
    rollout = (("horizon", coordinates.HORIZON),)
    variants = {name: models for name, (_, models) in coordinates.VARIANTS.items()}
    variants["mlp, variational (β 1e-5)"] = {m: (m, (("beta", 1e-5),)) for m in coordinates.PAIR}
    variants["conv, rollout"] = {
        "baseline": ("baseline+rollout", (("encoder", "conv"),) + rollout
                     + (("train_integrator", "rk4"),)),
        "hnn": ("hnn+rollout", (("encoder", "conv"),) + rollout
                + (("train_integrator", "midpoint"),))}
    torch.set_num_threads(1)
    total_steps = task.defaults.total_steps
    print(f"torch threads 1, load average {os.getloadavg()[0]:.2f}; runs of {steps} steps, "
          f"projected to {total_steps}")
    print("| variant | model | ms / step | fixed s | projected run, min |\n"
          "| --- | --- | --- | --- | --- |")
    grid = best = 0.0
    for variant, models in variants.items():
        for run_model, overrides in models.values():
            seconds = []
            for n in steps:
                with tempfile.TemporaryDirectory() as tmp:
                    options = Options(overrides=coordinates.PROFILE + overrides
                                      + (("total_steps", n),))
                    config = options.config(task, Run("pixels", run_model, 0), tmp)
                    task.dataset(config)                         # cached: not in the time
                    started = time.perf_counter()
                    task.run(config)
                    seconds.append(time.perf_counter() - started)
            per_step = (seconds[1] - seconds[0]) / (steps[1] - steps[0])
            fixed = seconds[0] - per_step * (steps[0] + 1)
            run = fixed + per_step * (total_steps + 1)
            grid += coordinates.GRID_SEEDS * run
            if variant == "mlp, rollout":     # the best at three seeds (pixel-coordinates.json)
                best += run
            print(f"| {variant} | {run_model} | {per_step * 1e3:.1f} | {fixed:.1f} | "
                  f"{run / 60:.1f} |")
    extra = (seeds - coordinates.GRID_SEEDS) * best
    print(f"grid of {coordinates.GRID_SEEDS} seeds: {grid / 3600:.2f} one-thread hours; with the "
          f"mlp rollout variant at {seeds} seeds: {(grid + extra) / 3600:.2f}, "
          f"{(grid + extra) / 3600 / jobs:.2f} wall hours at --jobs {jobs} (at best)")


def timed_fit(task, config, train, test, today=False):
    """Train a fresh model of `config` for its total_steps with the task's settings (as `today`'s
    step with `today`); `(ms per step, curves)`."""
    from hnn.training import fit
    torch.manual_seed(config.seed)
    model = task.build(config)
    with todays_step(task) if today else contextlib.nullcontext():
        started = time.perf_counter()
        curves = fit(model, task.loss, train, test, total_steps=config.total_steps,
                     learn_rate=config.learn_rate, weight_decay=config.weight_decay,
                     batch_size=config.batch_size, seed=config.seed, quiet=True)
        ms = (time.perf_counter() - started) / (config.total_steps + 1) * 1e3
    return ms, curves


STEPS = {"today": ("torch", True), "torch": ("torch", False), "onednn": ("onednn", False)}


def compare_matmuls(task, steps, rounds):
    torch.set_num_threads(1)                     # as train.py runs by default
    print(f"torch threads {torch.get_num_threads()}, cpus {os.cpu_count()}, "
          f"load average {os.getloadavg()[0]:.2f}")
    base = task.config(quiet=True, total_steps=steps)
    train, _, test = task.training_data(task.dataset(base), base)
    for model_name in ("hnn", "baseline"):
        best, losses = {}, {}
        for _ in range(rounds):
            for label, (matmul, today) in STEPS.items():
                config = task.config(quiet=True, total_steps=steps, model=model_name,
                                     matmul=matmul)
                ms, curves = timed_fit(task, config, train, test, today)
                best[label] = min(ms, best.get(label, float("inf")))
                losses[label] = torch.tensor(curves["train_loss"], dtype=torch.float64)
        print(f"{model_name:>8}: " + ", ".join(f"{k} {v:.2f} ms/step" for k, v in best.items())
              + "; against today: " + ", ".join(f"{k} {best['today'] / best[k]:.2f}x"
                                                for k in STEPS if k != "today"))
        same = torch.equal(losses["today"], losses["torch"])
        relative = (losses["today"] - losses["onednn"]).abs() / losses["today"].abs()
        print(f"          training losses: torch {'bit-identical to' if same else 'DIFFER from'} "
              f"today's over {steps + 1} steps; onednn's largest relative difference from "
              f"today's: first 20 steps {relative[:20].max():.1e}, all {relative.max():.1e}")
        stepwise_difference(task, task.config(quiet=True, model=model_name), train)
    print(f"load average after {os.getloadavg()[0]:.2f}")


def product_floor(task, steps, rounds, replays=50):
    """Print, per latent model, the step's matrix products timed alone against today's step and
    the step now (`--floor`)."""
    import collections

    from torch.profiler import ProfilerActivity, profile
    torch.set_num_threads(1)
    print(f"torch threads 1, cpus {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}")
    base = task.config(quiet=True, total_steps=steps)
    train, _, test = task.training_data(task.dataset(base), base)
    for model_name in ("hnn", "baseline"):
        config = task.config(quiet=True, total_steps=steps, model=model_name)
        with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
            timed_fit(task, config, train, test)
        counts = collections.Counter((e.name, tuple(tuple(s) for s in e.input_shapes if s))
                                     for e in prof.events()
                                     if e.name in ("aten::mm", "aten::addmm"))
        products = []
        for (name, shapes), count in counts.items():
            operands = [torch.randn(*shape) for shape in shapes]
            op = torch.mm if name == "aten::mm" else torch.addmm
            products += [(op, operands)] * round(count / (steps + 1))

        def products_ms():
            started = time.perf_counter()
            for _ in range(replays):
                for op, operands in products:
                    op(*operands)
            return (time.perf_counter() - started) / replays * 1e3

        best = collections.defaultdict(lambda: float("inf"))
        for _ in range(rounds):
            best["today"] = min(best["today"], timed_fit(task, config, train, test, True)[0])
            best["now"] = min(best["now"], timed_fit(task, config, train, test)[0])
            best["products"] = min(best["products"], products_ms())
        print(f"{model_name:>8}: {len(products)} products a step; today's step "
              f"{best['today']:.2f} ms, the step now {best['now']:.2f} ms, its products alone "
              f"{best['products']:.2f} ms ({best['products'] / best['now']:.0%} of the step now); "
              f"today's step / the products: {best['today'] / best['products']:.2f}x")
    print(f"load average after {os.getloadavg()[0]:.2f}")


def stepwise_difference(task, config, train, steps=20):
    """Along `steps` steps of the torch run: from its parameters and batch, the loss and every
    gradient under each matmul against float64 (torch's products in float64, the referee);
    prints the largest relative error of each over the steps and parameters."""
    import copy

    from hnn.optim import Adam
    from hnn.training import _sample
    torch.manual_seed(config.seed)
    reference = task.build(config)
    other = task.build(dataclasses.replace(config, matmul="onednn"))
    optimizer = Adam(list(reference.parameters()), lr=config.learn_rate,
                     weight_decay=config.weight_decay)
    generator = torch.Generator().manual_seed(config.seed)
    worst = {"torch": [0.0, 0.0, ""], "onednn": [0.0, 0.0, ""]}
    for _ in range(steps):
        batch = _sample(train, config.batch_size, generator)
        other.load_state_dict(reference.state_dict())
        referee = copy.deepcopy(reference).double()
        found = {}
        for label, model, data in (
                ("float64", referee, {k: v.double() for k, v in batch.items()}),
                ("onednn", other, batch), ("torch", reference, batch)):
            model.zero_grad()
            loss = task.loss(model, data)
            loss.backward()
            found[label] = (loss.item(), {n: p.grad.double() for n, p in model.named_parameters()
                                          if p.grad is not None})
        exact_loss, exact = found["float64"]
        for label in ("torch", "onednn"):
            loss, grads = found[label]
            errors = {n: ((grads[n] - g).norm() / g.norm()).item() for n, g in exact.items()
                      if g.norm() > 0}
            name = max(errors, key=errors.get)
            entry = worst[label]
            entry[0] = max(entry[0], abs(loss - exact_loss) / abs(exact_loss))
            if errors[name] > entry[1]:
                entry[1], entry[2] = errors[name], name
        optimizer.step()
    for label, (loss, gradient, name) in worst.items():
        print(f"          {label:>6} against float64, each of the first {steps} steps from the "
              f"torch run's state: loss {loss:.1e}, gradient {gradient:.1e} ({name})")


if __name__ == "__main__":
    main()
