import os
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """Dataset caches of every test go to its own temporary folder, and scripts run in a
    subprocess import this checkout's `hnn`, whatever is installed."""
    monkeypatch.setenv("HNN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PYTHONPATH",
                       os.pathsep.join(filter(None, [REPO, os.environ.get("PYTHONPATH")])))


@pytest.fixture(scope="session")
def repo():
    return REPO
