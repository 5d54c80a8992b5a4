"""Controllers that behave like the ros2_control ones the real cell runs.

:class:`ArmTrajectoryController` follows ``joint_trajectory_controller`` (JTC) semantics: a new trajectory
replaces the active one at once and starts "now"; the reference is the trajectory sampled at the controller
time (:meth:`motion.trajectory.JointTrajectory.sample`), and the command is PD + feed-forward (reference
velocity through the servo damping, reference acceleration through the joint inertia, gravity and Coriolis
through MuJoCo's bias forces); path tolerances abort a trajectory that the arm cannot follow (the JTC then
holds position); goal tolerances and the stopped velocity decide when a trajectory has succeeded.

:class:`GripperController` mimics a parallel gripper driver (the ``/gripper_controller/commands``
``[width_m, force_n]`` interface): the opening moves at the gripper's rated speed to the commanded width,
and the force limit of the servo is the commanded force (at most the gripper's rated force).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np

from motion.trajectory import JointTrajectory


class TrajectoryStatus(str, Enum):
    IDLE = "idle"
    ACTIVE = "active"
    SUCCEEDED = "succeeded"
    ABORTED = "aborted"  # path tolerance violated: holding where it was
    GOAL_TIMEOUT = "goal_timeout"  # finished in time but not within goal tolerance after goal_time_s


@dataclass
class Tolerances:
    """JTC-like constraints (rad, rad/s, s) applied to every joint."""

    path_rad: float = 0.15
    goal_rad: float = 0.005
    stopped_velocity_rad_s: float = 0.01
    goal_time_s: float = 1.0


class ArmTrajectoryController:
    """Joint trajectory following with JTC semantics (see module docstring).

    Parameters
    ----------
    joint_names : arm joints, in the order of every array here
    max_acceleration_rad_s2 : (n,) used to bring the arm to rest on :meth:`stop`
    tolerances : path and goal tolerances
    """

    def __init__(
        self,
        joint_names: list[str],
        max_acceleration_rad_s2: np.ndarray,
        tolerances: Tolerances | None = None,
    ) -> None:
        self.joint_names = list(joint_names)
        self.max_acc = np.asarray(max_acceleration_rad_s2, dtype=float)
        self.tol = tolerances or Tolerances()
        self.traj: JointTrajectory | None = None
        self.t0_s = 0.0
        self.status = TrajectoryStatus.IDLE
        self.q_hold = np.zeros(len(joint_names))
        self.max_path_error_rad = 0.0

    def hold(self, q: np.ndarray) -> None:
        """Hold ``q`` (no active trajectory)."""
        self.traj = None
        self.q_hold = np.asarray(q, dtype=float).copy()
        self.status = TrajectoryStatus.IDLE

    def follow(self, traj: JointTrajectory, now_s: float) -> None:
        """Replace the active trajectory by ``traj``, starting at ``now_s`` (sim time)."""
        if list(traj.joint_names) != self.joint_names:
            idx = [list(traj.joint_names).index(j) for j in self.joint_names]
            traj = JointTrajectory(
                self.joint_names, traj.t_s, traj.q[:, idx], traj.qd[:, idx], traj.qdd[:, idx]
            )
        if traj.t_s[0] != 0.0:
            traj = JointTrajectory(self.joint_names, traj.t_s - traj.t_s[0], traj.q, traj.qd, traj.qdd)
        self.traj = traj
        self.t0_s = now_s
        self.status = TrajectoryStatus.ACTIVE
        self.max_path_error_rad = 0.0

    def stop(self, q: np.ndarray, qd: np.ndarray, now_s: float) -> None:
        """Decelerate to rest within the acceleration limits and hold (like a JTC empty trajectory)."""
        q, qd = np.asarray(q, dtype=float), np.asarray(qd, dtype=float)
        t_stop = float(max(0.05, np.max(np.abs(qd) / self.max_acc)))
        q_end = q + 0.5 * qd * t_stop
        traj = JointTrajectory(
            self.joint_names, np.array([0.0, t_stop]), np.vstack([q, q_end]), np.vstack([qd, 0 * qd])
        )
        self.follow(traj, now_s)

    def reference(self, now_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(q_ref, qd_ref, qdd_ref)``, each ``(n,)``, at sim time ``now_s``."""
        if self.traj is None:
            z = np.zeros_like(self.q_hold)
            return self.q_hold, z, z
        if now_s <= self.t0_s:
            # JTC commands a trajectory's first point (position, velocity, acceleration) from its first
            # update; JointTrajectory.sample treats t <= 0 as "before the start, at rest", which would hold a
            # trajectory starting at speed for one more control period.
            traj = self.traj
            return traj.q[0].copy(), traj.qd[0].copy(), traj.qdd[0].copy()
        return self.traj.sample(now_s - self.t0_s)

    def check(self, now_s: float, q: np.ndarray, qd: np.ndarray, q_ref: np.ndarray) -> None:
        """Update the status from the measured state (called at the controller rate)."""
        if self.status != TrajectoryStatus.ACTIVE or self.traj is None:
            return
        err = float(np.max(np.abs(q - q_ref)))
        self.max_path_error_rad = max(self.max_path_error_rad, err)
        t = now_s - self.t0_s
        if t <= self.traj.duration_s:
            if err > self.tol.path_rad:
                self.status = TrajectoryStatus.ABORTED
                self.traj, self.q_hold = None, q.copy()
            return
        at_goal = err <= self.tol.goal_rad and float(np.max(np.abs(qd))) <= self.tol.stopped_velocity_rad_s
        if at_goal:
            self.status = TrajectoryStatus.SUCCEEDED
        elif t > self.traj.duration_s + self.tol.goal_time_s:
            self.status = TrajectoryStatus.GOAL_TIMEOUT

    def done(self) -> bool:
        return self.status != TrajectoryStatus.ACTIVE


class GripperController:
    """Parallel gripper: opening ramps at ``max_speed_m_s`` to the target, force limited per command.

    Parameters
    ----------
    min_opening_m, stroke_m : range of the opening between the pads (m)
    max_speed_m_s : rated opening speed
    max_force_n : rated grip force; commands above it are clipped
    """

    def __init__(
        self, min_opening_m: float, stroke_m: float, max_speed_m_s: float, max_force_n: float
    ) -> None:
        self.min_m, self.max_m = min_opening_m, stroke_m
        self.speed = max_speed_m_s
        self.max_force_n = max_force_n
        self.target_m = stroke_m
        self.setpoint_m = stroke_m
        self.force_n = max_force_n

    def command(self, width_m: float, force_n: float) -> None:
        self.target_m = float(np.clip(width_m, self.min_m, self.max_m))
        self.force_n = float(np.clip(force_n, 0.0, self.max_force_n))

    def reset(self, width_m: float) -> None:
        self.target_m = self.setpoint_m = float(np.clip(width_m, self.min_m, self.max_m))

    def update(self, dt_s: float) -> float:
        """Advance the setpoint by ``dt_s`` and return it (m)."""
        step = self.speed * dt_s
        self.setpoint_m += min(step, max(-step, self.target_m - self.setpoint_m))
        return self.setpoint_m

    def settled(self, width_m: float, speed_m_s: float) -> bool:
        """The setpoint reached its target and the fingers stopped (at the target or on a part)."""
        return abs(self.setpoint_m - self.target_m) < 1e-9 and abs(speed_m_s) < 1e-3
