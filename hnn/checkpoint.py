"""Checkpoints and metric files, written atomically and read back safely."""
import contextlib
import fcntl
import hashlib
import json
import os
import pickle
import tempfile
import time
import zipfile

import numpy as np
import torch

STALE_TMP_SECONDS = 600  # a temp file this old belongs to a writer that was killed
CHECKPOINT_KEYS = ("state_dict", "config", "curves", "metrics")


def sweep_stale_temps(directory, prefix, suffix=".tmp"):
    """Remove `<prefix><random><suffix>` files in `directory` older than STALE_TMP_SECONDS,
    ignoring every error (another process may sweep or write at the same time)."""
    cutoff = time.time() - STALE_TMP_SECONDS
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return
    for entry in entries:
        name = entry.name
        if not (name.startswith(prefix) and name.endswith(suffix)):
            continue
        # the random part has no dot: `.a.npz.x.XXXX.tmp` belongs to `a.npz.x`, not `a.npz`
        middle = name[len(prefix):len(name) - len(suffix)]
        if not middle or "." in middle:
            continue
        try:
            old = entry.stat(follow_symlinks=False).st_mtime < cutoff
            if old and entry.is_file(follow_symlinks=False):
                os.remove(entry.path)
        except OSError:
            pass


def digest(arrays):
    """A sha256 of named arrays or tensors (`{name: array}`): names, dtypes, shapes and bytes, so
    that any change to a saved number shows."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        value = arrays[name]
        tensor = isinstance(value, torch.Tensor)
        array = value.detach().cpu().numpy() if tensor else np.asarray(value)
        h.update(f"{name}|{array.dtype.str}|{array.shape}|".encode())
        h.update(np.ascontiguousarray(array).tobytes())
    return h.hexdigest()


def atomic_write(path, write):
    """Call `write(tmp_path)` on a temporary file beside `path`, then rename it onto `path`.

    A crash or error leaves the old file (or nothing) in place, never a half-written one; an
    OSError (a full disk: errno 28) is raised again with `path` in its message. Temp files of
    `path` left by a killed writer are removed once older than STALE_TMP_SECONDS."""
    path = os.fspath(path)
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    prefix = "." + os.path.basename(path) + "."
    sweep_stale_temps(directory, prefix)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=prefix, suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException as err:
        if os.path.exists(tmp):
            os.remove(tmp)
        if isinstance(err, OSError) and path not in str(err):
            raise OSError(err.errno, f"cannot write {path}: {err.strerror or err}") from err
        raise


def write_json(path, obj, allow_nan=False):
    """Write `obj` as indented JSON, atomically. NaN and infinities are refused (strict JSON)
    unless `allow_nan`, which writes them as JavaScript's `NaN` and `Infinity`."""
    def write(tmp):
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=2, sort_keys=True, allow_nan=allow_nan)
            f.write("\n")
    atomic_write(path, write)


@contextlib.contextmanager
def locked(path):
    """Hold an exclusive lock on the file `path` (made if missing) while the block runs, so that
    processes sharing a folder take turns (POSIX `flock`)."""
    os.makedirs(os.path.dirname(os.fspath(path)) or ".", exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


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
    try:
        atomic_write(path, lambda tmp: torch.save(payload, tmp))
    except RuntimeError as err:     # a full disk surfaces as torch's "enforce fail"
        raise OSError(f"cannot write checkpoint {path}: {err}") from err


def load_checkpoint(path):
    """Load a checkpoint written by `save_checkpoint` (weights_only=True: tensors and plain data).

    A missing file raises FileNotFoundError; a corrupt file, or one whose payload is not the dict
    `save_checkpoint` writes, raises ValueError naming the path."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError, zipfile.BadZipFile) as err:
        raise ValueError(f"checkpoint {path} is corrupt or not a torch checkpoint: {err}") from err
    if not isinstance(ckpt, dict):
        raise ValueError(f"checkpoint {path}: the payload has type {type(ckpt).__name__}, "
                         f"expected a dict with the keys {list(CHECKPOINT_KEYS)}")
    missing = set(CHECKPOINT_KEYS) - set(ckpt)
    if missing:
        raise ValueError(f"checkpoint {path} lacks the keys {sorted(missing)}")
    for key in CHECKPOINT_KEYS:
        if not isinstance(ckpt[key], dict):
            raise ValueError(f"checkpoint {path}: {key} has type {type(ckpt[key]).__name__}, "
                             f"expected a dict")
    bad = sorted(str(k) for k, v in ckpt["state_dict"].items()
                 if not (isinstance(k, str) and isinstance(v, torch.Tensor)))
    if bad:
        raise ValueError(f"checkpoint {path}: state_dict entries {bad} are not named tensors, "
                         f"expected a dict of str to torch.Tensor")
    broken = sorted(k for k, v in ckpt["state_dict"].items()
                    if v.is_floating_point() and not torch.isfinite(v).all())
    if broken:
        raise ValueError(f"checkpoint {path}: the weights {broken} are not finite")
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
