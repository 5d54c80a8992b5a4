"""A scripted pick-and-place workflow, built without the planner: for tests, benchmarks and fault runs.

One box part is picked from a feeder slot and placed on a station with a top-down grasp: approach,
descend, close, lift, carry, lower, open, retreat. Joint targets come from damped-least-squares IK on
MuJoCo's own kinematics of the cell model (the same model the validation simulates); straight tool moves
are IK'd at 5 mm steps; every segment is timed with a quintic profile inside the joint velocity limits.
It does not check collisions: the planner (``workflow_gen``) does that for real variants.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import mujoco
import numpy as np
import trimesh

from cell_config import Cell
from motion.trajectory import JointTrajectory
from sim.model_builder import build_model
from workflow_gen.model import Grasp, MotionStep, PartInfo, Pose, Task, Workflow, save_workflow
from workflow_gen.phases import Phase

# Top-down grasp: tool z points down, tool x along world x, fingers close along world y.
R_WORLD_TCP_DOWN = np.diag([1.0, -1.0, -1.0])


def box_part(
    name: str,
    size_m: tuple[float, float, float],
    density_kg_m3: float,
    T_world_start: np.ndarray,
    T_world_target: np.ndarray,
    source: str,
    target: str,
) -> tuple[PartInfo, trimesh.Trimesh]:
    """A box part (part frame: centre of its bottom face) with its exact mass properties."""
    mesh = trimesh.creation.box(size_m)
    mesh.apply_translation((0, 0, size_m[2] / 2))
    mesh.density = density_kg_m3
    inertia = mesh.moment_inertia  # about the centre of mass, part axes
    info = PartInfo(
        name=name,
        cad=f"{name}.stl",
        mesh=f"parts/{name}.stl",
        mass_kg=float(mesh.mass),
        com_m=tuple(float(v) for v in mesh.center_mass),  # type: ignore[arg-type]
        inertia_kg_m2=(
            inertia[0, 0],
            inertia[1, 1],
            inertia[2, 2],
            inertia[0, 1],
            inertia[0, 2],
            inertia[1, 2],
        ),
        source=source,
        target=target,
        T_world_start=Pose.from_matrix(T_world_start),
        T_world_target=Pose.from_matrix(T_world_target),
    )
    return info, mesh


class _MjKinematics:
    """TCP forward kinematics and DLS IK of the arm on the compiled MuJoCo model."""

    def __init__(self, cell: Cell) -> None:
        self.cm = build_model(cell, [], Path("."))
        self.d = mujoco.MjData(self.cm.model)
        self.lo = np.array([lim.lower for lim in cell.limits])
        self.hi = np.array([lim.upper for lim in cell.limits])

    def fk(self, q: np.ndarray) -> np.ndarray:
        self.d.qpos[self.cm.arm_qpos] = q
        mujoco.mj_kinematics(self.cm.model, self.d)
        T = np.eye(4)
        T[:3, :3] = self.d.xmat[self.cm.tcp_body].reshape(3, 3)
        T[:3, 3] = self.d.xpos[self.cm.tcp_body]
        return T

    def ik(self, T_goal: np.ndarray, q0: np.ndarray, iters: int = 200) -> np.ndarray:
        m, d, cm = self.cm.model, self.d, self.cm
        q = q0.copy()
        jacp, jacr = np.zeros((3, m.nv)), np.zeros((3, m.nv))
        for _ in range(iters):
            T = self.fk(q)
            e_p = T_goal[:3, 3] - T[:3, 3]
            R_err = T_goal[:3, :3] @ T[:3, :3].T
            e_r = 0.5 * np.array(
                [R_err[2, 1] - R_err[1, 2], R_err[0, 2] - R_err[2, 0], R_err[1, 0] - R_err[0, 1]]
            )
            err = np.concatenate([e_p, e_r])
            if np.linalg.norm(e_p) < 1e-6 and np.linalg.norm(e_r) < 1e-5:
                return q
            mujoco.mj_forward(m, d)
            mujoco.mj_jacBody(m, d, jacp, jacr, cm.tcp_body)
            J = np.vstack([jacp, jacr])[:, cm.arm_dof]
            dq = J.T @ np.linalg.solve(J @ J.T + 1e-6 * np.eye(6), err)
            q = np.clip(q + dq, self.lo, self.hi)
        raise RuntimeError(f"IK did not converge for tcp at {np.round(T_goal[:3, 3], 4)}")


def _quintic(
    q_path: np.ndarray, v_max: np.ndarray, n_per_seg: int = 8
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Timed samples along a joint path ``(K, n)``: quintic s(t) over the whole path, within ``v_max``."""
    seg = np.diff(q_path, axis=0)
    # Time so that the peak path speed (1.875 * mean for a quintic) stays under the velocity limit.
    total = float(max(0.3, 1.875 * np.max(np.abs(seg).sum(axis=0) / v_max)))
    s_knots = np.concatenate([[0.0], np.cumsum(np.linalg.norm(seg, axis=1))])
    s_knots /= max(s_knots[-1], 1e-12)
    n = max(len(q_path) * n_per_seg, 20)
    t = np.linspace(0.0, total, n)
    tau = t / total
    s = 10 * tau**3 - 15 * tau**4 + 6 * tau**5
    sd = (30 * tau**2 - 60 * tau**3 + 30 * tau**4) / total
    sdd = (60 * tau - 180 * tau**2 + 120 * tau**3) / total**2
    q = np.column_stack([np.interp(s, s_knots, q_path[:, j]) for j in range(q_path.shape[1])])
    dq_ds = np.gradient(q, s, axis=0)
    qd = dq_ds * sd[:, None]
    qdd = dq_ds * sdd[:, None]
    return t, q, qd, qdd


def _traj(cell: Cell, q_path: np.ndarray, scale: float) -> JointTrajectory:
    v_max = scale * np.array([lim.velocity for lim in cell.limits])
    t, q, qd, qdd = _quintic(q_path, v_max)
    return JointTrajectory(list(cell.joint_names), t, q, qd, qdd)


def build_pick_place(
    cell: Cell,
    out_dir: Path,
    source_slot: tuple[str, str] = ("feeder", "A1"),
    target_station: str = "fixture",
    size_m: tuple[float, float, float] = (0.04, 0.03, 0.05),
    density_kg_m3: float = 1200.0,
    grip_force_n: float = 60.0,
    speed_scale: float = 0.4,
) -> Path:
    """Write a one-part pick-and-place workflow to ``out_dir``; returns the ``workflow.yaml`` path."""
    kin = _MjKinematics(cell)
    T_start = cell.slot_poses_world(source_slot[0])[source_slot[1]]
    T_target = cell.T_world_station(target_station)
    part, mesh = box_part(
        "box", size_m, density_kg_m3, T_start, T_target, "/".join(source_slot), target_station
    )
    T_part_tcp = np.eye(4)
    T_part_tcp[:3, :3] = R_WORLD_TCP_DOWN
    pad = cell.spec.gripper.finger.pad_length_m
    T_part_tcp[2, 3] = min(size_m[2] - pad / 2 + 0.005, size_m[2] / 2 + pad / 2)
    approach = cell.spec.planning.approach_distance_m

    def tcp_at(T_world_part: np.ndarray, up_m: float = 0.0) -> np.ndarray:
        T = T_world_part @ T_part_tcp
        T[2, 3] += up_m
        return T

    def line(q_from: np.ndarray, T_a: np.ndarray, T_b: np.ndarray) -> np.ndarray:
        n = max(2, int(np.ceil(np.linalg.norm(T_b[:3, 3] - T_a[:3, 3]) / 0.005)) + 1)
        qs, q = [q_from], q_from
        for s in np.linspace(0, 1, n)[1:]:
            T = T_a.copy()
            T[:3, 3] = (1 - s) * T_a[:3, 3] + s * T_b[:3, 3]
            q = kin.ik(T, q)
            qs.append(q)
        return np.array(qs)

    home = cell.home
    q_pre = kin.ik(tcp_at(T_start, approach), home)
    down = line(q_pre, tcp_at(T_start, approach), tcp_at(T_start))
    q_grasp = down[-1]
    up = line(q_grasp, tcp_at(T_start), tcp_at(T_start, approach))
    q_above_t = kin.ik(tcp_at(T_target, approach), up[-1])
    lower = line(q_above_t, tcp_at(T_target, approach), tcp_at(T_target))
    retreat = line(lower[-1], tcp_at(T_target), tcp_at(T_target, approach))
    trajs = {
        "t0_approach": _traj(cell, np.array([home, q_pre]), speed_scale),
        "t0_descend": _traj(cell, down, speed_scale * 0.5),
        "t0_lift": _traj(cell, up, speed_scale * 0.5),
        "t0_carry": _traj(cell, np.array([up[-1], q_above_t]), speed_scale),
        "t0_lower": _traj(cell, lower, speed_scale * 0.5),
        "t0_retreat": _traj(cell, retreat, speed_scale * 0.5),
        "t0_home": _traj(cell, np.array([retreat[-1], home]), speed_scale),
    }
    g = cell.spec.gripper
    width_open = min(g.stroke_m, size_m[1] + 0.03)
    steps = [
        MotionStep(
            name="open",
            phase=Phase.OPEN,
            kind="gripper",
            duration_s=0.5,
            gripper_width_m=width_open,
            gripper_force_n=grip_force_n,
        ),
        MotionStep(
            name="approach",
            phase=Phase.TRANSIT,
            kind="trajectory",
            trajectory="t0_approach",
            duration_s=trajs["t0_approach"].duration_s,
        ),
        MotionStep(
            name="descend",
            phase=Phase.APPROACH,
            kind="trajectory",
            trajectory="t0_descend",
            duration_s=trajs["t0_descend"].duration_s,
        ),
        MotionStep(
            name="close",
            phase=Phase.PICK,
            kind="gripper",
            duration_s=0.5,
            gripper_width_m=max(g.min_opening_m, size_m[1] - 0.01),
            gripper_force_n=grip_force_n,
            attach="box",
        ),
        MotionStep(
            name="lift",
            phase=Phase.LIFT,
            kind="trajectory",
            trajectory="t0_lift",
            duration_s=trajs["t0_lift"].duration_s,
        ),
        MotionStep(
            name="carry",
            phase=Phase.TRANSIT,
            kind="trajectory",
            trajectory="t0_carry",
            duration_s=trajs["t0_carry"].duration_s,
        ),
        MotionStep(
            name="lower",
            phase=Phase.INSERT,
            kind="trajectory",
            trajectory="t0_lower",
            duration_s=trajs["t0_lower"].duration_s,
        ),
        MotionStep(
            name="release",
            phase=Phase.RELEASE,
            kind="gripper",
            duration_s=0.5,
            gripper_width_m=width_open,
            gripper_force_n=grip_force_n,
            detach="box",
        ),
        MotionStep(
            name="retreat",
            phase=Phase.RETREAT,
            kind="trajectory",
            trajectory="t0_retreat",
            duration_s=trajs["t0_retreat"].duration_s,
        ),
        MotionStep(
            name="home",
            phase=Phase.HOME,
            kind="trajectory",
            trajectory="t0_home",
            duration_s=trajs["t0_home"].duration_s,
        ),
    ]
    grasp = Grasp(
        id="top_y",
        T_part_tcp=Pose.from_matrix(T_part_tcp),
        pregrasp_width_m=width_open,
        contact_width_m=size_m[1],
        force_n=grip_force_n,
        score=1.0,
    )
    task = Task(
        id="t0",
        actor="robot",
        part="box",
        description="pick box from feeder, place on fixture",
        source=part.source,
        target=part.target,
        grasp=grasp,
        T_world_part_pick=part.T_world_start,
        T_world_part_place=part.T_world_target,
        steps=steps,
        duration_s=sum(s.duration_s for s in steps),
    )
    wf = Workflow(
        variant="scripted_box",
        variant_dir=str(out_dir),
        kind="kit",
        cell=str(cell.source),
        created_utc=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc).isoformat(),
        joint_names=list(cell.joint_names),
        home_q=[float(v) for v in home],
        parts=[part],
        tasks=[task],
        cycle_time_s=task.duration_s,
    )
    out_dir = Path(out_dir)
    (out_dir / "parts").mkdir(parents=True, exist_ok=True)
    mesh.export(out_dir / "parts" / "box.stl")
    return save_workflow(out_dir, wf, trajs)
