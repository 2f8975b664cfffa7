"""Real pendulum, Schmidt & Lipson's recording (paper Task 3): `data.py` loads the shipped
file, `task.py` declares the task, `analysis.py` draws its figure."""
from .task import TASKS

__all__ = ["TASKS"]
