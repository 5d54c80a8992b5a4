"""Replay a workflow in MuJoCo and check every robot task physically.

Each step runs like on the real cell: trajectory steps through :meth:`CellSim.follow` until the arm
controller reports done, gripper steps through :meth:`CellSim.set_gripper` until the fingers settle (plus a
short dwell, as a real gripper driver waits for "object detected"). Per robot task the checks are:

lifted     the part rose at least ``min_lift_m`` while held (it was not left behind)
slip       the part moved at most ``max_slip_m`` relative to the TCP while held (no drop, no creep)
placed     the part rests within its tolerance of its target after the task (the task's ``tolerance_mm`` /
           ``tolerance_deg``: its station's, tightened by the variant; :class:`Limits` may override)
contacts   the robot touched nothing but the task's own part with its gripper, and the carried part hit no
           obstacle (table, fences, columns, fault obstacles)
tracking   every trajectory finished (the arm controller did not abort on a path tolerance)

An operator task (a part the robot cannot handle) is done as the worker would: the part is put at its target
pose by hand (:meth:`CellSim.place_part`), so later robot tasks find it there; it passes when the part rests
within the same placement tolerance and the robot touched nothing meanwhile. ``tasks_total`` and
``tasks_passed`` count robot tasks, ``operator_tasks`` and ``operator_tasks_passed`` the operator's.

A task that starts where the arm is not (after an earlier task failed and aborted its motion) starts with
the arm put back at its first trajectory point, so every task is judged on its own; the task says so in its
failures. The whole replay is deterministic (MuJoCo is, and nothing here depends on wall time), so the same
workflow gives the same :class:`ValidationResult` bit for bit.
"""

from __future__ import annotations

import hashlib
import itertools
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import mujoco
import numpy as np

from motion.trajectory import JointTrajectory
from sim.cell_sim import CellSim
from sim.controllers import TrajectoryStatus
from sim.model_builder import SimFault
from workflow_gen.model import MotionStep, Task, Workflow, load_workflow
from workflow_gen.phases import ReasonKind

# Checks run every this many physics steps (20 ms at 2 ms steps): slip is slow next to that.
CHECK_EVERY = 10
GRIPPER_DWELL_S = 0.15
# A task whose first trajectory starts farther than this from the arm follows a failed one.
RECOVER_TOL_RAD = 0.02


@dataclass
class Limits:
    """Pass/fail limits of a task (SI units)."""

    tol_pos_m: float | None = None  # None: each task's own tolerance (its station's, from the plan)
    tol_rot_deg: float | None = None
    max_slip_m: float = 0.005
    min_lift_m: float = 0.01


@dataclass
class TaskResult:
    task: str
    part: str
    passed: bool
    placement_error_mm: float
    placement_error_deg: float
    max_slip_mm: float
    lift_mm: float
    collisions: list[str]
    tracking: str
    failures: list[str]
    duration_s: float
    actor: str = "robot"
    tolerance_mm: float = 2.0
    tolerance_deg: float = 2.0


@dataclass
class ValidationResult:
    workflow: str
    variant: str
    fault: str | None
    tasks: list[TaskResult]
    tasks_total: int  # robot tasks
    tasks_passed: int  # robot tasks passed
    operator_tasks: int
    cycle_time_s: float
    sim_real_time_factor: float
    infeasible: list[str] = field(default_factory=list)
    final_state_sha256: str = ""  # hash of the final qpos/qvel bytes: equal runs are equal bit for bit

    operator_tasks_passed: int = 0

    @property
    def passed(self) -> bool:
        """Every robot task and every operator task passed."""
        return self.tasks_passed == self.tasks_total and self.operator_tasks_passed == self.operator_tasks

    def tasks_line(self) -> str:
        """``"4/5 robot tasks passed"``, plus ``", 1/1 operator tasks"`` when there are any."""
        line = f"{self.tasks_passed}/{self.tasks_total} robot tasks passed"
        if self.operator_tasks:
            line += f", {self.operator_tasks_passed}/{self.operator_tasks} operator tasks"
        return line

    def to_json(self) -> dict[str, object]:
        """validation.json content: per task ``pass`` and its numbers, then the totals."""
        out = asdict(self)
        for t in out["tasks"]:
            t["pass"] = t.pop("passed")
        return out | {"passed": self.passed}

    def compare_key(self) -> dict[str, object]:
        """Everything but the wall-clock real-time factor (for the determinism check)."""
        out = self.to_json()
        out.pop("sim_real_time_factor")
        return out


# A frame hook: called with the sim, the task id and an event label (pick | carry | place | tick).
FrameHook = Callable[[CellSim, str, str], None]


def _rot_deg(R: np.ndarray) -> float:
    return float(np.degrees(np.arccos(np.clip((np.trace(R) - 1) / 2, -1.0, 1.0))))


class _Replay:
    def __init__(
        self,
        sim: CellSim,
        wf: Workflow,
        trajs: dict[str, JointTrajectory],
        limits: Limits,
        on_frame: FrameHook | None,
        tick_s: float,
    ) -> None:
        self.sim, self.wf, self.trajs, self.lim = sim, wf, trajs, limits
        self.part_info = {p.name: p for p in wf.parts}
        self.on_frame = on_frame
        self.tick_steps = max(1, round(tick_s / sim.dt_s))
        self.steps_done = 0
        self.held: str | None = None
        self.T_tcp_part0 = np.eye(4)
        self.z0 = 0.0
        self.max_slip = 0.0
        self.max_lift = 0.0
        self.wall_s = 0.0

    def _advance(self, n: int, task: str, frames: bool = True) -> None:
        sim = self.sim
        t0 = time.perf_counter()
        sim.step(n)
        self.wall_s += time.perf_counter() - t0
        before = self.steps_done
        self.steps_done += n
        if self.held is not None:
            T_part = sim.part_poses()[self.held]
            T_tcp_part = np.linalg.inv(sim.T_world_tcp()) @ T_part
            self.max_slip = max(
                self.max_slip, float(np.linalg.norm(T_tcp_part[:3, 3] - self.T_tcp_part0[:3, 3]))
            )
            self.max_lift = max(self.max_lift, float(T_part[2, 3] - self.z0))
        tick = before // self.tick_steps != self.steps_done // self.tick_steps
        if frames and self.on_frame is not None and tick:
            self.on_frame(sim, task, "tick")

    def _run_until(
        self, done: Callable[[], bool], timeout_s: float, task: str, at_half: float | None = None
    ) -> bool:
        n_max = int(np.ceil(timeout_s / self.sim.dt_s))
        n = 0
        half_fired = at_half is None
        while n < n_max:
            self._advance(CHECK_EVERY, task)
            n += CHECK_EVERY
            if not half_fired and at_half is not None and n * self.sim.dt_s >= at_half:
                half_fired = True
                if self.on_frame is not None:
                    self.on_frame(self.sim, task, "carry")
            if done():
                return True
        return False

    def _recover(self, q_start: np.ndarray) -> bool:
        """After a failed task the arm may be far from where the next task starts: put it there.

        Like an operator jogging the robot back before resuming, so that each task is judged on its own
        (a JTC would jump to the first point otherwise). Returns whether the arm had to be moved.
        """
        sim = self.sim
        _, q, _ = sim.joint_state()
        if float(np.max(np.abs(q - q_start))) <= RECOVER_TOL_RAD:
            return False
        sim.data.qpos[sim.cm.arm_qpos] = q_start
        sim.data.qvel[sim.cm.arm_dof] = 0.0
        sim.arm.hold(q_start)
        self.held = None
        return True

    def run_task(self, task: Task) -> TaskResult:
        sim, lim = self.sim, self.lim
        t_start = sim.time_s
        sim.pop_robot_contacts()
        self.max_slip, self.max_lift = 0.0, 0.0
        tracking = "ok"
        failures: list[str] = []
        labels = _leg_labels(task)
        carry_idx = {_carry_step(task.steps[a:b], a) for a, b in _legs(task.steps)} - {None}
        first = next((self.trajs[s.trajectory] for s in task.steps if s.trajectory), None)
        if first is not None and self._recover(first.q[0]):
            failures_note = "arm put back at the task start after an earlier failure"
        else:
            failures_note = ""
        for i, step in enumerate(task.steps):
            if step.detach:
                # Slip counts while carried: opening the fingers is meant to let go.
                self.held = None
            if step.kind == "trajectory":
                key = step.trajectory or ""
                traj = self.trajs[key]
                sim.follow(traj)
                timeout = traj.duration_s + sim.arm.tol.goal_time_s + 0.5
                half = traj.duration_s / 2 if i in carry_idx else None
                self._run_until(sim.arm_done, timeout, labels[i], half)
                status = sim.arm_status()
                if status != TrajectoryStatus.SUCCEEDED and tracking == "ok":
                    tracking = (
                        f"{step.name}: {status.value} (max path error {sim.arm.max_path_error_rad:.3f} rad)"
                    )
            else:
                assert step.gripper_width_m is not None
                force = step.gripper_force_n or (
                    task.grasp.force_n if task.grasp else sim.gripper.max_force_n
                )
                sim.set_gripper(step.gripper_width_m, force)
                self._run_until(sim.gripper_settled, max(2.0, step.duration_s + 1.0), task.id)
                self._advance(round(GRIPPER_DWELL_S / sim.dt_s), task.id)
            if step.attach:
                self.held = step.attach
                T_part = sim.part_poses()[step.attach]
                self.T_tcp_part0 = np.linalg.inv(sim.T_world_tcp()) @ T_part
                self.z0 = float(T_part[2, 3])
                if self.on_frame is not None:
                    self.on_frame(sim, labels[i], "pick")
            if step.detach:
                if self.on_frame is not None:
                    self.on_frame(sim, labels[i], "place")
        # Let the placed part come to rest before measuring where it is.
        self._advance(round(0.2 / sim.dt_s), task.id)
        T_part = sim.part_poses()[task.part]
        T_goal = task.T_world_part_place.matrix()
        pos_err = float(np.linalg.norm(T_part[:3, 3] - T_goal[:3, 3]))
        rot_err = _rot_deg(T_goal[:3, :3].T @ T_part[:3, :3])
        collisions = sorted(
            f"{a} - {b}" for a, b in sim.pop_robot_contacts() if not _expected(a, b, task.part)
        )
        if self.max_lift < lim.min_lift_m:
            failures.append(
                f"not lifted: rose {self.max_lift * 1e3:.1f} mm (< {lim.min_lift_m * 1e3:.0f} mm)"
            )
        if self.max_slip > lim.max_slip_m:
            failures.append(
                f"slipped {self.max_slip * 1e3:.1f} mm in the gripper (> {lim.max_slip_m * 1e3:.0f} mm)"
            )
        tol_m, tol_deg = _tolerance(task, lim)
        if pos_err > tol_m or rot_err > tol_deg:
            failures.append(
                f"placed {pos_err * 1e3:.1f} mm / {rot_err:.1f} deg off target "
                f"(tolerance {tol_m * 1e3:.1f} mm / {tol_deg:.1f} deg)"
            )
        if collisions:
            failures.append(f"collisions: {', '.join(collisions)}")
        if tracking != "ok":
            failures.append(f"trajectory not followed: {tracking}")
        if failures and failures_note:
            failures.append(failures_note)
        return TaskResult(
            task=task.id,
            part=task.part,
            passed=not failures,
            placement_error_mm=round(pos_err * 1e3, 4),
            placement_error_deg=round(rot_err, 4),
            max_slip_mm=round(self.max_slip * 1e3, 4),
            lift_mm=round(self.max_lift * 1e3, 3),
            collisions=collisions,
            tracking=tracking,
            failures=failures,
            duration_s=round(sim.time_s - t_start, 4),
            tolerance_mm=round(tol_m * 1e3, 3),
            tolerance_deg=round(tol_deg, 3),
        )

    def run_operator_task(self, task: Task) -> TaskResult:
        """The worker puts the part at its target by hand; passed when it rests there (robot tolerances).

        The part is set down at ``T_world_part_place`` (where it lay in the feeder does not matter: a worker
        adapts), settles for 0.2 s and is measured; then the simulation runs on with the robot holding still
        until the task's planned time is up, so the simulated cycle includes the operator's time.
        """
        sim, lim = self.sim, self.lim
        t_start = sim.time_s
        sim.pop_robot_contacts()
        self.held = None
        label = f"{task.id} (operator)"  # storyboard rows: before and after the worker's placement
        if self.on_frame is not None:
            self.on_frame(sim, label, "pick")
        T_goal = task.T_world_part_place.matrix()
        sim.place_part(task.part, T_goal)
        info = self.part_info.get(task.part)
        held_up = task.reason_kind in (ReasonKind.TIPS_OVER, ReasonKind.UNSUPPORTED, ReasonKind.DEPENDS_ON)
        if held_up or task.kind == "fasten" or (info is not None and info.fastener is not None):
            # A fastener is threaded on / screwed in by the worker, and a part that cannot stand by itself
            # yet is held by the worker until what holds it is in: from then on it stays where it was put;
            # fastening a nut tightens its bolt too.
            sim.fasten(task.part)
            if task.kind == "fasten" and info is not None and info.fastened_with in self.part_info:
                sim.fasten(info.fastened_with)
        self._advance(round(0.2 / sim.dt_s), label)
        if self.on_frame is not None:
            self.on_frame(sim, label, "place")
        T_part = sim.part_poses()[task.part]
        pos_err = float(np.linalg.norm(T_part[:3, 3] - T_goal[:3, 3]))
        rot_err = _rot_deg(T_goal[:3, :3].T @ T_part[:3, :3])
        rest = round((task.duration_s - (sim.time_s - t_start)) / sim.dt_s)
        if rest > 0:
            self._advance(rest, label, frames=False)
        collisions = sorted(f"{a} - {b}" for a, b in sim.pop_robot_contacts())
        failures: list[str] = []
        tol_m, tol_deg = _tolerance(task, lim)
        if pos_err > tol_m or rot_err > tol_deg:
            failures.append(
                f"placed by the operator, it rests {pos_err * 1e3:.1f} mm / {rot_err:.1f} deg off target "
                f"(tolerance {tol_m * 1e3:.1f} mm / {tol_deg:.1f} deg)"
            )
        if collisions:
            failures.append(f"collisions while the operator works: {', '.join(collisions)}")
        return TaskResult(
            task=task.id,
            part=task.part,
            passed=not failures,
            placement_error_mm=round(pos_err * 1e3, 4),
            placement_error_deg=round(rot_err, 4),
            max_slip_mm=0.0,
            lift_mm=0.0,
            collisions=collisions,
            tracking="operator",
            failures=failures,
            duration_s=round(sim.time_s - t_start, 4),
            actor="operator",
            tolerance_mm=round(tol_m * 1e3, 3),
            tolerance_deg=round(tol_deg, 3),
        )


def _tolerance(task: Task, lim: Limits) -> tuple[float, float]:
    """(m, deg) the task's part may rest from its target: the task's own (its station's, from the plan),
    or ``lim``'s when the caller sets them."""
    tol_m = task.tolerance_mm * 1e-3 if lim.tol_pos_m is None else lim.tol_pos_m
    tol_deg = task.tolerance_deg if lim.tol_rot_deg is None else lim.tol_rot_deg
    return tol_m, tol_deg


def _obstacle_on_path(
    path: Path, task: Task, trajs: dict[str, JointTrajectory]
) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """A 10 cm cube where the TCP is halfway through the first task's carry (the fault obstacle)."""
    idx = _carry_step(task.steps)
    steps = [task.steps[idx]] if idx is not None else [s for s in task.steps if s.trajectory]
    traj = trajs[steps[0].trajectory or ""]
    probe = CellSim.from_workflow(path)
    probe.data.qpos[probe.cm.arm_qpos] = traj.sample(traj.duration_s / 2)[0]
    mujoco.mj_kinematics(probe.model, probe.data)
    xyz = probe.T_world_tcp()[:3, 3]
    return (float(xyz[0]), float(xyz[1]), float(xyz[2])), (0.1, 0.1, 0.1)


def _expected(a: str, b: str, part: str) -> bool:
    """The task's own part in the gripper's fingers or palm is the one contact a task is meant to make."""
    gripper = ("robot:gripper_base", "robot:finger_left", "robot:finger_right")
    return a in gripper and b == f"part:{part}"


def _legs(steps: list[MotionStep]) -> list[tuple[int, int]]:
    """``(start, end)`` step ranges of the carries of a task: a regrasp has two, each from its pick on."""
    starts = [i for i, s in enumerate(steps) if s.attach]
    if len(starts) <= 1:
        return [(0, len(steps))]
    bounds = [0, *starts[1:], len(steps)]
    return list(itertools.pairwise(bounds))


def _leg_labels(task: Task) -> list[str]:
    """Storyboard label of each step: the task id, the first carry of a regrasp its own row."""
    legs = _legs(task.steps)
    out = [task.id] * len(task.steps)
    for k, (a, b) in enumerate(legs[:-1]):
        out[a:b] = [f"{task.id} (put down to regrasp, {k + 1}/{len(legs)})"] * (b - a)
    return out


def _carry_step(steps: list[MotionStep], offset: int = 0) -> int | None:
    """Index of the longest trajectory step while the part is held (the storyboard's "carry" frame)."""
    held, best, best_d = False, None, -1.0
    for i, s in enumerate(steps, offset):
        if held and s.kind == "trajectory" and s.duration_s > best_d:
            best, best_d = i, s.duration_s
        if s.attach:
            held = True
        if s.detach:
            held = False
    return best


def validate_workflow(
    workflow_path: Path | str,
    fault: SimFault | str | None = None,
    limits: Limits | None = None,
    on_frame: FrameHook | None = None,
    tick_s: float = 0.1,
) -> ValidationResult:
    """Replay ``workflow_path`` (``workflow.yaml`` or its directory) in MuJoCo and check each robot task.

    Parameters
    ----------
    workflow_path : the workflow to replay
    fault : optional fault injected on purpose (:class:`SimFault` or one of its kinds)
    limits : pass/fail limits (defaults: 2 mm / 2 deg placement, 5 mm slip)
    on_frame : called at pick / carry / place events and every ``tick_s`` of sim time (for pictures)
    """
    path = Path(workflow_path)
    wf, trajs = load_workflow(path)
    if isinstance(fault, str):
        fault = SimFault(fault)
    robot_tasks = [t for t in wf.tasks if t.actor == "robot"]
    if fault is not None and fault.kind == "obstacle" and fault.xyz_m is None and robot_tasks:
        fault.xyz_m, fault.size_m = _obstacle_on_path(path, robot_tasks[0], trajs)
    sim = CellSim.from_workflow(path, fault)
    sim.reset(np.asarray(wf.home_q))
    replay = _Replay(sim, wf, trajs, limits or Limits(), on_frame, tick_s)
    results = [replay.run_task(t) if t.actor == "robot" else replay.run_operator_task(t) for t in wf.tasks]
    robot = [r for r in results if r.actor == "robot"]
    operator = [r for r in results if r.actor == "operator"]
    rtf = sim.time_s / replay.wall_s if replay.wall_s > 0 else 0.0
    f = sim.fault
    return ValidationResult(
        workflow=str(path),
        variant=wf.variant,
        fault=f.kind if f is not None else None,
        tasks=results,
        tasks_total=len(robot),
        tasks_passed=sum(r.passed for r in robot),
        operator_tasks=len(operator),
        operator_tasks_passed=sum(r.passed for r in operator),
        cycle_time_s=round(sim.time_s, 4),
        sim_real_time_factor=round(rtf, 1),
        infeasible=[i.part for i in wf.infeasible],
        final_state_sha256=hashlib.sha256(sim.data.qpos.tobytes() + sim.data.qvel.tobytes()).hexdigest(),
    )
