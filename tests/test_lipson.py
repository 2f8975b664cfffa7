"""The real-pendulum loader (Schmidt & Lipson data), train.py and its figure."""
import math
import os
import re
import shutil
import subprocess
import sys

import imageio.v3 as iio
import numpy as np
import pytest

from hnn.config import REPO_ROOT
from hnn.experiments import find_tasks, load_folder
from hnn.runs import RunsFolder
from hnn.tasks import to_tensors

lipson = load_folder(os.path.join(REPO_ROOT, "experiment-lipson"), "data")
TASK = find_tasks()["lipson"]


def test_file_sizes_and_columns():
    t, x = lipson.load_table()
    assert t.shape == (556,) and x.shape == (556, 2)
    assert t[0] == 5.0 and t[-1] == 99.5
    assert x[0, 0] == pytest.approx(1.1383885512243586, abs=1e-15)     # first angle in the file
    assert x[-1, 1] == pytest.approx(-0.35828936245557941, abs=1e-15)  # last angular velocity
    steps = np.diff(t)
    assert np.isclose(steps, 1 / 6).sum() == 545
    assert np.isclose(steps, 1 / 3).sum() == 8 and np.isclose(steps, 1 / 2).sum() == 2


def test_split_is_445_train_and_the_last_110_as_test():
    train, test = lipson.split_indices(555, 0.8)
    np.testing.assert_array_equal(test, np.arange(444, 554))
    np.testing.assert_array_equal(train, np.r_[np.arange(444), 554])
    data = lipson.get_dataset(0.8)
    assert data["x"].shape == data["dx"].shape == (445, 2)
    assert data["test_x"].shape == data["test_dx"].shape == (110, 2)
    t, x = lipson.load_table()
    np.testing.assert_array_equal(data["test_x"], x[444:554])
    np.testing.assert_array_equal(data["x"][-1], x[554])
    np.testing.assert_array_equal(data["test_t"], t[444:554])
    x0, t0, truth = lipson.evaluation_segment(data)
    assert x0.shape == (1, 2) and truth.shape == (1, 110, 2) and t0[0] == 0.0
    assert t0[-1] == pytest.approx(109 / 6)                 # the test segment has no gaps


def test_forward_difference_uses_the_real_time_step_at_a_gap():
    t, x = lipson.load_table()
    data = lipson.get_dataset(0.8)
    gap = int(np.flatnonzero(np.diff(t) > 0.2)[0])          # first dropped frame (train split)
    assert t[gap + 1] - t[gap] == pytest.approx(1 / 3)
    expected = (x[gap + 1] - x[gap]) * 3
    np.testing.assert_allclose(data["dx"][gap], expected, rtol=1e-12)
    np.testing.assert_allclose(data["dx"][0], (x[1] - x[0]) * 6, rtol=1e-12)


def test_parser_handles_crlf_headers_and_blank_lines():
    text = "%o v\r\n  0 5.0 1.5 -2e-1 \r\n\r\n0 5.1666 1.25e+000 3\n% note\n"
    np.testing.assert_array_equal(lipson.parse_table(text),
                                  [[0, 5.0, 1.5, -0.2], [0, 5.1666, 1.25, 3]])
    with pytest.raises(ValueError, match="line 2: expected 4 columns"):
        lipson.parse_table("%o v\r\n0 1 2\r\n", source="x.txt")
    with pytest.raises(ValueError, match="line 1: not a number"):
        lipson.parse_table("0 1 two 3\n")


def test_altered_or_missing_file_names_path_and_checksum(tmp_path):
    copy = tmp_path / "real_pend_h_1.txt"
    shutil.copyfile(lipson.DATA_PATH, copy)
    assert lipson.load_table(str(copy))[0].shape == (556,)
    raw = bytearray(copy.read_bytes())
    raw[200] = ord("7") if raw[200] != ord("7") else ord("8")
    copy.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=f"{re.escape(str(copy))}.*expected {lipson.SHA256}"):
        lipson.get_dataset(0.8, str(copy))
    with pytest.raises(FileNotFoundError,
                       match=f"{re.escape(str(tmp_path / 'gone.txt'))}.*{lipson.SHA256}"):
        lipson.load_table(str(tmp_path / "gone.txt"))


def swing_wiggle(energy, window=20):
    """Std of the energy about its running mean over `window` samples (a few swings), relative
    to its mean: near 0 for a function that the pendulum conserves within a swing."""
    running = np.convolve(energy, np.ones(window) / window, mode="valid")
    start = window // 2
    return (energy[start:start + len(running)] - running).std() / running.mean()


def test_energy_coefficient_fits_the_recording_and_the_recording_loses_energy():
    _, x = lipson.load_table()
    energy = lipson.hamiltonian(x)
    assert swing_wiggle(energy) < 0.03                        # 2.4 (1 - cos q) + p^2: 1.7%
    for k in (1.8, 3.0):                                      # the coefficient 25% off: 13%, 8%
        assert swing_wiggle(k * (1 - np.cos(x[:, 0])) + x[:, 1] ** 2) > 3 * swing_wiggle(energy)
    assert energy[-20:].mean() < 0.4 * energy[:20].mean()     # friction: 2.18 -> 0.73


@pytest.mark.slow
def test_train_smoke_run_and_figure(tmp_path):
    # tiny models: contending threads only slow them
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for extra in ([], ["--baseline"]):
        subprocess.run([sys.executable, "experiment-lipson/train.py", "--quick", "--quiet",
                        "--save-dir", str(tmp_path), *extra], cwd=REPO_ROOT, env=env, check=True)
    for kind in ("hnn", "baseline"):
        model, ckpt = RunsFolder(tmp_path).load(TASK, kind)
        curve = ckpt["curves"]["train_loss"]
        assert len(curve) == 21 and curve[-1] < 0.9 * curve[0]       # 20 steps lowered the loss
        # the stored metrics are the saved model's: recomputed from the checkpoint, they agree
        config = TASK.config(quick=True, model=kind)
        dataset = TASK.dataset(config)
        _, test = (to_tensors(split, "cpu") for split in TASK.splits(dataset))
        assert TASK.loss_summary(model, test)["mean"] == pytest.approx(
            ckpt["metrics"]["test_loss"]["mean"], rel=1e-6)
        assert TASK.evaluate(model, dataset, config)["energy_mse"]["mean"] == pytest.approx(
            ckpt["metrics"]["energy_mse"]["mean"], rel=1e-6)
    path, field = TASK.figures(RunsFolder(tmp_path), tmp_path / "figures")
    assert path.endswith("lipson-rollouts-seed0.png") and field.endswith("lipson-field-seed0.png")
    image = iio.imread(path)
    assert image.shape[0] > 300 and image.shape[1] > 1000 and image.std() > 0
    with pytest.raises(FileNotFoundError, match=r"lipson-(hnn|baseline)-seed1\.pt"):
        TASK.figures(RunsFolder(tmp_path), tmp_path / "figures", seed=1)


def test_forward_differences_of_an_oscillation_add_friction_and_central_ones_do_not():
    # A rotation x(t) = R(wt) x0 sampled every h: the forward difference is (R(wh) - I) x / h,
    # a field with divergence 2 (cos wh - 1) / h; the central one is sin(wh)/h J x, divergence 0.
    w, h = 2.2, 1 / 6
    t = np.arange(200) * h
    states = np.stack([np.cos(w * t), -np.sin(w * t)], axis=1) * 0.7
    for derivative, divergence in (("forward", 2 * (math.cos(w * h) - 1) / h), ("central", 0.0)):
        x, dx, tx = lipson.difference_targets(t, states, derivative)
        # the last central row is one-sided
        A = np.linalg.lstsq(x[:-1], dx[:-1], rcond=None)[0].T
        assert np.trace(A) == pytest.approx(divergence, abs=1e-9)
        np.testing.assert_allclose(x, states[:-1] if derivative == "forward" else states[1:])
        assert len(dx) == len(tx) == 199
    assert 2 * (1 - math.cos(w * h)) / h == pytest.approx(0.79, abs=0.01)   # 0.4 per unit time each


def test_central_split_is_the_dhnn_papers():
    t, x = lipson.load_table()
    data = lipson.get_dataset(0.8, derivative="central")
    assert data["x"].shape == data["dx"].shape == (444, 2)
    assert data["test_x"].shape == data["test_dx"].shape == (111, 2)
    np.testing.assert_array_equal(data["x"][0], x[1])
    np.testing.assert_array_equal(data["test_x"][0], x[445])
    np.testing.assert_array_equal(data["test_x"][-1], x[555])
    np.testing.assert_allclose(data["dx"][0], (x[2] - x[0]) * 3, rtol=1e-12)   # steps of 1/6
    with pytest.raises(ValueError, match="derivative must be one of"):
        lipson.get_dataset(0.8, derivative="backward")


@pytest.mark.slow
def test_central_task_trains_on_its_dataset(tmp_path):
    task = find_tasks()["lipson_central"]
    subprocess.run([sys.executable, "experiment-lipson/train.py", "--task", "lipson_central",
                    "--model", "dhnn", "--quick", "--quiet", "--save-dir", str(tmp_path)],
                   cwd=REPO_ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"}, check=True)
    model, ckpt = RunsFolder(tmp_path).load(task, "dhnn")
    assert ckpt["config"]["derivative"] == "central" and ckpt["config"]["task"] == "lipson_central"
    dataset = task.dataset(task.config())
    _, t, truth = lipson.evaluation_segment(dataset)
    assert truth.shape == (1, 111, 2)
    # the error of the central task's metric is the standard error over its 111 time points
    assert 0 < ckpt["metrics"]["energy_mse"]["stderr"] < ckpt["metrics"]["energy_mse"]["mean"]
