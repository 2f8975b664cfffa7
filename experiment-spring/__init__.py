"""Ideal mass-spring (paper Task 1): `data.py` holds the physics, `task.py` the task."""
from .task import TASKS

__all__ = ["TASKS"]
