"""Figures that carry numbers: the vector-field panels draw the fields they are given."""
import numpy as np
from known import Scalar

from hnn.models import HNN
from hnn.plots import grid, pyplot, vector_field_figure


def test_vector_field_panels_draw_the_true_and_the_models_fields():
    spring = HNN(Scalar(lambda x: x[:, 0] ** 2 + x[:, 1] ** 2))

    def truth(x):
        return np.stack([2 * x[:, 1], -2 * x[:, 0]], 1)     # the field of q^2 + p^2

    fig = vector_field_figure("spring", truth, {"hnn": spring}, limit=1.0, n=5)
    true_arrows, hnn_arrows = (ax.collections[0] for ax in fig.axes)
    states = grid(1.0, 5)[2]
    np.testing.assert_allclose(np.c_[true_arrows.U, true_arrows.V], truth(states))
    np.testing.assert_allclose(np.c_[hnn_arrows.U, hnn_arrows.V], truth(states), rtol=1e-6,
                               atol=1e-6)
    assert [ax.get_title() for ax in fig.axes] == ["truth", "hnn"]
    data = (np.array([[0.5, 0.0]]), np.array([[0.0, -1.0]]))
    fig2 = vector_field_figure("data", data, {}, limit=1.0)
    assert fig2.axes[0].get_title() == "data" and fig2.axes[0].collections[0].V[0] == -1.0
    pyplot().close("all")
