"""What every experiment's train.py shares: flags, run names, training a dynamics model,
saving and reloading runs, and importing an experiment folder's own modules."""
import argparse
import importlib.util
import os
import sys
import time

import torch

from .checkpoint import load_checkpoint, load_state, read_json, save_checkpoint, write_json
from .metrics import loss_summary
from .models import build_model
from .training import derivative_loss, fit, seed_everything

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNTIME_KEYS = ("device", "threads", "save_dir", "quiet", "skip_existing")


def import_sibling(file, name):
    """Import `<folder of file>/<name>.py` under a name unique to its folder.

    Experiment folders (`experiment-spring/`, ...) are not packages and each has a `data.py`;
    this keeps them apart when several are loaded in one process (tests, reproduce.py)."""
    folder = os.path.dirname(os.path.abspath(file))
    module_name = os.path.basename(folder).replace("-", "_") + "." + name
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, os.path.join(folder, name + ".py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


def import_experiment(task_dir, name="train"):
    """Import `<repo>/<task_dir>/<name>.py`, e.g. `import_experiment("experiment-spring")`."""
    return import_sibling(os.path.join(REPO_ROOT, task_dir, "__init__.py"), name)


def _flag(key):
    return "--" + key.replace("_", "-")


def parse_args(task, defaults, argv=None, quick=None):
    """Flags for a train.py: one per entry of `defaults` (its type taken from the default) plus
    the common ones. `--quick` applies the `quick` overrides, a tiny profile for smoke runs.
    Returns the full config as a dict."""
    parser = argparse.ArgumentParser(description=f"Train an HNN or baseline on the {task} task.")
    parser.add_argument("--baseline", action="store_true", help="train the baseline MLP, not the HNN")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch CPU threads (0: torch's default, one per core); use 1 when "
                             "other jobs share the cores")
    parser.add_argument("--save-dir", default=os.path.join(REPO_ROOT, "results", "runs"))
    parser.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    parser.add_argument("--skip-existing", action="store_true",
                        help="do nothing if a run with the same config is already saved")
    parser.add_argument("--quick", action="store_true", help="tiny profile for smoke tests")
    for key, value in defaults.items():
        kind = type(value)
        if kind is bool:
            parser.add_argument(_flag(key), type=lambda s: s.lower() in ("1", "true", "yes"), default=value)
        else:
            parser.add_argument(_flag(key), type=kind, default=value)
    if parser.parse_known_args(argv)[0].quick:
        parser.set_defaults(**(quick or {}))
    config = vars(parser.parse_args(argv))
    config["task"] = task
    if config["threads"]:
        torch.set_num_threads(config["threads"])
    if config["device"].startswith("cuda") and not torch.cuda.is_available():
        parser.error(f"--device {config['device']} was asked for, but torch sees no CUDA device")
    return config


def run_name(config):
    """`{task}-{hnn|baseline}-seed{N}`."""
    kind = "baseline" if config["baseline"] else "hnn"
    return f"{config['task']}-{kind}-seed{config['seed']}"


def run_paths(config):
    """(checkpoint path, metrics path) of a run."""
    stem = os.path.join(config["save_dir"], run_name(config))
    return stem + ".pt", stem + ".json"


def stored_config(config):
    """The part of a config that determines the run's results (no device, paths or verbosity)."""
    return {k: v for k, v in config.items() if k not in RUNTIME_KEYS}


def is_up_to_date(config):
    """True if this exact run (same stored config) already has its checkpoint and metrics."""
    ckpt_path, json_path = run_paths(config)
    if not (os.path.exists(ckpt_path) and os.path.exists(json_path)):
        return False
    try:
        return read_json(json_path).get("config") == stored_config(config)
    except ValueError:
        return False


def to_tensors(arrays, device, dtype=torch.float32):
    return {k: torch.as_tensor(v, dtype=dtype, device=device) for k, v in arrays.items()}


def fit_config(config, model, loss_fn, train, test):
    """`fit` with the run's hyperparameters from `config`; returns the curves."""
    return fit(model, loss_fn, train, test, total_steps=config["total_steps"],
               learn_rate=config["learn_rate"], weight_decay=config["weight_decay"],
               batch_size=config["batch_size"], seed=config["seed"],
               quiet=config["quiet"], desc=run_name(config))


def train_dynamics(config, dataset):
    """Build the paper's model for `config` and fit it to `dataset` by the derivative loss.

    `dataset` holds numpy arrays `x`, `dx` (train) and `test_x`, `test_dx`, each `(N, d)` with
    states ordered `[q..., p...]`. Returns (model, curves, metrics) with the train and test losses.
    """
    seed_everything(config["seed"])
    model = build_model(config["input_dim"], config["hidden_dim"], config["nonlinearity"],
                        config["baseline"]).to(config["device"])
    train = to_tensors({"x": dataset["x"], "dx": dataset["dx"]}, config["device"])
    test = to_tensors({"x": dataset["test_x"], "dx": dataset["test_dx"]}, config["device"])
    curves = fit_config(config, model, derivative_loss, train, test)
    metrics = {
        "train_loss": loss_summary(model, train["x"], train["dx"]),
        "test_loss": loss_summary(model, test["x"], test["dx"]),
    }
    return model, curves, metrics


def save_run(config, model, curves, metrics, started=None):
    """Write `{save_dir}/{run}.pt` and `{run}.json` and print a one-line summary per metric."""
    if started is not None:
        metrics = {**metrics, "wall_time_s": time.time() - started}
    ckpt_path, json_path = run_paths(config)
    save_checkpoint(ckpt_path, model, stored_config(config), curves, metrics)
    write_json(json_path, {**metrics, "config": stored_config(config)})
    if not config["quiet"]:
        print(f"{run_name(config)}  ->  {ckpt_path}")
        for key, value in metrics.items():
            if isinstance(value, dict):
                print(f"  {key:<12} {value['mean']:.4e} ± {value['stderr']:.2e}")
    return ckpt_path, json_path


def load_pair(save_dir, task, seed=0, build=None):
    """The saved baseline and HNN of one task and seed: {"baseline": (model, ckpt), "hnn": ...}."""
    return {kind: load_run(os.path.join(save_dir, f"{task}-{kind}-seed{seed}.pt"), build)
            for kind in ("baseline", "hnn")}


def load_run(path, build=None):
    """Rebuild a saved run: returns (model in eval mode on cpu, checkpoint dict).

    `build(config)` makes the empty model; by default the paper's HNN or baseline MLP."""
    ckpt = load_checkpoint(path)
    config = ckpt["config"]
    if build is None:
        model = build_model(config["input_dim"], config["hidden_dim"], config["nonlinearity"],
                            config["baseline"])
    else:
        model = build(config)
    load_state(model, ckpt["state_dict"], source=f"checkpoint {path}")
    return model.eval(), ckpt
