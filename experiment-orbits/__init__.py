"""Gravitational orbits: two bodies (paper Task 4) and three bodies (appendix). `data.py` holds
the physics and the generator, `task.py` declares both tasks, `analysis.py` draws their figures."""
from .task import TASKS

__all__ = ["TASKS"]
