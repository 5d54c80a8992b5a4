"""The regrasp with the real planner: cad_parts/regrasp_block's fin is placed only by putting it down once.

The fin lies flat in the feeder and stands upright in the holder's slot; no grasp works at both ends, so
the plan lays it on its long edge on a free patch of a station and takes it again across its thickness.
The plan is checked (task kind, two takes, the put-down resting on its surface in another stable pose)
and proven in MuJoCo. :func:`~workflow_gen.layout.regrasp_spot` is checked on its own against the cell.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import trimesh

from cell_config import Cell
from sim.validate import validate_workflow
from workflow_gen.grasps import GripperGeometry
from workflow_gen.layout import regrasp_spot
from workflow_gen.part_tasks import make_leg
from workflow_gen.resting import REST_GAP_M
from workflow_gen.stages.context import RobotTask

REPO = Path(__file__).resolve().parents[2]
VARIANT = REPO / "cad_parts" / "regrasp_block"


@pytest.fixture(scope="module")
def outcome(plan_of):
    return plan_of(VARIANT)


def _part(outcome, name: str):
    return next(p for p in outcome.parts if p.name == name)


def _down_in_part(T_world_part: np.ndarray) -> np.ndarray:
    """The world's down direction in the part frame (which side of the part it rests on)."""
    return T_world_part[:3, :3].T @ np.array([0.0, 0.0, -1.0])


def test_no_single_grasp_works_at_both_ends(outcome, cell: Cell) -> None:
    fin, holder = _part(outcome, "fin"), _part(outcome, "holder")
    assert fin.ctx.grasps is not None and len(fin.ctx.grasps) > 0
    # Flat in the feeder (not in its upright target orientation, which is no stable rest of its own).
    down_feed = _down_in_part(fin.ctx.T_world_start)
    assert abs(down_feed[0]) > 0.99, down_feed  # lies on a flat face (its thickness along part x)
    assert _down_in_part(fin.ctx.T_world_target) @ np.array([0.0, 0.0, -1.0]) > 0.99  # stands on its tongue
    built = holder.geom.mesh.copy()
    built.apply_transform(holder.ctx.T_world_target)
    gripper = GripperGeometry.from_spec(cell.spec.gripper)
    direct = make_leg(fin.ctx, fin.ctx.grasps, gripper, cell, [built])
    assert len(direct.grasps) == 0 and direct.no_grasp is not None


def test_the_fin_is_a_regrasp_with_two_takes(outcome) -> None:
    tasks = {t.part: t for t in outcome.workflow.tasks}
    assert tasks["holder"].kind == "pick_place"
    t = tasks["fin"]
    assert t.actor == "robot" and t.kind == "regrasp"
    assert [s.attach for s in t.steps if s.attach] == ["fin", "fin"]
    assert [s.detach for s in t.steps if s.detach] == ["fin", "fin"]
    names = [s.name for s in t.steps]
    assert names.index("release") < names.index("approach_2") < names.index("insert_2")
    assert t.T_world_part_place is not None
    assert np.allclose(t.T_world_part_place.matrix(), _part(outcome, "fin").ctx.T_world_target, atol=1e-6)


def test_the_put_down_rests_on_its_surface_in_another_stable_pose(outcome, cell: Cell) -> None:
    fin = _part(outcome, "fin")
    assert isinstance(fin.outcome, RobotTask) and len(fin.outcome.legs) == 2
    first, second = fin.outcome.legs
    T_mid = first.T_world_to
    assert np.allclose(second.T_world_from, T_mid)
    # It lies on the top of the station (or the table) the first leg names, within the rest gap.
    names = {s.name for s in cell.spec.stations}
    z_surface = float(cell.T_world_station(first.to_station)[2, 3]) if first.to_station in names else 0.0
    hull = trimesh.transform_points(fin.geom.mesh.convex_hull.vertices, T_mid)
    assert hull[:, 2].min() == pytest.approx(z_surface + REST_GAP_M, abs=1e-6)
    # Its centre of mass is over the face it rests on, and that face is neither the feeder's nor the target's.
    com = trimesh.transform_points(fin.geom.mesh.center_mass[None], T_mid)[0]
    low = hull[hull[:, 2] < hull[:, 2].min() + 1e-4]
    lo, hi = low[:, :2].min(axis=0), low[:, :2].max(axis=0)
    assert np.all(com[:2] > lo) and np.all(com[:2] < hi)
    down = _down_in_part(T_mid)
    assert abs(down[1]) > 0.99, down  # on its long edge (width along part y)
    assert abs(down @ _down_in_part(fin.ctx.T_world_start)) < 0.01
    assert abs(down @ _down_in_part(fin.ctx.T_world_target)) < 0.01
    # Clear of the holder placed meanwhile, and of the feeder's edges.
    assert np.linalg.norm(T_mid[:2, 3] - fin.ctx.T_world_target[:2, 3]) > 0.1


def test_regrasp_passes_in_physics(outcome) -> None:
    result = validate_workflow(outcome.out_dir / "workflow.yaml")
    assert result.passed, [(t.task, t.failures) for t in result.tasks if not t.passed]
    fin = next(t for t in result.tasks if t.part == "fin")
    assert fin.placement_error_mm <= fin.tolerance_mm and fin.placement_error_deg <= fin.tolerance_deg
    assert fin.max_slip_mm <= 5.0 and fin.collisions == []


def test_regrasp_spot_prefers_a_free_station_top(cell: Cell) -> None:
    feeder = cell.T_world_station("feeder")
    near = feeder[:2, 3] + np.array([0.05, -0.05])
    T, surface = regrasp_spot(cell, near, 0.04)
    assert surface == "feeder" and T[2, 3] == pytest.approx(feeder[2, 3])
    size = np.asarray(next(s for s in cell.spec.stations if s.name == "feeder").size_m[:2])
    assert np.all(np.abs(T[:2, 3] - feeder[:2, 3]) <= size / 2 - 0.04 + 1e-9)  # wholly on the top
    # A part lying there pushes the spot away by the part's radius, its own and half the palm.
    T2, _ = regrasp_spot(cell, near, 0.04, ((T[:2, 3], 0.03),))
    palm_half = max(cell.spec.gripper.palm_size_m[:2]) / 2
    assert np.linalg.norm(T2[:2, 3] - T[:2, 3]) >= 0.04 + 0.03 + palm_half - 1e-9
    # Deterministic.
    again, _ = regrasp_spot(cell, near, 0.04, ((T[:2, 3], 0.03),))
    assert np.array_equal(T2, again)


def test_regrasp_spot_falls_back_to_the_table(cell: Cell) -> None:
    # Every station's top taken (something lies over the whole of it): the table it is.
    full = tuple(
        (cell.T_world_station(s.name)[:2, 3], float(np.linalg.norm(s.size_m[:2])) / 2)
        for s in cell.spec.stations
    )
    T, surface = regrasp_spot(cell, np.array([0.4, 0.0]), 0.04, full)
    assert surface == "table" and T[2, 3] == 0.0
    r = np.linalg.norm(T[:2, 3] - cell.resolve_pose(cell.spec.robot.base_pose)[:2, 3])
    assert 0.35 < r < 0.65


def test_regrasp_planning_is_bounded(cell: Cell, tmp_path: Path) -> None:
    from workflow_gen.pipeline import plan_variant

    t0 = time.perf_counter()
    out = plan_variant(VARIANT, cell, None, write_report=False)
    took = time.perf_counter() - t0
    assert [t.kind for t in out.workflow.tasks] == ["pick_place", "regrasp"]
    assert took < 30.0, took  # about 3 s on 2 cores, the regrasp about 2 s of it
