"""Parts the robot cannot handle become operator tasks: instructions, place in the sequence, cycle time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from operator_cases import plate_left_to_the_operator

from workflow_gen.model import Workflow, load_workflow
from workflow_gen.operator_tasks import OPERATOR_TASK_S
from workflow_gen.pipeline import plan_variant

REPO = Path(__file__).resolve().parents[2]
KIT = REPO / "cad_parts" / "oversize_kit"


def test_oversize_kit_has_one_operator_task_for_big_block(plan_of) -> None:
    o = plan_of(KIT)
    wf = o.workflow
    ops = [t for t in wf.tasks if t.actor == "operator"]
    assert [t.part for t in ops] == ["big_block"]
    t = ops[0]
    big = wf.part("big_block")
    assert t.source == big.source and t.source.startswith("feeder/")
    assert t.target == big.target == "kit_tray/A2"
    assert t.steps == [] and t.grasp is None
    assert t.duration_s == OPERATOR_TASK_S
    assert t.T_world_part_place == big.T_world_target and t.T_world_part_pick == big.T_world_start
    text = "\n".join(t.instructions)
    for needle in ("big_block", t.source, "kit_tray/A2", "150 x 120 x 95 mm", "85 mm stroke", "yaw"):
        assert needle in text, (needle, t.instructions)
    # Kits: the operator comes last, after the robot has gone home, and the cycle time counts the operator.
    assert wf.tasks[-1] is t
    robot = [r for r in wf.tasks if r.actor == "robot"]
    assert robot[-1].steps[-1].name == "return_home"
    assert "waits at home" in t.instructions[0]
    assert wf.cycle_time_s == pytest.approx(sum(r.duration_s for r in robot) + OPERATOR_TASK_S, abs=1e-3)
    # The block lies in the feeder away from the robot's parts and does not touch them.
    start = big.T_world_start.matrix()[:3, 3]
    for p in wf.parts:
        if p.name != "big_block":
            assert np.linalg.norm(p.T_world_start.matrix()[:2, 3] - start[:2]) > 0.12, p.name
    assert (o.out_dir / t.pictures[0]).is_file()
    report = (o.out_dir / "report.md").read_text()
    assert "## Operator tasks" in report and t.instructions[1] in report


def test_operator_task_round_trips_through_the_yaml(plan_of) -> None:
    o = plan_of(KIT)
    raw = yaml.safe_load((o.out_dir / "workflow.yaml").read_text())
    op = next(t for t in raw["tasks"] if t["actor"] == "operator")
    assert op["steps"] == [] and op["grasp"] is None and len(op["instructions"]) >= 5
    wf, _ = load_workflow(o.out_dir)
    assert wf == o.workflow == Workflow.model_validate(raw)


def test_assembly_operator_task_comes_where_the_part_belongs(tmp_path: Path) -> None:
    d, cell50 = plate_left_to_the_operator(tmp_path)
    o = plan_variant(d, cell50)
    wf = o.workflow
    assert list(o.infeasible) == ["plate"] and "50 mm stroke" in o.infeasible["plate"]
    order = [(t.part, t.actor) for t in wf.tasks]
    assert order[0] == ("plate", "operator"), order
    assert sorted(p for p, a in order[1:]) == ["bracket_1", "bracket_2", "pin_1", "pin_2"]
    assert all(a == "robot" for _, a in order[1:])
    plate = wf.tasks[0]
    text = "\n".join(plate.instructions)
    assert "onto the fixture at its place in the assembly" in text
    assert "100 x 60 x 15 mm" in text and "50 mm stroke" in text
    # The robot starts its first task from home, with the plate in place: the brackets rest on it.
    first = o.trajectories[wf.tasks[1].steps[1].trajectory or ""]
    assert np.max(np.abs(first.q[0] - np.asarray(wf.home_q))) < 1e-6
    assert {p.supports for p in o.parts if p.name.startswith("bracket")} == {("plate",)}
