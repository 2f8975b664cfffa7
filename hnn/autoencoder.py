"""Learning dynamics from pixels: an MLP autoencoder whose latent space holds a dynamics model.

The encoder maps an observation `x` of shape `(batch, input_dim)` (e.g. two consecutive frames,
flattened) to a latent state `z = [q..., p...]` of shape `(batch, latent_dim)`; the latent
dynamics model (an HNN or the baseline, see `hnn.models`) gives `dz/dt` in units of one frame;
the decoder maps `z` back to `(batch, input_dim)`.
"""
import numpy as np
import torch
from torch import nn

from .metrics import mean_stderr, rollout, summarize
from .mlp import get_nonlinearity
from .models import HNN, build_model

LATENT_LOSS_WEIGHT = 0.1


class MLPAutoencoder(nn.Module):
    """Four linear layers each way with residual connections, as in the paper.

    Encoder: h = act(L1 x); h = h + act(L2 h); h = h + act(L3 h); z = L4 h.
    Decoder mirrors it: h = act(L5 z); two residual layers; x_hat = L8 h (no output activation).
    Every weight matrix is orthogonally initialised. Shapes: `(batch, input_dim)` <->
    `(batch, latent_dim)`.
    """

    def __init__(self, input_dim, hidden_dim=200, latent_dim=2, nonlinearity="relu"):
        super().__init__()
        self.input_dim, self.latent_dim = input_dim, latent_dim
        self.encoder = nn.ModuleList([
            nn.Linear(input_dim, hidden_dim), nn.Linear(hidden_dim, hidden_dim),
            nn.Linear(hidden_dim, hidden_dim), nn.Linear(hidden_dim, latent_dim)])
        self.decoder = nn.ModuleList([
            nn.Linear(latent_dim, hidden_dim), nn.Linear(hidden_dim, hidden_dim),
            nn.Linear(hidden_dim, hidden_dim), nn.Linear(hidden_dim, input_dim)])
        for layer in (*self.encoder, *self.decoder):
            nn.init.orthogonal_(layer.weight)
        self.activation = get_nonlinearity(nonlinearity)

    def _run(self, layers, x):
        first, res1, res2, last = layers
        h = self.activation(first(x))
        h = h + self.activation(res1(h))
        h = h + self.activation(res2(h))
        return last(h)

    def encode(self, x):
        """`(batch, input_dim)` -> latent `(batch, latent_dim)`."""
        _check_width(x, self.input_dim, "encoder input")
        return self._run(self.encoder, x)

    def decode(self, z):
        """Latent `(batch, latent_dim)` -> reconstruction `(batch, input_dim)`."""
        _check_width(z, self.latent_dim, "decoder input (latent state)")
        return self._run(self.decoder, z)

    def forward(self, x):
        return self.decode(self.encode(x))


def _check_width(x, width, what):
    if x.ndim != 2 or x.shape[1] != width:
        raise ValueError(f"{what} must have shape (batch, {width}), got {tuple(x.shape)}")


class PixelModel(nn.Module):
    """An autoencoder coupled with a latent dynamics model (HNN or baseline).

    `encode`/`decode` are the autoencoder's; `time_derivative(z)` is the latent model's field,
    `(batch, latent_dim) -> (batch, latent_dim)`, with time measured in frames.
    """

    def __init__(self, autoencoder, dynamics):
        super().__init__()
        self.autoencoder = autoencoder
        self.dynamics = dynamics

    @property
    def is_hnn(self):
        return isinstance(self.dynamics, HNN)

    def encode(self, x):
        return self.autoencoder.encode(x)

    def decode(self, z):
        return self.autoencoder.decode(z)

    def time_derivative(self, z):
        return self.dynamics.time_derivative(z)

    def hamiltonian(self, z):
        """The latent HNN's learned H(z), shape `(batch,)`; only for an HNN latent model."""
        if not self.is_hnn:
            raise TypeError("the baseline latent model has no Hamiltonian")
        return self.dynamics.hamiltonian(z)


def build_pixel_model(input_dim, hidden_dim=200, latent_dim=2, baseline=False,
                      ae_nonlinearity="relu", nonlinearity="tanh"):
    """The paper's pixel model: `MLPAutoencoder(input_dim, hidden_dim, latent_dim)` (relu) and
    the latent model `build_model(latent_dim, hidden_dim, nonlinearity, baseline)` (tanh)."""
    autoencoder = MLPAutoencoder(input_dim, hidden_dim, latent_dim, ae_nonlinearity)
    return PixelModel(autoencoder, build_model(latent_dim, hidden_dim, nonlinearity, baseline))


def pixel_losses(model, batch):
    """Per-example loss terms, each of shape `(batch,)`, for `batch = {"x", "next_x"}`, both
    `(batch, input_dim)`, `next_x` being the observation one frame after `x`.

    * `ae`: mean over pixels of (x - decode(z))^2, z = encode(x) (only x is reconstructed);
    * `cc`: canonical-coordinate loss, mean over latent pairs of (z_p - (z_q' - z_q))^2, with
      z' = encode(next_x): the momentum is asked to be the change of position over one frame;
    * `latent`: mean over latent dims of (z' - (z + f(z)))^2, one Euler step of the latent model
      with a step of one frame;
    * `total`: ae + cc + 0.1 * latent.
    """
    z = model.encode(batch["x"])
    z_next = model.encode(batch["next_x"])
    ae = ((batch["x"] - model.decode(z)) ** 2).mean(dim=1)
    q, p = z.chunk(2, dim=1)
    q_next = z_next.chunk(2, dim=1)[0]
    # The authors' code uses p - (q' - q); the paper's Eq. 7 prints p - (q - q'). We follow the
    # code, which produced the published numbers.
    cc = ((p - (q_next - q)) ** 2).mean(dim=1)
    latent = ((z_next - (z + model.time_derivative(z))) ** 2).mean(dim=1)
    return {"ae": ae, "cc": cc, "latent": latent, "total": ae + cc + LATENT_LOSS_WEIGHT * latent}


def pixel_loss(model, batch):
    """The training loss: `pixel_losses(model, batch)["total"]` averaged over the batch."""
    return pixel_losses(model, batch)["total"].mean()


@torch.no_grad()
def pixel_loss_summary(model, x, next_x, chunk=2000):
    """The paper's loss summary over a whole split: mean and stderr of the per-example total
    loss (an N-vector; stderr = std / sqrt(N)). Evaluated in chunks of `chunk` rows."""
    totals = [pixel_losses(model, {"x": x[i:i + chunk], "next_x": next_x[i:i + chunk]})["total"]
              for i in range(0, len(x), chunk)]
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


@torch.no_grad()
def encode_numpy(model, x, chunk=4000):
    """Encode numpy observations `(N, input_dim)` in chunks; numpy `(N, latent_dim)`."""
    param = next(model.parameters())
    x = torch.as_tensor(np.asarray(x), dtype=param.dtype)
    return torch.cat([model.encode(x[i:i + chunk].to(param.device)).cpu()
                      for i in range(0, len(x), chunk)]).double().numpy()


@torch.no_grad()
def decode_numpy(model, z):
    """Decode numpy latent states `(..., latent_dim)`; numpy `(..., input_dim)`."""
    param = next(model.parameters())
    z = np.asarray(z)
    flat = torch.as_tensor(z.reshape(-1, z.shape[-1]), dtype=param.dtype, device=param.device)
    return model.decode(flat).cpu().double().numpy().reshape(*z.shape[:-1], -1)


def pixel_rollout(model, x0, t, substeps=10):
    """Encode observations `x0` (batch, input_dim), integrate the latent model over the grid `t`
    (in frames) with RK4, and decode. Returns numpy `(latents (batch, T, latent_dim),
    reconstructions (batch, T, input_dim))`."""
    z0 = encode_numpy(model, x0)
    latents = rollout(model.dynamics, z0, t, substeps=substeps)
    return latents, decode_numpy(model, latents)


def latent_energy_mse(model, energy_fn, train_x, train_coords, x0, t, true_coords, substeps=10,
                      groups=5):
    """Energy MSE of a pixel model along one rollout, as in the paper's pixel experiment.

    An affine map from the model's latent space to physical coordinates is fitted on the
    encoded `train_x` (N, input_dim) against `train_coords` (N, m). The model is rolled out from
    `x0` (1, input_dim) over `t` (T,), mapped to coordinates, and compared with `true_coords`
    (T, m): distance (E_true - E_model)^2 per time point. Returns {"mean", "stderr"}, the stderr
    being the bootstrap error over `groups` contiguous time blocks."""
    if len(x0) != 1 or len(true_coords) != len(t):
        raise ValueError(f"expected one start (1, input_dim) and true_coords (len(t), m); got "
                         f"x0 {tuple(np.shape(x0))}, true_coords {np.shape(true_coords)}, T={len(t)}")
    weight, bias = fit_latent_map(encode_numpy(model, train_x), train_coords)
    latents = rollout(model.dynamics, encode_numpy(model, x0), t, substeps=substeps)
    model_coords = latents[0] @ weight + bias
    dist = (energy_fn(np.asarray(true_coords)) - energy_fn(model_coords)) ** 2
    return summarize(dist, groups)
