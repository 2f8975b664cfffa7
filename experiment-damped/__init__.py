"""Damped mass-spring (an extension: friction, for the dissipative HNN): `data.py` holds the
physics, `task.py` the task, `analysis.py` the field-split figure, `identifiability.py` the
study `friction-identifiability`."""
from . import identifiability
from .task import TASKS

STUDIES = [identifiability.STUDY]
__all__ = ["TASKS", "STUDIES"]
