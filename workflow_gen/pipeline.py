"""The workflow generator: variant CAD in, grasp-and-place workflow out.

Stages (each a function below, each timed):

1. ``import``    CAD -> part meshes in metres, placements, checks, mass properties
2. ``layout``    stable resting pose of each part, feeder slot (start pose) and target pose
3. ``grasps``    antipodal parallel-jaw grasps per part, filtered to approach from above at pick and place
4. ``sequence``  assembly by disassembly (assemblies) or short-travel order (kits)
5. ``motions``   grasp chosen per part by planning the whole task with ``motion.MotionPlanner``
6. ``write``     workflow.yaml + trajectories.npz + parts/*.stl + report, all or nothing

``plan_variant`` is a pure function of (cell, variant, settings, seed).
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import trimesh

from cell_config import Cell, ConfigError, PoseSpec, load_cell
from motion.trajectory import JointTrajectory
from workflow_gen.cad_import import PartGeometry, import_parts
from workflow_gen.fingerprint import inputs_fingerprint
from workflow_gen.grasps import GraspSet, GripperGeometry, required_force_n, synthesize_grasps
from workflow_gen.model import Grasp, Infeasible, PartInfo, Pose, Task, Workflow, save_workflow
from workflow_gen.operator_tasks import OPERATOR_MAX_KG
from workflow_gen.resting import RestingPose, resting_poses, symmetry
from workflow_gen.sequence import assembly_order, kit_order
from workflow_gen.variant import VariantSpec, load_variant, variant_file

Progress = Callable[[str, str], None]
MAX_APPROACH_TILT_RAD = np.radians(30.0)
FINGERTIP_CLEARANCE_M = 0.002
GRASPS_TRIED = 12
HOME_TOL_RAD = 1e-4  # the robot counts as parked at home within this (joint-wise)


@dataclass
class PartPlan:
    """Everything the generator learns about one part instance."""

    geom: PartGeometry
    resting: RestingPose | None = None
    source_slot: str = ""
    target_label: str = ""
    target_station: str = ""
    target_surface_z_m: float = 0.0
    T_world_start: np.ndarray | None = None
    T_world_target: np.ndarray | None = None
    grasps: GraspSet | None = None
    usable: GraspSet | None = None
    grasp_time_s: float = 0.0
    grasps_cached: bool = False
    issue: str | None = None
    symmetry: str = "none"
    supports: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.geom.name


@dataclass
class PlanOutcome:
    """Result of :func:`plan_variant`."""

    workflow: Workflow
    trajectories: dict[str, JointTrajectory]
    parts: list[PartPlan]
    timings_s: dict[str, float]
    out_dir: Path | None = None
    expected_infeasible: list[str] = field(default_factory=list)
    total_time_s: float = 0.0

    @property
    def infeasible(self) -> dict[str, str]:
        return {i.part: i.reason for i in self.workflow.infeasible}

    def summary(self) -> dict[str, object]:
        g = [p.grasp_time_s for p in self.parts if p.grasps is not None and not p.grasps_cached]
        return {
            "variant": self.workflow.variant,
            "kind": self.workflow.kind,
            "parts_total": len(self.parts),
            "parts_planned": sum(t.actor == "robot" for t in self.workflow.tasks),
            "operator_tasks": sum(t.actor == "operator" for t in self.workflow.tasks),
            "infeasible": self.infeasible,
            "cycle_time_s": round(self.workflow.cycle_time_s, 3),
            "plan_time_s": round(self.total_time_s or self.workflow.plan_time_s, 3),
            "stage_time_s": {k: round(v, 4) for k, v in self.timings_s.items()},
            "grasp_time_median_s": round(float(np.median(g)), 4) if g else None,
            "grasps_per_part": {p.name: (len(p.grasps) if p.grasps is not None else 0) for p in self.parts},
            "grasps_usable_per_part": {
                p.name: (len(p.usable) if p.usable is not None else 0) for p in self.parts
            },
            "out_dir": str(self.out_dir) if self.out_dir else None,
        }


# ----------------------------------------------------------------------------- stage 2: layout
def _slot_target(
    cell: Cell, spec_file: Path, key: str, target: str | PoseSpec
) -> tuple[str, str, np.ndarray]:
    """(label, station, T_world_slot) of a kit target: ``A1``, ``station/A1`` or a pose."""
    if isinstance(target, PoseSpec):
        try:
            return "pose", target.frame, cell.resolve_pose(target)
        except KeyError as e:
            raise ConfigError(spec_file, f"{key}.target.frame", str(e).strip("'\"")) from None
    if "/" in target:
        station, slot = target.split("/", 1)
        stations = [station]
    else:
        slot = target
        stations = [s.name for s in cell.spec.stations if s.type == "kit_tray"]
    for st in stations:
        try:
            slots = cell.slot_poses_world(st)
        except KeyError:
            raise ConfigError(spec_file, f"{key}.target", f"the cell has no station {st!r}") from None
        if slot in slots:
            return f"{st}/{slot}", st, slots[slot]
    raise ConfigError(spec_file, f"{key}.target", f"no kit slot {target!r} in stations {stations}")


def layout(plans: list[PartPlan], spec: VariantSpec, cell: Cell, spec_file: Path) -> None:
    """Resting pose, feeder slot and target of every part with a sound mesh (slots are taken in order).

    Parts the robot cannot handle (an ``issue`` from the import, e.g. too wide for the gripper) are laid out
    too, after the others, so that the operator can be told where to take them from and put them.
    """
    station_names = {s.name for s in cell.spec.stations}
    if spec.kind == "assembly" and spec.fixture not in station_names:
        raise ConfigError(spec_file, "fixture", f"the cell has no station {spec.fixture!r}")
    free: dict[str, list[str]] = {}
    used_targets: dict[str, str] = {}
    start_boxes: dict[str, np.ndarray] = {}
    target_boxes: dict[str, np.ndarray] = {}
    targets: dict[str, np.ndarray] = {}
    for pp in plans:
        g = pp.geom
        if g.source not in station_names:
            raise ConfigError(
                spec_file,
                f"{g.yaml_key}.source" if g.yaml_key != "assembly" else "feed",
                f"the cell has no station {g.source!r} (stations: {sorted(station_names)})",
            )
        if spec.kind == "assembly":
            assert g.T_fixture_part is not None
            T_target = cell.T_world_station(spec.fixture) @ g.T_fixture_part
            pp.target_label, pp.target_station = spec.fixture, spec.fixture
            pp.target_surface_z_m = float(cell.T_world_station(spec.fixture)[2, 3])
        else:
            assert g.target is not None
            label, st, T_slot = _slot_target(cell, spec_file, g.yaml_key, g.target)
            if label != "pose" and label in used_targets:
                raise ConfigError(
                    spec_file,
                    f"{g.yaml_key}.target",
                    f"slot {label} is already the target of {used_targets[label]}",
                )
            used_targets[label] = g.name
            pp.target_label = label
            pp.target_station = st if st in station_names else ""
            pp.target_surface_z_m = float(T_slot[2, 3])
            T_target = T_slot  # completed with the resting pose below
        pp.symmetry = symmetry(g.mesh) if pp.issue is None else "none"
        targets[g.name] = T_target
    # Parts the robot can handle take feeder slots and targets first, so that a part left to the operator
    # (too wide for the gripper, say) never moves them; it is laid out after them when its mesh is sound.
    robot_parts = [pp for pp in plans if pp.issue is None]
    operator_parts = [pp for pp in plans if pp.issue is not None and pp.geom.mass_kg > 0]
    for pp in robot_parts + operator_parts:
        by_operator = pp.issue is not None
        why = _lay_out(pp, targets[pp.name], spec, cell, free, start_boxes, target_boxes, far=by_operator)
        if why is None:
            continue
        if by_operator:
            pp.T_world_start = pp.T_world_target = None
            pp.issue = f"{pp.issue}; no operator task either: {why}"
        else:
            pp.issue = why


def _lay_out(
    pp: PartPlan,
    T_target: np.ndarray,
    spec: VariantSpec,
    cell: Cell,
    free: dict[str, list[str]],
    start_boxes: dict[str, np.ndarray],
    target_boxes: dict[str, np.ndarray],
    far: bool = False,
) -> str | None:
    """Resting pose, target pose and feeder slot of one part; the reason when it cannot be laid out.

    Slots are taken in order, or (``far``) the free slot farthest from the parts already laid out first.
    """
    g = pp.geom
    R_target = T_target[:3, :3] if spec.kind == "assembly" else None
    pp.resting = resting_poses(g.mesh, R_target)[0]
    if spec.kind == "kit":
        T_target = T_target @ pp.resting.T_slot_part
        clash = _overlaps(g.mesh, T_target, target_boxes)
        if clash:
            return f"at its target {pp.target_label} it would overlap {clash}"
        target_boxes[g.name] = _world_bounds(g.mesh, T_target)
    pp.T_world_target = T_target
    if g.source not in free:
        free[g.source] = list(cell.slot_poses_world(g.source))
    slots = cell.slot_poses_world(g.source)
    candidates = list(free[g.source])
    if far:
        # A part for the operator goes as far as it can from the robot's parts, out of the way of the fingers.
        centres = [b.mean(axis=0) for b in start_boxes.values()]

        def clearance(slot: str) -> float:
            xyz = slots[slot][:3, 3]
            return min((float(np.linalg.norm(xyz[:2] - c[:2])) for c in centres), default=0.0)

        candidates = sorted(reversed(candidates), key=clearance, reverse=True)
    # Take the next slot where the part does not overlap a part already laid out (wide parts skip one).
    for slot in candidates:
        T_start = slots[slot] @ pp.resting.T_slot_part
        if not _overlaps(g.mesh, T_start, start_boxes):
            free[g.source].remove(slot)
            pp.source_slot, pp.T_world_start = f"{g.source}/{slot}", T_start
            start_boxes[g.name] = _world_bounds(g.mesh, T_start)
            return None
    return f"no free slot left in station {g.source!r} to feed it from without touching other parts"


def _world_bounds(mesh: trimesh.Trimesh, T: np.ndarray) -> np.ndarray:
    """``(2, 3)`` axis-aligned bounds of ``mesh`` placed at ``T (4, 4)``."""
    v = trimesh.transform_points(mesh.convex_hull.vertices, T)
    return np.array([v.min(axis=0), v.max(axis=0)])


def _overlaps(
    mesh: trimesh.Trimesh, T: np.ndarray, others: dict[str, np.ndarray], gap_m: float = 0.002
) -> str:
    """Name of a part whose bounds come within ``gap_m`` of ``mesh`` at ``T``, or ``""``."""
    b = _world_bounds(mesh, T)
    for name, o in others.items():
        if np.all(b[0] < o[1] + gap_m) and np.all(o[0] < b[1] + gap_m):
            return name
    return ""


# ----------------------------------------------------------------------------- stage 3: grasps
def usable_grasps(
    grasps: GraspSet, pp: PartPlan, gripper: GripperGeometry, cell: Cell, max_keep: int = 300
) -> GraspSet:
    """Grasps that approach within 30 deg of straight down at pick AND place, fingertips above the surfaces."""
    assert pp.T_world_start is not None and pp.T_world_target is not None
    keep = np.ones(len(grasps), dtype=bool)
    cos_tilt = np.cos(MAX_APPROACH_TILT_RAD)
    source_z = float(cell.T_world_station(pp.geom.source)[2, 3])
    for T_world_part, surface_z in ((pp.T_world_start, source_z), (pp.T_world_target, pp.target_surface_z_m)):
        T_world_tcp = T_world_part[None] @ grasps.T_part_tcp
        keep &= T_world_tcp[:, 2, 2] <= -cos_tilt  # tool z points down
        tips = gripper.fingertip_corners(grasps.pregrasp_width_m)  # (M, 8, 3) in the TCP frames
        tip_z = np.einsum("mj,mkj->mk", T_world_tcp[:, 2, :3], tips) + T_world_tcp[:, 2, 3, None]
        keep &= tip_z.min(axis=1) >= surface_z + FINGERTIP_CLEARANCE_M
    idx = np.flatnonzero(keep)[:max_keep]
    return grasps.subset(idx)


def grasp_stage(
    pp: PartPlan, gripper: GripperGeometry, cell: Cell, seed: int, cache: dict[bytes, GraspSet] | None = None
) -> None:
    """Grasps of one part; identical parts resting the same way (repeated instances) share them via ``cache``."""
    assert pp.T_world_start is not None and pp.T_world_target is not None
    g = pp.geom
    down = np.array([0.0, 0.0, -1.0])
    pref = np.stack([pp.T_world_start[:3, :3].T @ down, pp.T_world_target[:3, :3].T @ down])
    key = hashlib.sha1(
        np.ascontiguousarray(g.mesh.vertices).tobytes()
        + np.ascontiguousarray(g.mesh.faces).tobytes()
        + np.round(pref, 6).tobytes()
        + str(g.density_kg_m3).encode()
    ).digest()
    t0 = time.perf_counter()
    if cache is not None and key in cache:
        pp.grasps, pp.grasps_cached = cache[key], True
    else:
        pp.grasps = synthesize_grasps(
            g.mesh,
            gripper,
            g.mass_kg,
            g.com_m,
            preferred_approach=pref,
            approach_m=cell.spec.planning.approach_distance_m,
            max_candidates=5000,  # ranked here, cut after the pick/place filter below
            seed=seed,
        )
        if cache is not None:
            cache[key] = pp.grasps
    pp.grasp_time_s = time.perf_counter() - t0
    pp.usable = usable_grasps(pp.grasps, pp, gripper, cell)
    need = required_force_n(gripper, g.mass_kg)
    if need > gripper.force_n:
        pp.issue = (
            f"too heavy for the gripper: {g.mass_kg:.2f} kg needs {need:.0f} N of grip "
            f"(safety 3, friction {gripper.friction:g}), the gripper gives {gripper.force_n:.0f} N"
        )
    elif len(pp.grasps) == 0:
        pp.issue = (
            f"no collision-free antipodal grasp within the {gripper.stroke_m * 1000:.0f} mm stroke "
            f"(friction {gripper.friction:g}, {pp.grasps.n_pairs} contact pairs found)"
        )
    elif len(pp.usable) == 0:
        pp.issue = (
            f"none of its {len(pp.grasps)} grasps approaches from above at both the pick and the place "
            "with the fingertips clear of the surfaces"
        )


# ----------------------------------------------------------------------------- stage 4: sequence
def by_operator(pp: PartPlan) -> bool:
    """Whether a part the robot cannot handle goes to the operator: start, target known; liftable by hand."""
    return (
        pp.issue is not None
        and pp.T_world_start is not None
        and pp.T_world_target is not None
        and pp.geom.mass_kg <= OPERATOR_MAX_KG
    )


def sequence_stage(plans: list[PartPlan], spec: VariantSpec, cell: Cell, start_xyz: np.ndarray) -> list[str]:
    """Names of the parts to place, in order, robot and operator parts; blocked parts get their ``issue``.

    Assemblies: the insertion order, with the parts left to the operator where they belong in it (the parts
    resting on them come after them). Kits: the robot's short-travel order, then the operator's parts in the
    variant's order, so that the worker reaches in once, with the robot parked at home.
    """
    by = {p.name: p for p in plans}
    for p in plans:
        if p.issue is not None and p.geom.mass_kg > OPERATOR_MAX_KG and p.T_world_start is not None:
            p.issue += (
                f"; no operator task either: {p.geom.mass_kg:.1f} kg is more than one person lifts by hand "
                f"({OPERATOR_MAX_KG:.0f} kg)"
            )
    if spec.kind == "assembly":
        meshes = {}
        for p in plans:
            m = p.geom.mesh.copy()
            assert p.geom.T_fixture_part is not None
            m.apply_transform(p.geom.T_fixture_part)
            meshes[p.name] = m
        ao = assembly_order(meshes)
        for name, why in ao.blocked.items():
            if by[name].issue is None:
                by[name].issue = why
        for p in plans:
            p.supports = tuple(sorted(ao.supports.get(p.name, set())))
        return [n for n in ao.order if by[n].issue is None or by_operator(by[n])]
    jobs = {
        p.name: (p.T_world_start[:3, 3], p.T_world_target[:3, 3])
        for p in plans
        if p.issue is None and p.T_world_start is not None and p.T_world_target is not None
    }
    return kit_order(jobs, start_xyz) + [p.name for p in plans if by_operator(p)]


# ----------------------------------------------------------------------------- driver
def plan_variant(
    variant_dir: Path | str,
    cell: Cell | Path | str | None = None,
    out_dir: Path | str | None = None,
    seed: int = 0,
    progress: Progress | None = None,
    write_report: bool = True,
) -> PlanOutcome:
    """Plan a variant and (with ``out_dir``) write its workflow and report atomically.

    Raises
    ------
    ConfigError
        Bad input (variant.yaml, CAD files, cell), one line naming file and key.
    """
    t_all = time.perf_counter()
    say = progress or (lambda stage, item: None)
    vdir = Path(variant_dir).resolve()
    cell_obj = cell if isinstance(cell, Cell) else load_cell(cell)
    fingerprint = inputs_fingerprint(vdir, cell_obj, seed)  # before reading them: a later edit is not in it
    timings: dict[str, float] = {}

    t = time.perf_counter()
    say("import", vdir.name)
    spec = load_variant(vdir)
    gripper = GripperGeometry.from_spec(cell_obj.spec.gripper)
    geoms = import_parts(vdir, spec, gripper.stroke_m)
    plans = [PartPlan(g, issue=g.issue) for g in geoms]
    timings["import"] = time.perf_counter() - t

    t = time.perf_counter()
    say("layout", vdir.name)
    layout(plans, spec, cell_obj, variant_file(vdir))
    timings["layout"] = time.perf_counter() - t

    t = time.perf_counter()
    cache: dict[bytes, GraspSet] = {}
    for pp in plans:
        if pp.issue is None:
            say("grasps", pp.name)
            grasp_stage(pp, gripper, cell_obj, seed, cache)
    timings["grasps"] = time.perf_counter() - t

    from motion import MotionPlanner  # the motion layer is heavy: import it when it is needed

    planner = MotionPlanner(cell_obj, seed=seed + 1)
    home = np.asarray(planner.home, dtype=float)
    t = time.perf_counter()
    say("sequence", vdir.name)
    order = sequence_stage(plans, spec, cell_obj, planner.fk(home)[:3, 3])
    timings["sequence"] = time.perf_counter() - t

    t = time.perf_counter()
    tasks, trajs = motion_stage(plans, order, planner, cell_obj, gripper, home, say, spec.kind)
    timings["motions"] = time.perf_counter() - t

    parts_info = [
        _part_info(p) for p in plans if p.T_world_start is not None and p.T_world_target is not None
    ]
    infeasible = [Infeasible(part=p.name, reason=p.issue) for p in plans if p.issue is not None]
    wf = Workflow(
        variant=spec.name or vdir.name,
        variant_dir=str(vdir),
        kind=spec.kind,
        cell=str(cell_obj.source),
        created_utc=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        seed=seed,
        joint_names=list(planner.joint_names),
        home_q=[float(v) for v in home],
        parts=parts_info,
        tasks=tasks,
        infeasible=infeasible,
        cycle_time_s=round(sum(tk.duration_s for tk in tasks), 4),
        inputs_sha256=fingerprint,
    )
    outcome = PlanOutcome(wf, trajs, plans, timings, expected_infeasible=list(spec.expect_infeasible))
    wf.plan_time_s = round(time.perf_counter() - t_all, 3)  # planning proper, as recorded in the file
    if out_dir is not None:
        t = time.perf_counter()
        say("write", str(out_dir))
        write_outputs(Path(out_dir), outcome, write_report)
        timings["write"] = time.perf_counter() - t
        outcome.out_dir = Path(out_dir)
    outcome.total_time_s = time.perf_counter() - t_all
    return outcome


def motion_stage(
    plans: list[PartPlan],
    order: list[str],
    planner: object,
    cell: Cell,
    gripper: GripperGeometry,
    home: np.ndarray,
    say: Progress,
    kind: str = "kit",
) -> tuple[list[Task], dict[str, JointTrajectory]]:
    """Plan every task in order on one planner whose world follows the parts as they move.

    A part the robot cannot handle becomes an operator task (see :mod:`workflow_gen.operator_tasks`): the
    robot goes home first, and the planner's world has the part at its target from then on. A robot task
    that cannot be planned becomes an operator task too: in place for an assembly, at the end for a kit.
    """
    from workflow_gen.motions import TaskRequest, plan_task
    from workflow_gen.operator_tasks import operator_task

    by = {p.name: p for p in plans}
    p_any: object = planner
    for p in plans:
        if p.T_world_start is not None:
            p_any.add_object(p.name, p.geom.mesh, p.T_world_start)  # type: ignore[attr-defined]
    placed: set[str] = set()
    q = home.copy()
    opening = gripper.stroke_m
    tasks: list[Task] = []
    trajs: dict[str, JointTrajectory] = {}
    plan_spec = cell.spec.planning
    later: list[str] = []

    def hand_over(pp: PartPlan) -> None:
        """The operator places ``pp``: the robot parks at home, then the part is at its target."""
        nonlocal q
        q = _return_home(planner, tasks, trajs, q, home)
        parked = bool(np.allclose(q, home, atol=HOME_TOL_RAD))
        tasks.append(operator_task(pp, f"t{len(tasks) + 1:02d}_{pp.name}", cell, parked))
        p_any.set_object_pose(pp.name, pp.T_world_target)  # type: ignore[attr-defined]
        placed.add(pp.name)

    for name in order:
        pp = by[name]
        say("motions", name)
        missing = [s for s in pp.supports if s not in placed]
        if missing:
            why = f"rests on {', '.join(missing)}, which could not be placed"
            pp.issue = why if pp.issue is None else f"{pp.issue}; no operator task either: {why}"
            continue
        if pp.issue is not None:
            hand_over(pp)
            continue
        assert pp.usable is not None and pp.T_world_start is not None and pp.T_world_target is not None
        task_id = f"t{len(tasks) + 1:02d}_{name}"
        req = TaskRequest(
            name,
            pp.T_world_start,
            pp.T_world_target,
            pp.usable,
            pp.geom.source,
            pp.target_station,
            pp.supports,
        )
        res, why = plan_task(
            planner,
            req,
            q,
            opening,
            task_id,
            plan_spec.approach_distance_m,
            plan_spec.retreat_distance_m,
            gripper.max_speed_m_s,
            GRASPS_TRIED,
        )
        if res is None:
            pp.issue = why
            if kind == "assembly":
                hand_over(pp)
            else:
                later.append(name)
            continue
        gi = res.grasp_index
        G = pp.usable
        grasp = Grasp(
            id=f"{name}/g{gi}",
            T_part_tcp=Pose.from_matrix(G.T_part_tcp[gi]),
            pregrasp_width_m=round(float(G.pregrasp_width_m[gi]), 6),
            contact_width_m=round(float(G.contact_width_m[gi]), 6),
            force_n=round(float(G.force_n), 3),
            score=round(float(G.score[gi]), 4),
        )
        tasks.append(
            Task(
                id=task_id,
                actor="robot",
                part=name,
                description=(
                    f"pick {name} from {pp.source_slot} with grasp g{gi} "
                    f"(width {grasp.contact_width_m * 1000:.1f} mm), place it at {pp.target_label}"
                ),
                source=pp.source_slot,
                target=pp.target_label,
                grasp=grasp,
                T_world_part_pick=Pose.from_matrix(pp.T_world_start),
                T_world_part_place=Pose.from_matrix(pp.T_world_target),
                steps=res.steps,
                duration_s=round(sum(s.duration_s for s in res.steps), 4),
                pictures=[f"report/{name}.png"],
            )
        )
        trajs.update(res.trajectories)
        placed.add(name)
        q = res.q_end
        opening = float(G.pregrasp_width_m[gi])
    for name in later:
        hand_over(by[name])
    _return_home(planner, tasks, trajs, q, home)
    return tasks, trajs


def _return_home(
    planner: object,
    tasks: list[Task],
    trajs: dict[str, JointTrajectory],
    q: np.ndarray,
    home: np.ndarray,
) -> np.ndarray:
    """Append a return-home motion to the last task when it is a robot task away from home; the new ``q``."""
    if not tasks or tasks[-1].actor != "robot" or np.allclose(q, home, atol=HOME_TOL_RAD):
        return q
    r = planner.plan_to_joint(q, home)  # type: ignore[attr-defined]
    if not r.success:
        return q
    from workflow_gen.model import MotionStep

    key = f"{tasks[-1].id}.return_home"
    trajs[key] = r.trajectory
    tasks[-1].steps.append(
        MotionStep(
            name="return_home",
            kind="trajectory",
            trajectory=key,
            duration_s=round(r.trajectory.duration_s, 4),
        )
    )
    tasks[-1].duration_s = round(sum(s.duration_s for s in tasks[-1].steps), 4)
    return np.asarray(r.trajectory.end, dtype=float)


def _part_info(p: PartPlan) -> PartInfo:
    inertia = p.geom.inertia_kg_m2
    assert p.T_world_start is not None and p.T_world_target is not None
    return PartInfo(
        name=p.name,
        cad=p.geom.cad,
        mesh=f"parts/{p.name}.stl",
        mass_kg=round(p.geom.mass_kg, 6),
        com_m=tuple(round(float(v), 6) for v in p.geom.com_m),  # type: ignore[arg-type]
        inertia_kg_m2=tuple(  # type: ignore[arg-type]
            float(f"{v:.6g}")
            for v in (
                inertia[0, 0],
                inertia[1, 1],
                inertia[2, 2],
                inertia[0, 1],
                inertia[0, 2],
                inertia[1, 2],
            )
        ),
        source=p.source_slot,
        target=p.target_label,
        T_world_start=Pose.from_matrix(p.T_world_start),
        T_world_target=Pose.from_matrix(p.T_world_target),
    )


def write_outputs(out: Path, outcome: PlanOutcome, write_report: bool = True) -> None:
    """Write everything into a temporary sibling directory, then swap it in: all or nothing."""
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.tmp-"))
    try:
        (tmp / "parts").mkdir()
        for p in outcome.parts:
            if p.T_world_start is not None:
                p.geom.mesh.export(tmp / "parts" / f"{p.name}.stl")
        if write_report:
            from workflow_gen.report import write_report as _write_report

            _write_report(tmp, outcome)
        save_workflow(tmp, outcome.workflow, outcome.trajectories)
        old = None
        if out.exists():
            old = out.parent / f".{out.name}.old-{time.time_ns()}"
            out.rename(old)
        tmp.rename(out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
