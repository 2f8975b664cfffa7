"""The one-command reproduction (quick profile), the analysis notebooks run against it, the
tables, and a new system added as one folder."""
import glob
import json
import os
import subprocess
import sys

import nbformat
import pytest
from nbclient import NotebookClient

from hnn.experiments import find_tasks
from hnn.report import COLUMNS, differs, render_tables
from hnn.tasks import METRICS, TABLE_1, Task, TrainConfig

TASKS = find_tasks()


def reproduce(repo, *args, env=None):
    cmd = [sys.executable, "reproduce.py", "--quick", *args]
    return subprocess.run(cmd, cwd=repo, check=True, capture_output=True, text=True, timeout=900,
                          env=env).stdout


@pytest.fixture(scope="module")
def quick_results(tmp_path_factory, repo):
    out = tmp_path_factory.mktemp("results")
    first = reproduce(repo, "--out", str(out), "--jobs", "1")
    second = reproduce(repo, "--out", str(out))
    return out, first, second


def metrics_of(out):
    return {name: {k: v for k, v in run.items() if k != "wall_time_s"}
            for name, run in json.loads((out / "results.json").read_text()).items()}


@pytest.mark.slow
@pytest.mark.parametrize("schedule", [["--jobs", "2"], ["--cluster", "local"]], ids=" ".join)
def test_scheduling_does_not_change_numbers(quick_results, schedule, tmp_path, repo):
    """The quick profile in two local processes, or as Ray tasks on a local cluster (whose
    workers get the code through Ray and send the run files back), gives the serial run's bits."""
    if "--cluster" in schedule:
        pytest.importorskip("ray")
    log = reproduce(repo, "--out", str(tmp_path), *schedule)
    assert f"trained {len(TASKS)} task(s)" in log
    serial = metrics_of(quick_results[0])
    assert metrics_of(tmp_path) == serial and len(serial) == sum(len(t.models)
                                                                 for t in TASKS.values())


@pytest.mark.slow
def test_every_run_and_table_cell(quick_results):
    out, first, second = quick_results
    results = json.loads((out / "results.json").read_text())
    assert sorted(results) == sorted(f"{t.name}-{k}-seed0"
                                     for t in TASKS.values() for k in t.models)
    table = (out / "table.md").read_text()
    for task in TASKS.values():
        row = next(line for line in table.splitlines() if line.startswith(f"| {task.title} |"))
        assert row.count("<br>paper ") == 2 * len(METRICS) and "not run" not in row
        # the paper has no state MSE, and no numbers at all for the extensions
        assert row.count("<br>paper –") == (2 if task.paper else 2 * len(METRICS))
        # each cell is its run's number, in the column's model and metric
        cells = [cell.split("<br>")[0] for cell in row.split(" | ")[1:]]
        assert [cell.split(" ±")[0] for cell in cells] == [
            f"{results[f'{task.name}-{model}-seed0'][metric]['mean']:.2e}"
            for metric, model in COLUMNS]
    friction = table.split("## Friction")[1].split("\n## ")[0]
    for name in ("damped", "lipson", "lipson_central", "spring"):
        row = next(line for line in friction.splitlines()
                   if line.startswith(f"| {TASKS[name].title} | energy mse |"))
        assert [cell.split(" ±")[0] for cell in row.rstrip(" |").split(" | ")[2:]] == [
            f"{results[f'{name}-{model}-seed0']['energy_mse']['mean']:.2e}"
            for model in ("baseline", "hnn", "dhnn")]
    assert "not run" not in friction and "least-squares linear field" in friction
    assert "quick profile" in table and "fixed horizon" in table
    assert f"trained {len(TASKS)} task(s)" in first
    assert "trained 0 task(s)" in second            # the second run did no work
    assert len(glob.glob(str(out / "figures" / "*.png"))) >= len(TASKS)


@pytest.mark.slow
def test_a_subset_run_merges_and_redraws_missing_figures(quick_results, repo):
    out = quick_results[0]
    before = json.loads((out / "results.json").read_text())
    (out / "figures" / "spring-phase-seed0.png").unlink()
    log = reproduce(repo, "--out", str(out), "--tasks", "spring", "--seeds", "0", "0")
    assert "trained 0 task(s)" in log
    assert json.loads((out / "results.json").read_text()) == before     # nothing dropped
    table = (out / "table.md").read_text()
    assert "Three body" in table and "(seeds" not in table              # seed 0 counted once
    # a missing figure is redrawn
    assert (out / "figures" / "spring-phase-seed0.png").exists()


@pytest.mark.slow
@pytest.mark.parametrize("notebook", sorted(glob.glob(os.path.join(
    os.path.dirname(__file__), "..", "notebooks", "*.ipynb"))), ids=os.path.basename)
def test_notebook_runs(notebook, quick_results, monkeypatch):
    monkeypatch.setenv("HNN_RESULTS_DIR", str(quick_results[0]))
    nb = nbformat.read(notebook, as_version=4)
    # committed clean
    assert all(not cell.get("outputs") for cell in nb.cells if cell.cell_type == "code")
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": os.path.dirname(notebook)}}).execute()
    images = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs
              if o.output_type == "display_data" and any(k.startswith("image/") for k in o.data)]
    assert len(images) >= 2


class StubTask(Task):
    def __init__(self, name, paper):
        super().__init__(name, name.title(), TrainConfig(), table=TABLE_1, paper=paper, state_dim=2)


def test_table_marks_misses_uses_seed_spread_and_dashes_missing_paper_numbers():
    metrics = METRICS
    paper = {kind: {m: (1.0, 0.1) for m in metrics} for kind in ("hnn", "baseline")}
    tasks = {"spring": StubTask("spring", paper), "mine": StubTask("mine", None)}
    runs = {f"{task}-{kind}-seed{s}": {m: {"mean": 1.0 + 0.5 * s, "stderr": 0.01} for m in metrics}
            for task in tasks for kind in ("hnn", "baseline") for s in (0, 1)}
    one = render_tables({k: v for k, v in runs.items() if k.endswith("seed0")}, tasks)
    assert "1.00e+00 ± 1.0e-02<br>paper 1.00e+00 ± 1.0e-01" in one
    assert "†" not in one.split("## Table 1")[1]
    mine = next(line for line in one.splitlines() if line.startswith("| Mine |"))
    assert mine.count("<br>paper –") == 2 * len(METRICS)
    two = render_tables(runs, tasks)
    assert "| Spring (seeds 0, 1) |" in two
    assert "1.25e+00 ± 3.5e-01<br>" in two                   # mean ± std over the two seeds
    assert differs((1.5, 0.01), (1.0, 0.1)) and not differs((1.05, 0.01), (1.0, 0.1))


@pytest.mark.slow
def test_a_notebook_without_runs_says_which_are_missing(tmp_path, monkeypatch):
    (tmp_path / "runs").mkdir()
    monkeypatch.setenv("HNN_RESULTS_DIR", str(tmp_path))
    path = os.path.join(os.path.dirname(__file__), "..", "notebooks", "analyze-spring.ipynb")
    nb = nbformat.read(path, as_version=4)
    nb.cells = [cell for cell in nb.cells if cell.cell_type == "code"
                and ("has_pair" in cell.source or cell.source.lstrip().startswith("import"))]
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": os.path.dirname(path)}}).execute()
    printed = "".join(o.get("text", "") for cell in nb.cells for o in cell.outputs
                      if o.output_type == "stream")
    assert (f"no baseline and HNN runs of spring in {tmp_path / 'runs'}: run "
            "`python reproduce.py --tasks spring`") in printed
