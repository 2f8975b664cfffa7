"""Dataset caches: `.npz` files keyed by the settings that made them, written atomically."""
import hashlib
import json
import os
import warnings
import zipfile

import numpy as np

from .checkpoint import atomic_write
from .config import REPO_ROOT



def cache_dir():
    """`$HNN_CACHE_DIR`, or `<repo>/results/cache`."""
    return os.environ.get("HNN_CACHE_DIR", os.path.join(REPO_ROOT, "results", "cache"))


def settings_key(settings):
    """A short stable hash of a JSON-able settings dict."""
    text = json.dumps(settings, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def save_npz(path, arrays):
    """Write a dict of arrays to `path` (.npz, no pickle), atomically."""
    def write(tmp):
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
    atomic_write(path, write)


def load_npz(path):
    """Read a `.npz` written by `save_npz` into a dict; a missing or corrupt file raises ValueError
    naming the path."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except FileNotFoundError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(f"data file {path} is corrupt or not an .npz file: {err}") from err


def cached(name, settings, make, directory=None, quiet=False):
    """Return `make()` (a dict of numpy arrays), cached as `<directory>/<name>-<key>.npz`.

    The key hashes `settings`, which are also stored in the file and compared on load, so changed
    settings regenerate the data. A corrupt cache is regenerated with a warning."""
    directory = directory or cache_dir()
    path = os.path.join(directory, f"{name}-{settings_key(settings)}.npz")
    stored = json.dumps(settings, sort_keys=True)
    if os.path.exists(path):
        try:
            data = load_npz(path)
            if str(data.pop("settings_json", "")) == stored:
                return data
            warnings.warn(f"cache {path} was made with other settings; regenerating")
        except ValueError as err:
            warnings.warn(f"{err}; regenerating")
    data = make()
    save_npz(path, {**data, "settings_json": np.array(stored)})
    if not quiet:
        print(f"cached {name} -> {path}")
    return data
