"""A stand-in for the authors' per-step work, to time against ours at the same moment.

The speed goals were set against the authors' scripts timed on this machine (spring about 18 s,
two-body about 30 s). This machine's speed drifts by tens of percent from hour to hour, so the
benchmarks also time, back to back with our loop, a loop that does what the authors' train scripts
do every step (docs/paper-settings.md, sections 1 and 2):
- the HNN net has 2 outputs (F1, F2); the field is grad F2 (autograd, create_graph) @ M.T;
- a `torch.randperm` minibatch when there is a batch size;
- L2 loss, backward, `torch.optim.Adam` with its default (per-tensor) update;
- then the test loss on a test batch (or the whole test set), every step, with the graph built.
"""
import time

import torch

from hnn import derivative_loss, fit
from hnn.mlp import MLP
from hnn.models import build_model


def _field(net, x, permutation):
    x = x.detach().requires_grad_(True)
    f2 = net(x)[:, 1]
    (grad,) = torch.autograd.grad(f2.sum(), x, create_graph=True)
    return grad @ permutation.t()


def seconds_per_step(train, test, batch_size, weight_decay, steps=200, warmup=20):
    """Seconds per step of the authors' HNN training loop on `train`/`test` ((x, dx) tensors)."""
    torch.manual_seed(0)
    dim = train[0].shape[1]
    net = MLP(dim, 200, 2)
    eye = torch.eye(dim)
    permutation = torch.cat([eye[dim // 2:], -eye[:dim // 2]])
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3, weight_decay=weight_decay)

    def batch(data):
        if not batch_size:
            return data
        idx = torch.randperm(len(data[0]))[:batch_size]
        return data[0][idx], data[1][idx]

    for i in range(warmup + steps):
        if i == warmup:
            start = time.perf_counter()
        x, dx = batch(train)
        loss = ((_field(net, x, permutation) - dx) ** 2).mean()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        x, dx = batch(test)
        ((_field(net, x, permutation) - dx) ** 2).mean().item()
    return (time.perf_counter() - start) / steps


def compare(train, test, batch_size, weight_decay, rounds=3, steps=200):
    """Best seconds per step over `rounds` of (our `fit`, the authors' loop), run back to back.

    `train` and `test` are dicts of tensors `x`, `dx`; `batch_size=0` means full batch."""
    ours, theirs = [], []
    for _ in range(rounds):
        torch.manual_seed(0)
        model = build_model(train["x"].shape[1])
        start = time.perf_counter()
        fit(model, derivative_loss, train, test, total_steps=steps - 1, batch_size=batch_size,
            weight_decay=weight_decay, quiet=True)
        ours.append((time.perf_counter() - start) / steps)
        theirs.append(seconds_per_step((train["x"], train["dx"]), (test["x"], test["dx"]),
                                       batch_size, weight_decay, steps=steps))
    return min(ours), min(theirs)
