"""Checkpoints, dataset caches and atomic writes: nothing stale is trusted, bad input fails
early."""
import json
import os
import re
import time

import numpy as np
import pytest
import torch

from hnn.cache import cached, load_npz, settings_key
from hnn.checkpoint import load_checkpoint, write_json

SETTINGS = {"seed": 0, "trials": 3}


def make_data():
    return {"x": np.arange(6, dtype=np.float32).reshape(3, 2),
            "y": np.array([1, 2, 3], dtype=np.int16)}


def assert_same(got, want):
    assert sorted(got) == sorted(want)
    for key in want:
        assert got[key].dtype == want[key].dtype
        np.testing.assert_array_equal(got[key], want[key])


def test_load_checkpoint_rejects_payloads_that_are_not_checkpoints(tmp_path):
    good = {"state_dict": {"w": torch.ones(2)}, "config": {}, "curves": {}, "metrics": {}}
    cases = [
        (5, "the payload has type int, expected a dict with the keys"),
        (None, "the payload has type NoneType, expected a dict"),
        ([1, 2], "the payload has type list, expected a dict"),
        ({**good, "state_dict": [torch.ones(2)]}, "state_dict has type list, expected a dict"),
        ({**good, "state_dict": {"w": 1.0}}, r"state_dict entries \['w'\] are not named tensors, "
                                             r"expected a dict of str to torch.Tensor"),
        ({**good, "config": ["hidden_dim"]}, "config has type list, expected a dict"),
        ({**good, "metrics": None}, "metrics has type NoneType, expected a dict"),
    ]
    for i, (payload, expected) in enumerate(cases):
        path = tmp_path / f"bad{i}.pt"
        torch.save(payload, path)
        with pytest.raises(ValueError, match=re.escape(f"checkpoint {path}: ") + expected):
            load_checkpoint(path)
    torch.save(good, tmp_path / "good.pt")
    assert torch.equal(load_checkpoint(tmp_path / "good.pt")["state_dict"]["w"], torch.ones(2))


def test_cache_lacking_an_array_is_regenerated(tmp_path):
    calls = []

    def make():
        calls.append(1)
        return make_data()
    first = cached("demo", SETTINGS, make, directory=tmp_path, quiet=True)
    again = cached("demo", SETTINGS, make, directory=tmp_path, quiet=True)   # valid: loaded as is
    assert_same(first, make_data())
    assert_same(again, make_data())
    assert len(calls) == 1

    path = tmp_path / f"demo-{settings_key(SETTINGS)}.npz"
    stored = np.array(json.dumps(SETTINGS, sort_keys=True))
    np.savez(path, x=make_data()["x"], settings_json=stored, keys_json=np.array('["x", "y"]'))
    with pytest.warns(UserWarning,
                      match=re.escape(f"cache {path} is stale or corrupt: expected the "
                                      "arrays ['x', 'y'], missing ['y']")):
        repaired = cached("demo", SETTINGS, make, directory=tmp_path, quiet=True)
    assert_same(repaired, make_data())
    assert len(calls) == 2

    # no record of the arrays
    np.savez(path, **make_data(), settings_json=stored)
    with pytest.warns(UserWarning,
                      match=re.escape(f"cache {path} is stale or corrupt: it has no "
                                      "record of its arrays (keys_json)")):
        assert_same(cached("demo", SETTINGS, make, directory=tmp_path, quiet=True), make_data())
    assert_same(cached("demo", SETTINGS, make, directory=tmp_path, quiet=True), make_data())
    assert len(calls) == 3

    with pytest.raises(ValueError, match=r"demo2-\w+\.npz uses the reserved names \['keys_json'\]; "
                                         "expected other array names"):
        cached("demo2", SETTINGS, lambda: {"keys_json": np.zeros(1)}, directory=tmp_path,
               quiet=True)


def test_unwritable_cache_returns_the_data_in_memory(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    name = f"demo-{settings_key(SETTINGS)}.npz"
    for directory in (blocker / "cache", blocker):          # the folder's parent, the folder a file
        path = os.path.join(directory, name)
        with pytest.warns(UserWarning, match=re.escape(f"cannot write cache {path} ([Errno ")
                          + r"\d+\].*\); using the data in memory"):
            assert_same(cached("demo", SETTINGS, make_data, directory=directory, quiet=True),
                        make_data())

    folder = tmp_path / "cache"
    (folder / name).mkdir(parents=True)                      # the cache path itself is a folder
    monkeypatch.setenv("HNN_CACHE_DIR", str(folder))
    path = re.escape(str(folder / name))
    with pytest.warns(UserWarning) as record:
        assert_same(cached("demo", SETTINGS, make_data, quiet=True), make_data())
    messages = [str(w.message) for w in record]
    assert any(re.match(f"data file {path} is corrupt or not an .npz file", m) for m in messages)
    assert any(re.match(rf"cannot write cache {path} \(\[Errno \d+\]", m) for m in messages)


def test_atomic_write_sweeps_stale_temp_files_of_the_same_target(tmp_path):
    target = tmp_path / "run.json"
    old = time.time() - 3600
    stale = tmp_path / ".run.json.k3x9_q2a.tmp"             # left by a writer killed an hour ago
    fresh = tmp_path / ".run.json.a1b2c3d4.tmp"             # a concurrent writer's, in progress
    neighbour = tmp_path / ".run.json.bak.k3x9_q2a.tmp"     # an old temp file of run.json.bak
    other = tmp_path / ".other.json.k3x9_q2a.tmp"
    for tmp in (stale, fresh, neighbour, other):
        tmp.write_text("partial")
    for tmp in (stale, neighbour, other):
        os.utime(tmp, (old, old))
    write_json(target, {"a": 1})
    assert json.loads(target.read_text()) == {"a": 1}
    assert not stale.exists()
    assert fresh.exists() and neighbour.exists() and other.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        p.name for p in (target, fresh, neighbour, other))


def test_load_npz_on_a_folder_names_the_path(tmp_path):
    folder = tmp_path / "data.npz"
    folder.mkdir()
    with pytest.raises(ValueError,
                       match=re.escape(f"data file {folder} is corrupt or not an .npz file")):
        load_npz(folder)
    with pytest.raises(FileNotFoundError):
        load_npz(tmp_path / "missing.npz")
