"""Planning results and the backend-independent planner protocol."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import trimesh

from motion.trajectory import JointTrajectory

ERROR_CODES = (
    "SUCCESS",
    "START_IN_COLLISION",
    "GOAL_IN_COLLISION",
    "NO_IK_SOLUTION",
    "TIMED_OUT",
    "PLANNING_FAILED",
    "CARTESIAN_BLOCKED",
    "INVALID_TRAJECTORY",
)


@dataclass
class PlanResult:
    """Outcome of one planning request.

    Attributes
    ----------
    success : True when ``trajectory`` is a complete, checked, time-parameterised motion
    trajectory : the motion (for a blocked Cartesian move: the achieved part, if any)
    error_code : one of :data:`ERROR_CODES`
    message : human reason (names the colliding pair, the unreachable pose, ...)
    planning_time_s : wall time of the request
    fraction : achieved fraction of a Cartesian move (1.0 for successful joint-space plans)
    """

    success: bool
    trajectory: JointTrajectory | None
    error_code: str
    message: str
    planning_time_s: float
    fraction: float = 0.0

    def __bool__(self) -> bool:
        return self.success


@runtime_checkable
class Planner(Protocol):
    """What the workflow layer needs from a motion planner (embedded OMPL or MoveIt)."""

    joint_names: list[str]

    @property
    def home(self) -> np.ndarray: ...

    def fk(self, q: np.ndarray) -> np.ndarray: ...

    def add_object(self, name: str, mesh: trimesh.Trimesh, T_world_obj: np.ndarray) -> None: ...

    def remove_object(self, name: str) -> None: ...

    def set_object_pose(self, name: str, T_world_obj: np.ndarray) -> None: ...

    def attach_object(self, name: str, q: np.ndarray) -> None: ...

    def detach_object(self, name: str, q: np.ndarray) -> None: ...

    def set_gripper_opening(self, width_m: float) -> None: ...

    def is_valid(self, q: np.ndarray) -> bool: ...

    def collision_report(self, q: np.ndarray) -> str | None: ...

    def ik(self, T_world_tcp: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray | None: ...

    def plan_to_joint(
        self, q_start: np.ndarray, q_goal: np.ndarray, profile: str = "default"
    ) -> PlanResult: ...

    def plan_to_pose(
        self,
        q_start: np.ndarray,
        T_world_tcp: np.ndarray,
        profile: str = "default",
        reference: np.ndarray | None = None,
    ) -> PlanResult: ...

    def plan_cartesian(
        self,
        q_start: np.ndarray,
        T_world_tcp_goal: np.ndarray,
        allowed_objects: tuple[str, ...] = (),
        max_step_m: float = 0.005,
    ) -> PlanResult: ...
