"""The double pendulum, the standard chaotic benchmark: `task.py` holds the physics and the task."""
from .task import TASKS

__all__ = ["TASKS"]
