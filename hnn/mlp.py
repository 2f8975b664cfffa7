"""Multilayer perceptron used for every learned field in the paper."""
import torch
from torch import nn

NONLINEARITIES = {
    "tanh": torch.tanh,
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "softplus": nn.functional.softplus,
    "selu": nn.functional.selu,
    "elu": nn.functional.elu,
    "swish": nn.functional.silu,
}


def get_nonlinearity(name):
    """Return the activation function called `name` (one of NONLINEARITIES)."""
    try:
        return NONLINEARITIES[name]
    except KeyError:
        raise ValueError(
            f"unknown nonlinearity {name!r}; expected one of {sorted(NONLINEARITIES)}"
        ) from None


class MLP(nn.Module):
    """Three linear layers, `input_dim -> hidden_dim -> hidden_dim -> output_dim`.

    As in the paper: the activation (tanh by default) follows the first two layers, the last
    layer has no bias, and every weight matrix is orthogonally initialised.
    Maps `(..., input_dim)` to `(..., output_dim)`.
    """

    def __init__(self, input_dim, hidden_dim, output_dim, nonlinearity="tanh"):
        super().__init__()
        self.linear1 = nn.Linear(input_dim, hidden_dim)
        self.linear2 = nn.Linear(hidden_dim, hidden_dim)
        self.linear3 = nn.Linear(hidden_dim, output_dim, bias=False)
        for layer in (self.linear1, self.linear2, self.linear3):
            nn.init.orthogonal_(layer.weight)
        self.activation = get_nonlinearity(nonlinearity)

    def forward(self, x):
        if x.dtype != self.linear1.weight.dtype:
            raise TypeError(f"the input is {x.dtype} but the network's weights are "
                            f"{self.linear1.weight.dtype}: convert one of them (model.double(), "
                            f"x.float())")
        h = self.activation(self.linear1(x))
        h = self.activation(self.linear2(h))
        return self.linear3(h)
