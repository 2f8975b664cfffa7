"""Closed-form functions wrapped as networks, for tests that need exact answers."""
from torch import nn


class Scalar(nn.Module):
    """A closed-form scalar function as a network: `(batch, k) -> (batch, 1)`."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x).unsqueeze(-1)
