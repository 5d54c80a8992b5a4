"""The workflow generator: variant CAD in, a workflow of robot and worker tasks out (a short driver).

Stages, each its own module, each timed, each returning new data (nothing shared is mutated):

1. ``import``    CAD -> part meshes in metres, repaired, stood up on the fixture (:mod:`.cad_import`)
2. ``targets``   each part's place in the product / kit and its stable resting pose (:mod:`.layout`)
3. ``sequence``  assembly by disassembly over many directions (:mod:`.sequence`), fasteners paired
                 (:mod:`.features`); a short-travel order for kits
4. ``feeding``   the feeder laid out from the footprints in sequence order (:mod:`.feeding`)
5. ``grasps``    antipodal grasps from any side (:mod:`.grasps`)
6. ``motions``   per part ``Fallbacks(pick_place, regrasp)`` of MTC-like stages (:mod:`.stages`) on one
                 planner (any ``motion.Planner``), else a worker's task (:mod:`.part_tasks`)
7. ``write``     workflow.yaml + trajectories.npz + parts/*.stl + report + feeder sheet, all or nothing

``plan_variant`` is a pure function of (cell, variant, settings, seed).
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import cast

import numpy as np

from cell_config import Cell, load_cell
from motion.result import Planner
from motion.trajectory import JointTrajectory
from workflow_gen.cad_import import PartGeometry, import_parts
from workflow_gen.features import FastenerKind, pair_fasteners, recognise_fastener
from workflow_gen.feeding import FeederLayout
from workflow_gen.fingerprint import inputs_fingerprint
from workflow_gen.grasps import GraspSet, GripperGeometry, synthesize_grasps
from workflow_gen.layout import Target, feeding, targets
from workflow_gen.model import Infeasible, PartInfo, Pose, Workflow, save_workflow
from workflow_gen.part_context import FROM_ABOVE, PartContext, PartPlan
from workflow_gen.part_tasks import plan_tasks
from workflow_gen.phases import ReasonKind
from workflow_gen.sequence import assembly_order, fasten_early, kit_order
from workflow_gen.stages.context import Impossible, WorkerTask
from workflow_gen.stages.core import Failure
from workflow_gen.variant import VariantSpec, load_variant, variant_file

Progress = Callable[[str, str], None]


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
    feed: FeederLayout | None = None

    @property
    def infeasible(self) -> dict[str, str]:
        return {i.part: i.reason for i in self.workflow.infeasible}

    def summary(self) -> dict[str, object]:
        g = [p.ctx.grasp_time_s for p in self.parts if p.ctx.grasps is not None and not p.ctx.grasps_cached]
        worker: dict[str, int] = {}
        for t in self.workflow.tasks:
            if t.actor == "operator":
                k = t.reason_kind.value if t.reason_kind else t.kind
                worker[k] = worker.get(k, 0) + 1
        dirs = sorted(
            {
                _dir_label(t.insert_dir)
                for t in self.workflow.tasks
                if t.insert_dir is not None and t.kind != "fasten"
            }
        )
        return {
            "variant": self.workflow.variant,
            "kind": self.workflow.kind,
            "parts_total": len(self.parts),
            "parts_planned": sum(t.actor == "robot" for t in self.workflow.tasks),
            "operator_tasks": sum(t.actor == "operator" for t in self.workflow.tasks),
            "worker_tasks_by_reason": worker,
            "parts_covered": sum(p.by_robot or isinstance(p.outcome, WorkerTask) for p in self.parts),
            "insertion_directions": dirs,
            "infeasible": self.infeasible,
            "cycle_time_s": round(self.workflow.cycle_time_s, 3),
            "plan_time_s": round(self.total_time_s or self.workflow.plan_time_s, 3),
            "stage_time_s": {k: round(v, 4) for k, v in self.timings_s.items()},
            "grasp_time_median_s": round(float(np.median(g)), 4) if g else None,
            "grasps_per_part": {
                p.name: (len(p.ctx.grasps) if p.ctx.grasps is not None else 0) for p in self.parts
            },
            "grasps_usable_per_part": {
                p.name: (len(p.usable) if p.usable is not None else 0) for p in self.parts
            },
            "out_dir": str(self.out_dir) if self.out_dir else None,
        }


def _dir_label(d: tuple[float, float, float]) -> str:
    """``-z`` for (0, 0, -1) and the like; the vector itself when it is not along an axis."""
    v = np.asarray(d, float)
    i = int(np.argmax(np.abs(v)))
    if abs(v[i]) > 0.99:
        return ("+" if v[i] > 0 else "-") + "xyz"[i]
    return "({:.2f}, {:.2f}, {:.2f})".format(*v)


def _import_blocker(g: PartGeometry) -> Failure | None:
    """The import's verdict on a part as a typed failure (bad mesh, too large for the gripper)."""
    if g.issue is None:
        return None
    kind = getattr(g, "issue_kind", None)
    if kind is None:
        kind = ReasonKind.TOO_LARGE if g.issue.startswith("too large") else ReasonKind.BAD_MESH
    return Failure(ReasonKind(kind), g.issue, "import")


@dataclass(frozen=True)
class Sequence:
    """What sequencing found (directions in the fixture frame for assemblies, the world for kits)."""

    order: list[str]
    insert_dir: dict[str, np.ndarray]
    supports: dict[str, tuple[str, ...]]
    blocked: dict[str, Failure]
    fasteners: dict[str, str]
    fastened_with: dict[str, str]


# A part whose name says what else it is is not taken for a fastener by its shape (a pin with a knob looks
# like a screw to the shape test).
NOT_FASTENER_WORDS = (
    "pin",
    "dowel",
    "shaft",
    "rod",
    "axle",
    "bush",
    "sleeve",
    "spacer",
    "knob",
    "plug",
    "cap",
)


def _fasteners(geoms: list[PartGeometry], spec: VariantSpec) -> dict[str, FastenerKind]:
    """Fastener kind of each part: the variant's word when it gives one, else names and shapes."""
    ov = spec.overrides()
    out: dict[str, FastenerKind] = {}
    for g in geoms:
        said = ov[g.name].fastener if g.name in ov else None
        words = re.split(r"[^a-z]+", g.name.lower())
        if said == "none" or (said is None and any(w.startswith(NOT_FASTENER_WORDS) for w in words if w)):
            continue
        kind = (
            FastenerKind(said) if said else recognise_fastener(getattr(g, "cad_name", "") or g.name, g.mesh)
        )
        if kind is not None:
            out[g.name] = kind
    return out


def _sequence(
    geoms: list[PartGeometry], tg: dict[str, Target], spec: VariantSpec, start_xyz: np.ndarray
) -> Sequence:
    """Insertion order, directions, supports and blocked parts of the parts with a target."""
    if spec.kind == "assembly":
        meshes = {}
        for g in geoms:
            if g.name in tg:
                assert g.T_fixture_part is not None
                m = g.mesh.copy()
                m.apply_transform(g.T_fixture_part)
                meshes[g.name] = m
        kinds = _fasteners([g for g in geoms if g.name in tg], spec)
        pairs = pair_fasteners(meshes, kinds)
        ao = assembly_order(meshes, threaded_on=pairs)
        order = fasten_early(list(ao.order), ao.insert_dir, ao.supports, meshes, set(kinds), pairs)
        blocked = {
            n: Failure(ReasonKind(ao.blocked_kind.get(n, "unsupported")), why, "sequence")
            for n, why in ao.blocked.items()
        }
        return Sequence(
            order=order,
            insert_dir={n: np.asarray(d, float) for n, d in ao.insert_dir.items()},
            supports={n: tuple(sorted(s)) for n, s in ao.supports.items()},
            blocked=blocked,
            fasteners={n: k.value for n, k in kinds.items()},
            fastened_with=pairs,
        )
    jobs = {
        g.name: (np.asarray(tg[g.name].T_world_target[:3, 3]), np.zeros(3)) for g in geoms if g.name in tg
    }
    return Sequence(kit_order(jobs, start_xyz), {}, {}, {}, {}, {})


def _grasps(
    g: PartGeometry,
    rest_down: np.ndarray,
    gripper: GripperGeometry,
    cell: Cell,
    seed: int,
    cache: dict[bytes, GraspSet],
    top_down_only: bool = False,
) -> tuple[GraspSet, float, bool]:
    """All-side grasps of a part (identical parts share them); (grasps, seconds, from the cache)."""
    key = hashlib.sha1(
        np.ascontiguousarray(g.mesh.vertices).tobytes()
        + np.ascontiguousarray(g.mesh.faces).tobytes()
        + np.round(rest_down, 6).tobytes()
        + str(g.density_kg_m3).encode()
        + (b"top" if top_down_only else b"all")
    ).digest()
    if key in cache:
        return cache[key], 0.0, True
    t0 = time.perf_counter()
    approach_m = cell.spec.planning.approach_distance_m

    def pool(max_tilt_rad: float) -> GraspSet:
        return synthesize_grasps(
            g.mesh,
            gripper,
            g.mass_kg,
            g.com_m,
            preferred_approach=rest_down,
            max_candidates=3000,
            max_tilt_rad=max_tilt_rad,
            approach_m=approach_m,
            seed=seed,
        )

    # Two pools, so that neither crowds the other out of the ranking: grasps from near the feeder's vertical
    # (the clean top-down picks) and grasps from every side (for sideways insertion and awkward parts).
    top = pool(np.radians(30.0))
    if top_down_only:
        cache[key] = top
        return top, time.perf_counter() - t0, False
    side = pool(np.pi)
    G = concat_grasps(top, side)
    cache[key] = G
    return G, time.perf_counter() - t0, False


def concat_grasps(a: GraspSet, b: GraspSet) -> GraspSet:
    """``a`` then the grasps of ``b`` that are not already in ``a`` (same TCP pose within 0.1 mm / 1e-4)."""
    if len(a) == 0:
        return b
    if len(b) == 0:
        return a
    key_a = {tuple(np.round(T[:3, :].ravel(), 4)) for T in a.T_part_tcp}
    new = np.array([tuple(np.round(T[:3, :].ravel(), 4)) not in key_a for T in b.T_part_tcp])
    return GraspSet.concatenate([a, b.subset(np.flatnonzero(new))])


def plan_variant(
    variant_dir: Path | str,
    cell: Cell | Path | str | None = None,
    out_dir: Path | str | None = None,
    seed: int = 0,
    progress: Progress | None = None,
    write_report: bool = True,
    top_down_only: bool = False,
    planner: Planner | None = None,
) -> PlanOutcome:
    """Plan a variant and (with ``out_dir``) write its workflow and report atomically.

    ``top_down_only`` plans as the generator did before grasps from any side and regrasps: the tool within
    30 deg of straight down at the pick and the place, no regrasp (the benchmarks' peer).
    ``planner`` is any ``motion.Planner`` for this cell with nothing added to its world yet (e.g. the
    MoveItPy backend on a full ROS 2 site); default: the embedded ``motion.MotionPlanner``.

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

    def timed(stage: str, item: str) -> float:
        say(stage, item)
        return time.perf_counter()

    t = timed("import", vdir.name)
    spec = load_variant(vdir)
    gripper = GripperGeometry.from_spec(cell_obj.spec.gripper)
    geoms = import_parts(vdir, spec, gripper.stroke_m)
    timings["import"] = time.perf_counter() - t

    t = timed("targets", vdir.name)
    tg = targets(geoms, spec, cell_obj, variant_file(vdir))
    timings["targets"] = time.perf_counter() - t

    from motion import MotionPlanner  # the motion layer is heavy: import it when it is needed

    if planner is None:
        planner = cast(Planner, MotionPlanner(cell_obj, seed=seed + 1))
    home = np.asarray(planner.home, dtype=float)
    t = timed("sequence", vdir.name)
    seq = _sequence(geoms, tg, spec, planner.fk(home)[:3, 3])
    order = seq.order
    timings["sequence"] = time.perf_counter() - t

    t = timed("feeding", vdir.name)
    feed = feeding(geoms, tg, cell_obj, {n: i for i, n in enumerate(order)})
    timings["feeding"] = time.perf_counter() - t

    t = time.perf_counter()
    cache: dict[bytes, GraspSet] = {}
    contexts: list[PartContext] = []
    R_fix = cell_obj.T_world_station(spec.fixture)[:3, :3] if spec.kind == "assembly" else np.eye(3)
    for g in geoms:
        blocked = _import_blocker(g) or seq.blocked.get(g.name)
        target = tg.get(g.name)
        fp = feed.placed.get(g.name)
        if blocked is None and target is not None and target.overlap:
            blocked = Failure(
                ReasonKind.NO_FEED_SPACE, f"at its target {target.label} it would overlap {target.overlap}"
            )
        grasps, dt_s, cached = None, 0.0, False
        if blocked is None and target is not None and fp is not None:
            say("grasps", g.name)
            down = fp.T_world_part[:3, :3].T @ np.array([0.0, 0.0, -1.0])
            grasps, dt_s, cached = _grasps(g, down[None, :], gripper, cell_obj, seed, cache, top_down_only)
        if blocked is None and g.name in feed.overflow:
            blocked = Failure(ReasonKind.NO_FEED_SPACE, feed.overflow[g.name], "feeding")
        contexts.append(
            PartContext(
                geom=g,
                resting_probability=target.resting.probability if target else 0.0,
                symmetry=target.symmetry if target else "none",
                T_world_start=fp.T_world_part if fp else None,
                source_slot=fp.label if fp else "",
                source_station=fp.station if fp else g.source,
                source_surface_z_m=float(cell_obj.T_world_station(fp.station)[2, 3]) if fp else 0.0,
                T_world_target=target.T_world_target if target else None,
                target_label=target.label if target else "",
                target_station=target.station if target else "",
                target_surface_z_m=target.surface_z_m if target else 0.0,
                tolerance=target.tolerance if target else (2.0, 2.0),
                insert_dir=R_fix @ seq.insert_dir[g.name] if g.name in seq.insert_dir else FROM_ABOVE.copy(),
                supports=seq.supports.get(g.name, ()),
                fastener=seq.fasteners.get(g.name),
                fastened_with=seq.fastened_with.get(g.name),
                blocked=blocked,
                grasps=grasps,
                grasp_time_s=dt_s,
                grasps_cached=cached,
            )
        )
    timings["grasps"] = time.perf_counter() - t

    t = time.perf_counter()
    torques = {n: o.torque_nm for n, o in spec.overrides().items() if o.torque_nm}
    tp = plan_tasks(
        contexts,
        order,
        planner,
        cell_obj,
        gripper,
        home,
        say,
        spec.kind,
        spec.fastening_tool,
        torques,
        max_tilt_rad=np.radians(30.0) if top_down_only else None,
    )
    timings["motions"] = time.perf_counter() - t

    plans = [tp.parts[g.name] for g in geoms]
    parts_info = [_part_info(p) for p in plans if p.ctx.T_world_target is not None]
    infeasible = [
        Infeasible(part=p.name, reason=p.issue or "", kind=_kind(p))
        for p in plans
        if not p.by_robot and p.issue
    ]
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
        tasks=tp.tasks,
        infeasible=infeasible,
        cycle_time_s=round(sum(tk.duration_s for tk in tp.tasks), 4),
        inputs_sha256=fingerprint,
    )
    outcome = PlanOutcome(
        wf, tp.trajectories, plans, timings, expected_infeasible=list(spec.expect_infeasible), feed=feed
    )
    wf.plan_time_s = round(time.perf_counter() - t_all, 3)  # planning proper, as recorded in the file
    if out_dir is not None:
        t = timed("write", str(out_dir))
        write_outputs(Path(out_dir), outcome, write_report)
        timings["write"] = time.perf_counter() - t
        outcome.out_dir = Path(out_dir)
    outcome.total_time_s = time.perf_counter() - t_all
    return outcome


def _kind(p: PartPlan) -> ReasonKind | None:
    o = p.outcome
    if isinstance(o, WorkerTask | Impossible):
        return o.reason_kind
    return p.ctx.blocked.kind if p.ctx.blocked is not None else None


def _part_info(p: PartPlan) -> PartInfo:
    inertia = p.geom.inertia_kg_m2
    c = p.ctx
    assert c.T_world_target is not None
    start = c.T_world_start if c.T_world_start is not None else c.T_world_target
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
        source=c.source_slot or "parts supply (handed to the cell)",
        target=c.target_label,
        T_world_start=Pose.from_matrix(start),
        T_world_target=Pose.from_matrix(c.T_world_target),
        fastener=c.fastener,  # type: ignore[arg-type]
        fastened_with=c.fastened_with,
    )


def write_outputs(out: Path, outcome: PlanOutcome, write_report: bool = True) -> None:
    """Write everything into a temporary sibling directory, then swap it in: all or nothing."""
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.tmp-"))
    try:
        (tmp / "parts").mkdir()
        for p in outcome.parts:
            if p.ctx.T_world_target is not None:
                p.geom.mesh.export(tmp / "parts" / f"{p.name}.stl")
        if outcome.feed is not None and outcome.feed.placed:
            from workflow_gen.loading_sheet import write_loading_sheet

            write_loading_sheet(
                tmp, outcome.feed, {p.name: p.geom.mesh for p in outcome.parts}, _cell_of(outcome)
            )
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


def _cell_of(outcome: PlanOutcome) -> Cell:
    return load_cell(outcome.workflow.cell)
