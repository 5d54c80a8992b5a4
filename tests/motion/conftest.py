"""Shared fixtures of the motion tests: one planner per cell per test session (building one takes ~25 ms,
but tests mutate the world, so mutating tests build their own)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# tests/conftest.py puts tests/ on sys.path, where tests/motion/ would shadow the real ``motion``
# package as a namespace package; the repository root must come first.
if sys.path[:1] != [str(REPO)]:
    sys.path.insert(0, str(REPO))
    for _name in [m for m in sys.modules if m == "motion" or m.startswith("motion.")]:
        if getattr(sys.modules[_name], "__file__", None) is None:
            del sys.modules[_name]

from cell_config import Cell, load_cell  # noqa: E402
from motion import MotionPlanner  # noqa: E402

PANDA = REPO / "cell_config" / "cells" / "panda_cell.yaml"


@pytest.fixture(scope="session")
def ur5e_cell() -> Cell:
    return load_cell()


@pytest.fixture(scope="session")
def panda_cell() -> Cell:
    return load_cell(PANDA)


@pytest.fixture
def ur5e(ur5e_cell: Cell) -> MotionPlanner:
    return MotionPlanner(ur5e_cell, seed=7)


@pytest.fixture
def panda(panda_cell: Cell) -> MotionPlanner:
    return MotionPlanner(panda_cell, seed=7)
