"""Any system with a known Hamiltonian in one short file (`hnn.HamiltonianTask`), the tested
example of docs/adding-a-system.md, and the errors a new system's author meets."""
import functools
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import torch

from hnn import HamiltonianConfig, HamiltonianTask, Task, TimeReversal, TrainConfig
from hnn.experiments import SEARCH_PATH_ENV, search_roots
from hnn.report import GENERAL_NOTES, render_tables
from hnn.tasks import METRICS, hamiltonian_field

DOC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs",
                   "adding-a-system.md")


def example_files():
    """The files of the docs' example: {relative path: text}."""
    with open(DOC) as f:
        text = f.read()
    files = dict(re.findall(r"`(experiment-[\w-]+/[\w.]+)`:\s*```python\n(.*?)```", text, re.S))
    assert set(files) == {f"experiment-coupled/{n}" for n in ("task.py", "__init__.py", "train.py")}
    return files


def example_module():
    namespace = {}
    exec(example_files()["experiment-coupled/task.py"], namespace)
    return namespace


def test_the_example_task_is_one_short_file():
    assert len(example_files()["experiment-coupled/task.py"].splitlines()) <= 50


def test_the_field_by_autograd_is_hamiltons_equations_in_q_p_order():
    H = example_module()["hamiltonian"]
    x = np.random.default_rng(0).uniform(-1, 1, size=(7, 4))
    q1, q2, p1, p2 = x.T
    coupling = (q1 - q2) ** 3
    exact = np.stack([p1, p2, -q1 - coupling, -q2 + coupling], axis=1)   # [dH/dp, -dH/dq]
    np.testing.assert_allclose(hamiltonian_field(H, 4)(x), exact, rtol=0, atol=1e-14)
    # a lone pair [q, p]: dq/dt = dH/dp, dp/dt = -dH/dq
    assert hamiltonian_field(lambda x: x[..., 0] ** 2 / 2 + 3 * x[..., 1],
                             2)(np.array([[2.0, 0.0]])).tolist() == [[3.0, -2.0]]


@pytest.mark.slow
def test_the_generated_data_conserve_energy_and_have_the_documented_shapes():
    task = example_module()["TASKS"][0]
    dataset = task.dataset(task.config(samples=6, noise_std=0.0))
    T = len(task.t)
    assert dataset["x"].shape == (3 * T, 4) and dataset["test_x"].shape == (3 * T, 4)
    np.testing.assert_allclose(dataset["dx"], task.dynamics(dataset["x"]), atol=1e-14)
    x0, t, truth = task.evaluation_trajectories()
    assert truth.shape == (task.eval_trajectories, len(t), 4)
    energy = task.hamiltonian(truth)
    assert np.max(np.abs(energy - energy[:, :1]) / energy[:, :1]) < 1e-8
    ref = task.reference(task.config())
    assert ref.t_end == task.eval_t[-1] and ref.x0.shape == (task.eval_trajectories, 4)


def test_an_hnn_of_the_true_h_has_the_tasks_field():
    """The library's HNN, given the example's H as its network, returns the task's field."""
    from hnn.models import HNN
    from tests.known import Scalar
    H = example_module()["hamiltonian"]
    task = example_module()["TASKS"][0]
    x = torch.tensor(np.random.default_rng(1).uniform(-1, 1, size=(5, 4)))
    field = HNN(Scalar(H)).time_derivative(x).detach().numpy()
    np.testing.assert_allclose(field, task.dynamics(x.numpy()), atol=1e-12)


# The rough edges: each is refused when the task is built, with what to set.
def test_a_missing_or_odd_state_dim_is_refused_when_the_task_is_built():
    with pytest.raises(ValueError, match=r"task mine: set state_dim= .* got None"):
        Task("mine", "Mine", TrainConfig())
    with pytest.raises(ValueError, match=r"an even number.* got 3"):
        Task("mine", "Mine", TrainConfig(), state_dim=3)


def test_time_reversal_without_reference_is_refused_when_the_task_is_built():
    with pytest.raises(ValueError, match=r"task mine: time_reversal needs the known physics: "
                                         r"define reference\(config\)"):
        Task("mine", "Mine", TrainConfig(), state_dim=2, time_reversal=TimeReversal())
    with pytest.raises(TypeError, match="must be an hnn.tasks.TimeReversal"):
        Task("mine", "Mine", TrainConfig(), state_dim=2, time_reversal=True)


def test_a_hamiltonian_that_autograd_cannot_take_is_refused_when_the_task_is_built():
    with pytest.raises(TypeError,
                       match=r"task pend2: .*must take torch tensors .*or pass dynamics="):
        HamiltonianTask("pend2", "Pendulum", HamiltonianConfig(), state_dim=2,
                        hamiltonian=lambda x: 1 - np.cos(x[..., 0]) + x[..., 1] ** 2,
                        starts=lambda rng, n: rng.uniform(-1, 1, (n, 2)), t_span=(0, 1),
                        points_per_unit=5)


def test_a_missing_search_directory_is_named(monkeypatch, tmp_path):
    monkeypatch.setenv(SEARCH_PATH_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(ValueError, match=r"lists .*nowhere, which is not a directory"):
        search_roots()


class Stub(Task):
    def __init__(self, name, **kwargs):
        super().__init__(name, name.title(), TrainConfig(), state_dim=2, **kwargs)


def stub_results(models_of):
    return {f"{task}-{model}-seed0": {m: {"mean": 1.0, "stderr": 0.1} for m in METRICS}
            for task, models in models_of.items() for model in models}


def test_table_sections_follow_what_a_task_declares():
    """A task that trains the D-HNN goes in the friction table only if it declares friction;
    the notes about the original appear only with paper numbers."""
    tasks = {"plain": Stub("plain", models=("baseline", "hnn", "dhnn")),
             "leaky": Stub("leaky", models=("baseline", "hnn", "dhnn"), friction=True)}
    table = render_tables(stub_results({name: t.models for name, t in tasks.items()}), tasks)
    friction = table.split("## Friction")[1].split("\n## ")[0]
    assert "| Leaky |" in friction and "| Plain |" not in friction
    others = table.split("## Dissipative HNN on tasks without friction")[1].split("\n## ")[0]
    assert "| Plain | energy mse |" in others and "| Leaky |" not in others
    assert GENERAL_NOTES[0].text not in table and "differs from the original" not in table
    papered = {"paper": Stub("paper", paper={"hnn": {"energy_mse": (1.0, 0.1)}})}
    assert GENERAL_NOTES[0].text in render_tables(stub_results({"paper": ("baseline", "hnn")}),
                                                  papered)


def run(repo, args, env, cwd=None):
    return subprocess.run([sys.executable, *args], cwd=cwd or repo, env=env, capture_output=True,
                          text=True, timeout=600)


@pytest.mark.slow
def test_a_wrong_search_path_says_where_it_looked(repo, tmp_path):
    folder = tmp_path / "extra" / "experiment-coupled"
    for path, text in example_files().items():
        (tmp_path / "extra" / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "extra" / path).write_text(text)
    env = {**os.environ, SEARCH_PATH_ENV: str(folder)}       # the folder, not its parent
    result = run(repo, ["reproduce.py", "--quick", "--tasks", "coupled"], env)
    assert result.returncode == 2
    assert ("unknown task(s) coupled" in result.stderr
            and "searched for experiment-*/ folders" in result.stderr)
    assert f"{folder} is an experiment folder itself" in result.stderr
    assert f"takes the directory above it ({tmp_path / 'extra'})" in result.stderr


@pytest.mark.slow
def test_the_docs_example_runs_through_reproduce_the_table_and_the_study(repo, tmp_path):
    """The docs' example folder, written to a temporary experiments path, is found by
    reproduce.py, trained through the quick profile, put in table.md and through the
    time-reversal study; its own train.py saves beside the folder; the checkout is untouched."""
    status = subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True,
                            text=True).stdout
    for path, text in example_files().items():
        (tmp_path / "extra" / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "extra" / path).write_text(text)
    env = {**os.environ, SEARCH_PATH_ENV: str(tmp_path / "extra")}
    out = tmp_path / "out"
    log = run(repo, ["reproduce.py", "--quick", "--tasks", "coupled", "--out", str(out)], env)
    assert log.returncode == 0, log.stderr
    assert "trained 1 task(s)" in log.stdout
    results = json.loads((out / "results.json").read_text())
    assert sorted(results) == ["coupled-baseline-seed0", "coupled-hnn-seed0"]
    table = (out / "table.md").read_text()
    row = next(line for line in table.splitlines()
               if line.startswith("| Coupled quartic oscillators |"))
    assert row.count("<br>paper –") == 2 * len(METRICS) and "not run" not in row and "†" not in row
    assert "## Extensions" in table and "## Where our protocol differs" not in table
    assert (out / "figures" / "coupled-rollouts-seed0.png").exists()
    study = json.loads((out / "studies" / "time-reversal" / "time-reversal.json").read_text())
    assert list(study) == ["coupled"] and study["coupled"]["round_trip"]["steps"] == [10, 100]
    # its own train.py, with no --save-dir, saves beside the folder
    folder = tmp_path / "extra" / "experiment-coupled"
    result = run(repo, [str(folder / "train.py"), "--quick", "--quiet", "--seed", "1"], env,
                 cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (folder / "results" / "runs" / "coupled-hnn-seed1.pt").exists()
    assert subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True,
                          text=True).stdout == status


def test_a_cached_system_reads_its_data_back_bit_for_bit_and_makes_it_anew_after_an_edit(
        tmp_path, monkeypatch):
    """`cache=True`: the second call reads the .npz (the solver is not called), the arrays equal
    the uncached ones exactly, and editing the file that defines the physics changes the key."""
    physics = tmp_path / "physics_mod.py"
    physics.write_text("def hamiltonian(x):\n    return 0.5 * (x ** 2).sum(-1)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import physics_mod
    calls = []

    def solution(x0, t):
        calls.append(len(x0))
        return x0[:, None, :] * np.cos(t)[None, :, None]

    def build(cache):
        return HamiltonianTask("osc", "Oscillator", HamiltonianConfig(samples=4), state_dim=2,
                               hamiltonian=physics_mod.hamiltonian, solution=solution,
                               starts=lambda rng, n: rng.uniform(-1, 1, (n, 2)),
                               t_span=(0, 1), points_per_unit=10, cache=cache)
    config = build(False).config(quiet=True, seed=2)
    plain = build(False).dataset(config)
    task = build(True)
    first, second = task.dataset(config), task.dataset(config)
    assert len(calls) == 2                       # plain and the first cached call; not the second
    for data in (first, second):
        assert sorted(data) == sorted(plain)
        assert all(data[k].dtype == plain[k].dtype and np.array_equal(data[k], plain[k])
                   for k in plain)
    sources = task.data_sources()
    assert os.path.abspath(physics) in sources and "hnn/data.py" in sources
    physics.write_text("def hamiltonian(x):\n    return (x ** 2).sum(-1)\n")
    assert task.data_sources() != sources
    task.dataset(config)
    assert len(calls) == 3
    assert len(os.listdir(os.environ["HNN_CACHE_DIR"])) == 2
    with pytest.raises(TypeError, match=r"task osc: cache=True keys the data by the source "
                                        r"files of its physics, and starts= \(functools.partial"):
        HamiltonianTask("osc", "Oscillator", HamiltonianConfig(), state_dim=2,
                        hamiltonian=physics_mod.hamiltonian, t_span=(0, 1), points_per_unit=10,
                        starts=functools.partial(np.random.Generator.uniform, size=(2,)),
                        cache=True)
