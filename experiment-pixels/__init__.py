"""Pixel pendulum (paper Task 5): `data.py` renders and preprocesses the frames, `losses.py`
holds the pixel model's loss and energy metric, `task.py` declares the task and `analysis.py`
draws its GIFs and figures."""
from .task import TASKS

__all__ = ["TASKS"]
