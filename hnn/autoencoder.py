"""Learning dynamics from pixels: an MLP autoencoder whose latent space holds a dynamics model.

The encoder maps an observation `x` of shape `(batch, input_dim)` (e.g. two consecutive frames,
flattened) to a latent state `z = [q..., p...]` of shape `(batch, latent_dim)`; the latent
dynamics model (an HNN or the baseline, see `hnn.models`) gives `dz/dt` in units of one frame;
the decoder maps `z` back to `(batch, input_dim)`.
"""
import numpy as np
import torch
from torch import nn

from .metrics import rollout
from .mlp import get_nonlinearity
from .models import HNN, build_model


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
