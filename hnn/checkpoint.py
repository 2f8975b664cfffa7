"""Checkpoints and metric files, written atomically and read back safely."""
import json
import os
import pickle
import tempfile
import zipfile

import torch


def atomic_write(path, write):
    """Call `write(tmp_path)` on a temporary file beside `path`, then rename it onto `path`.

    A crash or error leaves the old file (or nothing) in place, never a half-written one."""
    path = os.fspath(path)
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def write_json(path, obj):
    """Write `obj` as indented JSON, atomically."""
    def write(tmp):
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=2, sort_keys=True)
            f.write("\n")
    atomic_write(path, write)


def read_json(path):
    with open(path) as f:
        return json.load(f)


def save_checkpoint(path, model, config, curves, metrics):
    """One `.pt` per run: the state_dict, the full config, the loss curves and the metrics."""
    payload = {
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "config": dict(config),
        "curves": dict(curves),
        "metrics": dict(metrics),
    }
    atomic_write(path, lambda tmp: torch.save(payload, tmp))


def load_checkpoint(path):
    """Load a checkpoint written by `save_checkpoint` (weights_only=True: tensors and plain data)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError, zipfile.BadZipFile) as err:
        raise ValueError(f"checkpoint {path} is corrupt or not a torch checkpoint: {err}") from err
    missing = {"state_dict", "config", "curves", "metrics"} - set(ckpt)
    if missing:
        raise ValueError(f"checkpoint {path} lacks the keys {sorted(missing)}")
    return ckpt


def load_state(model, state_dict, source="checkpoint"):
    """Load `state_dict` into `model`, naming every missing, unexpected or wrong-shaped tensor."""
    expected = model.state_dict()
    problems = []
    for key in sorted(set(expected) | set(state_dict)):
        if key not in state_dict:
            problems.append(f"missing {key} (expected shape {tuple(expected[key].shape)})")
        elif key not in expected:
            problems.append(f"unexpected {key} (shape {tuple(state_dict[key].shape)})")
        elif expected[key].shape != state_dict[key].shape:
            problems.append(f"{key} has shape {tuple(state_dict[key].shape)}, "
                            f"the model expects {tuple(expected[key].shape)}")
    if problems:
        raise ValueError(f"{source} does not fit this model: " + "; ".join(problems))
    model.load_state_dict(state_dict)
    return model


def write_text(path, text):
    """Write a text file atomically."""
    def write(tmp):
        with open(tmp, "w") as f:
            f.write(text)
    atomic_write(path, write)
