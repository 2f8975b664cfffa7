"""The MLP autoencoder, the pixel model's loss and its latent evaluation helpers."""
import os

import numpy as np
import pytest
import torch
from known import LinearField
from torch import nn

from hnn.autoencoder import (
    ConvAutoencoder,
    MLPAutoencoder,
    PixelModel,
    build_pixel_model,
    gaussian_kl,
    pixel_rollout,
)
from hnn.config import REPO_ROOT
from hnn.experiments import load_folder
from hnn.models import HNN

losses = load_folder(os.path.join(REPO_ROOT, "experiment-pixels"), "losses")
fit_latent_map, latent_rollout_errors = losses.fit_latent_map, losses.latent_rollout_errors
pixel_loss, pixel_loss_summary, pixel_losses = (losses.pixel_loss, losses.pixel_loss_summary,
                                                losses.pixel_losses)


def test_autoencoder_shapes_and_layers():
    torch.manual_seed(0)
    ae = MLPAutoencoder(1568, 200, 2)
    x = torch.rand(5, 1568)
    z = ae.encode(x)
    assert z.shape == (5, 2)
    assert ae.decode(z).shape == (5, 1568)
    assert ae(x).shape == (5, 1568)
    assert [tuple(layer.weight.shape) for layer in ae.encoder] == [(200, 1568), (200, 200),
                                                                   (200, 200), (2, 200)]
    assert [tuple(layer.weight.shape) for layer in ae.decoder] == [(200, 2), (200, 200),
                                                                   (200, 200), (1568, 200)]
    w = ae.encoder[1].weight.detach()
    torch.testing.assert_close(w @ w.T, torch.eye(200), atol=1e-5, rtol=0)   # orthogonal init


def test_encoder_is_residual_relu_stack():
    torch.manual_seed(1)
    ae = MLPAutoencoder(10, 6, 2)
    x = torch.randn(3, 10)
    l1, l2, l3, l4 = ae.encoder
    h = torch.relu(l1(x))
    h = h + torch.relu(l2(h))
    h = h + torch.relu(l3(h))
    torch.testing.assert_close(ae.encode(x), l4(h))


def test_bad_widths_are_named():
    ae = MLPAutoencoder(1568, 200, 2)
    with pytest.raises(ValueError, match=r"encoder input must have shape \(batch, 1568\)"):
        ae.encode(torch.rand(3, 784))
    with pytest.raises(ValueError, match=r"latent state\) must have shape \(batch, 2\)"):
        ae.decode(torch.rand(3, 4))


@pytest.mark.parametrize("baseline", [False, True])
def test_gradient_reaches_every_parameter(baseline):
    torch.manual_seed(0)
    model = build_pixel_model(64, 32, 2, baseline)
    assert model.is_hnn is not baseline
    batch = {"x": torch.rand(8, 64), "next_x": torch.rand(8, 64)}
    pixel_loss(model, batch).backward()
    for name, param in model.named_parameters():
        assert param.grad is not None, name
        assert param.grad.abs().sum() > 0, name


def test_conv_autoencoder_shapes_and_frame_layout():
    torch.manual_seed(0)
    ae = ConvAutoencoder(frames=2, size=28)
    x = torch.rand(5, 2 * 28 * 28)
    assert ae.encode(x).shape == (5, 2) and ae(x).shape == (5, 1568)
    assert sum(p.numel() for p in ae.parameters()) == 647_444
    assert sum(p.numel() for p in MLPAutoencoder(1568).parameters()) == 790_770
    # the first convolution sees the first 784 inputs as frame 0, row-major, the rest as frame 1
    seen = []
    ae.convs[0].register_forward_hook(lambda module, inputs, output: seen.append(inputs[0]))
    ae.encode(x)
    assert seen[0].shape == (5, 2, 28, 28)
    assert torch.equal(seen[0][:, 0, 1], x[:, 28:56])
    assert torch.equal(seen[0][:, 1, 0], x[:, 784:812])
    with pytest.raises(ValueError, match=r"encoder input must have shape \(batch, 1568\)"):
        ae.encode(torch.rand(3, 784))
    with pytest.raises(ValueError, match="divisible by 4"):
        ConvAutoencoder(size=30)
    with pytest.raises(ValueError, match="input_dim 1500 is not 2 x side"):
        build_pixel_model(1500, encoder="conv")
    with pytest.raises(ValueError, match="encoder must be one of mlp, conv"):
        build_pixel_model(1568, encoder="lstm")


@pytest.mark.parametrize("encoder", ["mlp", "conv"])
def test_variational_encoder_posterior_and_kl(encoder):
    torch.manual_seed(0)
    model = build_pixel_model(1568, encoder=encoder, kl_weight=0.5)
    ae = model.autoencoder
    x = torch.rand(6, 1568)
    mean, log_variance = ae.posterior(x)
    assert mean.shape == log_variance.shape == (6, 2)
    torch.testing.assert_close(ae.encode(x), mean)               # encode: the posterior mean
    prior = torch.distributions.Normal(0.0, 1.0)
    expected = torch.distributions.kl_divergence(
        torch.distributions.Normal(mean, (0.5 * log_variance).exp()), prior).sum(1)
    torch.testing.assert_close(gaussian_kl(mean, log_variance), expected)
    assert gaussian_kl(torch.zeros(3, 2), torch.zeros(3, 2)).tolist() == [0.0, 0.0, 0.0]
    torch.manual_seed(1)                                  # a draw: z = mean + std * eps
    z, kl = ae.sample(x)
    torch.manual_seed(1)
    torch.testing.assert_close(z, mean + (0.5 * log_variance).exp() * torch.randn(6, 2))
    torch.testing.assert_close(kl, expected)
    terms = pixel_losses(model, {"x": x, "next_x": x.flip(0)}, sample=False)
    kl = (gaussian_kl(*ae.posterior(x)) + gaussian_kl(*ae.posterior(x.flip(0)))) / 2
    torch.testing.assert_close(terms["kl"], kl)
    torch.testing.assert_close(terms["total"], terms["ae"] + terms["cc"] + 0.1 * terms["latent"]
                               + 0.5 * kl)
    with pytest.raises(TypeError, match="no posterior"):
        build_pixel_model(1568, encoder=encoder).autoencoder.posterior(x)
    with pytest.raises(ValueError, match=r"kl_weight \(--beta\) must be >= 0"):
        build_pixel_model(1568, encoder=encoder, kl_weight=-1.0)


class SliceAutoencoder(nn.Module):
    """Stub: z = the first two inputs; decodes to zeros."""

    def __init__(self, width):
        super().__init__()
        self.width = width
        self.unit = nn.Parameter(torch.tensor(1.0, dtype=torch.float64))

    def encode(self, x):
        return x[:, :2] * self.unit

    def decode(self, z):
        return torch.zeros(len(z), self.width, dtype=z.dtype)


def test_loss_terms_follow_the_authors_code():
    model = PixelModel(SliceAutoencoder(4), LinearField([[0.0, 1.0], [-1.0, 0.0]]))
    x = torch.tensor([[0.3, 0.5, 1.0, -2.0]], dtype=torch.float64)
    next_x = torch.tensor([[0.7, 0.1, 0.0, 0.0]], dtype=torch.float64)
    terms = {k: v.item() for k, v in pixel_losses(model, {"x": x, "next_x": next_x}).items()}
    assert terms["ae"] == pytest.approx((0.3**2 + 0.5**2 + 1.0 + 4.0) / 4)
    # code's sign: p - (q' - q) = 0.5 - 0.4; the paper's p - (q - q') would give 0.9
    assert terms["cc"] == pytest.approx(0.1**2)
    # Euler step: z + f(z) = [0.3 + 0.5, 0.5 - 0.3] against z' = [0.7, 0.1]
    assert terms["latent"] == pytest.approx(((0.7 - 0.8) ** 2 + (0.1 - 0.2) ** 2) / 2)
    assert terms["total"] == pytest.approx(terms["ae"] + terms["cc"] + 0.1 * terms["latent"])


@pytest.mark.parametrize("scale", [1.0, 1e-30])
def test_reconstruction_error_is_autograds_bit_for_bit(scale):
    torch.manual_seed(0)
    x, y, grad = torch.rand(200, 1568), torch.randn(200, 1568), torch.randn(200) * scale
    reference, fused = y.clone().requires_grad_(), y.clone().requires_grad_()
    expected = ((x - reference) ** 2).mean(dim=1)
    expected.backward(grad)
    found = losses.reconstruction_error(x, fused)
    found.backward(grad)
    assert torch.equal(found, expected) and torch.equal(fused.grad, reference.grad)
    with pytest.raises(NotImplementedError, match="not the data"):
        losses.reconstruction_error(x.requires_grad_(), y).sum().backward()


def test_loss_summary_is_mean_and_stderr_of_per_example_totals():
    model = PixelModel(SliceAutoencoder(4), LinearField([[0.0, 1.0], [-1.0, 0.0]]))
    # the example above (total 1.335 + 0.01 + 0.1 * 0.01 = 1.346) and an all-zero one (total 0)
    x = torch.tensor([[0.3, 0.5, 1.0, -2.0], [0.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    next_x = torch.tensor([[0.7, 0.1, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    for chunk in (1, 2000):
        summary = pixel_loss_summary(model, x, next_x, chunk=chunk)
        assert summary["mean"] == pytest.approx(1.346 / 2)
        # population std / sqrt(N)
        assert summary["stderr"] == pytest.approx((1.346 / 2) / np.sqrt(2))


def test_fit_latent_map_recovers_an_affine_map():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(50, 2))
    weight, bias = np.array([[2.0, -1.0], [0.5, 3.0]]), np.array([0.3, -0.7])
    fitted_weight, fitted_bias = fit_latent_map(z, z @ weight + bias)
    np.testing.assert_allclose(fitted_weight, weight, atol=1e-10)
    np.testing.assert_allclose(fitted_bias, bias, atol=1e-10)
    with pytest.raises(ValueError, match="same N"):
        fit_latent_map(z, z[:10])


class Quadratic(nn.Module):
    """H = (q^2 + p^2) / 2, so dq/dt = p, dp/dt = -q."""

    def __init__(self):
        super().__init__()
        self.unit = nn.Parameter(torch.tensor(1.0, dtype=torch.float64))

    def forward(self, x):
        return 0.5 * self.unit * (x ** 2).sum(-1, keepdim=True)


def _energy(coords):
    return coords[..., 0] ** 2 + coords[..., 1] ** 2


class IdentityAutoencoder(SliceAutoencoder):
    """Stub: z = the first two inputs, decoded back as themselves."""

    def decode(self, z):
        return z


def test_latent_rollout_errors_of_exact_and_damped_models():
    t = np.linspace(0, 10, 50)
    truth = np.stack([np.cos(t), -np.sin(t)], axis=-1)            # from [1, 0], energy 1
    train_x = np.random.default_rng(0).normal(size=(20, 2))
    exact = PixelModel(IdentityAutoencoder(2), HNN(Quadratic()))
    result = latent_rollout_errors(exact, _energy, train_x, train_x, truth, t, truth, substeps=10)
    assert result["energy_mse"]["mean"] < 1e-12 and result["state_mse"]["mean"] < 1e-12
    # dz/dt = (-0.05 I + J) z: the state shrinks as exp(-0.05 t), the energy as exp(-0.1 t)
    damped = PixelModel(IdentityAutoencoder(2), LinearField([[-0.05, 1.0], [-1.0, -0.05]]))
    result = latent_rollout_errors(damped, _energy, train_x, train_x, truth, t, truth, substeps=10)
    dist = (1 - np.exp(-0.1 * t)) ** 2
    assert result["energy_mse"]["mean"] == pytest.approx(dist.mean(), rel=1e-6)
    block_means = dist.reshape(5, 10).mean(axis=1)
    assert result["energy_mse"]["stderr"] == pytest.approx(block_means.std() / np.sqrt(5), rel=1e-6)
    # each of the two pixels is off by (1 - exp(-0.05 t)) times a unit-circle coordinate
    state = (1 - np.exp(-0.05 * t)) ** 2 / 2
    assert result["state_mse"]["mean"] == pytest.approx(state.mean(), rel=1e-6)
    # a model that does not move conserves energy perfectly but scores on the state
    frozen = PixelModel(IdentityAutoencoder(2), LinearField([[0.0, 0.0], [0.0, 0.0]]))
    result = latent_rollout_errors(frozen, _energy, train_x, train_x, truth, t, truth, substeps=10)
    assert result["energy_mse"]["mean"] < 1e-12 and result["state_mse"]["mean"] > 0.3


def test_pixel_rollout_decodes_the_latent_trajectory():
    model = PixelModel(SliceAutoencoder(3), HNN(Quadratic()))
    t = np.linspace(0, np.pi, 9)
    latents, decoded = pixel_rollout(model, np.array([[0.0, 2.0, 5.0]]), t)
    assert latents.shape == (1, 9, 2) and decoded.shape == (1, 9, 3)
    np.testing.assert_allclose(latents[0, :, 0], 2 * np.sin(t), atol=1e-6)
    assert np.all(decoded == 0)


class DoublingDecoder(SliceAutoencoder):
    """Stub: z = the first two inputs, decoded as 2 z, so decode-then-encode doubles z."""

    def decode(self, z):
        return 2 * z


def test_pixel_energy_goes_through_the_pixels_and_the_map_comes_from_training_data():
    t = np.linspace(0, 10, 50)
    truth = np.stack([np.cos(t), -np.sin(t)], axis=-1)            # energy 1
    train_x = np.random.default_rng(0).normal(size=(20, 2))
    doubling = PixelModel(DoublingDecoder(2), HNN(Quadratic()))
    result = latent_rollout_errors(doubling, _energy, train_x, train_x, truth, t, truth,
                                   substeps=10)
    assert result["energy_mse_latent"]["mean"] < 1e-12             # the latent orbit is exact
    assert result["energy_mse"]["mean"] == pytest.approx((4 - 1) ** 2, rel=1e-9)   # recoded: 2 z
    # the latent map is fitted on the training pairs (coordinates 3 z), not on the evaluation
    exact = PixelModel(IdentityAutoencoder(2), HNN(Quadratic()))
    result = latent_rollout_errors(exact, _energy, train_x, 3 * train_x, truth, t, truth,
                                   substeps=10)
    assert result["energy_mse_latent"]["mean"] == pytest.approx((9 - 1) ** 2, rel=1e-9)


LatentRolloutLoss = losses.LatentRolloutLoss


def test_latent_rollout_loss_at_one_euler_step_is_todays_loss():
    torch.manual_seed(0)
    model = build_pixel_model(64, 32, 2).double()
    sequences = torch.rand(3, 6, 64, dtype=torch.float64)
    loss = LatentRolloutLoss(sequences, horizon=1, integrator="euler")
    start = loss.starts()[[0, 4, 5, 9, 12]]                     # rows of (trial, pair): 6 t + p
    trial, pair = start // 6, start % 6
    assert pair.max() == 4
    today = pixel_losses(model, {"x": sequences[trial, pair],
                                 "next_x": sequences[trial, pair + 1]})
    for key, value in loss.terms(model, {"start": start}).items():
        torch.testing.assert_close(value, today[key], rtol=1e-12, atol=0)


def test_latent_rollout_chunks_stay_in_their_trial_and_follow_the_latent_flow():
    # z = the first two inputs; along each trial they follow dz/dt = A z exactly
    generator = np.array([[0.0, 1.0], [-1.0, -0.1]])
    steps = np.stack([np.linalg.matrix_power(_expm(generator), k) for k in range(7)])
    z0 = np.random.default_rng(0).normal(size=(2, 2))
    sequences = torch.zeros(2, 7, 4, dtype=torch.float64)
    sequences[..., :2] = torch.as_tensor(np.einsum("kij,nj->nki", steps, z0))
    loss = LatentRolloutLoss(sequences, horizon=4, integrator="rk4", substeps=20)
    starts = loss.starts()
    assert starts.tolist() == [0, 1, 2, 7, 8, 9]                 # 7 pairs, K = 4: 3 per trial
    exact = PixelModel(SliceAutoencoder(4), LinearField(generator))
    wrong = PixelModel(SliceAutoencoder(4), LinearField(generator * 1.05))
    assert loss.terms(exact, {"start": starts})["latent"].max() < 1e-14
    assert loss.terms(wrong, {"start": starts})["latent"].min() > 1e-6
    with pytest.raises(ValueError, match="--horizon 7 must be between 1 and 6"):
        LatentRolloutLoss(sequences, horizon=7)


def _expm(matrix):
    from scipy.linalg import expm
    return expm(matrix)


def test_pixel_scores_of_a_stub_model():
    # z = the first two inputs, decoded to zeros: no frame is predicted (VPT 0), the pixel MSE
    # is the frames' mean square, and coordinates affine in z are held exactly (R^2 = 1)
    rng = np.random.default_rng(0)
    sequences = rng.uniform(0.5, 1.0, size=(3, 8, 4))
    coords = sequences[..., :2] @ np.array([[2.0, 0.0], [1.0, -1.0]]) + 0.3
    model = PixelModel(SliceAutoencoder(4), LinearField([[0.0, 1.0], [-1.0, 0.0]]))
    train_x = sequences.reshape(-1, 4)
    scores = losses.pixel_scores(model, train_x, coords.reshape(-1, 2), sequences, coords,
                                 frames=5)
    assert scores["vpt"] == 0
    assert scores["pixel_mse"] == pytest.approx((sequences[:, :5] ** 2).mean())
    assert scores["latent_r2"] == pytest.approx(1.0)
    noisy = coords + rng.normal(scale=0.5, size=coords.shape)
    assert losses.pixel_scores(model, train_x, coords.reshape(-1, 2), sequences, noisy,
                               frames=5)["latent_r2"] < 0.9
    with pytest.raises(ValueError, match="fewer than the 30 frames"):
        losses.pixel_scores(model, train_x, coords.reshape(-1, 2), sequences, coords)
