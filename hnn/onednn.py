"""`linear`: `torch.nn.functional.linear` with its matrix products run by oneDNN on the CPU.

Written by hand because torch offers oneDNN's float32 matmul only as an op without autograd
(`torch.ops.mkldnn._linear_pointwise`, which its compiler emits). Which of oneDNN and torch's
default CPU sgemm, MKL's, is faster at the pixel autoencoder's shapes depends on the CPU (on one
AMD EPYC with AVX-512 oneDNN took two thirds of MKL's time, on another with AVX2 only it took
longer): `benchmarks/bench_pixels.py --matmul` times both. The forward product and both gradient
products go through oneDNN; the results equal `F.linear`'s to float32 rounding (another
summation order), not bit for bit. First order only: the backward is not itself differentiable.
Off the CPU, or in another dtype than float32, `linear` is `F.linear`.
"""
import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable


def available():
    """Whether this torch build has oneDNN (`torch.backends.mkldnn`)."""
    return torch.backends.mkldnn.is_available()


def _product(a, b):
    """a @ b.T by oneDNN, for 2-D float32 CPU tensors (either may be a transposed view)."""
    return torch.ops.mkldnn._linear_pointwise(a, b, None, "none", [], "")


class _Linear(torch.autograd.Function):
    @staticmethod
    def forward(x, weight, bias):
        return torch.ops.mkldnn._linear_pointwise(x, weight, bias, "none", [], "")

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, weight, _ = inputs
        ctx.save_for_backward(x, weight)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        grad = grad.contiguous()     # oneDNN is slow on broadcast (stride-0) gradients
        needs_x, needs_weight, needs_bias = ctx.needs_input_grad
        grad_x = _product(grad, weight.t()) if needs_x else None
        grad_weight = None
        if needs_weight:
            # oneDNN is fast with the wider side as the product's columns (measured)
            wide = weight.shape[0] > weight.shape[1]
            grad_weight = _product(x.t(), grad.t()).t() if wide else _product(grad.t(), x.t())
        return grad_x, grad_weight, grad.sum(0) if needs_bias else None


def linear(x, weight, bias=None):
    """`F.linear(x, weight, bias)` for `x` `(batch, in)`, `weight` `(out, in)`, `bias` `(out,)`
    or None, with the products by oneDNN (CPU float32; otherwise `F.linear` itself)."""
    if x.device.type != "cpu" or x.dtype != torch.float32 or x.ndim != 2:
        return F.linear(x, weight, bias)
    return _Linear.apply(x, weight, bias)
