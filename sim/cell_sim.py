"""CellSim: the cell in MuJoCo with ros2_control-like controllers.

Used by the validation (:mod:`sim.validate`) and by the ROS ``sim_cell`` node, which maps
``/arm_controller/joint_trajectory`` to :meth:`CellSim.follow`, ``/gripper_controller/commands`` to
:meth:`CellSim.set_gripper`, and publishes :meth:`CellSim.joint_state` on ``/joint_states``.

Time: the physics steps at ``dt_s`` (2 ms); the controllers update every ``CONTROL_EVERY`` steps (250 Hz, a
usual ros2_control ``update_rate``; commands are held in between, like a real controller's zero-order hold).
Contacts are scanned every ``CONTACT_EVERY`` steps (8 ms): a collision lasts far longer than that.
Everything is deterministic: the same calls give the same state bit for bit.
"""

from __future__ import annotations

from pathlib import Path

import mujoco
import numpy as np
from scipy.spatial.transform import Rotation

from cell_config import Cell, load_cell
from motion.trajectory import JointTrajectory
from sim.controllers import ArmTrajectoryController, GripperController, TrajectoryStatus
from sim.model_builder import CellModel, SimFault, build_model
from workflow_gen.model import PartInfo, load_workflow

CONTROL_EVERY = 2
CONTACT_EVERY = 4
# Servo bandwidth of the arm position loop (Hz) and damping ratio; gains scale with each joint's inertia.
ARM_BANDWIDTH_HZ = 10.0
ARM_DAMPING_RATIO = 1.0

# Contact owner kinds, ordered so that a sorted pair names the robot (or part) first.
_KIND_ARM, _KIND_GRIPPER, _KIND_PART, _KIND_STATION, _KIND_OBSTACLE = 0, 1, 2, 3, 4


def _fault(fault: SimFault | str | None) -> SimFault | None:
    if fault is None or isinstance(fault, SimFault):
        return fault
    return SimFault(kind=fault)


def default_obstacle_xyz(cell: Cell, part: PartInfo) -> tuple[float, float, float]:
    """A point on the carry path of ``part``: halfway in angle and radius around the robot base.

    A pick-and-place swings the arm about its first joint, so the midpoint in polar coordinates around the
    base lies in the swept path (the straight-line midpoint can be inside the robot's reach gap).
    """
    base = cell.T_world_base[:3, 3]
    a, b = part.T_world_start.matrix()[:3, 3] - base, part.T_world_target.matrix()[:3, 3] - base
    ang_a, ang_b = np.arctan2(a[1], a[0]), np.arctan2(b[1], b[0])
    d_ang = (ang_b - ang_a + np.pi) % (2 * np.pi) - np.pi
    ang = ang_a + d_ang / 2
    r = 0.5 * (np.hypot(a[0], a[1]) + np.hypot(b[0], b[1]))
    return (float(base[0] + r * np.cos(ang)), float(base[1] + r * np.sin(ang)), 0.5)


class CellSim:
    """The cell with its parts in MuJoCo, driven like the real cell through ros2_control.

    Parameters
    ----------
    cell : the robot cell
    parts : parts at their ``T_world_start``
    parts_dir : directory the part meshes (``PartInfo.mesh``) are relative to
    fault : optional :class:`~sim.model_builder.SimFault` (or its kind) injected on purpose
    """

    def __init__(
        self, cell: Cell, parts: list[PartInfo], parts_dir: Path, fault: SimFault | str | None = None
    ) -> None:
        self.cell = cell
        self.parts = list(parts)
        self.fault = _fault(fault)
        if self.fault is not None and self.fault.kind == "obstacle" and self.fault.xyz_m is None:
            if parts:
                self.fault.xyz_m = default_obstacle_xyz(cell, parts[0])
            else:  # no parts: between the first two stations, where any pick-and-place passes
                st = [cell.T_world_station(s.name)[:3, 3] for s in cell.spec.stations[:2]]
                mid = np.mean(st, axis=0)
                self.fault.xyz_m = (float(mid[0]), float(mid[1]), 0.5)
        self.cm: CellModel = build_model(cell, self.parts, Path(parts_dir), self.fault)
        self.model = self.cm.model
        self.data = mujoco.MjData(self.model)
        self.joint_names: list[str] = list(cell.joint_names)
        acc = np.array([lim.acceleration or 5.0 for lim in cell.limits])
        self.arm = ArmTrajectoryController(self.joint_names, acc)
        g = cell.spec.gripper
        self.gripper = GripperController(g.min_opening_m, g.stroke_m, g.max_speed_m_s, g.force_n)
        self._geom_kind = np.full(self.model.ngeom, _KIND_STATION, dtype=np.int8)
        for gid in range(self.model.ngeom):
            b = int(self.model.geom_bodyid[gid])
            if b in self.cm.gripper_bodies:
                self._geom_kind[gid] = _KIND_GRIPPER
            elif b in self.cm.robot_bodies:
                self._geom_kind[gid] = _KIND_ARM
            elif self.cm.geom_owner[gid].startswith("part:"):
                self._geom_kind[gid] = _KIND_PART
            elif self.cm.geom_owner[gid].startswith("obstacle:"):
                self._geom_kind[gid] = _KIND_OBSTACLE
        self._unexpected: set[tuple[str, str]] = set()
        self._robot_pairs: set[tuple[str, str]] = set()
        self.reset()

    @classmethod
    def from_workflow(cls, workflow_yaml_path: Path | str, fault: SimFault | str | None = None) -> CellSim:
        """A sim of the workflow's cell with its parts at their start poses."""
        path = Path(workflow_yaml_path)
        wf, _ = load_workflow(path)
        wf_dir = path if path.is_dir() else path.parent
        cell_path = Path(wf.cell)
        if not cell_path.is_absolute() and not cell_path.is_file():
            cell_path = wf_dir / cell_path
        return cls(load_cell(cell_path), wf.parts, wf_dir, fault)

    # --- time -----------------------------------------------------------------------------------------
    @property
    def dt_s(self) -> float:
        return float(self.model.opt.timestep)

    @property
    def time_s(self) -> float:
        return float(self.data.time)

    # --- commands -------------------------------------------------------------------------------------
    def reset(self, q: np.ndarray | None = None) -> None:
        """Parts back at their start poses, arm at ``q`` (default: the cell's home) at rest, gripper open."""
        mujoco.mj_resetData(self.model, self.data)
        q0 = self.cell.home if q is None else np.asarray(q, dtype=float)
        self.data.qpos[self.cm.arm_qpos] = q0
        open_m = self.cell.spec.gripper.stroke_m
        self.data.qpos[self.cm.finger_qpos] = open_m / 2
        self.arm.hold(q0)
        self.gripper.reset(open_m)
        self.gripper.command(open_m, self.cell.spec.gripper.force_n)
        mujoco.mj_forward(self.model, self.data)
        self._set_gains()
        self._unexpected.clear()
        self._robot_pairs.clear()
        self._tick = 0

    def _set_gains(self) -> None:
        """Per-joint servo gains from the arm's joint-space inertia at the current configuration."""
        M = np.zeros((self.model.nv, self.model.nv))
        mujoco.mj_fullM(self.model, self.data, M)
        m_ii = np.diag(M)[self.cm.arm_dof]
        w = 2 * np.pi * ARM_BANDWIDTH_HZ
        kp, kv = m_ii * w * w, 2 * ARM_DAMPING_RATIO * w * m_ii
        for a, p, d in zip(self.cm.arm_actuators, kp, kv, strict=True):
            self.model.actuator_gainprm[a, 0] = p
            self.model.actuator_biasprm[a, 1] = -p
            self.model.actuator_biasprm[a, 2] = -d
        self._kv_over_kp = kv / kp
        self._qdd_full = np.zeros(self.model.nv)
        self._tau_full = np.zeros(self.model.nv)

    def follow(self, traj: JointTrajectory) -> None:
        """Replace the arm's active trajectory by ``traj``; it starts now (sim time)."""
        self.arm.follow(traj, self.time_s)

    def stop_arm(self) -> None:
        """Decelerate to rest and hold (like a JTC empty trajectory)."""
        _, q, qd = self.joint_state()
        self.arm.stop(q, qd, self.time_s)

    def set_gripper(self, width_m: float, force_n: float) -> None:
        """Move the pads to ``width_m`` apart, pressing with at most ``force_n`` (clipped to the rating)."""
        self.gripper.command(width_m, force_n)
        f = self.gripper.force_n
        self.model.actuator_forcerange[self.cm.gripper_actuator] = (-f, f)

    def place_part(self, name: str, T_world_part: np.ndarray) -> None:
        """Put part ``name`` at ``T_world_part (4, 4)`` at rest, as a worker sets it down by hand.

        A part resting in a feeder sleeps; ``mj_forward`` wakes it up because its pose changed, so it settles
        where it is put (``tests/sim/test_validate.py`` drops one from 5 cm to prove it).
        """
        self.set_part_pose(name, T_world_part)
        mujoco.mj_forward(self.model, self.data)  # wakes the part's tree: its qpos changed while it slept

    def fasten(self, name: str) -> None:
        """Hold part ``name`` where it is now (it is threaded on or screwed down): its weld is switched on.

        The weld's reference is the part's current pose in the world, so switching it on applies no force.
        """
        m, d = self.model, self.data
        eq = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_EQUALITY, f"fasten:{name}")
        if eq < 0:
            raise KeyError(f"no part {name!r} in the simulation (parts: {sorted(self.cm.part_qpos)})")
        mujoco.mj_kinematics(m, d)
        bid = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, f"part:{name}")
        # eq_data of a weld: anchor (3), pose of body 2 (the part) in body 1 (the world): pos (3), quat wxyz
        # (4), then the torque scale.
        m.eq_data[eq, 0:3] = 0.0
        m.eq_data[eq, 3:6] = d.xpos[bid]
        m.eq_data[eq, 6:10] = d.xquat[bid]
        m.eq_data[eq, 10] = 1.0
        d.eq_active[eq] = 1

    def fastened(self) -> list[str]:
        """Names of the parts held by their weld."""
        m, d = self.model, self.data
        out = []
        for name in self.cm.part_qpos:
            eq = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_EQUALITY, f"fasten:{name}")
            if eq >= 0 and d.eq_active[eq]:
                out.append(name)
        return sorted(out)

    def set_part_pose(self, name: str, T_world_part: np.ndarray) -> None:
        """Write part ``name``'s pose ``T_world_part (4, 4)`` and zero velocity into the state, nothing else
        (the caller runs ``mj_forward`` or ``mj_kinematics`` once for all its changes)."""
        m, d = self.model, self.data
        jid = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, f"part:{name}")
        if jid < 0:
            raise KeyError(f"no part {name!r} in the simulation (parts: {sorted(self.cm.part_qpos)})")
        adr, dof = self.cm.part_qpos[name], int(m.jnt_dofadr[jid])
        quat_xyzw = Rotation.from_matrix(np.asarray(T_world_part)[:3, :3]).as_quat()
        d.qpos[adr : adr + 3] = T_world_part[:3, 3]
        d.qpos[adr + 3 : adr + 7] = np.roll(quat_xyzw, 1)  # MuJoCo: w, x, y, z
        d.qvel[dof : dof + 6] = 0.0

    # --- stepping -------------------------------------------------------------------------------------
    def step(self, n: int = 1) -> None:
        """Advance ``n`` physics steps, running the controllers at every step."""
        m, d, cm = self.model, self.data, self.cm
        for _ in range(n):
            if self._tick % CONTROL_EVERY == 0:
                now = d.time
                q, qd = d.qpos[cm.arm_qpos], d.qvel[cm.arm_dof]
                q_ref, qd_ref, qdd_ref = self.arm.reference(now)
                self.arm.check(now, q, qd, q_ref)
                if self.arm.status == TrajectoryStatus.ABORTED and self.arm.traj is None:
                    q_ref, qd_ref, qdd_ref = self.arm.reference(now)
                # PD on position and velocity error inside the force-limited servo: shifting the setpoint
                # by kv/kp * qd_ref turns kp*(ctrl - q) - kv*qd into kp*(q_ref - q) + kv*(qd_ref - qd).
                d.ctrl[cm.arm_actuators] = q_ref + self._kv_over_kp * qd_ref
                # Feed-forward: inverse dynamics of the reference (M(q) qdd_ref + gravity/Coriolis bias).
                self._qdd_full[cm.arm_dof] = qdd_ref
                mujoco.mj_mulM(m, d, self._tau_full, self._qdd_full)
                d.qfrc_applied[cm.arm_dof] = d.qfrc_bias[cm.arm_dof] + self._tau_full[cm.arm_dof]
                d.ctrl[cm.gripper_actuator] = self.gripper.update(CONTROL_EVERY * m.opt.timestep)
            mujoco.mj_step(m, d)
            self._tick += 1
            if self._tick % CONTACT_EVERY == 0 and d.ncon:
                self._log_contacts()

    def _log_contacts(self) -> None:
        d = self.data
        geoms = d.contact.geom[: d.ncon]
        kinds = self._geom_kind[geoms]
        robot = kinds <= _KIND_GRIPPER
        # Parts touching obstacles (table, fences) are logged too: a carried part must not hit them.
        part_obstacle = ((kinds[:, 0] == _KIND_PART) & (kinds[:, 1] == _KIND_OBSTACLE)) | (
            (kinds[:, 1] == _KIND_PART) & (kinds[:, 0] == _KIND_OBSTACLE)
        )
        involve = robot[:, 0] | robot[:, 1] | part_obstacle
        if not involve.any():
            return
        owner = self.cm.geom_owner
        for (g1, g2), (k1, k2) in zip(geoms[involve], kinds[involve], strict=True):
            if k1 > k2 or (k1 == k2 and g1 > g2):
                g1, g2, k1, k2 = g2, g1, k2, k1
            pair = (owner[g1], owner[g2])
            self._robot_pairs.add(pair)
            # The gripper is meant to touch parts; anything else the robot touches is unexpected.
            if k1 <= _KIND_GRIPPER and not (k1 == _KIND_GRIPPER and k2 == _KIND_PART):
                self._unexpected.add(pair)

    # --- state ----------------------------------------------------------------------------------------
    def joint_state(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """``(names, q (n,) rad, qd (n,) rad/s)`` of the arm joints."""
        return (
            list(self.joint_names),
            self.data.qpos[self.cm.arm_qpos].copy(),
            self.data.qvel[self.cm.arm_dof].copy(),
        )

    def gripper_state(self) -> tuple[float, float]:
        """``(width_m, force_n)``: opening between the pads and the force the servo applies."""
        width = float(self.data.qpos[self.cm.finger_qpos].sum())
        force = float(abs(self.data.actuator_force[self.cm.gripper_actuator]))
        return width, force

    def gripper_settled(self) -> bool:
        """The gripper reached its commanded width or stopped on a part."""
        speed = float(self.data.qvel[self.cm.finger_dof].sum())
        return self.gripper.settled(self.gripper_state()[0], speed)

    def part_poses(self) -> dict[str, np.ndarray]:
        """``name -> T_world_part (4, 4)``."""
        out: dict[str, np.ndarray] = {}
        for name, b in self.cm.part_bodies.items():
            T = np.eye(4)
            T[:3, :3] = self.data.xmat[b].reshape(3, 3)
            T[:3, 3] = self.data.xpos[b]
            out[name] = T
        return out

    def T_world_tcp(self) -> np.ndarray:
        """``(4, 4)`` pose of the tool centre point."""
        T = np.eye(4)
        T[:3, :3] = self.data.xmat[self.cm.tcp_body].reshape(3, 3)
        T[:3, 3] = self.data.xpos[self.cm.tcp_body]
        return T

    def arm_done(self) -> bool:
        """The active trajectory finished (succeeded, aborted or timed out at the goal)."""
        return self.arm.done()

    def arm_status(self) -> TrajectoryStatus:
        return self.arm.status

    def contacts(self) -> list[tuple[str, str]]:
        """Unexpected robot contacts since the last call, as sorted ``(robot:<link>, other)`` pairs.

        ``other`` is ``station:<name>``, ``obstacle:<name>``, ``part:<name>`` or another robot link.
        Gripper-on-part contacts are expected (grasping) and not listed.
        """
        out = sorted(self._unexpected)
        self._unexpected.clear()
        return out

    def pop_robot_contacts(self) -> set[tuple[str, str]]:
        """Every contact pair of the robot, and of parts with obstacles, since the last call (validation)."""
        out = set(self._robot_pairs)
        self._robot_pairs.clear()
        return out
