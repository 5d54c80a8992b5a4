"""flexcell_ros.conversions: domain types <-> ROS messages, checked against known values."""

from __future__ import annotations

import numpy as np
import pytest
from flexcell_interfaces.msg import CellStatus
from flexcell_ros import conversions as conv
from std_msgs.msg import Float64MultiArray

from motion.trajectory import JointTrajectory

JOINTS = ["j1", "j2", "j3"]


def _traj() -> JointTrajectory:
    t = np.array([0.0, 0.25, 1.0])
    q = np.array([[0.0, 0.1, 0.2], [0.5, 0.6, 0.7], [1.0, 1.1, 1.2]])
    return JointTrajectory(JOINTS, t, q, q * 2.0, q * 3.0)


def test_trajectory_round_trip_reorders_joints() -> None:
    traj = _traj()
    msg = conv.trajectory_to_msg(traj)
    assert msg.header.stamp.sec == 0 and msg.header.stamp.nanosec == 0  # "start now" for a JTC
    assert msg.points[1].time_from_start.sec == 0 and msg.points[1].time_from_start.nanosec == 250_000_000
    back = conv.trajectory_from_msg(msg, ["j3", "j1", "j2"])
    assert back is not None
    assert back.joint_names == ["j3", "j1", "j2"]
    np.testing.assert_allclose(back.t_s, traj.t_s, atol=1e-9)
    np.testing.assert_allclose(back.q, traj.q[:, [2, 0, 1]], atol=1e-12)
    np.testing.assert_allclose(back.qd, traj.qd[:, [2, 0, 1]], atol=1e-12)
    np.testing.assert_allclose(back.qdd, traj.qdd[:, [2, 0, 1]], atol=1e-12)


def test_empty_trajectory_means_stop_and_wrong_joints_are_refused() -> None:
    assert conv.trajectory_from_msg(conv.stop_trajectory_msg(JOINTS), JOINTS) is None
    with pytest.raises(ValueError, match="do not match"):
        conv.trajectory_from_msg(conv.trajectory_to_msg(_traj()), ["j1", "j2", "x"])


def test_duration_and_time_split_seconds_exactly() -> None:
    d = conv.duration_to_msg(2.999999999)
    assert (d.sec, d.nanosec) == (2, 999_999_999)
    assert conv.duration_from_msg(conv.duration_to_msg(12.345)) == pytest.approx(12.345, abs=1e-9)
    assert conv.time_from_msg(conv.time_to_msg(1234.5)) == pytest.approx(1234.5, abs=1e-9)


def test_pose_round_trip() -> None:
    from scipy.spatial.transform import Rotation

    T = np.eye(4)
    T[:3, :3] = Rotation.from_euler("xyz", [0.3, -1.1, 2.5]).as_matrix()
    T[:3, 3] = [0.4, -0.2, 0.05]
    np.testing.assert_allclose(conv.pose_from_msg(conv.pose_to_msg(T)), T, atol=1e-12)
    poses = {"b": T, "a": np.eye(4)}
    arr = conv.part_poses_to_msg(3.0, poses)
    names = conv.part_names_from_msg(conv.part_names_to_msg(list(poses)))
    assert names == ["a", "b"]
    back = conv.part_poses_from_msg(arr, names)
    np.testing.assert_allclose(back["b"], T, atol=1e-12)
    assert conv.part_poses_from_msg(arr, ["a"]) == {}  # names out of step with the poses: nothing


def test_joint_state_and_gripper_command() -> None:
    msg = conv.joint_state_to_msg(
        1.5, ["a", "b", "finger"], np.array([1.0, 2.0, 0.02]), np.array([0.1, 0.2, 0.0])
    )
    stamp, q, qd = conv.joint_state_from_msg(msg, ["b", "a"])
    assert stamp == pytest.approx(1.5)
    np.testing.assert_allclose(q, [2.0, 1.0])
    np.testing.assert_allclose(qd, [0.2, 0.1])
    assert conv.gripper_command_from_msg(conv.gripper_command_to_msg(0.03, 60.0)) == (0.03, 60.0)
    with pytest.raises(ValueError, match=r"\[width_m, force_n\]"):
        conv.gripper_command_from_msg(Float64MultiArray(data=[0.03]))
    with pytest.raises(ValueError, match=">= 0"):
        conv.gripper_command_from_msg(Float64MultiArray(data=[-0.01, 10.0]))


def test_status_and_diagnostics() -> None:
    msg = conv.status_to_msg(10.0, CellStatus.FAULT, "kit", 2, 5, "pick", 3.5, 12.0, 4, "box dropped")
    assert (msg.state_name, msg.task_index, msg.runs_completed, msg.last_fault) == (
        "FAULT",
        2,
        4,
        "box dropped",
    )
    diag = conv.diagnostics_to_msg(1.0, "sim_cell", "ur5e_cell", False, "contacts", {"rtf": 4.0})
    assert diag.status[0].level == diag.status[0].ERROR
    assert [(kv.key, kv.value) for kv in diag.status[0].values] == [("rtf", "4.0")]
