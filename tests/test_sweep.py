"""Scheduling many runs (`hnn.sweep`): storing, ordering and failing."""
import json
import os
import subprocess
import sys

import pytest

from hnn.experiments import find_task
from hnn.sweep import Options, Run, SerialExecutor, default_jobs, run_all, run_jobs, store_files


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


class RecordingParallelExecutor(SerialExecutor):
    """A SerialExecutor that says it is parallel, so `run_jobs` plans its data phase."""

    parallel = True


def test_the_data_phase_makes_each_cached_dataset_once_and_skips_tasks_that_do_not_cache(
        tmp_path, monkeypatch):
    import hnn.sweep
    done = []
    monkeypatch.setattr(hnn.sweep, "make_data", lambda run, options: done.append(("data", run)))
    monkeypatch.setattr(hnn.sweep, "train_files", lambda run, options: done.append(("train", run))
                        or {})
    assert not find_task("spring").caches_data and find_task("2body").caches_data
    runs = [Run("2body", "hnn", 0), Run("spring", "hnn", 0), Run("2body", "baseline", 0),
            Run("2body", "hnn", 1)]
    jobs = [(run, str(tmp_path), Options(quick=True)) for run in runs]
    run_jobs(jobs, RecordingParallelExecutor(), quiet=True)
    data = [(run.task, run.seed) for kind, run in done if kind == "data"]
    assert data == [("2body", 0), ("2body", 1)]
    assert [run for kind, run in done if kind == "train"] == runs
    assert all(kind == "data" for kind, _ in done[:2])
    done.clear()
    run_jobs(jobs, SerialExecutor(), quiet=True)        # one process: no separate data phase
    assert [kind for kind, _ in done] == ["train"] * 4


def test_default_jobs_fill_the_cores_at_the_thread_count():
    import os
    cores = len(os.sched_getaffinity(0))
    assert default_jobs(1) == cores and default_jobs(cores) == 1 and default_jobs(4 * cores) == 1


HEAD = """
import os, subprocess, sys
from hnn.sweep import Options, RayExecutor
executor = RayExecutor("local", Options())
address = executor.ray.get_runtime_context().gcs_address
probe = f"import ray; ray.init(address={address!r}); print('connected')"
clean = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")}
print("private", oct(os.stat(os.path.expanduser("~/.ray/auth_token")).st_mode & 0o777))
callers = {"none": {}, "wrong": {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": "x" * 32},
           "right": {"RAY_AUTH_MODE": "token"}}
for label, extra in callers.items():
    result = subprocess.run([sys.executable, "-c", probe], env={**clean, **extra},
                            capture_output=True, text=True, timeout=120)
    print(label, result.returncode, "connected" in result.stdout)
executor.close()
"""


@pytest.mark.slow
def test_a_local_cluster_refuses_callers_without_its_token(tmp_path):
    """`--cluster local` starts Ray with token authentication: a client without the token, or
    with a wrong one, cannot connect; one with it can (so the refusal is the token's)."""
    pytest.importorskip("ray")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")}
    result = subprocess.run([sys.executable, "-c", HEAD], env=env, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout.splitlines()
    assert "private 0o600" in out
    assert "none 1 False" in out and "wrong 1 False" in out and "right 0 True" in out


def children_of(pid):
    """{child pid: its command line} of the processes whose parent is `pid`."""
    found = {}
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline") as f:
                cmdline = f.read()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid:
            found[int(entry)] = cmdline
    return found


def workers_of(pid):
    """The pids of the spawned pool workers whose parent is `pid`."""
    return [child for child, cmdline in children_of(pid).items() if "spawn_main" in cmdline]


def ray_training_workers_of(pid):
    """The pids of the Ray workers running a training (`ray::train_files`) under the raylet that
    the driver `pid` started."""
    return [worker for child, cmdline in children_of(pid).items() if "raylet" in cmdline
            for worker, name in children_of(child).items() if name.startswith("ray::train")]


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.slow
def test_workers_exit_when_their_driver_is_killed(tmp_path, repo):
    import signal
    import time
    driver = subprocess.Popen([sys.executable, "reproduce.py", "--tasks", "spring", "--jobs", "2",
                               "--no-studies", "--out", str(tmp_path)], cwd=repo,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while len(workers := workers_of(driver.pid)) < 2 and time.time() < deadline:
        time.sleep(0.2)
    assert len(workers) == 2
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    deadline = time.time() + 20
    while any(map(alive, workers)) and time.time() < deadline:
        time.sleep(0.2)
    assert not any(map(alive, workers)), "the pool's workers outlived their driver"


@pytest.mark.slow
def test_ray_workers_exit_when_their_driver_is_killed(tmp_path, repo):
    """A `--cluster local` driver SIGKILLed mid-training: Ray's raylet ends the job's workers
    (measured: gone within 25 s; the dashboard and runtime-env agents linger up to 2 min)."""
    pytest.importorskip("ray")
    import signal
    import time
    driver = subprocess.Popen([sys.executable, "reproduce.py", "--tasks", "spring", "--cluster",
                               "local", "--no-studies", "--out", str(tmp_path)], cwd=repo,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while not (workers := ray_training_workers_of(driver.pid)) and time.time() < deadline:
        time.sleep(0.5)
    assert workers, "no Ray training worker started"
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    deadline = time.time() + 60
    while any(map(alive, workers)) and time.time() < deadline:
        time.sleep(0.5)
    assert not any(map(alive, workers)), "Ray's training workers outlived their driver"
