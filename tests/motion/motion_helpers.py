"""Helpers shared by the motion tests (a uniquely named module: ``conftest`` names clash across areas)."""

from __future__ import annotations

import numpy as np

from motion import MotionPlanner


def random_valid(p: MotionPlanner, rng: np.random.Generator) -> np.ndarray:
    """A random configuration valid in the padded world."""
    for _ in range(10000):
        q = p.robot.random_q(rng)
        if p.is_valid(q):
            return q
    raise RuntimeError("no valid configuration found")
