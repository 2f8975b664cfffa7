"""The pixel model's training loss and its energy metric.

Observations are pairs of frames `(batch, 1568)`; the model (`hnn.PixelModel`) encodes them to a
latent state `z = [q, p]` whose dynamics model runs with time in frames.
"""
import numpy as np
import torch
from torch.autograd.function import once_differentiable

from hnn.autoencoder import decode_numpy, encode_numpy, gaussian_kl
from hnn.metrics import mean_stderr, rollout, summarize, valid_prediction_time
from hnn.trajectories import path

LATENT_LOSS_WEIGHT = 0.1


def pixel_losses(model, batch, sample=True):
    """Per-example loss terms, each of shape `(batch,)`, for `batch = {"x", "next_x"}`, both
    `(batch, input_dim)`, `next_x` being the observation one frame after `x`.

    * `ae`: mean over pixels of (x - decode(z))^2, z = encode(x) (only x is reconstructed);
    * `cc`: canonical-coordinate loss, mean over latent pairs of (z_p - (z_q' - z_q))^2, with
      z' = encode(next_x): the momentum is asked to be the change of position over one frame;
    * `latent`: mean over latent dims of (z' - (z + f(z)))^2, one Euler step of the latent model
      with a step of one frame;
    * `total`: ae + cc + 0.1 * latent.

    A variational encoder (`kl_weight` β > 0) draws z and z' from its posteriors (their means
    with `sample=False`), adds `kl`, the mean of the two posteriors' KL divergences from the
    prior, and `total` gains β * kl.
    """
    if getattr(model.autoencoder, "kl_weight", 0):
        return _variational_losses(model, batch, sample)
    z = model.encode(batch["x"])
    z_next = model.encode(batch["next_x"])
    return _terms(model, batch, z, z_next)


def _variational_losses(model, batch, sample):
    autoencoder = model.autoencoder
    if sample:
        (z, kl), (z_next, kl_next) = (autoencoder.sample(batch[k]) for k in ("x", "next_x"))
    else:
        (z, log_var), (z_next, log_var_next) = (autoencoder.posterior(batch[k])
                                                for k in ("x", "next_x"))
        kl, kl_next = gaussian_kl(z, log_var), gaussian_kl(z_next, log_var_next)
    terms = _terms(model, batch, z, z_next)
    terms["kl"] = (kl + kl_next) / 2
    terms["total"] = terms["total"] + autoencoder.kl_weight * terms["kl"]
    return terms


def _terms(model, batch, z, z_next):
    ae, cc = _coordinate_terms(model, batch["x"], z, z_next)
    latent = ((z_next - (z + model.time_derivative(z))) ** 2).mean(dim=1)
    return {"ae": ae, "cc": cc, "latent": latent, "total": ae + cc + LATENT_LOSS_WEIGHT * latent}


class _RowMeanSquaredError(torch.autograd.Function):
    """`((x - y) ** 2).mean(dim=1)` for `(batch, d)` data `x` and `y`, `(batch,)`, with y's
    gradient in one pass over `(batch, d)` where autograd takes five (the mean's division,
    pow's copy and two products, the subtraction's negation); bit for bit autograd's, since
    -((g / d) * (2 (x - y))) = (x - y) * ((g / d) * -2) in floating point (scaling by 2 and
    negating are exact). Written by hand because torch fuses no such backward on the CPU."""

    @staticmethod
    def forward(ctx, x, y):
        diff = x - y
        ctx.save_for_backward(diff)
        return (diff * diff).mean(dim=1)                # ATen's pow(2) is diff * diff

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        (diff,) = ctx.saved_tensors
        if ctx.needs_input_grad[0]:
            raise NotImplementedError("the reconstruction loss differentiates the "
                                      "reconstruction, not the data")
        return None, diff * (grad.unsqueeze(1) / diff.shape[1] * -2)


def reconstruction_error(x, reconstruction):
    """`((x - reconstruction) ** 2).mean(dim=1)`, `(batch, d)` -> `(batch,)`, differentiable in
    `reconstruction` (see `_RowMeanSquaredError`)."""
    return _RowMeanSquaredError.apply(x, reconstruction)


def _coordinate_terms(model, x, z, z_next):
    """(ae, cc), each `(batch,)`: the reconstruction of x from z, and the momentum against the
    change of position over one frame."""
    ae = reconstruction_error(x, model.decode(z))
    q, p = z.chunk(2, dim=1)
    q_next = z_next.chunk(2, dim=1)[0]
    # The authors' code uses p - (q' - q); the paper's Eq. 7 prints p - (q - q'). We follow the
    # code, which produced the published numbers.
    cc = ((p - (q_next - q)) ** 2).mean(dim=1)
    return ae, cc


class LatentRolloutLoss:
    """The pixel loss with its latent term taken over K frames (`--loss rollout --horizon K`).

    `sequences` `(trials, n, input_dim)`: each trial's n observation pairs in order, so that pair
    t + 1 is pair t's `next_x`. A batch is {"start": (b,)}, rows of `starts()`; each opens a chunk
    of the K + 1 pairs x_t .. x_t+K of one trial, encoded to z_0 .. z_K. The `ae` and `cc` terms
    are `pixel_losses`' on (x_t, x_t+1); the latent term is the mean over the K steps and the
    latent dims of (z_k - ẑ_k)^2, ẑ the latent model's path from z_0 by `integrator` (a name of
    `hnn.integrate`; a step of one frame, `substeps` per frame), backpropagated through the
    steps as `hnn.trajectories.RolloutLoss` is. At K = 1 with Euler it is `pixel_loss`.
    `held_out` is `pixel_loss` on a split of pairs, so test curves compare with today's.
    """

    def __init__(self, sequences, horizon, integrator="euler", substeps=1):
        if sequences.ndim != 3:
            raise ValueError(f"sequences must be (trials, pairs, input_dim), got "
                             f"{tuple(sequences.shape)}")
        trials, pairs, width = sequences.shape
        if not 1 <= horizon <= pairs - 1:
            raise ValueError(f"--horizon {horizon} must be between 1 and {pairs - 1}: the pixel "
                             f"trials have {pairs} observation pairs")
        self.flat, self.pairs, self.width = sequences.reshape(-1, width), pairs, width
        self.trials, self.horizon = trials, horizon
        self.integrator, self.substeps = integrator, substeps

    def starts(self):
        """`(trials * (n - K),)`: the rows of `sequences` that open a whole chunk."""
        position = torch.arange(self.pairs - self.horizon, device=self.flat.device)
        trial = torch.arange(self.trials, device=self.flat.device)[:, None] * self.pairs
        return (trial + position).reshape(-1)

    def terms(self, model, batch):
        """Per-example terms, as `pixel_losses` names them, each `(b,)`."""
        rows = batch["start"][:, None] + torch.arange(self.horizon + 1, device=self.flat.device)
        x = self.flat[rows]                                      # (b, K + 1, input_dim)
        z = model.encode(x.reshape(-1, self.width)).reshape(len(rows), self.horizon + 1, -1)
        ae, cc = _coordinate_terms(model, x[:, 0], z[:, 0], z[:, 1])
        predicted = path(model.dynamics, z[:, 0], 1.0, self.horizon, self.integrator,
                         self.substeps)
        latent = (z[:, 1:] - predicted[:, 1:]).square().mean(dim=(1, 2))
        return {"ae": ae, "cc": cc, "latent": latent,
                "total": ae + cc + LATENT_LOSS_WEIGHT * latent}

    def __call__(self, model, batch):
        return self.terms(model, batch)["total"].mean()

    @staticmethod
    def held_out(model, batch):
        return pixel_loss(model, batch)


def pixel_loss(model, batch):
    """The training loss: `pixel_losses(model, batch)["total"]` averaged over the batch."""
    return pixel_losses(model, batch)["total"].mean()


@torch.no_grad()
def pixel_loss_summary(model, x, next_x, chunk=2000):
    """The paper's loss summary over a whole split: mean and stderr of the per-example total
    loss (an N-vector; stderr = std / sqrt(N)). Evaluated in chunks of `chunk` rows; a
    variational encoder's at its posterior means."""
    totals = [pixel_losses(model, {"x": x[i:i + chunk], "next_x": next_x[i:i + chunk]},
                           sample=False)["total"] for i in range(0, len(x), chunk)]
    return mean_stderr(torch.cat(totals))


def fit_latent_map(z, coords):
    """Least-squares affine map from latent states `z` (N, k) to coordinates `coords` (N, m).

    Returns `(weight (k, m), bias (m,))`, numpy float64, so that `coords ~ z @ weight + bias`.
    (The original fitted the same linear map by Adam; least squares is its exact minimiser.)"""
    z = np.asarray(z, dtype=np.float64)
    coords = np.asarray(coords, dtype=np.float64)
    if z.ndim != 2 or coords.ndim != 2 or len(z) != len(coords):
        raise ValueError(f"z and coords must be (N, k) and (N, m) with the same N, "
                         f"got {z.shape} and {coords.shape}")
    design = np.concatenate([z, np.ones((len(z), 1))], axis=1)
    solution, *_ = np.linalg.lstsq(design, coords, rcond=None)
    return solution[:-1], solution[-1]



def latent_rollout_errors(model, energy_fn, train_x, train_coords, observations, t, true_coords,
                          substeps=10, groups=5, solver="rk4", reencoder=None):
    """Energy MSE and state MSE of a pixel model along one rollout, as in the paper's pixel
    experiment.

    An affine map from the model's latent space to physical coordinates is fitted on the
    encoded `train_x` (N, input_dim) against `train_coords` (N, m). The model is rolled out from
    the first of `observations` (T, input_dim) over `t` (T,) by `solver` (see `hnn.rollout`).
    Energy, as the original's analyze-pixels.ipynb: each latent state of the rollout decoded to
    pixels and encoded again, then mapped to coordinates, against `true_coords` (T, m), distance
    (E_true - E_model)^2 per time point, so the autoencoder's error counts; `energy_mse_latent`
    maps the latent states directly. State: the decoded rollout against `observations`, the mean
    squared pixel error per time point (the task has no true latent state; the pixels are what
    is observed). Returns {"energy_mse", "energy_mse_latent", "state_mse"}, each {"mean",
    "stderr"} with the bootstrap error over `groups` contiguous time blocks.

    `reencoder`, another pixel model, encodes the decoded rollout instead of `model` itself (the
    original notebook re-encoded every model's rollout with the HNN's encoder; see factors.py)."""
    if len(observations) != len(t) or len(true_coords) != len(t):
        raise ValueError(f"observations and true_coords must have len(t) = {len(t)} rows; got "
                         f"{np.shape(observations)} and {np.shape(true_coords)}")
    weight, bias = fit_latent_map(encode_numpy(model, train_x), train_coords)
    latents = rollout(model.dynamics, encode_numpy(model, observations[:1]), t, substeps=substeps,
                      solver=solver)
    decoded = decode_numpy(model, latents[0])
    true_energy = energy_fn(np.asarray(true_coords))

    def energy_error(z):
        return summarize((true_energy - energy_fn(z @ weight + bias)) ** 2, groups)
    pixels = (decoded - np.asarray(observations, dtype=np.float64)) ** 2
    return {"energy_mse": energy_error(encode_numpy(reencoder or model, decoded)),
            "energy_mse_latent": energy_error(latents[0]),
            "state_mse": summarize(pixels.mean(-1), groups)}


ROLLOUT_FRAMES = 30                     # the test rollouts of the pixel scores (HGN's length)


def pixel_scores(model, train_x, train_coords, sequences, coords, frames=ROLLOUT_FRAMES,
                 substeps=10, solver="rk4"):
    """Scores of a pixel model on held-out trials, beside the paper's energy MSE.

    `sequences` `(trials, n, input_dim)`: each test trial's observation pairs in order, and
    `coords` `(trials, n, m)` their states. From each trial's first pair the latent model is
    rolled out over `frames` pairs (one frame apart, by `solver`) and decoded. Returns
    {"vpt": the median over trials of `hnn.metrics.valid_prediction_time` (in frames),
    "pixel_mse": the mean over the frames and trials of the decoded rollout's squared pixel
    error, "latent_r2": R^2 of the affine map from latents to coordinates, fitted on the encoded
    `train_x` against `train_coords` and scored on every held-out pair}."""
    trials, n, width = sequences.shape
    if n < frames:
        raise ValueError(f"the held-out trials have {n} pairs, fewer than the {frames} frames "
                         f"of a scored rollout")
    sequences = np.asarray(sequences, dtype=np.float64)
    z0 = encode_numpy(model, sequences[:, 0])
    latents = rollout(model.dynamics, z0, np.arange(frames, dtype=np.float64),
                      substeps=substeps, solver=solver)
    decoded = decode_numpy(model, latents)
    truth = sequences[:, :frames]
    weight, bias = fit_latent_map(encode_numpy(model, train_x), train_coords)
    coords = np.asarray(coords, dtype=np.float64).reshape(trials * n, -1)
    fitted = encode_numpy(model, sequences.reshape(trials * n, width)) @ weight + bias
    residual = ((coords - fitted) ** 2).sum(0)
    total = ((coords - coords.mean(0)) ** 2).sum(0)
    return {"vpt": float(np.median(valid_prediction_time(decoded, truth))),
            "pixel_mse": float(((decoded - truth) ** 2).mean()),
            "latent_r2": float(1 - residual.sum() / total.sum())}
