"""The one place where ROS messages meet flexcell's domain types.

Flat ``*_to_msg`` / ``*_from_msg`` functions, no state. Times: ROS ``Duration``/``Time`` <-> float seconds.
Poses: ``(4, 4) float`` homogeneous transforms ``T_world_*`` <-> ``geometry_msgs/Pose``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from builtin_interfaces.msg import Duration, Time
from control_msgs.action import FollowJointTrajectory, GripperCommand
from control_msgs.msg import JointTolerance
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from flexcell_interfaces.msg import CellStatus
from geometry_msgs.msg import Pose, PoseArray
from rosgraph_msgs.msg import Clock
from scipy.spatial.transform import Rotation
from sensor_msgs.msg import CompressedImage, JointState
from std_msgs.msg import Float64MultiArray, String
from trajectory_msgs.msg import JointTrajectory as JointTrajectoryMsg
from trajectory_msgs.msg import JointTrajectoryPoint

from motion.trajectory import JointTrajectory

# Operator states, in the numbering of flexcell_interfaces/msg/CellStatus.
STATE_NAMES: dict[int, str] = {
    CellStatus.IDLE: "IDLE",
    CellStatus.READY: "READY",
    CellStatus.RUNNING: "RUNNING",
    CellStatus.PAUSED: "PAUSED",
    CellStatus.FAULT: "FAULT",
    CellStatus.ESTOP: "ESTOP",
}

# A task description starting with this is an operator task's instructions, one step per line (the
# executor's feedback, then /cell/status while the cell waits for the worker).
OPERATOR_PREFIX = "operator: "


def operator_instructions(task_description: str) -> str:
    """The worker's instructions in a task description, or "" when it is not an operator task."""
    return task_description[len(OPERATOR_PREFIX) :] if task_description.startswith(OPERATOR_PREFIX) else ""


def duration_to_msg(t_s: float) -> Duration:
    """Seconds (>= 0) to ``builtin_interfaces/Duration``."""
    sec = math.floor(t_s)
    return Duration(sec=int(sec), nanosec=min(round((t_s - sec) * 1e9), 999_999_999))


def duration_from_msg(d: Duration) -> float:
    return float(d.sec) + float(d.nanosec) * 1e-9


def time_to_msg(t_s: float) -> Time:
    """Seconds since the clock's epoch (sim time here) to ``builtin_interfaces/Time``."""
    sec = math.floor(t_s)
    return Time(sec=int(sec), nanosec=min(round((t_s - sec) * 1e9), 999_999_999))


def time_from_msg(t: Time) -> float:
    return float(t.sec) + float(t.nanosec) * 1e-9


def clock_to_msg(t_s: float) -> Clock:
    return Clock(clock=time_to_msg(t_s))


def trajectory_to_msg(traj: JointTrajectory, stamp_s: float | None = None) -> JointTrajectoryMsg:
    """Domain trajectory to ``trajectory_msgs/JointTrajectory``.

    ``stamp_s`` None leaves the header stamp at zero, which a joint_trajectory_controller reads as
    "start now".
    """
    msg = JointTrajectoryMsg()
    msg.joint_names = list(traj.joint_names)
    if stamp_s is not None:
        msg.header.stamp = time_to_msg(stamp_s)
    t0 = float(traj.t_s[0])
    for i in range(len(traj.t_s)):
        msg.points.append(
            JointTrajectoryPoint(
                positions=traj.q[i].tolist(),
                velocities=traj.qd[i].tolist(),
                accelerations=traj.qdd[i].tolist(),
                time_from_start=duration_to_msg(float(traj.t_s[i]) - t0),
            )
        )
    return msg


def stop_trajectory_msg(joint_names: Sequence[str]) -> JointTrajectoryMsg:
    """An empty trajectory: a joint_trajectory_controller holds position on it (how ROS says "stop")."""
    msg = JointTrajectoryMsg()
    msg.joint_names = list(joint_names)
    return msg


def trajectory_from_msg(msg: JointTrajectoryMsg, joint_order: Sequence[str]) -> JointTrajectory | None:
    """``trajectory_msgs/JointTrajectory`` to a domain trajectory with columns in ``joint_order``.

    Returns None for an empty trajectory (the stop request). Missing velocities/accelerations are
    zero; raises ValueError when joints are missing or unknown, or times are not increasing.
    """
    if not msg.points:
        return None
    names = list(msg.joint_names)
    if sorted(names) != sorted(joint_order):
        raise ValueError(f"trajectory joints {names} do not match the controller's {list(joint_order)}")
    cols = [names.index(j) for j in joint_order]
    n_pts, n = len(msg.points), len(names)
    t_s = np.array([duration_from_msg(p.time_from_start) for p in msg.points])
    q = np.zeros((n_pts, n))
    qd = np.zeros((n_pts, n))
    qdd = np.zeros((n_pts, n))
    for i, p in enumerate(msg.points):
        q[i] = np.asarray(p.positions, dtype=float)[cols]
        if len(p.velocities) == n:
            qd[i] = np.asarray(p.velocities, dtype=float)[cols]
        if len(p.accelerations) == n:
            qdd[i] = np.asarray(p.accelerations, dtype=float)[cols]
    return JointTrajectory(list(joint_order), t_s, q, qd, qdd)


def joint_state_to_msg(
    stamp_s: float,
    names: Sequence[str],
    q: np.ndarray,
    qd: np.ndarray,
    effort: np.ndarray | None = None,
) -> JointState:
    """``(n,)`` positions (rad or m), velocities and efforts to ``sensor_msgs/JointState``."""
    msg = JointState()
    msg.header.stamp = time_to_msg(stamp_s)
    msg.name = list(names)
    msg.position = np.asarray(q, dtype=float).tolist()
    msg.velocity = np.asarray(qd, dtype=float).tolist()
    msg.effort = (np.zeros(len(names)) if effort is None else np.asarray(effort, dtype=float)).tolist()
    return msg


def joint_state_from_msg(msg: JointState, joint_order: Sequence[str]) -> tuple[float, np.ndarray, np.ndarray]:
    """``(stamp_s, q (n,), qd (n,))`` for ``joint_order``; raises KeyError on a missing joint."""
    idx = {name: i for i, name in enumerate(msg.name)}
    cols = [idx[j] for j in joint_order]
    q = np.asarray(msg.position, dtype=float)[cols]
    qd = (
        np.asarray(msg.velocity, dtype=float)[cols]
        if len(msg.velocity) == len(msg.name)
        else np.zeros(len(cols))
    )
    return time_from_msg(msg.header.stamp), q, qd


def gripper_command_to_msg(width_m: float, force_n: float) -> Float64MultiArray:
    """The forward-command controller's data layout: ``[width_m, force_n]``."""
    return Float64MultiArray(data=[float(width_m), float(force_n)])


def gripper_command_from_msg(msg: Float64MultiArray) -> tuple[float, float]:
    """``(width_m, force_n)``; raises ValueError on a malformed command."""
    if len(msg.data) != 2:
        raise ValueError(f"gripper command needs [width_m, force_n], got {len(msg.data)} values")
    width_m, force_n = float(msg.data[0]), float(msg.data[1])
    if not (math.isfinite(width_m) and math.isfinite(force_n)) or width_m < 0 or force_n < 0:
        raise ValueError(f"gripper command [{width_m}, {force_n}] must be finite and >= 0")
    return width_m, force_n


# --- control_msgs: the controllers' actions --------------------------------------------------------------
FJT = FollowJointTrajectory.Result
# error_code -> name, for messages and logs.
FJT_ERROR_NAMES: dict[int, str] = {
    FJT.SUCCESSFUL: "SUCCESSFUL",
    FJT.INVALID_GOAL: "INVALID_GOAL",
    FJT.INVALID_JOINTS: "INVALID_JOINTS",
    FJT.OLD_HEADER_TIMESTAMP: "OLD_HEADER_TIMESTAMP",
    FJT.PATH_TOLERANCE_VIOLATED: "PATH_TOLERANCE_VIOLATED",
    FJT.GOAL_TOLERANCE_VIOLATED: "GOAL_TOLERANCE_VIOLATED",
}


class GoalError(ValueError):
    """A FollowJointTrajectory goal the controller cannot run: ``code`` is the result's error_code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def joint_tolerances_to_msg(
    joint_names: Sequence[str], position: float = 0.0, velocity: float = 0.0, acceleration: float = 0.0
) -> list[JointTolerance]:
    """The same tolerance for every joint (0 = the controller's default, -1 = no bound)."""
    return [
        JointTolerance(
            name=n, position=float(position), velocity=float(velocity), acceleration=float(acceleration)
        )
        for n in joint_names
    ]


def follow_goal_to_msg(
    traj: JointTrajectory,
    path_tolerance: Sequence[JointTolerance] = (),
    goal_tolerance: Sequence[JointTolerance] = (),
    goal_time_tolerance_s: float = 0.0,
) -> FollowJointTrajectory.Goal:
    """A FollowJointTrajectory goal for ``traj`` (starting when it arrives: the header stamp stays 0)."""
    goal = FollowJointTrajectory.Goal()
    goal.trajectory = trajectory_to_msg(traj)
    goal.path_tolerance = list(path_tolerance)
    goal.goal_tolerance = list(goal_tolerance)
    goal.goal_time_tolerance = duration_to_msg(goal_time_tolerance_s)
    return goal


def tolerance_array_from_msg(
    tolerances: Sequence[JointTolerance], joint_order: Sequence[str], field: str, default: np.ndarray
) -> np.ndarray:
    """``(n,)`` bounds for ``joint_order`` from the goal's ``field`` (position / velocity / acceleration).

    A joint without an entry, or with 0, keeps ``default``; -1 lifts the bound (inf). Raises GoalError
    (INVALID_JOINTS) on a joint the controller does not have, (INVALID_GOAL) on a negative value other
    than -1 or a non-finite one.
    """
    out = np.array(default, dtype=float, copy=True)
    index = {name: i for i, name in enumerate(joint_order)}
    for tol in tolerances:
        if tol.name not in index:
            raise GoalError(FJT.INVALID_JOINTS, f"tolerance for unknown joint {tol.name!r}")
        value = float(getattr(tol, field))
        if not math.isfinite(value) or (value < 0.0 and value != -1.0):
            raise GoalError(
                FJT.INVALID_GOAL, f"{field} tolerance {value} of {tol.name} (use > 0, 0 = default, -1 = none)"
            )
        if value == -1.0:
            out[index[tol.name]] = math.inf
        elif value > 0.0:
            out[index[tol.name]] = value
    return out


def check_follow_goal(goal: FollowJointTrajectory.Goal, joint_order: Sequence[str]) -> JointTrajectory:
    """The goal's trajectory in ``joint_order`` columns; GoalError with the result code when it is invalid.

    Checked as a joint_trajectory_controller does: every controller joint exactly once (no partial goals),
    at least one point, positions for every joint, velocities / accelerations for every joint or none,
    finite values, strictly increasing ``time_from_start``; nothing for multi-DOF joints (this arm has
    none).
    """
    traj_msg = goal.trajectory
    names = list(traj_msg.joint_names)
    if len(set(names)) != len(names):
        raise GoalError(FJT.INVALID_JOINTS, f"joint names repeated in {names}")
    if sorted(names) != sorted(joint_order):
        missing = sorted(set(joint_order) - set(names))
        unknown = sorted(set(names) - set(joint_order))
        raise GoalError(
            FJT.INVALID_JOINTS,
            f"goal joints {names} do not match the controller's {list(joint_order)}"
            f" (missing {missing}, unknown {unknown})",
        )
    if goal.multi_dof_trajectory.points or goal.multi_dof_trajectory.joint_names:
        raise GoalError(
            FJT.INVALID_JOINTS, "multi_dof_trajectory given, the controller has no multi-DOF joints"
        )
    if goal.component_path_tolerance or goal.component_goal_tolerance:
        raise GoalError(
            FJT.INVALID_GOAL, "component tolerances given, the controller has no multi-DOF joints"
        )
    if not traj_msg.points:
        raise GoalError(FJT.INVALID_GOAL, "empty trajectory (no points)")
    n = len(names)
    last_t = -math.inf
    for i, p in enumerate(traj_msg.points):
        if len(p.positions) != n:
            raise GoalError(FJT.INVALID_GOAL, f"point {i}: {len(p.positions)} positions for {n} joints")
        for field in ("velocities", "accelerations"):
            if len(getattr(p, field)) not in (0, n):
                raise GoalError(
                    FJT.INVALID_GOAL, f"point {i}: {len(getattr(p, field))} {field} for {n} joints"
                )
        values = [*p.positions, *p.velocities, *p.accelerations]
        if not all(math.isfinite(v) for v in values):
            raise GoalError(FJT.INVALID_GOAL, f"point {i}: a value is not finite")
        t = duration_from_msg(p.time_from_start)
        if t <= last_t:
            raise GoalError(
                FJT.INVALID_GOAL,
                f"point {i}: time_from_start {t:.4f} s does not increase (previous {last_t:.4f} s)",
            )
        last_t = t
    goal_time_s = duration_from_msg(goal.goal_time_tolerance)
    if goal_time_s < 0.0:
        raise GoalError(FJT.INVALID_GOAL, f"goal_time_tolerance {goal_time_s} s is negative")
    traj = trajectory_from_msg(traj_msg, joint_order)
    assert traj is not None  # points checked above
    return traj


def follow_feedback_to_msg(
    stamp_s: float,
    joint_names: Sequence[str],
    q_ref: np.ndarray,
    qd_ref: np.ndarray,
    q: np.ndarray,
    qd: np.ndarray,
    t_from_start_s: float,
) -> FollowJointTrajectory.Feedback:
    """Desired (the reference now), actual (measured) and error (desired - actual) of the arm."""
    fb = FollowJointTrajectory.Feedback()
    fb.header.stamp = time_to_msg(stamp_s)
    fb.joint_names = list(joint_names)
    since = duration_to_msg(max(0.0, t_from_start_s))
    fb.desired = JointTrajectoryPoint(
        positions=np.asarray(q_ref, dtype=float).tolist(),
        velocities=np.asarray(qd_ref, dtype=float).tolist(),
        time_from_start=since,
    )
    fb.actual = JointTrajectoryPoint(
        positions=np.asarray(q, dtype=float).tolist(),
        velocities=np.asarray(qd, dtype=float).tolist(),
        time_from_start=since,
    )
    fb.error = JointTrajectoryPoint(
        positions=(np.asarray(q_ref, dtype=float) - q).tolist(),
        velocities=(np.asarray(qd_ref, dtype=float) - qd).tolist(),
        time_from_start=since,
    )
    return fb


def follow_result(code: int, message: str = "") -> FollowJointTrajectory.Result:
    return FollowJointTrajectory.Result(error_code=int(code), error_string=message)


def gripper_goal_to_msg(width_m: float, max_effort_n: float) -> GripperCommand.Goal:
    """A GripperCommand goal: ``position`` is the opening between the jaws (m), ``max_effort`` in N."""
    goal = GripperCommand.Goal()
    goal.command.position = float(width_m)
    goal.command.max_effort = float(max_effort_n)
    return goal


def gripper_goal_from_msg(goal: GripperCommand.Goal) -> tuple[float, float]:
    """``(width_m, max_effort_n)``; raises ValueError when not finite or the width is negative.

    ``max_effort`` <= 0 means "no limit given": the caller uses the gripper's rated force.
    """
    width_m, effort_n = float(goal.command.position), float(goal.command.max_effort)
    if not (math.isfinite(width_m) and math.isfinite(effort_n)) or width_m < 0.0:
        raise ValueError(
            f"gripper goal position {width_m} m, max_effort {effort_n} N: must be finite, position >= 0"
        )
    return width_m, effort_n


def gripper_result(width_m: float, effort_n: float, stalled: bool, reached: bool) -> GripperCommand.Result:
    return GripperCommand.Result(
        position=float(width_m), effort=float(effort_n), stalled=bool(stalled), reached_goal=bool(reached)
    )


def gripper_feedback(
    width_m: float, effort_n: float, stalled: bool, reached: bool
) -> GripperCommand.Feedback:
    return GripperCommand.Feedback(
        position=float(width_m), effort=float(effort_n), stalled=bool(stalled), reached_goal=bool(reached)
    )


def pose_to_msg(T: np.ndarray) -> Pose:
    """``(4, 4)`` transform to ``geometry_msgs/Pose``."""
    T = np.asarray(T, dtype=float)
    msg = Pose()
    msg.position.x, msg.position.y, msg.position.z = (float(v) for v in T[:3, 3])
    x, y, z, w = Rotation.from_matrix(T[:3, :3]).as_quat()
    msg.orientation.x, msg.orientation.y, msg.orientation.z, msg.orientation.w = (
        float(x),
        float(y),
        float(z),
        float(w),
    )
    return msg


def pose_from_msg(msg: Pose) -> np.ndarray:
    """``geometry_msgs/Pose`` to a ``(4, 4)`` transform."""
    T = np.eye(4)
    o = msg.orientation
    T[:3, :3] = Rotation.from_quat([o.x, o.y, o.z, o.w]).as_matrix()
    T[:3, 3] = [msg.position.x, msg.position.y, msg.position.z]
    return T


def part_poses_to_msg(stamp_s: float, poses: Mapping[str, np.ndarray]) -> PoseArray:
    """Part poses ``T_world_part`` in sorted part-name order (names go on a latched topic beside it:
    :func:`part_names_to_msg`)."""
    msg = PoseArray()
    msg.header.stamp = time_to_msg(stamp_s)
    msg.header.frame_id = "world"
    msg.poses = [pose_to_msg(poses[name]) for name in sorted(poses)]
    return msg


def jpeg_to_msg(stamp_s: float, jpeg: bytes, frame_id: str) -> CompressedImage:
    """A JPEG image (``sensor_msgs/CompressedImage``, format ``jpeg``) taken at ``stamp_s``."""
    msg = CompressedImage()
    msg.header.stamp = time_to_msg(stamp_s)
    msg.header.frame_id = frame_id
    msg.format = "jpeg"
    msg.data = jpeg
    return msg


def part_names_to_msg(names: Sequence[str]) -> String:
    """Sorted part names, one per line (the order of the poses in :func:`part_poses_to_msg`)."""
    return String(data="\n".join(sorted(names)))


def part_names_from_msg(msg: String) -> list[str]:
    return [n for n in msg.data.split("\n") if n]


def part_poses_from_msg(msg: PoseArray, names: Sequence[str]) -> dict[str, np.ndarray]:
    """``name -> T_world_part (4, 4)``; ``names`` in the order the publisher used (sorted)."""
    if len(names) != len(msg.poses):
        return {}
    return {name: pose_from_msg(p) for name, p in zip(names, msg.poses, strict=True)}


def status_to_msg(
    stamp_s: float,
    state: int,
    variant: str,
    task_index: int,
    task_count: int,
    task_description: str,
    cycle_time_s: float,
    last_cycle_time_s: float,
    runs_completed: int,
    last_fault: str,
) -> CellStatus:
    msg = CellStatus(
        state=state,
        state_name=STATE_NAMES[state],
        variant=variant,
        task_index=task_index,
        task_count=task_count,
        task_description=task_description,
        cycle_time_s=float(cycle_time_s),
        last_cycle_time_s=float(last_cycle_time_s),
        runs_completed=runs_completed,
        last_fault=last_fault,
    )
    msg.stamp = time_to_msg(stamp_s)
    return msg


def diagnostics_to_msg(
    stamp_s: float, name: str, hardware_id: str, level_ok: bool, message: str, values: Mapping[str, object]
) -> DiagnosticArray:
    """One ``DiagnosticStatus`` (OK or ERROR) with ``values`` as key/value strings."""
    status = DiagnosticStatus(
        level=DiagnosticStatus.OK if level_ok else DiagnosticStatus.ERROR,
        name=name,
        message=message,
        hardware_id=hardware_id,
        values=[KeyValue(key=k, value=str(v)) for k, v in values.items()],
    )
    arr = DiagnosticArray(status=[status])
    arr.header.stamp = time_to_msg(stamp_s)
    return arr
