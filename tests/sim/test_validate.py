"""Validation: a good workflow passes with numbers inside the limits, is deterministic, faults are caught."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sim.model_builder import SimFault
from sim.validate import ValidationResult, validate_workflow


@pytest.fixture(scope="module")
def clean(scripted_workflow: Path) -> ValidationResult:
    return validate_workflow(scripted_workflow)


def test_scripted_pick_place_passes(clean: ValidationResult) -> None:
    assert clean.tasks_total == 1 and clean.passed, clean.tasks[0].failures
    t = clean.tasks[0]
    assert t.placement_error_mm < 2.0
    assert t.placement_error_deg < 2.0
    assert t.max_slip_mm < 5.0
    assert t.lift_mm > 70.0  # lifted by the 80 mm retreat distance, less the grasp settling
    assert t.collisions == []
    assert 5.0 < clean.cycle_time_s < 20.0


def test_deterministic_bit_for_bit(scripted_workflow: Path, clean: ValidationResult) -> None:
    again = validate_workflow(scripted_workflow)
    assert again.compare_key() == clean.compare_key()
    assert len(clean.final_state_sha256) == 64
    # And in a fresh process (a different memory layout, a fresh MuJoCo): the same final state bytes.
    code = (
        "import sys; from sim.validate import validate_workflow; "
        "print(validate_workflow(sys.argv[1]).final_state_sha256)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(scripted_workflow)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert out.stdout.strip().splitlines()[-1] == clean.final_state_sha256


def test_low_friction_drops_the_part(scripted_workflow: Path) -> None:
    r = validate_workflow(scripted_workflow, fault="low_friction")
    t = r.tasks[0]
    assert not r.passed
    assert t.max_slip_mm > 5.0
    assert any("slipped" in f for f in t.failures)


def test_part_offset_in_feeder_misplaces(scripted_workflow: Path) -> None:
    r = validate_workflow(scripted_workflow, fault=SimFault("part_offset", offset_m=0.015))
    t = r.tasks[0]
    assert not r.passed
    assert t.placement_error_mm == pytest.approx(15.0, abs=3.0)
    assert any("off target" in f for f in t.failures)


def test_obstacle_in_path_is_a_collision(scripted_workflow: Path) -> None:
    r = validate_workflow(scripted_workflow, fault="obstacle")
    t = r.tasks[0]
    assert not r.passed
    assert any("fault_obstacle" in c for c in t.collisions)


def test_unknown_fault_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        SimFault("gremlins")
