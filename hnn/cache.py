"""Dataset caches: `.npz` files keyed by the settings that made them, written atomically."""
import hashlib
import json
import os
import warnings
import zipfile

import numpy as np

from .checkpoint import atomic_write, digest
from .config import REPO_ROOT

SETTINGS_ENTRY = "settings_json"  # bookkeeping entries stored beside the arrays
KEYS_ENTRY = "keys_json"
DIGEST_ENTRY = "digest"           # `hnn.checkpoint.digest` of the arrays


def cache_dir():
    """`$HNN_CACHE_DIR`, or `<repo>/results/cache`."""
    return os.environ.get("HNN_CACHE_DIR", os.path.join(REPO_ROOT, "results", "cache"))


def settings_key(settings):
    """A short stable hash of a JSON-able settings dict."""
    text = json.dumps(settings, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def file_digest(path):
    """The sha256 of a file's bytes."""
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


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

    The key hashes `settings`; the settings and the names of the arrays are also stored in the
    file and compared on load, so changed settings regenerate the data. A corrupt cache, or one
    whose arrays differ from its record, is regenerated with a warning. If the cache cannot be
    written, a warning names the path and the data is returned from memory."""
    directory = directory or cache_dir()
    path = os.path.join(directory, f"{name}-{settings_key(settings)}.npz")
    stored = json.dumps(settings, sort_keys=True)
    if os.path.exists(path):
        try:
            data = load_npz(path)
            recorded_digest = str(data.pop(DIGEST_ENTRY, ""))
            if str(data.pop(SETTINGS_ENTRY, "")) != stored:
                warnings.warn(f"cache {path} was made with other settings; regenerating")
            elif stale := _keys_problem(data.pop(KEYS_ENTRY, None), data):
                warnings.warn(f"cache {path} is stale or corrupt: {stale}; regenerating")
            elif recorded_digest != digest(data):
                warnings.warn(f"cache {path} is corrupt: its arrays do not match their digest "
                              f"(edited, or written before digests); regenerating")
            elif broken := sorted(k for k, v in data.items()
                                  if v.dtype.kind in "fc" and not np.isfinite(v).all()):
                warnings.warn(f"cache {path} is corrupt: the arrays {broken} are not finite; "
                              f"regenerating")
            else:
                return data
        except ValueError as err:
            warnings.warn(f"{err}; regenerating")
    data = make()
    reserved = sorted({SETTINGS_ENTRY, KEYS_ENTRY, DIGEST_ENTRY} & set(data))
    if reserved:
        raise ValueError(f"the data for cache {path} uses the reserved names {reserved}; "
                         f"expected other array names")
    try:
        save_npz(path, {**data, SETTINGS_ENTRY: np.array(stored),
                        KEYS_ENTRY: np.array(json.dumps(sorted(data))),
                        DIGEST_ENTRY: np.array(digest(data))})
    except OSError as err:
        warnings.warn(f"cannot write cache {path} ({err}); using the data in memory")
        return data
    if not quiet:
        print(f"cached {name} -> {path}")
    return data


def _keys_problem(record, data):
    """Why the arrays in `data` do not match the stored `record` of their names, or None."""
    if record is None:
        return f"it has no record of its arrays ({KEYS_ENTRY})"
    try:
        expected = json.loads(str(record))
    except ValueError:
        return f"its record of arrays ({KEYS_ENTRY}) is not JSON"
    if not (isinstance(expected, list) and all(isinstance(k, str) for k in expected)):
        return f"its record of arrays ({KEYS_ENTRY}) is not a list of names"
    missing, extra = sorted(set(expected) - set(data)), sorted(set(data) - set(expected))
    if missing or extra:
        return f"expected the arrays {sorted(expected)}, missing {missing}, unexpected {extra}"
    return None
