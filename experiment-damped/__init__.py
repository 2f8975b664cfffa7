"""Damped mass-spring (an extension: friction, for the dissipative HNN): `data.py` holds the
physics, `task.py` the task, `analysis.py` the field-split figure."""
from .task import TASKS

__all__ = ["TASKS"]
