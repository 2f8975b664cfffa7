"""The one training loop every experiment uses: Adam with weight decay, full batch or minibatch."""
import copy
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
    return {k: v.index_select(0, idx) for k, v in data.items()}    # v[idx], faster


def _check_split(name, data, param_dtypes):
    """Raise ValueError unless the split `data` is a non-empty dict of tensors sharing one non-zero
    first dimension, and TypeError for a floating tensor whose dtype is not the model's single
    parameter dtype in `param_dtypes` (a set)."""
    if not isinstance(data, dict) or not data:
        got = "an empty dict" if isinstance(data, dict) else type(data).__name__
        raise ValueError(f"{name} must be a non-empty dict of tensors, got {got}")
    for key, value in data.items():
        if not isinstance(value, torch.Tensor) or value.ndim == 0:
            shape = tuple(getattr(value, "shape", ()))
            raise ValueError(f"{name}[{key!r}] must be a tensor with a row dimension, "
                             f"got {type(value).__name__} of shape {shape}")
    lengths = {key: len(value) for key, value in data.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"{name} tensors must share their first dimension, got lengths {lengths}")
    if not next(iter(lengths.values())):
        raise ValueError(f"{name} is empty: it needs at least one row, got lengths {lengths}")
    if len(param_dtypes) == 1:
        (dtype,) = param_dtypes
        for key, value in data.items():
            if value.is_floating_point() and value.dtype != dtype:
                raise TypeError(f"{name}[{key!r}] has dtype {value.dtype} but the model's "
                                f"parameters are {dtype}; cast the data, e.g. .to({dtype})")


SCHEDULES = ("constant", "cosine", "step")


def learning_rate(step, total_steps, learn_rate, schedule="constant", final=0.01):
    """The learning rate of update `step` (0 ... total_steps): `learn_rate` throughout
    ("constant"); from `learn_rate` down to `final * learn_rate` at the last update along half a
    cosine ("cosine"); or times `final ** (1/2)` from 50% of the steps and `final` from 75%
    ("step"). Written out because the project's `Adam` is not a `torch.optim.Optimizer`, which
    torch's `lr_scheduler` needs."""
    if schedule == "constant" or total_steps == 0:
        return learn_rate
    progress = step / total_steps
    if schedule == "cosine":
        return learn_rate * (final + (1 - final) * (1 + math.cos(math.pi * progress)) / 2)
    if schedule == "step":
        return learn_rate * (final if progress >= 0.75 else final ** 0.5 if progress >= 0.5
                             else 1.0)
    raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r}")


def fit(model, loss_fn, train, test, *, total_steps, learn_rate=1e-3, weight_decay=0.0,
        batch_size=0, seed=0, eval_every=10, quiet=False, desc="train", schedule="constant",
        lr_final=0.01, ema_decay=0.0, clip_grad=0.0, validation=None, on_step=None,
        test_loss_fn=None, extra_params=()):
    """Train `model` in place with Adam for `total_steps + 1` updates, as the original code did.

    `train` and `test` are dicts of tensors sharing their first dimension; `loss_fn(model, batch)`
    returns a scalar. `batch_size=0` means full batch; otherwise every step draws a random
    minibatch of distinct rows, and the test loss is taken on a random test batch of that size.
    Returns the curves: `{"step", "train_loss", "test_step", "test_loss"}` (lists), and
    `"validation_loss"` beside `test_step` when a validation split is given.

    Options that make the end of training less of a lottery (each off by default, which is the
    paper's protocol, bit for bit):
    - `schedule`, `lr_final`: the learning rate of each update (`learning_rate`).
    - `ema_decay` in (0, 1): an exponential moving average of the weights
      (`torch.optim.swa_utils.AveragedModel`), which `model` holds at the end.
    - `clip_grad` > 0: the gradients' total norm is clipped to it before each update.
    - `validation`: a split carved from the training data; its loss is taken with the test
      loss, and `model` ends with the weights (averaged ones, with `ema_decay`) of its lowest.
    - `on_step(step, model)`: called after each update with the model that would be kept (the
      average, with `ema_decay`); it must not change it.
    - `test_loss_fn(model, batch)`: the loss of the test and validation splits (default
      `loss_fn`), taken without gradients.
    - `extra_params`: tensors that `loss_fn` also depends on (inferred starts, say), trained
      with the model by a second Adam at the same rate and schedule, without weight decay.
    Before any step, raises ValueError for total_steps or batch_size < 0 or a split that is not a
    non-empty dict of tensors of one non-zero length, and TypeError for a floating-point tensor
    whose dtype is not the parameters'. Raises FloatingPointError as soon as the training or the
    test loss is not finite.
    """
    if total_steps < 0:
        raise ValueError(f"total_steps must be >= 0, got {total_steps}")
    if batch_size < 0:
        raise ValueError(f"batch_size must be >= 0 (0 = full batch), got {batch_size}")
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r}")
    if not 0 <= ema_decay < 1 or clip_grad < 0 or not 0 < lr_final <= 1:
        raise ValueError(f"need 0 <= ema_decay < 1, clip_grad >= 0 and 0 < lr_final <= 1, got "
                         f"{ema_decay}, {clip_grad}, {lr_final}")
    param_dtypes = {p.dtype for p in model.parameters() if p.is_floating_point()}
    splits = (("train", train), ("test", test)) + ((("validation", validation),)
                                                   if validation is not None else ())
    for name, data in splits:
        _check_split(name, data, param_dtypes)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = Adam(params, lr=learn_rate, weight_decay=weight_decay)
    extra = Adam(extra_params, lr=learn_rate) if extra_params else None
    trained = params + list(extra_params)
    held_out = test_loss_fn or loss_fn
    generator = torch.Generator().manual_seed(seed)
    average = None
    if ema_decay:
        from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
        average = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(ema_decay),
                                use_buffers=True)
    kept = average.module if average is not None else model
    best = (math.inf, None)
    curves = {"step": [], "train_loss": [], "test_step": [], "test_loss": []}
    if validation is not None:
        curves["validation_loss"] = []
    bar = tqdm(range(total_steps + 1), desc=desc, disable=quiet, leave=False, mininterval=0.5)
    for step in bar:
        loss = loss_fn(model, _sample(train, batch_size, generator))
        value = loss.item()
        if not math.isfinite(value):
            raise FloatingPointError(f"{desc}: training loss became {value} at step {step}")
        optimizer.zero_grad()
        if extra is not None:
            extra.zero_grad()
        loss.backward(inputs=trained)
        if clip_grad:
            torch.nn.utils.clip_grad_norm_(params, clip_grad)
        if schedule != "constant":
            optimizer.lr = learning_rate(step, total_steps, learn_rate, schedule, lr_final)
        optimizer.step()
        if extra is not None:
            extra.lr = optimizer.lr
            extra.step()
        if average is not None:
            average.update_parameters(model)
        curves["step"].append(step)
        curves["train_loss"].append(value)
        if step % eval_every == 0 or step == total_steps:
            with torch.no_grad():
                test_value = held_out(kept, _sample(test, batch_size, generator)).item()
            if not math.isfinite(test_value):
                raise FloatingPointError(f"{desc}: test loss became {test_value} at step {step}")
            curves["test_step"].append(step)
            curves["test_loss"].append(test_value)
            if validation is not None:
                with torch.no_grad():
                    validation_value = held_out(kept, validation).item()
                curves["validation_loss"].append(validation_value)
                if validation_value < best[0]:
                    best = (validation_value, copy.deepcopy(kept.state_dict()))
            bar.set_postfix(train=f"{value:.3e}", test=f"{test_value:.3e}", refresh=False)
        if on_step is not None:
            on_step(step, kept)
    if validation is not None and best[1] is not None:
        kept.load_state_dict(best[1])
    if average is not None:
        model.load_state_dict(average.module.state_dict())
    return curves
