"""Operator tasks in the simulation: the part is put at its target as a worker would, later tasks find it there."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import yaml
from operator_cases import plate_left_to_the_operator

from sim.cell_sim import CellSim
from sim.validate import validate_workflow
from sim.validation_run import validate_to_dir
from workflow_gen.pipeline import plan_variant

REPO = Path(__file__).resolve().parents[2]
KIT = REPO / "cad_parts" / "oversize_kit"


def test_oversize_kit_validates_with_the_operator_placing_big_block(tmp_path: Path) -> None:
    out = tmp_path / "oversize_kit"
    o = plan_variant(KIT, None, out, write_report=False)
    result, report, json_path = validate_to_dir(out / "workflow.yaml", out)
    assert result.passed, [t.failures for t in result.tasks]
    assert result.tasks_total == 2 and result.tasks_passed == 2
    assert result.operator_tasks == 1 and result.operator_tasks_passed == 1
    op = [t for t in result.tasks if t.actor == "operator"]
    assert [t.part for t in op] == ["big_block"] and op[0].placement_error_mm <= 2.0
    assert op[0].placement_error_deg <= 2.0 and op[0].collisions == []
    assert json.loads(json_path.read_text())["operator_tasks"] == 1
    assert (out / "storyboard.png").is_file() and str(out / "storyboard.png") in report["pictures"]
    # The simulated cycle includes the operator's time.
    assert result.cycle_time_s >= o.workflow.cycle_time_s * 0.9


def test_robot_builds_on_a_part_the_operator_placed(tmp_path: Path) -> None:
    # A gripper that opens 50 mm cannot take the 60 mm wide plate: the worker lays it, the robot builds on it.
    d, cell50 = plate_left_to_the_operator(tmp_path)
    o = plan_variant(d, cell50, tmp_path / "wf", write_report=False)
    assert o.workflow.tasks[0].actor == "operator" and o.workflow.tasks[0].part == "plate"
    result = validate_workflow(tmp_path / "wf" / "workflow.yaml")
    failed = {t.task: t.failures for t in result.tasks if not t.passed}
    assert not failed, failed
    assert result.operator_tasks_passed == 1 and result.tasks_passed == result.tasks_total == 4


def test_an_operator_placement_that_does_not_rest_at_its_target_fails(tmp_path: Path) -> None:
    out = tmp_path / "oversize_kit"
    plan_variant(KIT, None, out, write_report=False)
    wf_yaml = out / "workflow.yaml"
    raw = yaml.safe_load(wf_yaml.read_text())
    op = next(t for t in raw["tasks"] if t["actor"] == "operator")
    # A target 30 mm above the tray: the block falls 30 mm and does not rest where the task says.
    x, y, z = op["T_world_part_place"]["xyz_m"]
    op["T_world_part_place"]["xyz_m"] = [x, y, z + 0.03]
    wf_yaml.write_text(yaml.safe_dump(raw, sort_keys=False))
    result = validate_workflow(wf_yaml)
    bad = next(t for t in result.tasks if t.actor == "operator")
    assert not bad.passed and not result.passed
    assert bad.placement_error_mm > 25.0 and "placed by the operator" in bad.failures[0]
    assert result.tasks_passed == result.tasks_total  # the robot's own tasks are judged on their own


def test_place_part_wakes_a_sleeping_part(tmp_path: Path) -> None:
    out = tmp_path / "oversize_kit"
    o = plan_variant(KIT, None, out, write_report=False)
    sim = CellSim.from_workflow(out / "workflow.yaml")
    sim.reset(np.asarray(o.workflow.home_q))
    sim.step(1500)  # 3 s: the parts in the feeder fall asleep
    tree = int(sim.model.body_treeid[sim.cm.part_bodies["big_block"]])
    assert sim.data.tree_asleep[tree] >= 0, "the block should be asleep in the feeder"
    T = o.workflow.part("big_block").T_world_target.matrix()
    T_high = T.copy()
    T_high[2, 3] += 0.05
    sim.place_part("big_block", T_high)
    sim.step(500)
    z = sim.part_poses()["big_block"][2, 3]
    assert abs(z - T[2, 3]) < 0.002, f"the block did not fall onto the tray: {z:.4f} vs {T[2, 3]:.4f}"
