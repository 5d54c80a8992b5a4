"""Feasibility and motions of one pick-and-place task, through ``motion.MotionPlanner``.

A task is a fixed pipeline of named stages in the spirit of MoveIt Task Constructor: a grasp
*generator* (the ranked :class:`GraspSet`), *connectors* (free transit motions, OMPL) and
*propagators* (straight approach, lift, insert and retreat lines, Cartesian), with gripper stages that
attach and detach the part. Grasps are tried best first until one gives a complete, collision-free task.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import trimesh

from motion.trajectory import JointTrajectory
from workflow_gen.grasps import GraspSet
from workflow_gen.model import MotionStep

GRIPPER_SETTLE_S = 0.2
SQUEEZE_M = 0.004  # the close command goes this far below the contact width so the jaws press


@dataclass
class TaskRequest:
    """What one pick-and-place needs to know (all poses in the world frame).

    Attributes
    ----------
    part : object name in the planner
    T_world_start, T_world_target : (4, 4) float, part poses at pick and place
    grasps : candidate grasps, best first (already filtered for the approach direction)
    source, target_station : station names (the part may touch them at pick / place); ``""`` for a
        target pose given in the world frame
    supports : parts it rests on at the target (it may touch them while inserted)
    """

    part: str
    T_world_start: np.ndarray
    T_world_target: np.ndarray
    grasps: GraspSet
    source: str
    target_station: str
    supports: tuple[str, ...] = ()


@dataclass
class TaskResult:
    """A planned task: the chosen grasp, its steps and trajectories, and the robot's final configuration."""

    grasp_index: int
    steps: list[MotionStep]
    trajectories: dict[str, JointTrajectory]
    q_end: np.ndarray
    tries: int
    plan_time_s: float = 0.0
    reasons: Counter[str] = field(default_factory=Counter)


def _shift(T: np.ndarray, d_m: np.ndarray) -> np.ndarray:
    out = T.copy()
    out[:3, 3] += d_m
    return out


def gripper_step(name: str, from_m: float, to_m: float, speed_m_s: float, **kw: Any) -> MotionStep:
    dur = abs(to_m - from_m) / speed_m_s + GRIPPER_SETTLE_S
    return MotionStep(
        name=name, kind="gripper", duration_s=round(dur, 4), gripper_width_m=round(to_m, 6), **kw
    )


def plan_task(
    planner: Any,
    req: TaskRequest,
    q_start: np.ndarray,
    opening_start_m: float,
    task_id: str,
    approach_m: float,
    retreat_m: float,
    gripper_speed_m_s: float,
    max_tries: int = 12,
) -> tuple[TaskResult | None, str]:
    """Plan pick (transit, approach, close, lift) and place (transit, insert, open, retreat) for one part.

    The planner's world is left with the part at its target when the task succeeds, unchanged otherwise.

    Returns
    -------
    (TaskResult, "") on success, else (None, reason) naming the most common failure over the grasps tried.
    """
    up = np.array([0.0, 0.0, 1.0])
    reasons: Counter[str] = Counter()
    n = min(max_tries, len(req.grasps))
    for gi in range(n):
        G = req.grasps.T_part_tcp[gi]
        pre = float(req.grasps.pregrasp_width_m[gi])
        width = float(req.grasps.contact_width_m[gi])
        T_pick = req.T_world_start @ G
        T_place = req.T_world_target @ G
        z_pick, z_place = T_pick[:3, 2], T_place[:3, 2]
        T_prepick = _shift(T_pick, -approach_m * z_pick)
        T_lift = _shift(T_pick, retreat_m * up)
        T_preplace = _shift(T_place, approach_m * up)
        T_post = _shift(T_place, -retreat_m * z_place)
        planner.set_gripper_opening(pre)
        q_prepick = planner.ik(T_prepick, reference=q_start)
        if q_prepick is None:
            reasons["no collision-free IK above the pick pose"] += 1
            continue
        q_preplace = planner.ik(T_preplace, reference=q_prepick)
        if q_preplace is None:
            reasons["no collision-free IK above the place pose"] += 1
            continue
        pick_allowed = (req.part, req.source)
        place_allowed = tuple(n for n in (req.part, req.target_station, *req.supports) if n)
        r_transit = planner.plan_to_joint(q_start, q_prepick)
        if not r_transit.success:
            reasons[f"transit to the pick failed ({r_transit.error_code})"] += 1
            continue
        r_appr = planner.plan_cartesian(q_prepick, T_pick, allowed_objects=pick_allowed)
        if not r_appr.success:
            reasons[f"approach to the pick blocked: {r_appr.message}"] += 1
            continue
        q_pick = r_appr.trajectory.end
        planner.set_gripper_opening(width)
        planner.attach_object(req.part, q_pick)
        ok, why, trajs = _place_half(
            planner, req, q_pick, T_lift, q_preplace, T_preplace, T_place, pick_allowed, place_allowed
        )
        if not ok:
            planner.detach_object(req.part, q_pick)
            planner.set_object_pose(req.part, req.T_world_start)
            planner.set_gripper_opening(pre)
            reasons[why] += 1
            continue
        q_place = trajs["insert"].end
        planner.detach_object(req.part, q_place)
        planner.set_object_pose(req.part, req.T_world_target)
        planner.set_gripper_opening(pre)
        r_post = planner.plan_cartesian(q_place, T_post, allowed_objects=place_allowed)
        if not r_post.success:
            planner.set_object_pose(req.part, req.T_world_start)
            reasons[f"retreat from the place blocked: {r_post.message}"] += 1
            continue
        plan_time = sum(r.planning_time_s for r in (r_transit, r_appr, r_post))
        all_trajs = {
            "transit_pick": r_transit.trajectory,
            "approach": r_appr.trajectory,
            "lift": trajs["lift"],
            "transit_place": trajs["transit_place"],
            "insert": trajs["insert"],
            "retreat": r_post.trajectory,
        }
        force = float(req.grasps.force_n)
        close_to = max(width - SQUEEZE_M, 0.0)
        steps = [
            gripper_step("open", opening_start_m, pre, gripper_speed_m_s, gripper_force_n=force),
            _traj_step("transit_pick", task_id, all_trajs),
            _traj_step("approach", task_id, all_trajs),
            gripper_step("close", pre, close_to, gripper_speed_m_s, gripper_force_n=force, attach=req.part),
            _traj_step("lift", task_id, all_trajs),
            _traj_step("transit_place", task_id, all_trajs),
            _traj_step("insert", task_id, all_trajs),
            gripper_step("release", width, pre, gripper_speed_m_s, gripper_force_n=force, detach=req.part),
            _traj_step("retreat", task_id, all_trajs),
        ]
        keyed = {f"{task_id}.{k}": v for k, v in all_trajs.items()}
        return (
            TaskResult(gi, steps, keyed, r_post.trajectory.end, gi + 1, plan_time, reasons),
            "",
        )
    if n == 0:
        return None, "no grasp candidate reachable from above at both the pick and the place"
    top, count = reasons.most_common(1)[0]
    return None, f"no feasible grasp among {n} tried; most often: {top} ({count}x)"


def _place_half(
    planner: Any,
    req: TaskRequest,
    q_pick: np.ndarray,
    T_lift: np.ndarray,
    q_preplace: np.ndarray,
    T_preplace: np.ndarray,
    T_place: np.ndarray,
    pick_allowed: tuple[str, ...],
    place_allowed: tuple[str, ...],
) -> tuple[bool, str, dict[str, JointTrajectory]]:
    """Lift, transit and insert with the part attached."""
    r_lift = planner.plan_cartesian(q_pick, T_lift, allowed_objects=pick_allowed)
    if not r_lift.success:
        return False, f"lift blocked: {r_lift.message}", {}
    q_lift = r_lift.trajectory.end
    r_tr = planner.plan_to_joint(q_lift, q_preplace)
    if not r_tr.success:
        r_tr = planner.plan_to_pose(q_lift, T_preplace, reference=q_preplace)
    if not r_tr.success:
        return False, f"transit to the place failed ({r_tr.error_code}: {r_tr.message})", {}
    r_ins = planner.plan_cartesian(r_tr.trajectory.end, T_place, allowed_objects=place_allowed)
    if not r_ins.success:
        return False, f"insertion blocked: {r_ins.message}", {}
    return True, "", {"lift": r_lift.trajectory, "transit_place": r_tr.trajectory, "insert": r_ins.trajectory}


def _traj_step(name: str, task_id: str, trajs: dict[str, JointTrajectory]) -> MotionStep:
    return MotionStep(
        name=name,
        kind="trajectory",
        trajectory=f"{task_id}.{name}",
        duration_s=round(float(trajs[name].duration_s), 4),
    )


def add_part_objects(planner: Any, meshes: dict[str, trimesh.Trimesh], poses: dict[str, np.ndarray]) -> None:
    """Put every part into the planner's world at its pose (the feeder, before anything moves)."""
    for name, mesh in meshes.items():
        planner.add_object(name, mesh, poses[name])
