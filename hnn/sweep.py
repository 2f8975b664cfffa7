"""Many runs at once: in this process, in a pool of local processes, or on a Ray cluster.

A run is one (task, model, seed). Wherever it is scheduled, it is trained by the same function,
`train_files`, with the same settings, thread count included, into a temporary folder, and its
files come back as bytes that the caller stores. So a run's numbers do not depend on where, or
beside what, it ran, and workers need not share a filesystem with the caller.
"""
import concurrent.futures
import dataclasses
import multiprocessing
import os
import tempfile
import threading
import time

from tqdm.auto import tqdm

from .checkpoint import atomic_write
from .config import REPO_ROOT, split_run_model
from .experiments import SEARCH_PATH_ENV, find_task
from .runs import run_name, run_paths

# What a Ray worker does not need from the repository (it gets the code and the bundled data).
RAY_EXCLUDES = [".git", "results", "*.pt", "*.npz.tmp", "__pycache__", ".ipynb_checkpoints"]


@dataclasses.dataclass(frozen=True)
class Run:
    """One training run: a task's name, the model and the seed."""

    task: str
    model: str
    seed: int

    @property
    def name(self):
        return run_name(self.task, self.model, self.seed)


@dataclasses.dataclass(frozen=True)
class Options:
    """How every run of a sweep is configured, beyond its task, model and seed."""

    quick: bool = False
    device: str = "cpu"
    threads: int = 1
    overrides: tuple = ()       # (field, value) pairs set on every run, e.g. (("noise_std", 0.0),)

    def config(self, task, run, save_dir):
        """The run's config; `run.model` may say how it trains (`hnn.config.run_model`), and
        ValueError if the overrides say otherwise."""
        model, settings = split_run_model(run.model)
        config = task.config(quick=self.quick, seed=run.seed, model=model, save_dir=save_dir,
                             device=self.device, threads=self.threads, quiet=True,
                             **{**settings, **dict(self.overrides)})
        if task.run_model(config) != run.model:
            raise ValueError(f"run {run.name}: its overrides train it as "
                             f"{task.run_model(config)}; name the run that way")
        return config


def make_data(run, options):
    """Make (and cache, where the task caches) the dataset of `run`; returns its name."""
    task = find_task(run.task)
    with tempfile.TemporaryDirectory() as tmp:
        task.dataset(options.config(task, run, tmp))
    return run.name


def train_files(run, options):
    """Train `run` in a temporary folder: {file name: bytes} of its checkpoint and metrics."""
    task = find_task(run.task)
    with tempfile.TemporaryDirectory() as tmp:
        task.run(options.config(task, run, tmp))
        files = {}
        for path in run_paths(tmp, run.name):
            with open(path, "rb") as f:
                files[os.path.basename(path)] = f.read()
    return files


def store_files(save_dir, files):
    """Write a run's files into `save_dir`, each atomically, the metrics (.json) last, after
    removing the old metrics: a crash in between leaves a checkpoint without metrics (not up to
    date), never new weights beside old metrics."""
    os.makedirs(save_dir, exist_ok=True)
    for name in files:
        if name.endswith(".json") and os.path.exists(os.path.join(save_dir, name)):
            os.remove(os.path.join(save_dir, name))
    for name in sorted(files, key=lambda n: n.endswith(".json")):
        def write(tmp, data=files[name]):
            with open(tmp, "wb") as f:
                f.write(data)
        atomic_write(os.path.join(save_dir, name), write)


class SerialExecutor:
    """Runs each call in this process, one after another, as the results are asked for."""

    parallel = False

    def __init__(self):
        self.calls = {}

    def submit(self, fn, *args):
        future = concurrent.futures.Future()
        self.calls[future] = (fn, args)
        return future

    def as_completed(self, futures):
        for future in futures:
            fn, args = self.calls.pop(future)
            try:
                future.set_result(fn(*args))
            except Exception as err:  # noqa: BLE001 - handed to the caller through the future
                future.set_exception(err)
            yield future

    def close(self):
        self.calls.clear()


def exit_with_parent(parent, every=1.0):
    """Run in a worker: end the process once `parent` (a pid) is no longer its parent, so that
    workers of a driver that was killed do not train on for nobody (polled: portable, and idle)."""
    def watch():
        while os.getppid() == parent:
            time.sleep(every)
        os._exit(1)
    threading.Thread(target=watch, daemon=True).start()


class ProcessExecutor:
    """A pool of `jobs` fresh (spawned) Python processes on this machine; they exit when this
    process dies."""

    parallel = True

    def __init__(self, jobs):
        self.pool = concurrent.futures.ProcessPoolExecutor(
            max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
            initializer=exit_with_parent, initargs=(os.getpid(),))

    def submit(self, fn, *args):
        return self.pool.submit(fn, *args)

    def as_completed(self, futures):
        return concurrent.futures.as_completed(futures)

    def close(self):
        self.pool.shutdown(cancel_futures=True)


class RayExecutor:
    """Ray tasks, each declaring `threads` CPUs (and one GPU when the device is cuda).

    `address` is a running cluster's address (`auto`, `ray://host:10001`, ...) or `local`, which
    starts a cluster on this machine for the sweep with Ray's token authentication on
    (`RAY_AUTH_MODE=token`, Ray >= 2.52): Ray's services listen on every interface, and refuse
    every caller without the token that Ray keeps in `~/.ray/auth_token` (made private here).
    The workers get this repository's code and bundled data through Ray's `working_dir`, so they
    need no shared filesystem."""

    parallel = True

    def __init__(self, address, options):
        if address == "local":
            os.environ.setdefault("RAY_AUTH_MODE", "token")    # read when Ray is imported
        try:
            import ray
        except ImportError:
            raise RuntimeError("--cluster needs Ray: pip install -e '.[cluster]'") from None
        self.ray = ray
        env = {"working_dir": REPO_ROOT, "excludes": RAY_EXCLUDES}
        # such folders must exist at the same paths on the workers
        if os.environ.get(SEARCH_PATH_ENV):
            env["env_vars"] = {SEARCH_PATH_ENV: os.environ[SEARCH_PATH_ENV]}
        kwargs = dict(runtime_env=env, log_to_driver=False, include_dashboard=False)
        if address == "local":
            ray.init(num_cpus=len(os.sched_getaffinity(0)), **kwargs)
            token = os.path.expanduser(os.path.join("~", ".ray", "auth_token"))
            if os.path.exists(token):
                os.chmod(token, 0o600)          # Ray writes it readable by every local user
        else:
            ray.init(address=address, **kwargs)
        gpus = 1 if options.device.startswith("cuda") else 0
        self.remote = {fn: ray.remote(num_cpus=max(options.threads, 1), num_gpus=gpus)(fn)
                       for fn in (make_data, train_files)}
        self.futures = {}

    def submit(self, fn, *args):
        ref = self.remote[fn].remote(*args)
        future = concurrent.futures.Future()
        self.futures[ref] = future
        return future

    def as_completed(self, futures):
        pending = [ref for ref, future in self.futures.items() if future in set(futures)]
        while pending:
            done, pending = self.ray.wait(pending, num_returns=1)
            future = self.futures.pop(done[0])
            try:
                future.set_result(self.ray.get(done[0]))
            except Exception as err:  # noqa: BLE001 - handed to the caller through the future
                future.set_exception(err)
            yield future

    def close(self):
        self.ray.shutdown()


def make_executor(jobs=1, cluster=None, options=Options()):
    """Ray on `cluster` if given, else a pool of `jobs` processes, else this process."""
    if cluster:
        return RayExecutor(cluster, options)
    return ProcessExecutor(jobs) if jobs > 1 else SerialExecutor()


def default_jobs(threads):
    """As many runs at once as the cores allow at `threads` each (at least one)."""
    return max(len(os.sched_getaffinity(0)) // max(threads, 1), 1)


def run_all(runs, save_dir, options, executor, quiet=False):
    """Train every run in `runs` and store its files in `save_dir` (`run_jobs` with one folder
    and one `options`)."""
    run_jobs([(run, save_dir, options) for run in runs], executor, quiet)


def run_jobs(jobs, executor, quiet=False):
    """Train every `(run, save_dir, options)` of `jobs` and store its files in its `save_dir`,
    all of them in one pool, so that runs of different folders or settings fill the workers
    together. A parallel executor first makes the data of every distinct (task, seed, options)
    of a task that caches its data (`Task.caches_data`), so that no two workers make the same
    data. A progress bar counts runs done out of the total, with the elapsed time and an
    estimate of the time left. The runs start in the order given (put the longest first). The
    first failure raises, naming the run."""
    caching = {name: find_task(name).caches_data for name in {run.task for run, _, _ in jobs}}
    first_of = {}
    for run, _, options in jobs:
        if caching[run.task]:
            first_of.setdefault((run.task, run.seed, options), (run, None, options))
    phases = [(train_files, list(jobs), "runs")]
    if executor.parallel:
        phases.insert(0, (make_data, list(first_of.values()), "data"))
    for fn, todo, label in phases:
        if not todo:
            continue
        futures = {executor.submit(fn, run, options): (run, save_dir)
                   for run, save_dir, options in todo}
        bar = tqdm(total=len(todo), desc=label, unit="run", disable=quiet, smoothing=0)
        for future in executor.as_completed(list(futures)):
            run, save_dir = futures[future]
            try:
                result = future.result()
            except Exception as err:
                what = "training" if fn is train_files else "making the data of"
                raise RuntimeError(f"{what} {run.name} failed: {err}") from err
            if fn is train_files:
                store_files(save_dir, result)
            bar.set_postfix_str(run.name if fn is train_files else f"{run.task} seed {run.seed}",
                                refresh=False)
            bar.update(1)
        bar.close()
