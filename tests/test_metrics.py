"""Metrics with a closed form: the valid prediction time."""
import numpy as np
import pytest

from hnn.metrics import valid_prediction_time


def test_vpt_is_the_first_step_over_the_threshold():
    rng = np.random.default_rng(0)
    brightness = np.linspace(2.0, 0.2, 12)[None, :, None]         # frames that fade
    truth = rng.uniform(0.5, 1.0, size=(3, 12, 20)) * brightness
    # Error scaled so that step t's normalised error is exactly ramp[t]; it crosses the
    # threshold first at step 7, 0 and never.
    ramp = 0.004 * np.arange(12)                                   # ramp[6] < 0.025 < ramp[7]
    direction = rng.choice([-1.0, 1.0], size=truth.shape)
    scales = np.stack([ramp, np.full(12, 0.03), np.full(12, 0.02)])
    error = direction * truth * np.sqrt(scales[:, :, None])
    # |error| = truth * sqrt(s): mean(error^2) / mean(truth^2) = s at every step.
    vpt = valid_prediction_time(truth + error, truth)
    assert vpt.tolist() == [7, 0, 12]
    assert valid_prediction_time(truth, truth).tolist() == [12, 12, 12]


def test_vpt_refuses_mismatched_or_empty_frames():
    truth = np.ones((2, 5, 4))
    with pytest.raises(ValueError, match=r"\(n, T, D\)"):
        valid_prediction_time(truth[0], truth[0])
    with pytest.raises(ValueError, match="all-zero frame"):
        valid_prediction_time(truth, np.zeros_like(truth))
