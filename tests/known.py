"""Closed-form functions wrapped as networks, for tests that need exact answers."""
import torch
from torch import nn


class Scalar(nn.Module):
    """A closed-form scalar function as a network: `(batch, k) -> (batch, 1)`."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x).unsqueeze(-1)


class LinearField(nn.Module):
    """The linear field x' = x Mᵀ as a model (`time_derivative`), M a float64 parameter copied
    from `matrix` `(d, d)`."""

    def __init__(self, matrix):
        super().__init__()
        self.matrix = nn.Parameter(torch.as_tensor(matrix, dtype=torch.float64).clone())

    def time_derivative(self, x):
        return x @ self.matrix.T
