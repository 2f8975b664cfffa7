"""Real pendulum, Schmidt & Lipson's recording (paper Task 3): `data.py` loads the shipped
file, `task.py` declares the task, `analysis.py` draws its figure, `horizon.py` holds the study
`lipson-horizon`."""
from . import horizon
from .task import TASKS

STUDIES = [horizon.STUDY]
__all__ = ["TASKS", "STUDIES"]
