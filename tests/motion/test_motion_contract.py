"""The Planner protocol, run against every backend available here (moveit_py ones skip without moveit)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import trimesh

from cell_config import Cell
from motion import MotionPlanner, MoveItPyPlanner, Planner, moveit_available

BACKENDS: dict[str, Callable[[Cell], Planner]] = {
    "embedded": lambda cell: MotionPlanner(cell, seed=3),
    "moveit_py": lambda cell: MoveItPyPlanner(cell),
}


@pytest.fixture(params=list(BACKENDS))
def planner(request: pytest.FixtureRequest, ur5e_cell: Cell) -> Planner:
    if request.param == "moveit_py":
        ok, why = moveit_available()
        if not ok:
            pytest.skip(why)
    return BACKENDS[request.param](ur5e_cell)


def test_satisfies_protocol(planner: Planner) -> None:
    assert isinstance(planner, Planner)
    assert len(planner.joint_names) == 6 and planner.home.shape == (6,)


def test_fk_ik_round_trip(planner: Planner) -> None:
    q = np.array([0.3, -1.4, 1.3, -1.5, -1.6, 0.2])
    T = planner.fk(q)
    sol = planner.ik(T, reference=q)
    assert sol is not None
    np.testing.assert_allclose(planner.fk(sol), T, atol=1e-4)


def test_plan_to_joint_contract(planner: Planner) -> None:
    q0 = planner.home
    q1 = np.array([1.0, -1.3, 1.2, -1.4, -1.5, 0.3])
    r = planner.plan_to_joint(q0, q1)
    assert r.success and r.error_code == "SUCCESS" and r.trajectory is not None
    assert r.trajectory.joint_names == planner.joint_names
    np.testing.assert_allclose(r.trajectory.q[0], q0, atol=1e-6)
    np.testing.assert_allclose(r.trajectory.q[-1], q1, atol=1e-6)
    assert r.trajectory.duration_s > 0 and r.planning_time_s > 0
    assert np.all(np.diff(r.trajectory.t_s) > 0)


def test_plan_to_pose_contract(planner: Planner) -> None:
    T = planner.fk(np.array([0.6, -1.2, 1.3, -1.7, -1.57, 0.0]))
    r = planner.plan_to_pose(planner.home, T)
    assert r.success, r.message
    assert r.trajectory is not None
    np.testing.assert_allclose(planner.fk(r.trajectory.q[-1]), T, atol=1e-3)


def test_goal_in_collision_contract(planner: Planner) -> None:
    bad = planner.home.copy()
    bad[1], bad[2] = 0.0, 1.5708
    assert not planner.is_valid(bad)
    assert planner.collision_report(bad)
    r = planner.plan_to_joint(planner.home, bad)
    assert not r.success and r.error_code == "GOAL_IN_COLLISION"


def test_objects_and_cartesian_contract(planner: Planner) -> None:
    q0 = planner.home
    T0 = planner.fk(q0)
    T1 = T0.copy()
    T1[2, 3] -= 0.12
    box = trimesh.creation.box((0.15, 0.15, 0.01))
    T_box = T0.copy()
    T_box[:3, :3] = np.eye(3)
    T_box[2, 3] -= 0.10  # plate top 9.5 cm under the tcp: the finger tips reach it at ~2/3
    planner.add_object("plate", box, T_box)
    r = planner.plan_cartesian(q0, T1)
    assert not r.success and r.error_code == "CARTESIAN_BLOCKED" and 0.0 < r.fraction < 1.0
    T_far = T_box.copy()
    T_far[1, 3] += 0.4
    planner.set_object_pose("plate", T_far)
    r = planner.plan_cartesian(q0, T1)
    assert r.success and r.fraction == 1.0
    planner.remove_object("plate")
    part = trimesh.creation.box((0.03, 0.03, 0.03))
    planner.add_object("part", part, T0)
    planner.attach_object("part", q0)
    planner.set_gripper_opening(0.03)
    assert planner.is_valid(q0)
    planner.detach_object("part", q0)
