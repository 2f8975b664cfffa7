"""Pixel pendulum (paper Task 5): `data.py` renders and preprocesses the frames, `losses.py`
holds the pixel model's loss and energy metric, `task.py` declares the task and `analysis.py`
draws its GIFs and figures, `factors.py` the study `pixel-factors`, `coordinates.py` the study
`pixel-coordinates`."""
from . import coordinates, factors
from .task import TASKS

STUDIES = [factors.STUDY, coordinates.STUDY]
__all__ = ["TASKS", "STUDIES"]
