"""CellSim behaves like the ros2_control cell: holds, tracks, replaces, stops, grips with a force limit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cell_config import Cell
from motion.trajectory import JointTrajectory
from sim.cell_sim import CellSim
from sim.controllers import TrajectoryStatus
from workflow_gen.model import load_workflow


@pytest.fixture
def sim(scripted_workflow: Path) -> CellSim:
    return CellSim.from_workflow(scripted_workflow)


def _move(cell: Cell, dq: np.ndarray, duration_s: float) -> JointTrajectory:
    t = np.linspace(0, duration_s, 41)
    s = 10 * (t / duration_s) ** 3 - 15 * (t / duration_s) ** 4 + 6 * (t / duration_s) ** 5
    q = cell.home + s[:, None] * dq
    return JointTrajectory(cell.joint_names, t, q, np.gradient(q, t, axis=0))


def test_api_shape(sim: CellSim, cell: Cell) -> None:
    names, q, qd = sim.joint_state()
    assert names == cell.joint_names
    assert q.shape == qd.shape == (6,)
    assert sim.dt_s == pytest.approx(0.002)
    width, _ = sim.gripper_state()
    assert width == pytest.approx(cell.spec.gripper.stroke_m, abs=1e-6)
    poses = sim.part_poses()
    assert set(poses) == {"box"}
    np.testing.assert_allclose(poses["box"][:3, 3], cell.slot_poses_world("feeder")["A1"][:3, 3], atol=1e-9)


def test_holds_home_against_gravity(sim: CellSim, cell: Cell) -> None:
    sim.step(500)
    _, q, qd = sim.joint_state()
    assert np.max(np.abs(q - cell.home)) < 1e-4
    assert np.max(np.abs(qd)) < 1e-3
    # The box rests on the feeder: it sinks less than 0.5 mm into the tray.
    assert sim.part_poses()["box"][2, 3] == pytest.approx(0.02, abs=5e-4)
    assert sim.contacts() == []


def test_tracks_trajectory_within_tolerances(sim: CellSim, cell: Cell) -> None:
    dq = np.array([0.5, 0.3, -0.3, 0.2, 0.4, 0.5])
    sim.follow(_move(cell, dq, 2.0))
    t0 = sim.time_s
    while not sim.arm_done():
        sim.step(10)
    assert sim.arm_status() == TrajectoryStatus.SUCCEEDED
    assert sim.arm.max_path_error_rad < 0.01
    assert sim.time_s - t0 < 2.5
    np.testing.assert_allclose(sim.joint_state()[1], cell.home + dq, atol=0.005)


def test_new_trajectory_replaces_old_and_stop_holds(sim: CellSim, cell: Cell) -> None:
    sim.follow(_move(cell, np.full(6, 0.6), 2.0))
    sim.step(250)  # halfway
    sim.follow(_move(cell, np.zeros(6), 0.5))  # back home from wherever it is: replaces the first
    while not sim.arm_done():
        sim.step(10)
    np.testing.assert_allclose(sim.joint_state()[1], cell.home, atol=0.005)
    sim.follow(_move(cell, np.full(6, -0.5), 2.0))
    sim.step(400)
    sim.stop_arm()
    sim.step(400)
    _, q, qd = sim.joint_state()
    assert np.max(np.abs(qd)) < 0.01
    # Stopped part-way: neither at the start nor at the goal of the interrupted move.
    assert 0.1 < np.max(np.abs(q - cell.home)) < 0.45


def test_gripper_force_is_limited(scripted_workflow: Path, cell: Cell) -> None:
    wf, trajs = load_workflow(scripted_workflow)
    sim = CellSim.from_workflow(scripted_workflow)
    sim.reset(np.asarray(wf.home_q))
    for key in ("t0_approach", "t0_descend"):
        sim.follow(trajs[key])
        while not sim.arm_done():
            sim.step(10)
    sim.set_gripper(0.0, 500.0)  # asks above the rating: clipped to force_n
    sim.step(500)
    width, force = sim.gripper_state()
    assert width == pytest.approx(0.03, abs=0.002)  # stopped on the 30 mm box
    assert force == pytest.approx(cell.spec.gripper.force_n, rel=0.02)
    sim.set_gripper(0.0, 40.0)
    sim.step(200)
    assert sim.gripper_state()[1] == pytest.approx(40.0, rel=0.02)


CELLS = sorted((Path(__file__).resolve().parents[2] / "cell_config" / "cells").glob("*.yaml"))


@pytest.mark.parametrize("cell_yaml", CELLS, ids=[c.stem for c in CELLS])
def test_every_cell_builds_holds_and_tracks(cell_yaml: Path) -> None:
    from cell_config import load_cell

    cell = load_cell(cell_yaml)
    sim = CellSim(cell, [], Path("."))
    sim.step(250)
    _, q, _ = sim.joint_state()
    assert np.max(np.abs(q - cell.home)) < 1e-4
    assert sim.contacts() == []  # at home the robot touches nothing but its mounting
    dq = np.zeros(len(cell.joint_names))
    # Bend the elbow and twist the wrist, which is free space in both cells (at the Panda's home the palm is
    # within a few mm of its shelf: swinging the base or twisting the other way touches it).
    dq[3], dq[-1] = -0.15, -0.3
    sim.follow(_move(cell, dq, 1.5))
    while not sim.arm_done():
        sim.step(10)
    assert sim.arm_status() == TrajectoryStatus.SUCCEEDED
    assert sim.arm.max_path_error_rad < 0.01
    np.testing.assert_allclose(sim.joint_state()[1], cell.home + dq, atol=0.005)


def test_obstacle_fault_without_parts_is_placed(cell: Cell) -> None:
    sim = CellSim(cell, [], Path("."), fault="obstacle")
    assert sim.fault is not None and sim.fault.xyz_m is not None
    assert "obstacle:fault_obstacle" in sim.cm.geom_owner
