"""Ideal pendulum (paper Task 2): `data.py` holds the physics, `task.py` the task."""
from .task import TASKS

__all__ = ["TASKS"]
