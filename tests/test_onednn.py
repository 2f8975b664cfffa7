"""`hnn.onednn.linear`: F.linear's products by oneDNN, equal to float32 rounding, with the
gradients of F.linear; and the pixel autoencoder's `matmul` option."""
import pytest
import torch
import torch.nn.functional as F

from hnn import onednn
from hnn.autoencoder import MLPAutoencoder, build_pixel_model
from hnn.experiments import find_tasks

pytestmark = pytest.mark.skipif(not onednn.available(), reason="torch built without oneDNN")


def relative(a, b):
    return ((a - b).norm() / b.norm()).item()


@pytest.mark.parametrize("shape", [(200, 1568, 200), (200, 200, 1568), (7, 5, 3)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_and_its_gradients_match_float64(shape, bias):
    batch, inputs, outputs = shape
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch, inputs, generator=gen)
    w = torch.randn(outputs, inputs, generator=gen) / inputs ** 0.5
    b = torch.randn(outputs, generator=gen) if bias else None
    upstream = torch.randn(batch, outputs, generator=gen)
    found = {}
    for label, fn, dtype in (("onednn", onednn.linear, torch.float32),
                             ("exact", F.linear, torch.float64)):
        leaves = [t.detach().to(dtype).requires_grad_() for t in (x, w) + ((b,) if bias else ())]
        y = fn(*leaves)
        y.backward(upstream.to(dtype))
        found[label] = [y.double()] + [t.grad.double() for t in leaves]
    assert found["onednn"][0].dtype == torch.float64
    for mine, exact in zip(found["onednn"], found["exact"]):
        assert relative(mine, exact) < 1e-5                  # float32 rounding, not a bug
    assert relative(found["onednn"][0], found["exact"][0]) > 0   # float32, not float64


def test_linear_handles_broadcast_gradients_and_falls_back_off_float32():
    x = torch.randn(200, 1568, requires_grad=True)
    w = torch.randn(200, 1568, requires_grad=True)
    onednn.linear(x, w).sum().backward()                    # a stride-0 upstream gradient
    assert relative(w.grad, torch.ones(200, 200).t() @ x.detach()) < 1e-5
    x64, w64 = x.detach().double(), w.detach().double()
    assert torch.equal(onednn.linear(x64, w64), F.linear(x64, w64))   # F.linear itself


def test_the_mlp_autoencoder_is_the_same_model_under_either_matmul():
    torch.manual_seed(0)
    plain = MLPAutoencoder(1568)
    fast = MLPAutoencoder(1568, matmul="onednn")
    fast.load_state_dict(plain.state_dict())                # the same parameters, same names
    x = torch.rand(50, 1568)
    assert relative(fast(x), plain(x)) < 1e-5
    assert not torch.equal(fast(x), plain(x))
    with pytest.raises(ValueError, match="matmul must be one of torch, onednn, got 'blas'"):
        MLPAutoencoder(1568, matmul="blas")
    with pytest.raises(ValueError, match="matmul 'onednn' is an option of the mlp encoder"):
        build_pixel_model(1568, encoder="conv", matmul="onednn")


def test_the_pixel_flag_names_itself():
    task = find_tasks()["pixels"]
    assert task.config(matmul="onednn").matmul == "onednn"
    with pytest.raises(ValueError, match="matmul"):
        task.config(matmul="fast")
    with pytest.raises(ValueError, match="matmul.*torch with --encoder conv"):
        task.config(matmul="onednn", encoder="conv")
