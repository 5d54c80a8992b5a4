"""The controllers' actions (control_msgs, as ros2_control and MoveIt speak them) over the real graph.

``/arm_controller/follow_joint_trajectory`` (FollowJointTrajectory) and ``/gripper_controller/gripper_cmd``
(GripperCommand) of the sim_cell node, driven by an action client in this process: results with the
standard error codes, feedback, preemption, cancel, and the gripper's stalled-on-a-part / reached answers.
The interface types themselves are checked against the upstream Jazzy type hashes.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from action_msgs.msg import GoalStatus
from ament_index_python.packages import get_package_share_directory
from control_msgs.action import FollowJointTrajectory, GripperCommand
from flexcell_ros import conversions as conv
from flexcell_ros.bringup import Graph
from flexcell_ros.client import CellClient
from flexcell_ros.workflow_executor import FilingActionClient
from rclpy.action import ActionClient

from cell_config import load_cell
from motion.trajectory import JointTrajectory
from workflow_gen.model import load_workflow

pytestmark = pytest.mark.ros
Start = Callable[..., tuple[Graph, CellClient]]
FJT = FollowJointTrajectory.Result

# RIHS01 type hashes of control_msgs 5.x (Jazzy) as published in upstream-generated code: the interfaces
# built here must hash the same, or a real controller / MoveIt would not talk to them.
UPSTREAM_HASHES = {
    "msg/JointTolerance": "c254f9cece0f3b733017b6990fd46d1326e25242d6b8844398c97d9a88e7d648",
    "msg/JointComponentTolerance": "739ea7566931944d33830fa10f1bf5e7a7fbdc3172bce7a7eaac642bd6e3ffa4",
    "msg/GripperCommand": "57eb8f326c9889ca8bb34ead82cc94cc09bf6bc5c3b6c09546dca3a00b589890",
    "action/FollowJointTrajectory": "738ebcb7a2d7cfa42f9f1001cc99ce3a4383d1cfe508015d9be8485e4b1c66f6",
    "action/FollowJointTrajectory_Goal": "8a9060704b269608f5a340934cc26e66869dd14bdac29e2e7fd9ec8b9882d205",
    "action/FollowJointTrajectory_Result": "8002e99ed2c14c6faa522f2a93c26d744c5982f254f9e98ff9c6f19789bdb220",
    "action/FollowJointTrajectory_Feedback": "3fd0aaecf71725121ae1ff7f01098a5e0da581e672be18a6b2c286cb43d96b49",
    "action/GripperCommand": "e17c0e644eccf14bea84a0a93e0977182872c2eb7873ca6694900059b46dbc84",
}


def _wait(fut: Any, timeout_s: float) -> Any:
    done = threading.Event()
    fut.add_done_callback(lambda _f: done.set())
    assert done.wait(timeout_s), "no answer from the ROS graph"
    return fut.result()


class Goal:
    """One goal sent: its handle and the feedback that came for it."""

    def __init__(self, ac: ActionClient, goal: Any) -> None:
        self.feedback: list[Any] = []
        self.handle = _wait(
            ac.send_goal_async(goal, feedback_callback=lambda m: self.feedback.append(m.feedback)), 20.0
        )
        assert self.handle.accepted
        self._result = self.handle.get_result_async()

    def result(self, timeout_s: float = 30.0) -> tuple[int, Any]:
        res = _wait(self._result, timeout_s)
        return res.status, res.result


def _move(q0: np.ndarray, dq: np.ndarray, duration_s: float) -> JointTrajectory:
    """A rest-to-rest move ``q0 -> q0 + dq`` in ``duration_s`` (quintic time law, 21 points)."""
    tau = np.linspace(0.0, 1.0, 21)
    s = 10 * tau**3 - 15 * tau**4 + 6 * tau**5
    ds = (30 * tau**2 - 60 * tau**3 + 30 * tau**4) / duration_s
    dds = (60 * tau - 180 * tau**2 + 120 * tau**3) / duration_s**2
    return JointTrajectory(
        list(load_cell().joint_names),
        tau * duration_s,
        q0 + np.outer(s, dq),
        np.outer(ds, dq),
        np.outer(dds, dq),
    )


def _arm(client: CellClient) -> ActionClient:
    # goals are sent from this thread while the client's thread spins: rclpy's own client may drop answers
    ac = FilingActionClient(client.node, FollowJointTrajectory, "/arm_controller/follow_joint_trajectory")
    assert ac.wait_for_server(timeout_sec=20.0)
    return ac


def _gripper(client: CellClient) -> ActionClient:
    ac = FilingActionClient(client.node, GripperCommand, "/gripper_controller/gripper_cmd")
    assert ac.wait_for_server(timeout_sec=20.0)
    return ac


def _share_dir() -> Path:
    """control_msgs' share directory: from the ament index of a sourced ROS, else the venv's (wheels)."""
    if os.environ.get("AMENT_PREFIX_PATH"):
        return Path(get_package_share_directory("control_msgs"))
    return Path(sys.prefix) / "share" / "control_msgs"


def test_interface_type_hashes_match_upstream_jazzy() -> None:
    share = _share_dir()
    found: dict[str, str] = {}
    for name in (
        "msg/JointTolerance",
        "msg/GripperCommand",
        "action/FollowJointTrajectory",
        "action/GripperCommand",
    ):
        for entry in json.loads((share / f"{name}.json").read_text())["type_hashes"]:
            if entry["type_name"].startswith("control_msgs/"):
                found[entry["type_name"].removeprefix("control_msgs/")] = entry["hash_string"]
    for name, digest in UPSTREAM_HASHES.items():
        assert found.get(name) == f"RIHS01_{digest}", name


def test_goal_checks_name_the_error_code() -> None:
    names = list(load_cell().joint_names)
    q0 = np.zeros(len(names))
    dq = np.full(len(names), 0.1)
    ok = conv.follow_goal_to_msg(_move(q0, dq, 1.0))
    traj = conv.check_follow_goal(ok, list(reversed(names)))  # columns in the controller's order
    assert traj.joint_names == list(reversed(names)) and np.allclose(traj.q[-1], 0.1)

    def code(goal: FollowJointTrajectory.Goal) -> int:
        with pytest.raises(conv.GoalError) as err:
            conv.check_follow_goal(goal, names)
        return err.value.code

    partial = conv.follow_goal_to_msg(_move(q0, dq, 1.0))
    partial.trajectory.joint_names = names[:-1]
    assert code(partial) == FJT.INVALID_JOINTS
    twice = conv.follow_goal_to_msg(_move(q0, dq, 1.0))
    twice.trajectory.joint_names[1] = names[0]
    assert code(twice) == FJT.INVALID_JOINTS
    empty = conv.follow_goal_to_msg(_move(q0, dq, 1.0))
    empty.trajectory.points = []
    assert code(empty) == FJT.INVALID_GOAL
    backwards = conv.follow_goal_to_msg(_move(q0, dq, 1.0))
    backwards.trajectory.points[3].time_from_start = conv.duration_to_msg(0.0)
    assert code(backwards) == FJT.INVALID_GOAL
    short = conv.follow_goal_to_msg(_move(q0, dq, 1.0))
    short.trajectory.points[2].positions = [0.0]
    assert code(short) == FJT.INVALID_GOAL
    # tolerances: unknown joint, a negative value other than -1; -1 lifts the bound, 0 keeps the default
    with pytest.raises(conv.GoalError) as err:
        conv.tolerance_array_from_msg(conv.joint_tolerances_to_msg(["nope"], 0.1), names, "position", q0)
    assert err.value.code == FJT.INVALID_JOINTS
    with pytest.raises(conv.GoalError) as err:
        conv.tolerance_array_from_msg(conv.joint_tolerances_to_msg(names[:1], -0.5), names, "position", q0)
    assert err.value.code == FJT.INVALID_GOAL
    tol = conv.joint_tolerances_to_msg(names[:2], 0.0) + conv.joint_tolerances_to_msg(names[2:3], -1.0)
    bounds = conv.tolerance_array_from_msg(tol, names, "position", np.full(len(names), 0.15))
    assert bounds[0] == 0.15 and bounds[1] == 0.15 and bounds[2] == np.inf


def test_follow_joint_trajectory_results_preemption_and_cancel(cell_graph: Start) -> None:
    _graph, client = cell_graph()
    names = list(load_cell().joint_names)
    ac = _arm(client)
    q0 = client.joint_samples()[-1].q
    dq = np.zeros(len(names))
    dq[0] = 0.4

    # 1. a valid goal succeeds with error_code 0; feedback says desired, actual and error
    goal = Goal(ac, conv.follow_goal_to_msg(_move(q0, dq, 1.0)))
    status, res = goal.result()
    assert status == GoalStatus.STATUS_SUCCEEDED and res.error_code == FJT.SUCCESSFUL, res.error_string
    assert abs(client.joint_samples()[-1].q[0] - (q0[0] + 0.4)) < 0.01
    assert len(goal.feedback) >= 5
    fb = goal.feedback[len(goal.feedback) // 2]
    assert list(fb.joint_names) == names
    err = np.asarray(fb.desired.positions) - np.asarray(fb.actual.positions)
    assert np.allclose(err, fb.error.positions) and np.max(np.abs(err)) < 0.15
    assert abs(fb.desired.velocities[0]) > 0.1  # taken mid-move

    # 2. wrong joint names: INVALID_JOINTS, with the names in the error string; the arm does not move
    q1 = client.joint_samples()[-1].q
    bad = conv.follow_goal_to_msg(_move(q1, -dq, 1.0))
    bad.trajectory.joint_names[0] = "elbow_of_another_robot"
    status, res = Goal(ac, bad).result()
    assert status == GoalStatus.STATUS_ABORTED and res.error_code == FJT.INVALID_JOINTS
    assert "elbow_of_another_robot" in res.error_string
    # a trajectory that ended before now: OLD_HEADER_TIMESTAMP
    old = conv.follow_goal_to_msg(_move(q1, -dq, 0.5))
    old.trajectory.header.stamp = conv.time_to_msg(0.1)
    status, res = Goal(ac, old).result()
    assert status == GoalStatus.STATUS_ABORTED and res.error_code == FJT.OLD_HEADER_TIMESTAMP, (
        res.error_string
    )
    assert np.max(np.abs(client.joint_samples()[-1].q - q1)) < 0.005

    # 3. a path tolerance the servo cannot hold (0.1 mrad on the moving joint): PATH_TOLERANCE_VIOLATED,
    # the arm brakes and stays short of the goal
    tight = conv.follow_goal_to_msg(
        _move(q1, -dq, 1.0), path_tolerance=conv.joint_tolerances_to_msg(names[:1], position=1e-4)
    )
    status, res = Goal(ac, tight).result()
    assert status == GoalStatus.STATUS_ABORTED and res.error_code == FJT.PATH_TOLERANCE_VIOLATED
    assert names[0] in res.error_string and "position error" in res.error_string, res.error_string
    time.sleep(0.5)
    last = client.joint_samples()[-1]
    assert np.max(np.abs(last.qd)) < 0.01 and abs(last.q[0] - q0[0]) > 0.2

    # 4. preemption: a second goal replaces a running one, which aborts and says why
    q2 = client.joint_samples()[-1].q
    first = Goal(ac, conv.follow_goal_to_msg(_move(q2, -dq, 3.0)))
    client.wait_for(lambda: abs(client.joint_samples()[-1].qd[0]) > 0.05, 10.0, "the first move")
    second = Goal(ac, conv.follow_goal_to_msg(_move(client.joint_samples()[-1].q, dq * 0.25, 1.5)))
    status, res = first.result()
    assert status == GoalStatus.STATUS_ABORTED and res.error_code == FJT.INVALID_GOAL
    assert "preempted" in res.error_string
    status, res = second.result()
    assert status == GoalStatus.STATUS_SUCCEEDED and res.error_code == FJT.SUCCESSFUL, res.error_string

    # 5. cancel is a controlled stop: CANCELED once the arm is at rest, short of the goal
    q3 = client.joint_samples()[-1].q
    moving = Goal(ac, conv.follow_goal_to_msg(_move(q3, dq, 3.0)))
    client.wait_for(lambda: abs(client.joint_samples()[-1].qd[0]) > 0.15, 10.0, "the move at speed")
    _wait(moving.handle.cancel_goal_async(), 10.0)
    status, _res = moving.result()
    assert status == GoalStatus.STATUS_CANCELED
    stopped = client.joint_samples()[-1]
    assert np.max(np.abs(stopped.qd)) < 0.02
    assert abs(stopped.q[0] - (q3[0] + 0.4)) > 0.05
    time.sleep(0.3)
    assert np.max(np.abs(client.joint_samples()[-1].qd)) < 0.01

    # 6. a goal tolerance no servo meets (1 nrad), 0.2 s of goal time: GOAL_TOLERANCE_VIOLATED
    q4 = client.joint_samples()[-1].q
    strict = conv.follow_goal_to_msg(
        _move(q4, dq * 0.1, 0.5),
        goal_tolerance=conv.joint_tolerances_to_msg(names, position=1e-9),
        goal_time_tolerance_s=0.2,
    )
    status, res = Goal(ac, strict).result()
    assert status == GoalStatus.STATUS_ABORTED and res.error_code == FJT.GOAL_TOLERANCE_VIOLATED
    assert "after the trajectory's end" in res.error_string, res.error_string


def test_gripper_command_stalls_on_a_part_and_reaches_when_empty(cell_graph: Start, workflow_1: Path) -> None:
    _graph, client = cell_graph()
    resp = client.load_variant(str(workflow_1))
    assert resp.success, resp.message
    client.wait_state("READY", 10.0)
    wf, trajs = load_workflow(workflow_1)
    task = wf.tasks[0]
    assert task.grasp is not None
    contact_m = task.grasp.contact_width_m
    steps = {s.name: s for s in task.steps}
    arm, grip = _arm(client), _gripper(client)

    # empty jaws closing: they reach the commanded width (nothing stalls them)
    status, res = Goal(grip, conv.gripper_goal_to_msg(0.02, 60.0)).result()
    assert status == GoalStatus.STATUS_SUCCEEDED
    assert res.reached_goal and not res.stalled and abs(res.position - 0.02) < 0.001, res
    open_m = steps["open"].gripper_width_m
    assert open_m is not None
    opening = Goal(grip, conv.gripper_goal_to_msg(open_m, 60.0))
    status, res = opening.result()
    assert status == GoalStatus.STATUS_SUCCEEDED and res.reached_goal
    assert opening.feedback and opening.feedback[-1].position > 0.02  # the jaws' width on the way

    # down to the part with the arm's action, then close on it: stalled at the part's width
    for name in ("approach", "descend"):
        traj_name = steps[name].trajectory
        assert traj_name is not None
        status, res = Goal(arm, conv.follow_goal_to_msg(trajs[traj_name])).result()
        assert status == GoalStatus.STATUS_SUCCEEDED, res.error_string
    close_m = steps["close"].gripper_width_m
    assert close_m is not None and close_m < contact_m - 0.005
    status, res = Goal(grip, conv.gripper_goal_to_msg(close_m, 60.0)).result()
    assert status == GoalStatus.STATUS_SUCCEEDED
    assert res.stalled and not res.reached_goal, res
    assert abs(res.position - contact_m) < 0.002, (res.position, contact_m)
    assert res.effort > 0.8 * 60.0


def test_an_aborted_goal_faults_the_task_with_the_controllers_reason(
    cell_graph: Start, workflow_1: Path
) -> None:
    """An obstacle injected into the cell (sim fault ``obstacle``) blocks the arm: the controller aborts the
    goal with PATH_TOLERANCE_VIOLATED, and the executor faults the task with the controller's words."""
    _graph, client = cell_graph(sim_cell={"fault": "obstacle"})
    resp = client.load_variant(str(workflow_1))
    assert resp.success, resp.message
    client.wait_state("READY", 10.0)
    assert client.trigger("start").success
    status = client.wait_state("FAULT", 90.0)
    assert "the arm controller aborted the goal: PATH_TOLERANCE_VIOLATED:" in status.last_fault, (
        status.last_fault
    )
    assert "exceed" in status.last_fault
    time.sleep(0.5)
    assert np.max(np.abs(client.joint_samples()[-1].qd)) < 0.01  # the arm stopped
