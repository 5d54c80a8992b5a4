"""Foundation over the real graph: a node in the venv exchanges the project's own types with the nodes.

A message round trip (a trajectory out on the controller topic, the motion back on /joint_states, and
CellStatus from the manager), a LoadVariant service call, and ExecuteWorkflow goals straight to the
executor: one run to success with per-task feedback, one canceled mid-motion.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from action_msgs.msg import GoalStatus
from flexcell_interfaces.action import ExecuteWorkflow
from flexcell_ros import conversions as conv
from flexcell_ros.bringup import Graph
from flexcell_ros.client import CellClient
from rclpy.action import ActionClient
from trajectory_msgs.msg import JointTrajectory as JointTrajectoryMsg

from cell_config import load_cell
from motion.trajectory import JointTrajectory

pytestmark = pytest.mark.ros
Start = Callable[..., tuple[Graph, CellClient]]


def _wait(fut, timeout_s: float):  # type: ignore[no-untyped-def]
    done = threading.Event()
    fut.add_done_callback(lambda _f: done.set())
    assert done.wait(timeout_s), "no answer from the ROS graph"
    return fut.result()


def test_message_service_and_action_with_project_types(cell_graph: Start, workflow_1: Path) -> None:
    _graph, client = cell_graph()
    cell = load_cell()
    # 1. message round trip: a 0.3 rad move of the first joint out, the motion back on /joint_states
    status = client.wait_state("IDLE", 10.0)  # CellStatus from the manager
    assert status.task_count == 0 and status.runs_completed == 0
    q0 = client.joint_samples()[-1].q
    q1 = q0.copy()
    q1[0] += 0.3
    traj = JointTrajectory(list(cell.joint_names), np.array([0.0, 1.0]), np.vstack([q0, q1]))
    client.publish("/arm_controller/joint_trajectory", conv.trajectory_to_msg(traj))
    client.wait_for(lambda: abs(client.joint_samples()[-1].q[0] - q1[0]) < 0.005, 20.0, "the move")
    client.publish(
        "/arm_controller/joint_trajectory",
        conv.trajectory_to_msg(
            JointTrajectory(list(cell.joint_names), np.array([0.0, 1.0]), np.vstack([q1, q0]))
        ),
    )
    client.wait_for(lambda: abs(client.joint_samples()[-1].q[0] - q0[0]) < 0.005, 20.0, "the move back")
    assert client.sim_time_s > 0.0  # /clock flows

    # 2. a service with the project's type: LoadVariant on the manager (spawns the parts in the sim)
    resp = client.load_variant(str(workflow_1))
    assert resp.success and resp.task_count == 1 and list(resp.infeasible_parts) == []
    assert resp.workflow_path == str(workflow_1)

    # 3. ExecuteWorkflow goals straight to the executor
    ac = ActionClient(client.node, ExecuteWorkflow, "execute_workflow")
    assert ac.wait_for_server(timeout_sec=20.0)
    feedback: list[ExecuteWorkflow.Feedback] = []
    handle = _wait(
        ac.send_goal_async(
            ExecuteWorkflow.Goal(workflow_path=str(workflow_1), start_task=0, run_id=""),
            feedback_callback=lambda m: feedback.append(m.feedback),
        ),
        20.0,
    )
    assert handle.accepted
    res = _wait(handle.get_result_async(), 90.0)
    assert res.status == GoalStatus.STATUS_SUCCEEDED, res.result.message
    assert (res.result.success, res.result.tasks_completed, res.result.task_count) == (True, 1, 1)
    assert res.result.run_id != "" and res.result.cycle_time_s > 5.0
    phases = [f.phase for f in feedback]
    assert {"transit", "approach", "pick", "lift", "insert", "release", "retreat", "done"} <= set(phases)
    assert "carry" not in phases and "place" not in phases  # no phase guessed from a step name
    assert all(f.task_index == 0 and f.task_count == 1 and f.task_id == "t0" for f in feedback)

    # a canceled goal stops the arm: back at the start of the workflow, cancel during the first motion
    assert client.trigger("stop").message == "arm halted (no run)"  # the manager runs nothing itself
    q_now = client.joint_samples()[-1].q
    home = np.asarray(cell.home)
    assert np.allclose(q_now, home, atol=0.02)
    handle = _wait(
        ac.send_goal_async(ExecuteWorkflow.Goal(workflow_path=str(workflow_1), start_task=0)), 20.0
    )
    client.wait_for(lambda: np.max(np.abs(client.joint_samples()[-1].qd)) > 0.2, 30.0, "motion")
    _wait(handle.cancel_goal_async(), 10.0)
    res = _wait(handle.get_result_async(), 30.0)
    assert res.status == GoalStatus.STATUS_CANCELED and res.result.message == "canceled"
    time.sleep(1.0)
    assert np.max(np.abs(client.joint_samples()[-1].qd)) < 0.01
    # the stop is an empty trajectory on the controller topic
    assert conv.trajectory_from_msg(JointTrajectoryMsg(), []) is None
