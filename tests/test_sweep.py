"""Scheduling many runs (`hnn.sweep`): storing, ordering and failing."""
import json

import pytest

from hnn.sweep import Options, Run, SerialExecutor, default_jobs, run_all, store_files


def test_store_files_writes_the_metrics_last(tmp_path, monkeypatch):
    order = []
    import hnn.sweep
    real = hnn.sweep.atomic_write
    monkeypatch.setattr(hnn.sweep, "atomic_write",
                        lambda path, write: (order.append(path.rsplit(".", 1)[1]),
                                             real(path, write)))
    store_files(tmp_path / "runs", {"a-hnn-seed0.json": b'{"x": 1}', "a-hnn-seed0.pt": b"weights"})
    assert order == ["pt", "json"]
    assert json.loads((tmp_path / "runs" / "a-hnn-seed0.json").read_text()) == {"x": 1}
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["a-hnn-seed0.json",
                                                                     "a-hnn-seed0.pt"]


def test_serial_executor_runs_each_call_when_its_result_is_asked_for():
    calls = []
    executor = SerialExecutor()
    futures = [executor.submit(calls.append, i) for i in range(3)]
    assert calls == []
    for i, future in enumerate(executor.as_completed(futures)):
        assert calls == list(range(i + 1)) and future.done()


def test_a_failed_run_is_named_and_stores_nothing(tmp_path):
    runs = [Run("spring", "nonsense", 0)]
    with pytest.raises(RuntimeError,
                       match="training spring-nonsense-seed0 failed: --model must be one of"):
        run_all(runs, str(tmp_path / "runs"), Options(quick=True), SerialExecutor(), quiet=True)
    assert not (tmp_path / "runs").exists()


def test_default_jobs_fill_the_cores_at_the_thread_count():
    import os
    cores = len(os.sched_getaffinity(0))
    assert default_jobs(1) == cores and default_jobs(cores) == 1 and default_jobs(4 * cores) == 1
