"""Learning dynamics from pixels: an autoencoder whose latent space holds a dynamics model.

The encoder maps an observation `x` of shape `(batch, input_dim)` (e.g. two consecutive frames,
flattened) to a latent state `z = [q..., p...]` of shape `(batch, latent_dim)`; the latent
dynamics model (an HNN or the baseline, see `hnn.models`) gives `dz/dt` in units of one frame;
the decoder maps `z` back to `(batch, input_dim)`. Two autoencoders: the paper's MLP
(`MLPAutoencoder`) and a small convolutional one (`ConvAutoencoder`). Either can be variational
(`kl_weight` > 0): its encoder then gives a Gaussian posterior, `encode` its mean.
"""
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import onednn
from .metrics import rollout
from .mlp import get_nonlinearity
from .models import HNN, build_model


class Autoencoder(nn.Module):
    """What the autoencoders here share: `encode` (the latent state, or a variational encoder's
    posterior mean), `posterior`, `sample`, and `forward` = decode(encode(x)). A subclass sets
    `latent_dim` and `kl_weight` and defines `_encoder_output(x)` (the latent state, or the
    posterior's `[mean, log_variance]`) and `decode(z)`."""

    @property
    def variational(self):
        return self.kl_weight > 0

    def encode(self, x):
        """`(batch, input_dim)` -> latent `(batch, latent_dim)` (a variational encoder's mean)."""
        out = self._encoder_output(x)
        return out[:, :self.latent_dim] if self.variational else out

    def posterior(self, x):
        """A variational encoder's Gaussian posterior: `(mean, log_variance)`, each
        `(batch, latent_dim)`."""
        if not self.variational:
            raise TypeError("a plain autoencoder (kl_weight 0) has no posterior")
        return self._encoder_output(x).chunk(2, dim=1)

    def sample(self, x):
        """`(z, kl)`: a draw z = mean + std * eps from the posterior, `(batch, latent_dim)`, and
        the posterior's KL divergence from the standard normal prior, `(batch,)`."""
        mean, log_variance = self.posterior(x)
        z = mean + torch.exp(0.5 * log_variance) * torch.randn_like(mean)
        return z, gaussian_kl(mean, log_variance)

    def forward(self, x):
        return self.decode(self.encode(x))


MATMULS = ("torch", "onednn")


class MLPAutoencoder(Autoencoder):
    """Four linear layers each way with residual connections, as in the paper.

    Encoder: h = act(L1 x); h = h + act(L2 h); h = h + act(L3 h); z = L4 h.
    Decoder mirrors it: h = act(L5 z); two residual layers; x_hat = L8 h (no output activation).
    Every weight matrix is orthogonally initialised. Shapes: `(batch, input_dim)` <->
    `(batch, latent_dim)`. With `kl_weight` > 0, L4 gives the posterior's mean and log variance.
    `matmul`: "torch" (each layer's `F.linear`) or "onednn" (`hnn.onednn.linear`: the same
    products by oneDNN, equal to float32 rounding).
    """

    def __init__(self, input_dim, hidden_dim=200, latent_dim=2, nonlinearity="relu",
                 kl_weight=0.0, matmul="torch"):
        super().__init__()
        if matmul not in MATMULS:
            raise ValueError(f"matmul must be one of {', '.join(MATMULS)}, got {matmul!r}")
        if matmul == "onednn" and not onednn.available():
            raise ValueError("matmul 'onednn' needs a torch built with oneDNN "
                             "(torch.backends.mkldnn.is_available() is False)")
        self.matmul = matmul
        self._linear = onednn.linear if matmul == "onednn" else F.linear
        self.input_dim, self.latent_dim = input_dim, latent_dim
        self.kl_weight = _check_kl_weight(kl_weight)
        outputs = 2 * latent_dim if kl_weight else latent_dim
        self.encoder = nn.ModuleList([
            nn.Linear(input_dim, hidden_dim), nn.Linear(hidden_dim, hidden_dim),
            nn.Linear(hidden_dim, hidden_dim), nn.Linear(hidden_dim, outputs)])
        self.decoder = nn.ModuleList([
            nn.Linear(latent_dim, hidden_dim), nn.Linear(hidden_dim, hidden_dim),
            nn.Linear(hidden_dim, hidden_dim), nn.Linear(hidden_dim, input_dim)])
        for layer in (*self.encoder, *self.decoder):
            nn.init.orthogonal_(layer.weight)
        self.activation = get_nonlinearity(nonlinearity)

    def _run(self, layers, x):
        first, res1, res2, last = layers
        h = self.activation(self._layer(first, x))
        h = h + self.activation(self._layer(res1, h))
        h = h + self.activation(self._layer(res2, h))
        return self._layer(last, h)

    def _layer(self, layer, x):
        return self._linear(x, layer.weight, layer.bias)

    def _encoder_output(self, x):
        _check_width(x, self.input_dim, "encoder input")
        return self._run(self.encoder, x)

    def decode(self, z):
        """Latent `(batch, latent_dim)` -> reconstruction `(batch, input_dim)`."""
        _check_width(z, self.latent_dim, "decoder input (latent state)")
        return self._run(self.decoder, z)


class ConvAutoencoder(Autoencoder):
    """A small convolutional autoencoder for `frames` stacked square frames of side `size`.

    Input `(batch, frames * size * size)`: the frames one after another, each row-major (the pixel
    task's `[frame_t, frame_t+1]`), seen as `(batch, frames, size, size)`.
    Encoder: two 4x4 convolutions of stride 2 (frames -> c1 -> c2 channels; size -> size/2 ->
    size/4), act after each, then Linear(c2 (size/4)^2, hidden), act, Linear(hidden, latent) (the
    posterior's mean and log variance with `kl_weight` > 0).
    Decoder mirrors it: Linear(latent, hidden), act, Linear(hidden, c2 (size/4)^2), act, two 4x4
    transposed convolutions of stride 2 (c2 -> c1 -> frames; act between, none at the output).
    PyTorch's default initialisation. At the pixel task's sizes (2 frames of 28, channels
    (16, 32), hidden 200, latent 2) it has 647,444 parameters; the MLP autoencoder 790,770.
    """

    def __init__(self, frames=2, size=28, hidden_dim=200, latent_dim=2, nonlinearity="relu",
                 kl_weight=0.0, channels=(16, 32)):
        super().__init__()
        if size % 4 or size < 4:
            raise ValueError(f"ConvAutoencoder needs a frame side divisible by 4, got {size}")
        self.frames, self.size, self.latent_dim = frames, size, latent_dim
        self.input_dim = frames * size * size
        self.kl_weight = _check_kl_weight(kl_weight)
        c1, c2 = channels
        self.inner = (c2, size // 4, size // 4)
        flat = c2 * (size // 4) ** 2
        outputs = 2 * latent_dim if kl_weight else latent_dim
        self.convs = nn.ModuleList([nn.Conv2d(frames, c1, 4, 2, 1), nn.Conv2d(c1, c2, 4, 2, 1)])
        self.encoder = nn.ModuleList([nn.Linear(flat, hidden_dim), nn.Linear(hidden_dim, outputs)])
        self.decoder = nn.ModuleList([nn.Linear(latent_dim, hidden_dim),
                                      nn.Linear(hidden_dim, flat)])
        self.deconvs = nn.ModuleList([nn.ConvTranspose2d(c2, c1, 4, 2, 1),
                                      nn.ConvTranspose2d(c1, frames, 4, 2, 1)])
        self.activation = get_nonlinearity(nonlinearity)

    def _encoder_output(self, x):
        _check_width(x, self.input_dim, "encoder input")
        act = self.activation
        h = x.reshape(len(x), self.frames, self.size, self.size)
        for conv in self.convs:
            h = act(conv(h))
        return self.encoder[1](act(self.encoder[0](h.flatten(1))))

    def decode(self, z):
        """Latent `(batch, latent_dim)` -> reconstruction `(batch, input_dim)`."""
        _check_width(z, self.latent_dim, "decoder input (latent state)")
        act = self.activation
        h = act(self.decoder[1](act(self.decoder[0](z))))
        h = act(self.deconvs[0](h.reshape(len(z), *self.inner)))
        return self.deconvs[1](h).flatten(1)


ENCODERS = ("mlp", "conv")


def gaussian_kl(mean, log_variance):
    """KL(N(mean, exp(log_variance)) || N(0, I)) per row, in closed form:
    0.5 * sum(mean^2 + exp(log_variance) - 1 - log_variance); `(batch, d)` -> `(batch,)`."""
    return 0.5 * (mean ** 2 + log_variance.exp() - 1 - log_variance).sum(dim=1)


def _check_kl_weight(kl_weight):
    if not kl_weight >= 0:
        raise ValueError(f"kl_weight (--beta) must be >= 0 (0: a plain autoencoder), got "
                         f"{kl_weight}")
    return kl_weight


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
                      ae_nonlinearity="relu", nonlinearity="tanh", encoder="mlp", kl_weight=0.0,
                      frames=2, matmul="torch"):
    """The pixel model: an autoencoder (`encoder` "mlp", the paper's `MLPAutoencoder` with its
    `matmul`, or "conv", `ConvAutoencoder` over `frames` square frames; relu; variational with
    `kl_weight` > 0) and the latent model `build_model(latent_dim, hidden_dim, nonlinearity,
    baseline)` (tanh)."""
    if encoder != "mlp" and matmul != "torch":
        raise ValueError(f"matmul {matmul!r} is an option of the mlp encoder, not of {encoder!r}")
    if encoder == "mlp":
        autoencoder = MLPAutoencoder(input_dim, hidden_dim, latent_dim, ae_nonlinearity,
                                     kl_weight, matmul)
    elif encoder == "conv":
        size = round((input_dim / frames) ** 0.5)
        if frames * size * size != input_dim:
            raise ValueError(f"a conv encoder needs {frames} square frames, but input_dim "
                             f"{input_dim} is not {frames} x side^2")
        autoencoder = ConvAutoencoder(frames, size, hidden_dim, latent_dim, ae_nonlinearity,
                                      kl_weight)
    else:
        raise ValueError(f"encoder must be one of {', '.join(ENCODERS)}, got {encoder!r}")
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
