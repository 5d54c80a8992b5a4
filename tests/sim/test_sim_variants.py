"""Every variant in cad_parts/ is planned with the real planner and proven in MuJoCo physics.

Adding a directory with a variant.yaml adds a test case (collected at start-up). Each case: plan, replay
in simulation, every robot task passes (lifted, carried without > 5 mm slip, placed within 2 mm / 2 deg,
no unexpected contact), and the parts found infeasible are exactly the variant's ``expect_infeasible``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.validate import validate_workflow
from workflow_gen.pipeline import plan_variant

REPO = Path(__file__).resolve().parents[2]
VARIANTS = sorted(p.parent for p in (REPO / "cad_parts").glob("*/variant.yaml"))


def test_there_are_variants() -> None:
    assert len(VARIANTS) >= 1, "no cad_parts/*/variant.yaml found"


@pytest.mark.parametrize("variant_dir", VARIANTS, ids=[v.name for v in VARIANTS])
def test_variant_plans_and_validates(variant_dir: Path, tmp_path: Path) -> None:
    outcome = plan_variant(variant_dir, None, tmp_path / variant_dir.name, write_report=False)
    infeasible = sorted(i.part for i in outcome.workflow.infeasible)
    assert infeasible == sorted(outcome.expected_infeasible), [i.reason for i in outcome.workflow.infeasible]
    result = validate_workflow(tmp_path / variant_dir.name / "workflow.yaml")
    robot_tasks = [t for t in outcome.workflow.tasks if t.actor == "robot"]
    assert result.tasks_total == len(robot_tasks) > 0
    failed = {t.task: t.failures for t in result.tasks if not t.passed}
    assert not failed, failed
    for t in result.tasks:
        assert t.placement_error_mm <= t.tolerance_mm and t.placement_error_deg <= t.tolerance_deg
        assert t.max_slip_mm <= 5.0
        assert t.collisions == []
    assert result.cycle_time_s >= outcome.workflow.cycle_time_s * 0.9
