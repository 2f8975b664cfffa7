"""Would training K seeds as one stacked model pay? Prints step times and ratios (no asserts).

    python benchmarks/bench_batched_seeds.py [--threads 1 2] [--members 5]

A stacked HNN holds the weights of K members as `(K, in, out)` tensors and runs every layer as
one batched matmul over `(K, batch, in)` inputs, so one training step (forward, the input
gradient that gives the field, the loss, backward and Adam) updates all K members. Each member
keeps its own data, as a separate seed would. The script times that step against K steps of one
member (the same code at K = 1), at the shapes of the tasks whose runs dominate the five-seed
wall time, and prints the throughput ratio: the seconds of K single steps over one stacked step.
Run it on an otherwise idle machine.
"""
import argparse
import time

import torch

# (label, state size, batch, hidden): the HNN dynamics model of each task at its settings; for
# pixels, the autoencoder's first and last layers, which hold most of its work (1568 inputs).
SHAPES = [("spring (full batch 750)", 2, 750, 200), ("two-body (batch 200)", 8, 200, 200),
          ("three-body (batch 600)", 12, 600, 200),
          ("pixels autoencoder (batch 200)", 1568, 200, 200)]


def stacked_params(members, dims, generator):
    """Weights `(K, in, out)` and biases `(K, 1, out)` of a K-member MLP with layer sizes `dims`."""
    params = []
    for fan_in, fan_out in zip(dims[:-1], dims[1:]):
        weight = torch.randn(members, fan_in, fan_out, generator=generator) / fan_in ** 0.5
        params += [weight.requires_grad_(), torch.zeros(members, 1, fan_out).requires_grad_()]
    return params


def energy(params, x):
    """H of a stacked tanh MLP: `x` (K, batch, d) -> (K, batch, 1)."""
    h = x
    for i in range(0, len(params) - 2, 2):
        h = torch.tanh(torch.baddbmm(params[i + 1], h, params[i]))
    return torch.baddbmm(params[-1], h, params[-2])


def hnn_step(params, optimizer, x, dx):
    """One HNN training step for every member: field = J grad H, L2 loss against dx."""
    x = x.detach().requires_grad_(True)
    grad = torch.autograd.grad(energy(params, x).sum(), x, create_graph=True)[0]
    q_grad, p_grad = grad.chunk(2, dim=-1)
    field = torch.cat([p_grad, -q_grad], dim=-1)
    loss = (field - dx).pow(2).mean(dim=(1, 2)).sum()      # each member's own mean, summed
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


def autoencoder_step(params, optimizer, x, _):
    """One step of a stacked 3-layer autoencoder's reconstruction loss (the pixel task's bulk)."""
    reconstruction = energy(params, x)
    loss = (reconstruction - x).pow(2).mean(dim=(1, 2)).sum()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


def seconds_per_step(members, dim, batch, hidden, steps=30):
    generator = torch.Generator().manual_seed(0)
    pixels = dim > 100
    dims = [dim, hidden, hidden, dim] if pixels else [dim, hidden, hidden, 1]
    params = stacked_params(members, dims, generator)
    optimizer = torch.optim.Adam(params, lr=1e-3)
    x = torch.randn(members, batch, dim, generator=generator)
    dx = torch.randn(members, batch, dim, generator=generator)
    step = autoencoder_step if pixels else hnn_step
    for _ in range(5):
        step(params, optimizer, x, dx)
    start = time.perf_counter()
    for _ in range(steps):
        step(params, optimizer, x, dx)
    return (time.perf_counter() - start) / steps


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--members", type=int, default=5)
    args = parser.parse_args()
    k = args.members
    print(f"{'shape':<32} {'threads':>7} {'1 member':>10} {f'{k} stacked':>11} "
          f"{f'{k} x 1 / stacked':>17}")
    for threads in args.threads:
        torch.set_num_threads(threads)
        for label, dim, batch, hidden in SHAPES:
            single = seconds_per_step(1, dim, batch, hidden)
            stacked = seconds_per_step(k, dim, batch, hidden)
            print(f"{label:<32} {threads:>7} {single * 1e3:8.2f}ms {stacked * 1e3:9.2f}ms "
                  f"{k * single / stacked:16.2f}x")


if __name__ == "__main__":
    main()
