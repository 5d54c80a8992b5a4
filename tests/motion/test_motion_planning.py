"""Planning: success, dense validity against the unpadded world, error codes, Cartesian moves, retiming."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from motion_helpers import random_valid

from cell_config import Cell
from motion import MotionPlanner, PlanResult, write_moveit_config
from motion.retiming import time_parameterize
from motion.trajectory import JointTrajectory


def _assert_trajectory_ok(
    p: MotionPlanner, traj: JointTrajectory, q0: np.ndarray, q1: np.ndarray | None
) -> None:
    np.testing.assert_allclose(traj.q[0], q0, atol=1e-9)
    if q1 is not None:
        np.testing.assert_allclose(traj.q[-1], q1, atol=1e-9)
    ok, why = p.path_valid(traj.q, padded=False, step_rad=0.002)
    assert ok, why
    # Limits, checked numerically on the samples and by finite differences of the samples.
    tol = 1.02
    assert np.all(np.abs(traj.qd) <= p.vel_max * tol + 1e-9)
    assert np.all(np.abs(traj.qdd) <= p.acc_max * tol + 1e-9)
    t = np.linspace(0, traj.duration_s, 400)
    q = np.array([traj.sample(ti)[0] for ti in t])
    v_fd = np.diff(q, axis=0) / np.diff(t)[:, None]
    assert np.all(np.abs(v_fd) <= p.vel_max * 1.05 + 1e-6)
    # Jerk: the trajectory's acceleration is linear between samples, so this is its jerk everywhere.
    jerk = np.diff(traj.qdd, axis=0) / np.diff(traj.t_s)[:, None]
    assert np.all(np.abs(jerk) <= p.jerk_max * tol + 1e-9)


def test_random_pairs_plan_and_are_valid(ur5e: MotionPlanner) -> None:
    rng = np.random.default_rng(5)
    results: list[PlanResult] = []
    for _ in range(12):
        a, b = random_valid(ur5e, rng), random_valid(ur5e, rng)
        r = ur5e.plan_to_joint(a, b)
        results.append(r)
        if r.success:
            assert r.trajectory is not None and r.error_code == "SUCCESS"
            _assert_trajectory_ok(ur5e, r.trajectory, a, b)
    assert sum(r.success for r in results) >= 11


def test_panda_plans_are_valid(panda: MotionPlanner) -> None:
    rng = np.random.default_rng(6)
    ok = 0
    for _ in range(6):
        a, b = random_valid(panda, rng), random_valid(panda, rng)
        r = panda.plan_to_joint(a, b)
        if r.success:
            ok += 1
            assert r.trajectory is not None
            _assert_trajectory_ok(panda, r.trajectory, a, b)
    assert ok >= 5


def test_one_cm_box_in_the_path_is_never_clipped(ur5e: MotionPlanner) -> None:
    q0 = ur5e.home
    q1 = q0 + np.array([1.2, 0.0, 0.0, 0.0, 0.0, 0.0])
    # Put a 1 cm cube where the left finger passes at mid-swing (the tcp itself is between the fingers).
    mid = ur5e.fk(q0 + (q1 - q0) / 2)
    g = ur5e.cell.spec.gripper
    mid[:3, 3] += mid[:3, 1] * (ur5e.robot.opening_m / 2 + g.finger.thickness_m / 2)
    ur5e.add_box("cube", (0.01, 0.01, 0.01), mid)
    straight = np.linspace(q0, q1, 50)
    assert not ur5e.path_valid(straight, padded=False)[0]
    r = ur5e.plan_to_joint(q0, q1)
    assert r.success, r.message
    assert r.trajectory is not None
    ok, why = ur5e.path_valid(r.trajectory.q, padded=False, step_rad=0.001)
    assert ok, why
    # ... and it really went around: the exact-world distance stays positive along the motion.
    dists = [ur5e.min_distance(q)[0] for q in r.trajectory.q[:: max(1, len(r.trajectory.q) // 60)]]
    assert min(dists) > 0.0


def test_start_and_goal_in_collision_codes(ur5e: MotionPlanner) -> None:
    bad = ur5e.home.copy()
    bad[1] = 0.0  # shoulder horizontal, elbow down 90 deg: the forearm goes through the table
    bad[2] = 1.5708
    assert not ur5e.is_valid(bad, padded=False)
    r = ur5e.plan_to_joint(bad, ur5e.home)
    assert not r.success and r.error_code == "START_IN_COLLISION" and "table" in r.message
    r = ur5e.plan_to_joint(ur5e.home, bad)
    assert not r.success and r.error_code == "GOAL_IN_COLLISION" and "table" in r.message


def test_pose_goal_and_unreachable_pose(ur5e: MotionPlanner) -> None:
    T = ur5e.cell.slot_poses_world("feeder")["B2"].copy()
    T[:3, :3] = np.diag([1.0, -1.0, -1.0])  # tool pointing down
    T[2, 3] += 0.10
    r = ur5e.plan_to_pose(ur5e.home, T)
    assert r.success, r.message
    assert r.trajectory is not None
    np.testing.assert_allclose(ur5e.fk(r.trajectory.q[-1]), T, atol=1e-4)
    far = T.copy()
    far[:3, 3] = [2.5, 0.0, 0.4]
    r = ur5e.plan_to_pose(ur5e.home, far)
    assert not r.success and r.error_code == "NO_IK_SOLUTION" and "reach" in r.message


def test_cartesian_straight_line_and_blocked_fraction(ur5e: MotionPlanner) -> None:
    q0 = ur5e.home
    T0 = ur5e.fk(q0)
    T1 = T0.copy()
    T1[2, 3] -= 0.15
    r = ur5e.plan_cartesian(q0, T1)
    assert r.success and r.fraction == 1.0
    assert r.trajectory is not None
    # Every sample stays on the line (within 1 mm) with the orientation kept.
    for q in r.trajectory.q[:: max(1, len(r.trajectory.q) // 50)]:
        T = ur5e.fk(q)
        assert np.linalg.norm(T[:2, 3] - T0[:2, 3]) < 1e-3
        np.testing.assert_allclose(T[:3, :3], T0[:3, :3], atol=2e-3)
    # A plate 10 cm under the finger tips blocks the same line about two thirds of the way down.
    tip_z = T0[2, 3] - ur5e.cell.spec.gripper.finger.pad_length_m / 2
    plate = np.eye(4)
    plate[:3, 3] = [T0[0, 3], T0[1, 3], tip_z - 0.10 - 0.005]
    ur5e.add_box("plate", (0.2, 0.2, 0.01), plate)
    r = ur5e.plan_cartesian(q0, T1)
    assert not r.success and r.error_code == "CARTESIAN_BLOCKED"
    assert 0.55 < r.fraction < 0.75
    assert "plate" in r.message
    # Allowing the plate (e.g. the part being grasped) lets the line through.
    r = ur5e.plan_cartesian(q0, T1, allowed_objects=("plate",))
    assert r.success and r.fraction == 1.0


def test_jerk_limited_retiming_keeps_the_path_and_every_limit() -> None:
    # A path with sharp corners: toppra alone switches acceleration instantly (unbounded jerk).
    path = np.array([[0.0, 0.0], [1.0, 0.5], [1.2, -0.8], [0.0, 0.0]])
    v, a, j = np.array([1.0, 0.5]), np.array([2.0, 1.0]), np.array([10.0, 5.0])
    free = time_parameterize(["a", "b"], path, v, a)
    jerk_free = np.max(np.abs(np.diff(free.qdd, axis=0)) / np.diff(free.t_s)[:, None] / j)
    assert jerk_free > 2.0  # the unsmoothed profile really breaks the jerk limit
    traj = time_parameterize(["a", "b"], path, v, a, j)
    jerk = np.diff(traj.qdd, axis=0) / np.diff(traj.t_s)[:, None]
    assert np.all(np.abs(jerk) <= j * (1 + 1e-6))
    assert np.all(np.abs(traj.qd) <= v * (1 + 1e-6))
    assert np.all(np.abs(traj.qdd) <= a * (1 + 1e-6))
    np.testing.assert_allclose(traj.qd[[0, -1]], 0.0, atol=1e-9)
    np.testing.assert_allclose(traj.qdd[[0, -1]], 0.0, atol=1e-9)
    # Same geometric path: every sample lies on the unsmoothed trajectory's path (within its sampling).
    dense = np.array([free.sample(t)[0] for t in np.linspace(0, free.duration_s, 4000)])
    gap = np.min(np.linalg.norm(traj.q[:, None, :] - dense[None, :, :], axis=2), axis=1)
    assert np.max(gap) < 2e-3
    # The price of smoothness is bounded: well under 1.5x the time-optimal duration here.
    assert free.duration_s < traj.duration_s < 1.5 * free.duration_s


def test_straight_line_is_ruckig_time_optimal_within_jerk() -> None:
    q0, q1 = np.array([0.0, 0.0, 0.0]), np.array([1.2, -0.4, 0.05])
    v, a, j = np.array([1.0, 1.0, 1.0]), np.array([2.0, 2.0, 2.0]), np.array([20.0, 20.0, 20.0])
    traj = time_parameterize(["a", "b", "c"], np.vstack([q0, q1]), v, a, j)
    jerk = np.diff(traj.qdd, axis=0) / np.diff(traj.t_s)[:, None]
    assert np.all(np.abs(jerk) <= j * (1 + 1e-6))
    assert np.all(np.abs(traj.qd) <= v * (1 + 1e-9)) and np.all(np.abs(traj.qdd) <= a * (1 + 1e-9))
    # on the straight line: every sample is q0 + s (q1 - q0)
    s = (traj.q - q0) @ (q1 - q0) / float((q1 - q0) @ (q1 - q0))
    np.testing.assert_allclose(traj.q, q0 + s[:, None] * (q1 - q0), atol=1e-12)
    # the leading joint (1.2 rad) reaches its velocity limit; the jerk-limited profile is at most one
    # jerk ramp (a / j = 0.1 s) longer than the trapezoid without jerk limit
    assert np.max(np.abs(traj.qd[:, 0])) > 0.99 * v[0]
    trapezoid = 1.2 / v[0] + v[0] / a[0]
    assert trapezoid <= traj.duration_s <= trapezoid + a[0] / j[0] + 0.011


def test_time_parameterisation_respects_limits() -> None:
    path = np.array([[0.0, 0.0], [1.0, 0.5], [1.2, -0.8], [0.0, 0.0]])
    v = np.array([1.0, 0.5])
    a = np.array([2.0, 1.0])
    traj = time_parameterize(["a", "b"], path, v, a)
    assert np.all(np.abs(traj.qd) <= v + 1e-6)
    assert np.all(np.abs(traj.qdd) <= a + 1e-6)
    np.testing.assert_allclose(traj.qd[[0, -1]], 0.0, atol=1e-9)
    # Finite differences of the densely sampled positions agree with the limits too.
    dt = np.diff(traj.t_s)
    v_fd = np.diff(traj.q, axis=0) / dt[:, None]
    assert np.all(np.abs(v_fd) <= v * 1.01)
    # Time-optimal-ish: at least one joint reaches 90 % of its velocity limit somewhere.
    assert np.max(np.abs(traj.qd) / v) > 0.9


@pytest.mark.parametrize("profile", ["default", "RRTkConfigDefault", "BKPIECEkConfigDefault"])
def test_profiles(ur5e: MotionPlanner, profile: str) -> None:
    q0 = ur5e.home
    q1 = np.array([1.5, -1.2, 1.0, -1.4, -1.5, 0.5])
    ur5e.add_box("wall", (0.02, 0.02, 0.02), ur5e.fk(q0 + (q1 - q0) / 2))
    r = ur5e.plan_to_joint(q0, q1, profile=profile)
    assert r.success, r.message
    with pytest.raises(KeyError):
        ur5e.plan_to_joint(q0, q1, profile="nope")


def test_coarse_edges_never_return_a_clipping_trajectory(tmp_path: Path, ur5e_cell: Cell) -> None:
    # Edges checked only every ~0.7 rad and no padding: the planner's own edge checks miss the cube,
    # the dense re-check must catch it (then a 4x finer re-plan, else INVALID_TRAJECTORY).
    out = write_moveit_config(ur5e_cell, tmp_path / "cfg")
    ompl_path = out / "ompl_planning.yaml"
    ompl = yaml.safe_load(ompl_path.read_text())
    ompl["manipulator"]["longest_valid_segment_fraction"] = 0.05
    ompl_path.write_text(yaml.safe_dump(ompl))
    p = MotionPlanner(ur5e_cell, padding_m=0.0, profiles_path=out)
    q0 = p.home
    q1 = q0 + np.array([1.2, 0.0, 0.0, 0.0, 0.0, 0.0])
    # at 30 % of the swing, between OMPL's checked states (0, 50 % and 100 % of this edge)
    at = p.fk(q0 + 0.3 * (q1 - q0))
    at[:3, 3] += at[:3, 1] * (p.robot.opening_m / 2 + p.cell.spec.gripper.finger.thickness_m / 2)
    p.add_box("cube", (0.01, 0.01, 0.01), at)
    assert not p.path_valid(np.vstack([q0, q1]), padded=False)[0]
    assert p.spaces[(False, False)].si.checkMotion(
        p.spaces[(False, False)].state(q0), p.spaces[(False, False)].state(q1)
    )
    r = p.plan_to_joint(q0, q1)
    assert r.success or r.error_code == "INVALID_TRAJECTORY"
    if r.success:
        assert r.trajectory is not None
        ok, why = p.path_valid(r.trajectory.q, padded=False, step_rad=0.001)
        assert ok, why


def test_a_timed_out_request_says_so(tmp_path: Path, ur5e_cell: Cell) -> None:
    # The goal has the tool down in a narrow slot; a profile with a 0.1 ms budget and one attempt cannot
    # thread it (OMPL checks its time budget between iterations, so one lucky iteration in a few hundred
    # does solve it: three tries make that a one-in-ten-million event).
    out = write_moveit_config(ur5e_cell, tmp_path / "cfg")
    ompl_path = out / "ompl_planning.yaml"
    ompl = yaml.safe_load(ompl_path.read_text())
    ompl["planner_configs"]["Hurried"] = {
        "type": "geometric::RRTConnect",
        "range": 0.0,
        "planning_time": 0.0001,
        "planning_attempts": 1,
    }
    ompl_path.write_text(yaml.safe_dump(ompl))
    p = MotionPlanner(ur5e_cell, profiles_path=out, seed=3)
    q0, q1 = p.home, np.array([1.5, -1.2, 1.0, -1.4, -1.5, 0.5])
    T = p.fk(q1)
    for name, size, offset in (
        ("slot_py", (0.30, 0.02, 0.30), (0.0, 0.09, 0.0)),
        ("slot_ny", (0.30, 0.02, 0.30), (0.0, -0.09, 0.0)),
        ("slot_px", (0.02, 0.20, 0.30), (0.12, 0.0, 0.0)),
        ("slot_nx", (0.02, 0.20, 0.30), (-0.12, 0.0, 0.0)),
        ("slot_floor", (0.26, 0.20, 0.02), (0.0, 0.0, 0.08)),
    ):
        T_box = T.copy()
        T_box[:3, 3] = T[:3, 3] + T[:3, :3] @ np.array(offset)
        p.add_box(name, size, T_box)
    assert p.is_valid(q1) and not p.path_valid(np.vstack([q0, q1]))[0]
    results = [p.plan_to_joint(q0, q1, profile="Hurried") for _ in range(3)]
    failed = [r for r in results if not r.success]
    assert failed
    for r in failed:
        assert r.error_code == "TIMED_OUT" and r.trajectory is None
        assert "RRTConnect found no path in 1 x 0.0001 s" in r.message, r.message
    # The same request with the default profile's budget succeeds: the slot is reachable.
    r = p.plan_to_joint(q0, q1)
    assert r.success, r.message
