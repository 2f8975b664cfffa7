"""The one-command reproduction (quick profile) and the analysis notebooks run against it."""
import glob
import json
import os
import subprocess
import sys

import nbformat
import pytest
from nbclient import NotebookClient

from hnn.report import TABLE_1, TABLE_3BODY, TASKS, differs, render_tables


@pytest.fixture(scope="module")
def quick_results(tmp_path_factory, repo):
    out = tmp_path_factory.mktemp("results")
    cmd = [sys.executable, "reproduce.py", "--quick", "--out", str(out)]
    first = subprocess.run(cmd, cwd=repo, check=True, capture_output=True, text=True, timeout=900)
    second = subprocess.run(cmd, cwd=repo, check=True, capture_output=True, text=True, timeout=300)
    return out, first.stdout, second.stdout


def test_every_run_and_table_cell(quick_results):
    out, first, second = quick_results
    results = json.loads((out / "results.json").read_text())
    assert sorted(results) == sorted(f"{t}-{k}-seed0" for t in TASKS for k in ("baseline", "hnn"))
    table = (out / "table.md").read_text()
    for task in TABLE_1 + TABLE_3BODY:
        row = next(line for line in table.splitlines() if line.startswith(f"| {TASKS[task]['title']} |"))
        assert row.count("<br>paper ") == 6 and "not run" not in row
    assert "quick profile" in table and "fixed horizon" in table
    assert f"trained {len(TASKS)} task(s)" in first
    assert "trained 0 task(s)" in second            # the second run did no work
    assert len(glob.glob(str(out / "figures" / "*.png"))) >= len(TASKS)


@pytest.mark.parametrize("notebook", sorted(glob.glob(os.path.join(
    os.path.dirname(__file__), "..", "notebooks", "*.ipynb"))), ids=os.path.basename)
def test_notebook_runs(notebook, quick_results, monkeypatch):
    monkeypatch.setenv("HNN_RESULTS_DIR", str(quick_results[0]))
    nb = nbformat.read(notebook, as_version=4)
    assert all(not cell.get("outputs") for cell in nb.cells if cell.cell_type == "code")  # committed clean
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": os.path.dirname(notebook)}}).execute()
    images = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs
              if o.output_type == "display_data" and any(k.startswith("image/") for k in o.data)]
    assert len(images) >= 2


def test_table_marks_misses_and_uses_seed_spread():
    paper = {"tasks": {"spring": {kind: {m: {"mean": 1.0, "stderr": 0.1}
                                         for m in ("train_loss", "test_loss", "energy_mse")}
                                  for kind in ("hnn", "baseline")}}}
    runs = {f"spring-{kind}-seed{s}": {m: {"mean": 1.0 + 0.5 * s, "stderr": 0.01}
                                       for m in ("train_loss", "test_loss", "energy_mse")}
            for kind in ("hnn", "baseline") for s in (0, 1)}
    one = render_tables(runs, paper, [0])
    assert "1.00e+00 ± 1.0e-02<br>" in one and "†" not in one.split("## Table 1")[1].split("##")[0]
    two = render_tables(runs, paper, [0, 1])
    assert "1.25e+00 ± 3.5e-01<br>" in two                   # mean ± std over the two seeds
    assert differs((1.5, 0.01), (1.0, 0.1)) and not differs((1.05, 0.01), (1.0, 0.1))
