"""Damped mass-spring (an extension: friction, for the dissipative HNN): `data.py` holds the
physics, `task.py` the task, `analysis.py` the field-split figure, `identifiability.py` the
study `friction-identifiability`, `horizon.py` the study `iso-horizon`."""
from . import horizon, identifiability
from .task import TASKS

STUDIES = [identifiability.STUDY, horizon.STUDY]
__all__ = ["TASKS", "STUDIES"]
