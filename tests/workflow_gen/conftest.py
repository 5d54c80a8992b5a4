"""Workflow-generator test fixtures: every variant in cad_parts/ is planned once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from cell_config import Cell, load_cell

REPO = Path(__file__).resolve().parents[2]
VARIANT_DIRS = sorted(p.parent for p in (REPO / "cad_parts").glob("*/variant.yaml"))


@pytest.fixture(scope="session")
def cell() -> Cell:
    return load_cell()


@pytest.fixture(scope="session")
def planned(tmp_path_factory: pytest.TempPathFactory, cell: Cell) -> dict[str, object]:
    """variant name -> PlanOutcome, planned lazily and cached for the session."""
    return {}


@pytest.fixture(scope="session")
def plan_of(planned: dict[str, object], tmp_path_factory: pytest.TempPathFactory, cell: Cell):
    from workflow_gen.pipeline import plan_variant

    def get(variant_dir: Path):
        if variant_dir.name not in planned:
            out = tmp_path_factory.mktemp("wf") / variant_dir.name
            planned[variant_dir.name] = plan_variant(variant_dir, cell, out)
        return planned[variant_dir.name]

    return get
