"""The N-body generator (two- and three-body tasks), its cache, train.py and the figures."""
import os
import subprocess
import sys

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from hnn import HNN
from hnn.config import REPO_ROOT
from hnn.experiments import find_tasks, load_folder
from hnn.runs import RunsFolder

orbits = load_folder(os.path.join(REPO_ROOT, "experiment-orbits"), "data")
TASKS = find_tasks()


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch):
    path = tmp_path / "cache"
    monkeypatch.setenv("HNN_CACHE_DIR", str(path))
    return path


def angular_momentum(x):
    q, p = orbits.positions_momenta(x)
    return (q[..., 0, :] * p[..., 1, :] - q[..., 1, :] * p[..., 0, :]).sum(-1)


def test_canonical_ordering():
    assert orbits.canonical_names(2) == ["qx1", "qx2", "qy1", "qy2", "px1", "px2", "py1", "py2"]
    assert orbits.canonical_names(3) == ["qx1", "qx2", "qx3", "qy1", "qy2", "qy3",
                                         "px1", "px2", "px3", "py1", "py2", "py3"]
    q, p = orbits.positions_momenta(np.arange(8.0))
    np.testing.assert_array_equal(q, [[0, 1], [2, 3]])       # [component, body]
    np.testing.assert_array_equal(p, [[4, 5], [6, 7]])
    x = orbits.initial_states(0, 2, 1)[0]
    np.testing.assert_array_equal(orbits.dynamics(x)[:4], x[4:])   # dq/dt = p, same order
    q, p = orbits.positions_momenta(x)
    np.testing.assert_array_equal(q[:, 1], -q[:, 0])         # body 2 = -body 1
    np.testing.assert_array_equal(p[:, 1], -p[:, 0])
    assert 0.5 <= q[:, 0].min() and q[:, 0].max() <= 1.5
    with pytest.raises(ValueError, match="4N entries"):
        orbits.positions_momenta(np.zeros(6))


def test_circular_start_without_noise_stays_circular():
    for bodies in (2, 3):
        x0 = orbits.initial_states(3, bodies, 1, orbit_noise=0.0)
        t = np.linspace(0, 10, 21)
        x = orbits.integrate_orbits(x0, t, rtol=1e-11, atol=1e-12)[0]
        radius = np.linalg.norm(orbits.positions_momenta(x)[0], axis=-2)   # (T, N)
        np.testing.assert_allclose(radius, radius[:1].repeat(len(t), 0), rtol=1e-7)


@pytest.mark.parametrize("bodies", [2, 3])
def test_solve_ivp_orbit_conserves_energy_and_momenta(bodies):
    x0 = orbits.initial_states(1, bodies, 1)
    x = orbits.integrate_orbits(x0, np.linspace(0, 5, 50), rtol=1e-11, atol=1e-12)[0]
    energy = orbits.total_energy(x)
    momentum = orbits.positions_momenta(x)[1].sum(-1)           # (T, 2)
    assert np.ptp(x[:, 0]) > 0.1                                # the bodies really move
    assert np.abs(energy - energy[0]).max() < 1e-8
    assert np.abs(momentum - momentum[0]).max() < 1e-8
    assert np.abs(angular_momentum(x) - angular_momentum(x[0])).max() < 1e-8


def test_three_body_potential_against_hand_computation():
    # bodies at (0, 0), (3, 0), (0, 4): distances 3, 4 and 5; momenta (1, 0), (0, 2), (0, 0)
    x = np.array([0, 3, 0, 0, 0, 4, 1, 0, 0, 0, 2, 0], dtype=float)
    assert orbits.potential_energy(x) == pytest.approx(-(1 / 3 + 1 / 5 + 1 / 4), abs=1e-15)
    assert orbits.kinetic_energy(x) == pytest.approx(2.5, abs=1e-15)
    assert orbits.total_energy(x) == pytest.approx(2.5 - 47 / 60, abs=1e-15)
    as_torch = orbits.total_energy(torch.tensor(x)).item()
    assert as_torch == pytest.approx(2.5 - 47 / 60, abs=1e-15)


class TrueHamiltonian(torch.nn.Module):
    def forward(self, x):
        return orbits.total_energy(x)[..., None]


@pytest.mark.parametrize("bodies", [2, 3])
def test_hnn_with_the_true_hamiltonian_gives_the_generator_derivatives(bodies):
    states = orbits.initial_states(5, bodies, 20)
    field = HNN(TrueHamiltonian()).time_derivative(torch.tensor(states)).detach().numpy()
    np.testing.assert_allclose(field, orbits.dynamics(states), rtol=1e-12, atol=1e-12)


def newton_two_body(x):
    """Unit masses, G = 1, states [qx1, qx2, qy1, qy2, px1, px2, py1, py2]: dq = p and
    dp1 = -(q1 - q2) / |q1 - q2|^3 = -dp2, written out by hand."""
    r = np.stack([x[:, 0] - x[:, 1], x[:, 2] - x[:, 3]], axis=1)        # q1 - q2
    a = -r / np.linalg.norm(r, axis=1, keepdims=True) ** 3              # acceleration of body 1
    return np.concatenate([x[:, 4:], a[:, :1], -a[:, :1], a[:, 1:], -a[:, 1:]], axis=1)


def test_dataset_shapes_split_and_targets():
    data = orbits.get_dataset(2, seed=0, trials=10)
    assert data["x"].shape == (400, 8) and data["test_x"].shape == (100, 8)
    for x, dx in ((data["x"], data["dx"]), (data["test_x"], data["test_dx"])):
        np.testing.assert_allclose(dx, newton_two_body(x), rtol=1e-12, atol=1e-12)
    assert len(data["t"]) == 50 and data["t"][-1] == 20.0
    # the test split is the first trajectories; evaluation seed 0 starts where trajectory 0 does
    x0, t, truth = orbits.evaluation_orbits(2, 20, (0.0, 25.0), n=2)
    np.testing.assert_array_equal(data["test_x"][0], x0[0])
    np.testing.assert_array_equal(truth[:, 0], x0)
    assert not np.array_equal(x0[0], x0[1])
    three = orbits.make_dataset(3, 0, 5)
    assert three["x"].shape == (80, 12) and three["test_x"].shape == (20, 12)
    with pytest.raises(ValueError, match="bodies must be one of"):
        orbits.get_dataset(4, 0, 10)
    with pytest.raises(ValueError, match="unknown orbit settings"):
        orbits.make_dataset(2, 0, 3, trails=3)


def test_cache_is_reused_keyed_and_repaired(cache_dir, monkeypatch):
    first = orbits.get_dataset(2, seed=0, trials=6)
    (path,) = cache_dir.glob("2body-orbits-*.npz")

    def no_generation(*args, **kwargs):
        raise AssertionError("regenerated although the cache is valid")
    with monkeypatch.context() as m:
        m.setattr(orbits, "make_dataset", no_generation)
        again = orbits.get_dataset(2, seed=0, trials=6)
    np.testing.assert_array_equal(again["x"], first["x"])

    other = orbits.get_dataset(2, seed=0, trials=8)               # changed settings: a new file
    assert len(other["x"]) == 320 and len(list(cache_dir.glob("2body-orbits-*.npz"))) == 2

    path.write_bytes(b"not an npz")
    with pytest.warns(UserWarning, match="corrupt"):
        repaired = orbits.get_dataset(2, seed=0, trials=6)
    np.testing.assert_array_equal(repaired["x"], first["x"])
    assert orbits.get_dataset(2, seed=0, trials=6)["x"].shape == (240, 8)


@pytest.fixture(scope="module")
def quick_runs(tmp_path_factory):
    """Quick HNN and baseline runs of both tasks, made once for the module."""
    save_dir = tmp_path_factory.mktemp("runs")
    # one torch thread: these tiny models run several times slower when threads contend for cores
    env = {**os.environ, "HNN_CACHE_DIR": str(save_dir / "cache"), "OMP_NUM_THREADS": "1"}
    for task in ("2body", "3body"):
        for extra in ([], ["--baseline"]):
            subprocess.run([sys.executable, "experiment-orbits/train.py", "--quick", "--quiet",
                            "--task", task, "--save-dir", str(save_dir), *extra],
                           cwd=REPO_ROOT, env=env, check=True)
    return save_dir


@pytest.mark.slow
def test_train_smoke_runs_save_loadable_checkpoints(quick_runs, monkeypatch):
    monkeypatch.setenv("HNN_CACHE_DIR", str(quick_runs / "cache"))
    for task, dim in (("2body", 8), ("3body", 12)):
        model, ckpt = RunsFolder(quick_runs).load(TASKS[task], "hnn")
        assert ckpt["config"]["task"] == task and ckpt["config"]["trials"] == 20
        assert model.net.linear1.in_features == dim
        curve = ckpt["curves"]["train_loss"]
        assert len(curve) == 21 and curve[-1] < curve[0]              # 20 steps lowered the loss
        # the stored energy MSE is the saved model's: recomputed from the checkpoint, it agrees
        config = TASKS[task].config(quick=True)
        recomputed = TASKS[task].evaluate(model, TASKS[task].dataset(config), config)
        assert recomputed["energy_mse"]["mean"] == pytest.approx(
            ckpt["metrics"]["energy_mse"]["mean"], rel=1e-6)
        assert model.hamiltonian(torch.zeros(3, dim) + 0.5).shape == (3,)
    _, baseline = RunsFolder(quick_runs).load(TASKS["3body"], "baseline")
    assert baseline["config"]["batch_size"] == 600 and baseline["config"]["model"] == "baseline"


@pytest.mark.slow
def test_figures_for_both_tasks(quick_runs, tmp_path):
    written = [path for task in ("2body", "3body")
               for path in TASKS[task].figures(RunsFolder(quick_runs), tmp_path / "figures")]
    names = sorted(os.path.basename(p) for p in written)
    assert names == ["2body-orbits-seed0.gif", "2body-orbits-seed0.png",
                     "3body-orbits-seed0.gif", "3body-orbits-seed0.png"]
    png = iio.imread(tmp_path / "figures" / "2body-orbits-seed0.png")
    assert png.shape[0] > 300 and png.shape[1] > 1200
    gif = iio.imread(tmp_path / "figures" / "3body-orbits-seed0.gif", index=None)
    assert gif.shape[0] == 50                  # one frame per point of the quick 50-point orbit
    assert gif[0].std() > 0 and not np.array_equal(gif[0], gif[-1])


def test_three_body_settings_are_the_originals():
    """experiment-3body/train.py: 5000 trials, batch 600, 10000 steps, weight decay 1e-4;
    analyze-3body.ipynb: energy over t in [0, 3] with 500 points (docs/paper-settings.md)."""
    config = TASKS["3body"].config()
    assert ((config.trials, config.batch_size, config.total_steps, config.weight_decay)
            == (5000, 600, 10000, 1e-4))
    assert (config.eval_t_end, config.eval_points) == (3.0, 500)
    ref = TASKS["3body"].reference(config)
    assert ref.t_end == 3.0 and ref.dt == pytest.approx(3.0 / 499) and ref.x0.shape == (15, 12)
