"""Every part to a task: the robot's pick-and-place stages, else a person's task, in the sequence's order.

For each part in order, :func:`plan_tasks` builds the leg(s) of the part from its frozen
:class:`~workflow_gen.part_context.PartContext` and runs ``Fallbacks(pick_place, regrasp)`` on one
planner whose world follows the parts as they move. What the robot cannot do becomes a worker's task
(:mod:`workflow_gen.operator_tasks`) at the same point in the sequence, with the robot parked at home,
unless no person can do it either (:class:`Impossible`). Placing a fastener is followed by a worker's
fastening task when the cell has no screwdriver.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import trimesh

from cell_config import Cell
from motion.trajectory import JointTrajectory
from workflow_gen.grasps import GraspSet, GripperGeometry, required_force_n
from workflow_gen.model import Grasp, MotionStep, Pose, Task
from workflow_gen.operator_tasks import OPERATOR_MAX_KG, fastening_task, operator_task
from workflow_gen.part_context import PartContext, PartPlan
from workflow_gen.phases import Phase, ReasonKind
from workflow_gen.stages.context import Impossible, Leg, PartOutcome, RobotTask, WorkerTask
from workflow_gen.stages.core import Failure, Scene, Solution, State, first_solution
from workflow_gen.stages.pick_and_place import (
    insertion_length_m,
    leg_grasps,
    no_leg_grasp,
    pick_place,
    plan_leg_chain,
    regrasp,
)

GRASPS_TRIED = 12
HOME_TOL_RAD = 1e-4  # the robot counts as parked at home within this (joint-wise)
Progress = Callable[[str, str], None]


@dataclass
class TaskPlan:
    """The tasks and trajectories of a variant, and each part's record."""

    tasks: list[Task] = field(default_factory=list)
    trajectories: dict[str, JointTrajectory] = field(default_factory=dict)
    parts: dict[str, PartPlan] = field(default_factory=dict)


def robot_blocker(ctx: PartContext, gripper: GripperGeometry) -> Failure | None:
    """Why the robot cannot take the part at all, before any motion (analysis, weight, no grasp)."""
    if ctx.blocked is not None:
        return ctx.blocked
    g = ctx.geom
    need = required_force_n(gripper, g.mass_kg)
    if need > gripper.force_n:
        return Failure(
            ReasonKind.TOO_HEAVY,
            f"too heavy for the gripper: {g.mass_kg:.2f} kg needs {need:.0f} N of grip "
            f"(safety 3, friction {gripper.friction:g}), the gripper gives {gripper.force_n:.0f} N",
        )
    if ctx.T_world_start is None:
        return Failure(ReasonKind.NO_FEED_SPACE, "it has no place in the feeding stations")
    if ctx.insert_dir[2] > 0.5:
        return Failure(
            ReasonKind.FROM_BELOW,
            "it goes in from below (the gripper cannot reach under the product on the fixture)",
        )
    return None


def make_leg(
    ctx: PartContext,
    grasps: GraspSet,
    gripper: GripperGeometry,
    cell: Cell,
    built_world: list[trimesh.Trimesh],
    neighbours_world: list[trimesh.Trimesh] = (),  # type: ignore[assignment]
    max_tilt_rad: float | None = None,
) -> Leg:
    """The feeder-to-product leg of a part with the grasps fit for both ends."""
    assert ctx.T_world_start is not None and ctx.T_world_target is not None
    plan = cell.spec.planning
    counts: dict[str, int] = {}
    d = np.asarray(ctx.insert_dir, float)
    insert_m = insertion_length_m(ctx.geom.mesh, ctx.T_world_target[:3, :3], d, plan.approach_distance_m)
    fit = leg_grasps(
        grasps,
        gripper,
        ctx.T_world_start,
        ctx.T_world_target,
        ctx.source_surface_z_m,
        ctx.target_surface_z_m,
        ctx.insert_dir,
        plan.approach_distance_m,
        built_world,
        neighbours_world=neighbours_world,
        counts=counts,
        insert_m=insert_m,
        max_tilt_rad=max_tilt_rad,
        mesh=ctx.geom.mesh,
    )
    return Leg(
        part=ctx.name,
        T_world_from=ctx.T_world_start,
        T_world_to=ctx.T_world_target,
        from_station=ctx.source,
        to_station=ctx.target_station,
        insert_dir=np.asarray(ctx.insert_dir, float),
        grasps=fit,
        approach_m=plan.approach_distance_m,
        retreat_m=plan.retreat_distance_m,
        gripper_speed_m_s=gripper.max_speed_m_s,
        touches_at_place=ctx.supports,
        no_grasp=None if len(fit) else no_leg_grasp(grasps, gripper, counts),
        insert_m=insert_m,
    )


def plan_tasks(
    contexts: list[PartContext],
    order: list[str],
    planner: object,
    cell: Cell,
    gripper: GripperGeometry,
    home: np.ndarray,
    say: Progress,
    kind: str = "kit",
    fastening_tool: str = "torque wrench",
    torques_nm: dict[str, float] | None = None,
    max_tilt_rad: float | None = None,
) -> TaskPlan:
    """Plan every part in ``order`` (robot or person); parts not in ``order`` get their ``blocked`` reason.

    Assemblies keep the sequence: a part the robot cannot do is a worker's task in place. Kits put the
    worker's parts at the end (the worker reaches in once, with the robot at home). ``max_tilt_rad``
    keeps the tool within that angle of straight down at both ends and turns the regrasp off (the
    generator as it was before grasps from any side, for the benchmarks' comparison).
    """
    by = {c.name: c for c in contexts}
    scene = Scene(planner)
    p_any: object = planner
    for c in contexts:
        if c.T_world_start is not None:
            p_any.add_object(c.name, c.geom.mesh, c.T_world_start)  # type: ignore[attr-defined]
    out = TaskPlan()
    placed: list[str] = []
    q = home.copy()
    opening = gripper.stroke_m
    later: list[tuple[PartContext, WorkerTask]] = []
    pending: list[PartContext] = []
    torques_nm = torques_nm or {}

    def next_id(name: str) -> str:
        return f"t{len(out.tasks) + 1:02d}_{name}"

    def park() -> bool:
        nonlocal q
        q = _return_home(planner, out, q, home)
        return bool(np.allclose(q, home, atol=HOME_TOL_RAD))

    def by_worker(ctx: PartContext, w: WorkerTask) -> None:
        assert ctx.T_world_target is not None
        parked = park()
        out.tasks.append(operator_task(ctx, w, next_id(ctx.name), cell, parked))
        if ctx.T_world_start is not None:
            scene.put(ctx.name, ctx.T_world_target, q)
        else:
            p_any.add_object(ctx.name, ctx.geom.mesh, ctx.T_world_target)  # type: ignore[attr-defined]
        placed.append(ctx.name)

    for name in order:
        ctx = by[name]
        say("motions", name)
        missing = [s for s in ctx.supports if s not in placed]
        if missing:
            pending.append(ctx)  # what holds it is not in: the worker sets it in after the rest
            continue
        waiting = [
            c for c in contexts if c.name not in placed and c.name != name and c.T_world_start is not None
        ]
        outcome, usable, sol = _plan_one(
            ctx, scene, q, opening, gripper, cell, [by[p] for p in placed], waiting, max_tilt_rad
        )
        if isinstance(outcome, RobotTask):
            assert sol is not None and usable is not None
            task = _robot_task(ctx, outcome, usable, next_id(name), out)
            out.tasks.append(task)
            q = np.asarray(sol.state.q, float)
            opening = sol.state.opening_m
            placed.append(name)
        elif isinstance(outcome, WorkerTask):
            if kind == "assembly":
                by_worker(ctx, outcome)
            else:
                later.append((ctx, outcome))
        out.parts[name] = PartPlan(ctx, outcome, usable)
        if isinstance(outcome, RobotTask | WorkerTask) and _fastened_now(ctx, contexts):
            parked = park()
            out.tasks.append(
                fastening_task(
                    ctx, next_id(f"fasten_{name}"), cell, parked, fastening_tool, torques_nm.get(name)
                )
            )
    for ctx, w in later:
        by_worker(ctx, w)
    # Parts the sequence could not stand up by themselves (they tip over, hang on a part that is not in,
    # or rest on one of those): the worker sets them in, bottom first, and holds them until they are held.
    rest = pending + [c for c in contexts if c.name not in out.parts and c not in pending]
    rest.sort(key=lambda c: (_bottom_z(c), c.name))
    for c in rest:
        missing = [s for s in c.supports if s not in placed]
        lost = [s for s in missing if isinstance(getattr(out.parts.get(s), "outcome", None), Impossible)]
        why = c.blocked or Failure(
            ReasonKind.DEPENDS_ON,
            f"rests on {', '.join(missing) or 'parts'} that are not in place before it",
        )
        if lost:
            outcome = Impossible(
                c.name, ReasonKind.DEPENDS_ON, f"rests on {', '.join(lost)}, which nobody can place"
            )
        else:
            outcome = _for_person(c, why)
        out.parts[c.name] = PartPlan(c, outcome)
        if isinstance(outcome, WorkerTask):
            by_worker(c, outcome)
            if _fastened_now(c, contexts):
                parked = park()
                out.tasks.append(
                    fastening_task(
                        c, next_id(f"fasten_{c.name}"), cell, parked, fastening_tool, torques_nm.get(c.name)
                    )
                )
    _return_home(planner, out, q, home)
    return out


def _fastened_now(ctx: PartContext, contexts: list[PartContext]) -> bool:
    """Whether placing ``ctx`` completes a fastening: a nut on its bolt, or a bolt / screw without a nut."""
    if ctx.fastener == "nut":
        return True
    if ctx.fastener in ("bolt", "screw"):
        return not any(c.fastener == "nut" and c.fastened_with == ctx.name for c in contexts)
    return False


def _plan_one(
    ctx: PartContext,
    scene: Scene,
    q: np.ndarray,
    opening: float,
    gripper: GripperGeometry,
    cell: Cell,
    built: list[PartContext],
    waiting: list[PartContext] = (),  # type: ignore[assignment]
    max_tilt_rad: float | None = None,
) -> tuple[PartOutcome, GraspSet | None, Solution | None]:
    """The robot's stages for one part, else the person's task (or impossible)."""
    blocker = robot_blocker(ctx, gripper)
    if blocker is None and (ctx.grasps is None or ctx.T_world_target is None):
        blocker = Failure(ReasonKind.NO_GRASP, "no grasps were computed for it")
    if blocker is None:
        assert ctx.grasps is not None and ctx.T_world_start is not None and ctx.T_world_target is not None
        built_world = [_placed_mesh(b, b.T_world_target) for b in built]
        near = [
            _placed_mesh(w, w.T_world_start) for w in waiting if _close(w.T_world_start, ctx.T_world_start)
        ]
        leg = make_leg(ctx, ctx.grasps, gripper, cell, built_world, near, max_tilt_rad)
        start = Solution(State(q=q, opening_m=opening, T_world_part=ctx.T_world_start))
        res = plan_leg_chain(pick_place("", GRASPS_TRIED), leg, start, scene)
        if isinstance(res, Solution):
            return RobotTask(ctx.name, res, (leg,)), leg.grasps, res
        scene.put(ctx.name, ctx.T_world_start, q)
        if max_tilt_rad is None and (
            not leg.grasps or res.kind in (ReasonKind.NO_GRASP, ReasonKind.MOTION_BLOCKED)
        ):
            # Fallback: put it down on the regrasp area in another stable pose and take it another way.
            again = _regrasp(ctx, scene, start, gripper, cell, built_world)
            if again is not None:
                sol2, legs = again
                return RobotTask(ctx.name, sol2, legs, "regrasp"), legs[-1].grasps, sol2
            scene.put(ctx.name, ctx.T_world_start, q)
        blocker = res
        usable: GraspSet | None = leg.grasps
    else:
        usable = None
    return _for_person(ctx, blocker), usable, None


REGRASP_POSES = 3  # stable poses tried on the regrasp area, most probable first
REGRASP_YAWS_DEG = (0.0, 90.0, 180.0, 270.0)


def _regrasp(
    ctx: PartContext,
    scene: Scene,
    start: Solution,
    gripper: GripperGeometry,
    cell: Cell,
    built_world: list[trimesh.Trimesh],
) -> tuple[Solution, tuple[Leg, Leg]] | None:
    """Plan feeder -> regrasp area (another stable pose) -> product; ``None`` when no way is found."""
    from workflow_gen.layout import regrasp_spot
    from workflow_gen.resting import resting_poses

    assert ctx.grasps is not None and ctx.T_world_start is not None and ctx.T_world_target is not None
    plan = cell.spec.planning
    mesh = ctx.geom.mesh
    mid = (ctx.T_world_start[:2, 3] + ctx.T_world_target[:2, 3]) / 2
    radius = float(np.max(np.linalg.norm(mesh.vertices - mesh.center_mass, axis=1)))
    # The parts lying in the cell meanwhile (in the feeder, at their places): the area keeps clear of them.
    world = getattr(getattr(scene.planner, "world", None), "objects", {})
    occupied = tuple(
        (np.asarray(o.T_world_obj, float)[:2, 3], float(o.extent_m))
        for name, o in sorted(world.items())
        if name != ctx.name and getattr(o, "kind", "") == "part" and not o.attached
    ) or tuple((m.bounding_sphere.center[:2], float(m.bounding_sphere.primitive.radius)) for m in built_world)
    try:
        T_area, surface = regrasp_spot(cell, mid, radius, occupied)
    except ValueError:
        return None
    candidates: list[tuple[int, np.ndarray, GraspSet, GraspSet]] = []
    for rp in resting_poses(mesh)[:REGRASP_POSES]:
        for yaw in REGRASP_YAWS_DEG:
            Rz = trimesh.transformations.rotation_matrix(np.radians(yaw), [0, 0, 1])
            T_mid = T_area @ Rz @ rp.T_slot_part
            z_area = float(T_area[2, 3])
            down = np.array([0.0, 0.0, -1.0])
            g1 = leg_grasps(
                ctx.grasps,
                gripper,
                ctx.T_world_start,
                T_mid,
                ctx.source_surface_z_m,
                z_area,
                down,
                plan.approach_distance_m,
            )
            g2 = leg_grasps(
                ctx.grasps,
                gripper,
                T_mid,
                ctx.T_world_target,
                z_area,
                ctx.target_surface_z_m,
                ctx.insert_dir,
                plan.approach_distance_m,
                built_world,
            )
            if len(g1) and len(g2):
                candidates.append((min(len(g1), len(g2)), T_mid, g1, g2))
    candidates.sort(key=lambda c: -c[0])
    common = dict(
        part=ctx.name,
        approach_m=plan.approach_distance_m,
        retreat_m=plan.retreat_distance_m,
        gripper_speed_m_s=gripper.max_speed_m_s,
    )
    for _, T_mid, g1, g2 in candidates[:4]:
        first = Leg(
            T_world_from=ctx.T_world_start,
            T_world_to=T_mid,
            from_station=ctx.source,
            to_station=surface,
            insert_dir=np.array([0.0, 0.0, -1.0]),
            grasps=g1,
            **common,  # type: ignore[arg-type]
        )
        second = Leg(
            T_world_from=T_mid,
            T_world_to=ctx.T_world_target,
            from_station=surface,
            to_station=ctx.target_station,
            insert_dir=np.asarray(ctx.insert_dir, float),
            grasps=g2,
            touches_at_place=ctx.supports,
            tag="_2",
            **common,  # type: ignore[arg-type]
        )
        res = first_solution(regrasp(first, second), first, start, scene)
        if isinstance(res, Solution):
            return res, (first, second)
    return None


def _for_person(ctx: PartContext, why: Failure) -> PartOutcome:
    """A worker's task for a part the robot does not do, or Impossible when no person can do it either."""
    if ctx.T_world_target is None:
        return Impossible(ctx.name, why.kind, why.sentence)
    if ctx.geom.mass_kg > OPERATOR_MAX_KG:
        return Impossible(
            ctx.name,
            ReasonKind.TOO_HEAVY_FOR_WORKER,
            f"{why.sentence}; no worker's task either: {ctx.geom.mass_kg:.1f} kg is more than one person "
            f"lifts by hand ({OPERATOR_MAX_KG:.0f} kg)",
        )
    if why.kind == ReasonKind.INTERLOCKED:
        return Impossible(ctx.name, why.kind, why.sentence)  # no straight way in, for anybody
    task_kind = "place_by_hand" if ctx.T_world_start is not None else "hand_to_cell"
    if why.kind in (ReasonKind.UNSUPPORTED, ReasonKind.TIPS_OVER, ReasonKind.DEPENDS_ON):
        hold = (
            "; the worker sets it in place and holds it until it is fastened or held by the parts around it"
        )
        return WorkerTask(ctx.name, task_kind, why.kind, why.sentence + hold)
    return WorkerTask(ctx.name, task_kind, why.kind, why.sentence)


def _bottom_z(ctx: PartContext) -> float:
    """Height of a part's lowest point at its place (inf when it has none)."""
    if ctx.T_world_target is None:
        return float("inf")
    return float(trimesh.transform_points(ctx.geom.mesh.convex_hull.vertices, ctx.T_world_target)[:, 2].min())


def _placed_mesh(ctx: PartContext, T_world_part: np.ndarray | None) -> trimesh.Trimesh:
    assert T_world_part is not None
    m = ctx.geom.mesh.copy()
    m.apply_transform(T_world_part)
    return m


def _close(T_a: np.ndarray | None, T_b: np.ndarray, reach_m: float = 0.25) -> bool:
    return T_a is not None and float(np.linalg.norm(T_a[:3, 3] - T_b[:3, 3])) < reach_m


def _robot_task(ctx: PartContext, r: RobotTask, usable: GraspSet, task_id: str, out: TaskPlan) -> Task:
    """The workflow task of a robot outcome; its trajectories go into ``out.trajectories``."""
    assert ctx.T_world_start is not None and ctx.T_world_target is not None
    steps: list[MotionStep] = []
    for ps in r.solution.steps:
        if ps.trajectory is not None:
            key = f"{task_id}.{ps.step.name}"
            out.trajectories[key] = ps.trajectory
            steps.append(ps.step.model_copy(update={"trajectory": key}))
        else:
            steps.append(ps.step)
    gi = r.solution.grasps_used[-1]
    G = r.legs[-1].grasps
    grasp = Grasp(
        id=f"{ctx.name}/g{gi}",
        T_part_tcp=Pose.from_matrix(G.T_part_tcp[gi]),
        pregrasp_width_m=round(float(G.pregrasp_width_m[gi]), 6),
        contact_width_m=round(float(G.contact_width_m[gi]), 6),
        force_n=round(float(G.force_n), 3),
        score=round(float(G.score[gi]), 4),
    )
    d = ctx.insert_dir
    return Task(
        id=task_id,
        actor="robot",
        part=ctx.name,
        kind="regrasp" if len(r.legs) > 1 else "pick_place",
        tolerance_mm=ctx.tolerance[0],
        tolerance_deg=ctx.tolerance[1],
        insert_dir=(round(float(d[0]), 6), round(float(d[1]), 6), round(float(d[2]), 6)),
        description=(
            f"pick {ctx.name} from {ctx.source_slot} with grasp g{gi} "
            f"(width {grasp.contact_width_m * 1000:.1f} mm), place it at {ctx.target_label}"
            + ("" if d[2] < -0.9 else f", going in along ({d[0]:.2f}, {d[1]:.2f}, {d[2]:.2f})")
        ),
        source=ctx.source_slot,
        target=ctx.target_label,
        grasp=grasp,
        T_world_part_pick=Pose.from_matrix(ctx.T_world_start),
        T_world_part_place=Pose.from_matrix(ctx.T_world_target),
        steps=steps,
        duration_s=round(sum(s.duration_s for s in steps), 4),
        pictures=[f"report/{ctx.name}.png"],
    )


def _return_home(planner: object, out: TaskPlan, q: np.ndarray, home: np.ndarray) -> np.ndarray:
    """Append a return-home motion to the last task when it is a robot task away from home; the new ``q``."""
    tasks = out.tasks
    if not tasks or tasks[-1].actor != "robot" or np.allclose(q, home, atol=HOME_TOL_RAD):
        return q
    r = planner.plan_to_joint(q, home)  # type: ignore[attr-defined]
    if not r.success:
        return q
    key = f"{tasks[-1].id}.return_home"
    out.trajectories[key] = r.trajectory
    tasks[-1].steps.append(
        MotionStep(
            name="return_home",
            kind="trajectory",
            phase=Phase.HOME,
            trajectory=key,
            duration_s=round(r.trajectory.duration_s, 4),
        )
    )
    tasks[-1].duration_s = round(sum(s.duration_s for s in tasks[-1].steps), 4)
    return np.asarray(r.trajectory.end, dtype=float)
