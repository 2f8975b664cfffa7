import os
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")


@pytest.fixture(autouse=True)
def _cache_in_tmp(tmp_path, monkeypatch):
    """Dataset caches of every test go to its own temporary folder."""
    monkeypatch.setenv("HNN_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="session")
def repo():
    return REPO
