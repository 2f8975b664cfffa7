"""The one training loop every experiment uses: Adam with weight decay, full batch or minibatch."""
import math

import torch
from torch.nn.functional import mse_loss
from tqdm.auto import tqdm

from .optim import Adam


def derivative_loss(model, batch):
    """L2 loss between the model's time derivative and the observed one, averaged over elements."""
    return mse_loss(model.time_derivative(batch["x"]), batch["dx"])


def _sample(data, batch_size, generator):
    """A minibatch of `batch_size` distinct random rows (all rows, in order, when batch_size is 0),
    drawn as the original did, `torch.randperm(n)[:batch_size]`."""
    first = next(iter(data.values()))
    n = len(first)
    if not batch_size or batch_size >= n:
        return data
    idx = torch.randperm(n, generator=generator)[:batch_size].to(first.device)
    return {k: v[idx] for k, v in data.items()}


def fit(model, loss_fn, train, test, *, total_steps, learn_rate=1e-3, weight_decay=0.0,
        batch_size=0, seed=0, eval_every=10, quiet=False, desc="train"):
    """Train `model` in place with Adam for `total_steps + 1` updates, as the original code did.

    `train` and `test` are dicts of tensors sharing their first dimension; `loss_fn(model, batch)`
    returns a scalar. `batch_size=0` means full batch; otherwise every step draws a random
    minibatch of distinct rows, and the test loss is taken on a random test batch of that size.
    Returns the curves: `{"step", "train_loss", "test_step", "test_loss"}` (lists). Raises
    FloatingPointError as soon as the loss is not finite.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = Adam(params, lr=learn_rate, weight_decay=weight_decay)
    generator = torch.Generator().manual_seed(seed)
    curves = {"step": [], "train_loss": [], "test_step": [], "test_loss": []}
    bar = tqdm(range(total_steps + 1), desc=desc, disable=quiet, leave=False, mininterval=0.5)
    for step in bar:
        loss = loss_fn(model, _sample(train, batch_size, generator))
        value = loss.item()
        if not math.isfinite(value):
            raise FloatingPointError(f"{desc}: training loss became {value} at step {step}")
        optimizer.zero_grad()
        loss.backward(inputs=params)
        optimizer.step()
        curves["step"].append(step)
        curves["train_loss"].append(value)
        if step % eval_every == 0 or step == total_steps:
            with torch.no_grad():
                test_value = loss_fn(model, _sample(test, batch_size, generator)).item()
            curves["test_step"].append(step)
            curves["test_loss"].append(test_value)
            bar.set_postfix(train=f"{value:.3e}", test=f"{test_value:.3e}", refresh=False)
    return curves
