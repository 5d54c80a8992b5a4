"""Fixtures of the simulation tests: the default cell and a scripted one-box pick-and-place workflow."""

from __future__ import annotations

from pathlib import Path

import pytest

from cell_config import Cell, load_cell
from sim.scripted_workflow import build_pick_place


@pytest.fixture(scope="session")
def cell() -> Cell:
    return load_cell()


@pytest.fixture(scope="session")
def scripted_workflow(tmp_path_factory: pytest.TempPathFactory, cell: Cell) -> Path:
    """A box (40 x 30 x 50 mm, 72 g) from feeder slot A1 onto the fixture, planned without the planner."""
    return build_pick_place(cell, tmp_path_factory.mktemp("scripted") / "wf")
