"""Cost of each integrator against RK4 at the same accuracy; prints figures (no asserts).

    python benchmarks/bench_integrators.py [--tol 1e-6]

For two fields in float64, a separable one (an HNN-like SeparableHNN of the pendulum,
H = p^2/2 + 1 - cos q) and a learned, non-separable one (a seeded, untrained HNN of width 200),
each integrator is run over t in [0, 10] from 64 starts with 2^k steps, k = 3, 4, ...,
until the final state is within `--tol` of a fine RK4 reference. The table gives that number of
steps, the wall time per step and the total, and the total relative to RK4's.
"""
import argparse
import time

import numpy as np
import torch

from hnn import SeparableHNN, build_model, get_integrator, odeint


class Closed(torch.nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x).unsqueeze(-1)


def pendulum():
    return SeparableHNN(Closed(lambda p: 0.5 * (p ** 2).sum(-1)),
                        Closed(lambda q: (1 - torch.cos(q)).sum(-1)))


def field_for(model, name):
    return model.field() if name in ("leapfrog", "yoshida4-leapfrog") else model.time_derivative


def run(model, name, x0, steps, t_end):
    t = torch.tensor([0.0, t_end], dtype=torch.float64)
    start = time.perf_counter()
    with torch.no_grad():
        out = odeint(field_for(model, name), x0, t, solver=get_integrator(name), substeps=steps)
    return out[:, -1], time.perf_counter() - start


def cost_at_tolerance(model, name, x0, reference, tol, t_end, max_k=14):
    """(steps, seconds) of the coarsest 2^k-step run within `tol` of `reference`, or None."""
    for k in range(3, max_k + 1):
        try:
            final, seconds = run(model, name, x0, 2 ** k, t_end)
        except RuntimeError:          # an implicit step that does not converge at this size
            continue
        if (final - reference).abs().max().item() <= tol:
            return 2 ** k, seconds
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tol", type=float, default=1e-6, help="max final-state error")
    args = parser.parse_args()
    torch.manual_seed(0)
    x0 = torch.as_tensor(np.random.default_rng(0).uniform(-1, 1, size=(64, 2)), dtype=torch.float64)
    fields = {"separable pendulum": (pendulum(), ["rk4", "leapfrog", "yoshida4-leapfrog",
                                                 "midpoint", "yoshida4"]),
              "learned HNN, width 200": (build_model(2, 200).double(),
                                         ["rk4", "midpoint", "yoshida4"])}
    t_end = 10.0
    for label, (model, names) in fields.items():
        reference, _ = run(model, "rk4", x0, 2 ** 14, t_end)
        print(f"\n{label}: final-state error <= {args.tol:g} over t in [0, {t_end:g}], 64 starts")
        print(f"{'integrator':<20}{'steps':>8}{'ms/step':>10}{'total s':>10}{'x RK4':>8}")
        rk4_total = None
        for name in names:
            found = cost_at_tolerance(model, name, x0, reference, args.tol, t_end)
            if found is None:
                print(f"{name:<20}{'not reached':>36}")
                continue
            steps, seconds = found
            rk4_total = seconds if name == "rk4" else rk4_total
            print(f"{name:<20}{steps:>8}{seconds / steps * 1e3:>10.3f}{seconds:>10.3f}"
                  f"{seconds / rk4_total:>8.2f}")


if __name__ == "__main__":
    main()
