"""Pick-and-place of one part as a stage container, the grasps that fit a leg, and the part-level fallbacks.

::

    pick_place(leg) = Serial( GenerateGrasps, OpenJaws, Transit(pre-pick), Approach, CloseJaws, Lift,
                              Transit(pre-insert), Insert, ReleaseJaws, Retreat )
    regrasp         = Serial( pick_place(feeder -> regrasp area), pick_place(regrasp area -> product) )
    part            = Fallbacks( pick_place, regrasp )  -> RobotTask, else the driver's WorkerTask

:func:`leg_grasps` keeps the grasps that can work at both ends of a leg before any planning: the tool never
comes from below, the fingertips stay above the surfaces, and the open fingers and the palm, swept along the
insertion line, stay clear of the parts already built.
"""

from __future__ import annotations

import numpy as np
import trimesh

from workflow_gen.grasps import GraspSet, GripperGeometry
from workflow_gen.phases import ReasonKind
from workflow_gen.stages.context import UP, Leg
from workflow_gen.stages.core import Failure, Scene, Serial, Solution, Stage, first_solution, summarise
from workflow_gen.stages.moves import (
    Approach,
    CloseJaws,
    GenerateGrasps,
    Insert,
    Lift,
    OpenJaws,
    ReleaseJaws,
    Retreat,
    Transit,
    release_width_m,
)

FINGERTIP_CLEARANCE_M = 0.001
# The tool may point at most this far upwards (tool z . world up): a gripper does not reach in from below.
MAX_TOOL_UP = 0.26  # about 15 deg above horizontal
SWEEP_SAMPLES = 5  # positions checked along the insertion line
# A part pushed sideways into place (a shaft through holes) must be held with the contact patch centre at
# least this far behind the fingertips: held by the pads' last millimetres (a thin rod picked off a flat
# tray), it pivots in the jaws, its far end catches the first hole and it is squeezed out (seen in MuJoCo).
# Parts set down from above are not pushed and may be held by the tips (a thin cover).
MIN_PAD_ENGAGEMENT_M = 0.006
# Any grasp must hold the part deeper than this behind the fingertips, or by 30 % of the part's own height
# along the approach when that is less (a thin cover is held over its whole thickness): a tall part held by
# the pads' last 2 mm slips out of the jaws on the carry (seen in MuJoCo on held-out CAD).
MIN_ENGAGEMENT_M = 0.004
MIN_ENGAGEMENT_SHARE = 0.3
MAX_LEG_GRASPS = 300


def pick_place(tag: str = "", max_tries: int = 12) -> Serial:
    """The stages of one leg; ``tag`` suffixes the step names (``"_2"`` for a regrasp's second leg)."""
    stages: list[Stage] = [
        GenerateGrasps("grasps" + tag, max_tries),
        OpenJaws("open" + tag),
        Transit("transit_pick" + tag, "q_pre_pick", "pre_pick"),
        Approach("approach" + tag),
        CloseJaws("close" + tag),
        Lift("lift" + tag),
        Transit("transit_place" + tag, "q_pre_insert", "pre_insert"),
        Insert("insert" + tag),
        ReleaseJaws("release" + tag),
        Retreat("retreat" + tag),
    ]
    return Serial("pick_place" + tag, stages)


def regrasp(first: Leg, second: Leg, max_tries: int = 6) -> Serial:
    """Put the part down on the regrasp area (``first``), then take it another way (``second``)."""
    return Serial("regrasp", [pick_place("", max_tries), pick_place("_2", max_tries)], legs=[first, second])


def plan_leg_chain(stage: Stage, leg: Leg, start: Solution, scene: Scene) -> Solution | Failure:
    """Run ``stage`` from ``start``; the first solution, or one summarised failure."""
    out = first_solution(stage, leg, start, scene)
    if isinstance(out, Solution):
        return out
    tried = min(len(leg.grasps), _max_tries(stage))
    return summarise(out, tried)


def _max_tries(stage: Stage) -> int:
    children = getattr(stage, "children", [])
    for c in children:
        if isinstance(c, GenerateGrasps):
            return c.max_tries
    return 12


SAMPLE_SPACING_M = 0.003  # about one surface point per 3 x 3 mm: finer than the 10 mm fingers


def _sample_points(meshes_world: list[trimesh.Trimesh], max_per_part: int = 4000) -> np.ndarray:
    """Surface points ``(P, 3)`` of the given placed meshes: vertices plus a seeded sampling of the surface
    about :data:`SAMPLE_SPACING_M` apart (a slot's rim between a large part's far-apart vertices is covered)."""
    pts = [np.zeros((0, 3))]
    for i, m in enumerate(meshes_world):
        n = int(np.clip(m.area / SAMPLE_SPACING_M**2, 200, max_per_part))
        pts.append(np.asarray(m.vertices))
        pts.append(trimesh.sample.sample_surface(m, n, seed=i)[0])
    return np.vstack(pts)


def leg_grasps(
    grasps: GraspSet,
    gripper: GripperGeometry,
    T_world_from: np.ndarray,
    T_world_to: np.ndarray,
    from_surface_z_m: float,
    to_surface_z_m: float,
    insert_dir: np.ndarray,
    approach_m: float,
    built_world: list[trimesh.Trimesh] = (),  # type: ignore[assignment]
    max_keep: int = MAX_LEG_GRASPS,
    neighbours_world: list[trimesh.Trimesh] = (),  # type: ignore[assignment]
    counts: dict[str, int] | None = None,
    insert_m: float | None = None,
    max_tilt_rad: float | None = None,
    mesh: trimesh.Trimesh | None = None,
) -> GraspSet:
    """The grasps of ``grasps`` fit for a leg, ranked: clean top-down picks and pushes along the axis first.

    Parameters
    ----------
    T_world_from, T_world_to : (4, 4) part poses at the pick and the place
    from_surface_z_m, to_surface_z_m : heights of the surfaces the part rests on there
    insert_dir : (3,) direction the part moves while going into place
    built_world : meshes of the parts already at their places (world frame): the open fingers and the palm,
        swept back along the insertion line by ``approach_m``, must not touch them
    neighbours_world : meshes of the other parts lying in the feeder (world frame): the open fingers and the
        palm, swept back along the tool axis by ``approach_m``, must not touch them at the pick
    counts : filled (when given) with how many grasps passed each check: ``total``, ``surfaces`` (tool not
        from below, fingertips above both surfaces), ``built`` (fingers clear of the built parts) and
        ``neighbours`` (clear of the parts waiting in the feeder)
    insert_m : length of the insertion line (default ``approach_m``)
    max_tilt_rad : when given, the tool must point within this angle of straight down at both ends
    mesh : the part (part frame); when given, every grasp must hold it deep enough (:data:`MIN_ENGAGEMENT_M`)
    """
    counts = counts if counts is not None else {}
    counts["total"] = len(grasps)
    if len(grasps) == 0:
        return grasps
    d = np.asarray(insert_dir, float) / np.linalg.norm(insert_dir)
    keep = np.ones(len(grasps), dtype=bool)
    engagement = pad_engagement_m(grasps, gripper)
    if abs(d[2]) < 0.5:
        keep &= engagement >= MIN_PAD_ENGAGEMENT_M
    if mesh is not None:
        along = (
            mesh.convex_hull.vertices @ grasps.T_part_tcp[:, :3, 2].T
        )  # (V, M) heights along each approach
        keep &= engagement >= np.minimum(MIN_ENGAGEMENT_M, MIN_ENGAGEMENT_SHARE * np.ptp(along, axis=0))
    counts["engaged"] = int(keep.sum())
    tips = gripper.fingertip_corners(grasps.pregrasp_width_m)  # (M, 8, 3) in the TCP frames
    z_tool = {}
    for key, T_world_part, surface_z in (
        ("from", T_world_from, from_surface_z_m),
        ("to", T_world_to, to_surface_z_m),
    ):
        T_world_tcp = T_world_part[None] @ grasps.T_part_tcp
        z_tool[key] = T_world_tcp[:, :3, 2]
        keep &= z_tool[key] @ UP <= MAX_TOOL_UP
        if max_tilt_rad is not None:
            keep &= z_tool[key] @ UP <= -np.cos(max_tilt_rad)
        tip_z = np.einsum("mj,mkj->mk", T_world_tcp[:, 2, :3], tips) + T_world_tcp[:, 2, 3, None]
        keep &= tip_z.min(axis=1) >= surface_z + FINGERTIP_CLEARANCE_M
    # Rank: pick from above, push along the insertion axis, then the grasp's own score.
    rank = grasps.score - 0.5 * (z_tool["from"] @ UP) + 0.5 * (z_tool["to"] @ d)
    idx = np.flatnonzero(keep)
    idx = idx[np.argsort(-rank[idx], kind="stable")]
    counts["surfaces"] = len(idx)
    if len(built_world) and len(idx):
        sub = grasps.subset(idx)
        opening = release_width_m(sub.contact_width_m, sub.pregrasp_width_m)
        line_m = approach_m if insert_m is None else insert_m
        idx = idx[_fingers_clear(sub, gripper, T_world_to, d, line_m, built_world, opening)]
    counts["built"] = len(idx)
    if len(neighbours_world) and len(idx):
        sub = grasps.subset(idx)
        clear = _fingers_clear(
            sub, gripper, T_world_from, None, approach_m, neighbours_world, sub.pregrasp_width_m
        )
        idx = idx[clear]
    counts["neighbours"] = len(idx)
    return grasps.subset(idx[:max_keep])


def pad_engagement_m(grasps: GraspSet, gripper: GripperGeometry) -> np.ndarray:
    """``(M,)`` how far behind the fingertips the contact patch centres lie (along the approach axis)."""
    centre = grasps.contacts_m.mean(axis=1)  # (M, 3) part frame
    R, t = grasps.T_part_tcp[:, :3, :3], grasps.T_part_tcp[:, :3, 3]
    z_contact = np.einsum("mj,mj->m", R[:, :, 2], centre - t)  # contact depth in the TCP frame
    return gripper.finger_z_range_m[1] - z_contact


def _fingers_clear(
    grasps: GraspSet,
    gripper: GripperGeometry,
    T_world_to: np.ndarray,
    d: np.ndarray | None,
    approach_m: float,
    built_world: list[trimesh.Trimesh],
    opening_m: np.ndarray,
    clearance_m: float = 0.001,
) -> np.ndarray:
    """``(M,) bool``: the open fingers and palm, swept from ``approach_m`` back to the pose, miss the meshes.

    The sweep runs along ``d (3,)`` (the insertion line) or, when ``d`` is None, along each tool's own
    approach axis (a pick); ``opening_m (M,)`` is the jaw opening of each grasp meanwhile.
    """
    target_c = T_world_to[:3, 3]
    reach = 0.25  # only points this close to the place can be touched by the gripper
    pts = _sample_points([m for m in built_world if _near(m, target_c, reach)])
    pts = pts[np.linalg.norm(pts - target_c, axis=1) < reach] if len(pts) else pts
    ok = np.ones(len(grasps), dtype=bool)
    if len(pts) == 0:
        return ok
    hw, t_f = gripper.finger_width_m / 2, gripper.finger_thickness_m
    px, py, pz = gripper.palm_size_m
    z0, z1 = gripper.finger_z_range_m
    c = clearance_m
    for s in np.linspace(0.0, approach_m, SWEEP_SAMPLES):
        T = T_world_to[None] @ grasps.T_part_tcp  # (M, 4, 4) tool at the place
        back = T[:, :3, 2] if d is None else d[None, :]
        R, t = T[:, :3, :3], T[:, :3, 3] - s * back
        local = np.matmul(pts[None, :, :], R) - np.matmul(t[:, None, :], R)  # (M, P, 3) in the TCP frames
        ax, ay, z = np.abs(local[..., 0]), np.abs(local[..., 1]), local[..., 2]
        o = np.asarray(opening_m, float)[:, None] / 2
        finger = (ax < hw + c) & (z > z0 - c) & (z < z1 + c) & (ay > o - c) & (ay < o + t_f + c)
        palm = (ax < px / 2 + c) & (ay < py / 2 + c) & (z < z0 + c) & (z > z0 - pz - c)
        ok &= ~np.any(finger | palm, axis=1)
    return ok


def insertion_length_m(
    mesh: trimesh.Trimesh, R_world_part: np.ndarray, d: np.ndarray, approach_m: float
) -> float:
    """How far back along ``d`` an insertion starts: the approach distance, or for a part going in sideways
    (through holes, along a slot) its own length along ``d`` plus 1 cm, so that it starts clear of them."""
    if d[2] < -0.9:
        return approach_m  # from above: the approach distance clears what it goes into
    along = (
        trimesh.transform_points(
            mesh.convex_hull.vertices, np.vstack([np.c_[R_world_part, np.zeros(3)], [0, 0, 0, 1]])
        )
        @ d
    )
    return max(approach_m, float(np.ptp(along)) + 0.01)


def _near(mesh: trimesh.Trimesh, c: np.ndarray, r: float) -> bool:
    lo, hi = mesh.bounds
    return bool(np.all(c > lo - r) and np.all(c < hi + r))


def no_leg_grasp(grasps: GraspSet, gripper: GripperGeometry, counts: dict[str, int]) -> Failure:
    """The failure to report when a leg has no grasp, naming the check that removed the last ones."""
    stroke = f"{gripper.stroke_m * 1000:.0f} mm stroke"
    if len(grasps) == 0:
        return Failure(
            ReasonKind.NO_GRASP,
            f"no collision-free antipodal grasp within the {stroke} "
            f"(friction {gripper.friction:g}, {grasps.n_pairs} contact pairs found)",
            "grasps",
        )
    n = len(grasps)
    if counts.get("engaged", 1) == 0:
        why = (
            f"pushed in sideways, it needs a grip deeper than the pads' last {MIN_PAD_ENGAGEMENT_M * 1000:.0f} mm, "
            "and it lies too low on its surface for the fingers to reach round it"
        )
    elif counts.get("surfaces", 0) == 0:
        why = (
            "each would come from below or put a fingertip into the surface it rests on at the pick or at "
            "the place"
            + (
                f", or (pushed in sideways) hold it by less than the pads' last {MIN_PAD_ENGAGEMENT_M * 1000:.0f} mm"
                if counts.get("engaged", n) < n
                else ""
            )
        )
    elif counts.get("built", 0) == 0:
        why = (
            f"{counts['surfaces']} fit both surfaces, but on the way in the fingers or the palm would touch "
            "the parts already built"
        )
    else:
        why = (
            f"{counts['built']} clear the product, but at the pick the open fingers or the palm would touch "
            "the parts lying next to it in the feeder"
        )
    return Failure(ReasonKind.NO_GRASP, f"none of its {n} grasps within the {stroke} works: {why}", "grasps")
