"""Kinematic model of a cell's arm + gripper (pinocchio), reduced to the planning joints.

The full model comes from :func:`cell_config.compose.cell_urdf`; the finger joints are locked at the
current gripper opening, so every configuration ``q`` handled here is ``(n,)`` arm joints in the
planning-group order of ``cell.joint_names``. Poses returned are in the WORLD frame (the robot base
pose ``cell.T_world_base`` is applied), Jacobians are in the base-aligned world frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pinocchio as pin

from cell_config import Cell
from cell_config.compose import FINGER_JOINT, FINGER_MIMIC_JOINT, TCP_LINK, cell_urdf


@dataclass
class Limits:
    """Per-joint limits of the planning joints, arrays of shape ``(n,)``.

    ``acceleration`` / ``jerk`` hold ``inf`` where a joint has no such limit.
    """

    lower: np.ndarray
    upper: np.ndarray
    velocity: np.ndarray
    acceleration: np.ndarray
    jerk: np.ndarray


class RobotModel:
    """Reduced pinocchio model of the arm with the gripper fingers locked at an opening.

    Parameters
    ----------
    cell : the loaded cell
    opening_m : initial distance between the finger pads (default: fully open)
    """

    def __init__(self, cell: Cell, opening_m: float | None = None) -> None:
        self.cell = cell
        self.urdf_text = cell_urdf(cell)
        self.full_model = pin.buildModelFromXML(self.urdf_text)
        self.full_geom = pin.buildGeomFromUrdfString(
            self.full_model, self.urdf_text, pin.GeometryType.COLLISION
        )
        self.joint_names: list[str] = list(cell.joint_names)
        self.n = len(self.joint_names)
        self.T_world_base = np.asarray(cell.T_world_base, dtype=float)
        self.M_world_base = pin.SE3(self.T_world_base[:3, :3].copy(), self.T_world_base[:3, 3].copy())
        self.limits = Limits(
            lower=np.array([lim.lower for lim in cell.limits]),
            upper=np.array([lim.upper for lim in cell.limits]),
            velocity=np.array([lim.velocity for lim in cell.limits]),
            acceleration=np.array([lim.acceleration or np.inf for lim in cell.limits]),
            jerk=np.array([lim.jerk or np.inf for lim in cell.limits]),
        )
        g = cell.spec.gripper
        self.opening_min_m = g.min_opening_m
        self.opening_max_m = g.stroke_m
        self.opening_m = g.stroke_m if opening_m is None else float(opening_m)
        self._build_reduced()

    # ----------------------------------------------------------------- model construction
    def _build_reduced(self) -> None:
        fm = self.full_model
        lock_names = [j for j in (FINGER_JOINT, FINGER_MIMIC_JOINT) if fm.existJointName(j)]
        extra = [fm.names[i] for i in range(1, fm.njoints) if fm.names[i] not in self.joint_names]
        lock_names += [j for j in extra if j not in lock_names]
        q_full = pin.neutral(fm)
        half = np.clip(self.opening_m, self.opening_min_m, self.opening_max_m) / 2.0
        for name in (FINGER_JOINT, FINGER_MIMIC_JOINT):
            if fm.existJointName(name):
                jid = fm.getJointId(name)
                q_full[fm.joints[jid].idx_q] = half
        lock_ids = [fm.getJointId(j) for j in lock_names]
        self.model, self.geom_model = pin.buildReducedModel(fm, self.full_geom, lock_ids, q_full)
        self.data = self.model.createData()
        names = [self.model.names[i] for i in range(1, self.model.njoints)]
        if names != self.joint_names:
            raise ValueError(
                f"reduced model joints {names} differ from the planning group {self.joint_names}"
            )
        self.tcp_frame = self.model.getFrameId(TCP_LINK)
        self.flange_frame = self.model.getFrameId(self.cell.spec.robot.flange_link)
        self.last_joint = self.model.njoints - 1

    def set_opening(self, opening_m: float) -> None:
        """Lock the fingers at a new opening (m); rebuilds the reduced model."""
        self.opening_m = float(np.clip(opening_m, self.opening_min_m, self.opening_max_m))
        self._build_reduced()

    # ----------------------------------------------------------------- kinematics
    @property
    def home(self) -> np.ndarray:
        return np.asarray(self.cell.home, dtype=float).copy()

    def fk(self, q: np.ndarray, frame: str = TCP_LINK) -> np.ndarray:
        """``T_world_frame (4, 4)`` of a frame (default the tcp) at configuration ``q (n,)`` rad."""
        fid = self.tcp_frame if frame == TCP_LINK else self.model.getFrameId(frame)
        pin.framesForwardKinematics(self.model, self.data, np.asarray(q, dtype=float))
        return (self.M_world_base * self.data.oMf[fid]).homogeneous

    def fk_base(self, q: np.ndarray) -> pin.SE3:
        """``M_base_tcp`` (pinocchio SE3) at ``q``; fast path used by IK."""
        pin.framesForwardKinematics(self.model, self.data, q)
        return self.data.oMf[self.tcp_frame]

    def jacobian(self, q: np.ndarray) -> np.ndarray:
        """Tcp Jacobian ``(6, n)`` (linear; angular) in the world frame at ``q``."""
        J = pin.computeFrameJacobian(
            self.model, self.data, np.asarray(q, dtype=float), self.tcp_frame, pin.LOCAL_WORLD_ALIGNED
        )
        R = self.T_world_base[:3, :3]
        out = np.empty_like(J)
        out[:3] = R @ J[:3]
        out[3:] = R @ J[3:]
        return out

    def within_limits(self, q: np.ndarray, tol: float = 1e-9) -> bool:
        return bool(np.all(q >= self.limits.lower - tol) and np.all(q <= self.limits.upper + tol))

    def random_q(self, rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(self.limits.lower, self.limits.upper)
