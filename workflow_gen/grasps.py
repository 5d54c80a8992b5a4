"""Grasp synthesis for a parallel-jaw gripper: antipodal contact pairs, finger/palm collision, wrench quality.

Gripper frame (the ``tcp`` frame of cell_config/compose.py): the jaws close along y, the gripper
approaches along +z, the TCP is midway between the pad centres. Finger and palm boxes come from the
cell's :class:`GripperSpec`.

How a candidate is made and checked:

1. Contact pairs seed the grasp axes: a surface sample ``p`` on the part's outer boundary and the point
   where the line into the part along ``-n`` leaves the solid (the first and the last exit). The mesh may
   be several overlapping shells (a CAD assembly concatenated into one mesh): crossings are counted along
   the line, so a sample inside another shell is dropped and an exit is a return to the outside, not the
   next face of whichever shell the ray meets.
2. Approach directions: a ring of ``n_angles`` around every grasp axis (all sides), plus given directions.
3. Depth: the deepest TCP position at which the open fingers and the palm pass the part while approaching,
   plus shallower ones (down to the fingertips ending just short of the part's far side, where it rests).
4. The jaws close: each pad stops at the part's extreme point inside the finger's footprint, wherever that
   is (not only at the sampled contact; curved and irregular parts rarely have their sampled pair exactly
   at the widest point). The TCP is re-centred between the two pads. A pad must touch with its pad (not
   the finger body behind it), and not only with its edge on a surface steeper than the friction cone.
5. Quality: the safety factor of the grip against the worst-direction load of gravity plus the carry
   acceleration at the centre of mass, with friction cones and torsional (soft-finger) friction at the two
   contact patches (:func:`wrench_safety_factor`).

All checks run in batches: part points are expressed once in every contact pair's frame (one matmul), and
every approach slot tests all pairs against the finger and palm boxes at once (no Python loop per
candidate; the loop is over the ``n_angles`` ring slots).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import trimesh

from cell_config import GripperSpec

GRAVITY_M_S2 = 9.81
CARRY_ACCEL_M_S2 = 5.0  # transport acceleration the grip must resist on top of gravity, any direction
TIP_CLEARANCE_M = 0.0025  # shallow grasps: fingertips end this much short of the part's far side
MIN_PATCH_RADIUS_M = 0.002  # torsion lever of a point contact on the compliant pad
PREGRASP_MARGIN_M = 0.010  # open fingers this far outside the contacts while approaching
_MIN_GAP_M = 0.003  # least margin between an open finger and its contact after re-centring the TCP
_EDGE_MARGIN_M = 0.002  # pad edge band used to detect edge-only contacts on steep surfaces
_SNAP_TOL_M = 5e-4  # points this close to a pad plane count as touching it


@dataclass(frozen=True)
class GripperGeometry:
    """Boxes of a parallel-jaw gripper in its TCP frame (metres)."""

    stroke_m: float
    min_opening_m: float
    finger_length_m: float
    finger_width_m: float
    finger_thickness_m: float
    pad_length_m: float
    palm_size_m: tuple[float, float, float]
    friction: float
    force_n: float
    max_speed_m_s: float

    @classmethod
    def from_spec(cls, g: GripperSpec) -> GripperGeometry:
        f = g.finger
        return cls(
            stroke_m=g.stroke_m,
            min_opening_m=g.min_opening_m,
            finger_length_m=f.length_m,
            finger_width_m=f.width_m,
            finger_thickness_m=f.thickness_m,
            pad_length_m=f.pad_length_m,
            palm_size_m=tuple(g.palm_size_m),  # type: ignore[arg-type]
            friction=f.friction,
            force_n=g.force_n,
            max_speed_m_s=g.max_speed_m_s,
        )

    @property
    def finger_z_range_m(self) -> tuple[float, float]:
        """Finger extent along the approach axis in the TCP frame: (back end, tip)."""
        return (-(self.finger_length_m - self.pad_length_m / 2), self.pad_length_m / 2)

    def boxes(self, opening_m: float, sweep_m: float = 0.0) -> np.ndarray:
        """Finger and palm boxes ``(3, 2, 3)`` = [left, right, palm] x [min corner, max corner].

        ``sweep_m`` stretches them backwards along -z: the volume they pass through while approaching.
        """
        z0, z1 = self.finger_z_range_m
        hw, t, o = self.finger_width_m / 2, self.finger_thickness_m, opening_m / 2
        px, py, pz = self.palm_size_m
        return np.array(
            [
                [[-hw, o, z0 - sweep_m], [hw, o + t, z1]],
                [[-hw, -o - t, z0 - sweep_m], [hw, -o, z1]],
                [[-px / 2, -py / 2, z0 - pz - sweep_m], [px / 2, py / 2, z0]],
            ]
        )

    def fingertip_corners(self, opening_m: np.ndarray) -> np.ndarray:
        """``(M, 8, 3)`` corners of both fingertips in the TCP frame for openings ``(M,)``."""
        o = np.asarray(opening_m, dtype=float)[:, None] / 2
        hw, t = self.finger_width_m / 2, self.finger_thickness_m
        ys = np.hstack([o, o + t, -o, -o - t])  # (M, 4)
        out = np.empty((len(o), 8, 3))
        out[:, :4, 0], out[:, 4:, 0] = hw, -hw
        out[:, :4, 1], out[:, 4:, 1] = ys, ys
        out[:, :, 2] = self.pad_length_m / 2
        return out


@dataclass
class GraspSet:
    """Grasp candidates of one part, best first.

    Attributes
    ----------
    T_part_tcp : (N, 4, 4) float, TCP pose in the part frame
    contact_width_m : (N,) float, part width between the pads
    pregrasp_width_m : (N,) float, jaw opening while approaching
    contacts_m : (N, 2, 3) float, centres of the two contact patches (part frame), the +y pad first
    contact_area_m2 : (N,) float, estimated pad contact area (both pads)
    torque_nm : (N,) float, gravity torque about the grasp axis for an approach against gravity
    score : (N,) float, higher is better
    force_n : float, grip force to command
    n_pairs : number of antipodal contact pairs found
    n_checked : number of candidates checked for collision
    safety_factor : (N,) float, how many times over the grip (``force_n``, friction, torsional friction of
        the patches) resists gravity plus the carry acceleration at the centre of mass in the worst
        direction (:func:`wrench_safety_factor`); below 1 the part can slip
    quality : (N,) float, ``safety_factor - 1``: the wrench-resistance margin, <= 0 for grasps that do not
        hold (those are ranked last)
    patch_radius_m : (N, 2) float, torsional friction lever of each contact patch (+y pad first)
    """

    T_part_tcp: np.ndarray
    contact_width_m: np.ndarray
    pregrasp_width_m: np.ndarray
    contacts_m: np.ndarray
    contact_area_m2: np.ndarray
    torque_nm: np.ndarray
    score: np.ndarray
    force_n: float
    n_pairs: int = 0
    n_checked: int = 0
    safety_factor: np.ndarray = field(default_factory=lambda: np.zeros(0))
    quality: np.ndarray = field(default_factory=lambda: np.zeros(0))
    patch_radius_m: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))

    def __post_init__(self) -> None:
        # Built without the quality fields (older callers): unknown resistance, point contacts.
        n = len(self.score)
        if len(self.safety_factor) != n:
            self.safety_factor = np.full(n, np.nan)
        if len(self.quality) != n:
            self.quality = self.safety_factor - 1.0
        if len(self.patch_radius_m) != n:
            self.patch_radius_m = np.full((n, 2), MIN_PATCH_RADIUS_M)

    def __len__(self) -> int:
        return len(self.score)

    def subset(self, idx: np.ndarray) -> GraspSet:
        return GraspSet(
            self.T_part_tcp[idx],
            self.contact_width_m[idx],
            self.pregrasp_width_m[idx],
            self.contacts_m[idx],
            self.contact_area_m2[idx],
            self.torque_nm[idx],
            self.score[idx],
            self.force_n,
            self.n_pairs,
            self.n_checked,
            self.safety_factor[idx],
            self.quality[idx],
            self.patch_radius_m[idx],
        )

    @staticmethod
    def concatenate(sets: list[GraspSet]) -> GraspSet:
        """The grasps of ``sets`` one after the other, every field kept (checks summed, pairs the most)."""
        if not sets:
            return _empty(0.0)
        full = [g for g in sets if len(g)] or sets[:1]

        def cat(name: str) -> np.ndarray:
            return np.concatenate([getattr(g, name) for g in full])

        return GraspSet(
            cat("T_part_tcp"),
            cat("contact_width_m"),
            cat("pregrasp_width_m"),
            cat("contacts_m"),
            cat("contact_area_m2"),
            cat("torque_nm"),
            cat("score"),
            sets[0].force_n,
            max(g.n_pairs for g in sets),
            sum(g.n_checked for g in sets),
            cat("safety_factor"),
            cat("quality"),
            cat("patch_radius_m"),
        )


def _outer_exits(
    mesh: trimesh.Trimesh, pts: np.ndarray, n: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Along the line through each sample ``pts`` (normal ``n``) into the part: is the sample on the outer
    boundary, and where does the line first and last leave the solid (a union of possibly overlapping
    shells)?

    Returns ``outer (S,) bool, first (S, 3), first_face (S,), last (S, 3), last_face (S,)``; the exits are
    valid where ``outer``.
    """
    s = len(pts)
    reach = float(np.linalg.norm(mesh.extents)) + 0.01
    origins = pts + reach * n
    loc, ray, tri = mesh.ray.intersects_location(origins, -n, multiple_hits=True)
    outer = np.zeros(s, dtype=bool)
    first, last = np.zeros((s, 3)), np.zeros((s, 3))
    first_f, last_f = np.zeros(s, dtype=int), np.zeros(s, dtype=int)
    if len(ray) == 0:
        return outer, first, first_f, last, last_f
    t = np.einsum("ij,ij->i", loc - origins[ray], -n[ray])
    # +1 where the line enters a shell, -1 where it leaves one.
    sign = np.where(np.einsum("ij,ij->i", mesh.face_normals[tri], n[ray]) > 0, 1, -1)
    order = np.lexsort((t, ray))
    loc, ray, tri, t, sign = loc[order], ray[order], tri[order], t[order], sign[order]
    eps = 1e-5
    before = t < reach - eps
    depth_before = np.bincount(ray[before], weights=sign[before], minlength=s)
    outer = np.abs(depth_before) < 0.5  # nothing of the part around the sample's outside
    after = np.flatnonzero(t > reach + eps)
    ra, sa = ray[after], sign[after]
    if len(ra) == 0:
        return np.zeros(s, dtype=bool), first, first_f, last, last_f
    cs = np.cumsum(sa)
    start = np.r_[True, ra[1:] != ra[:-1]]
    group = np.cumsum(start) - 1
    base = (cs - sa)[start]
    depth = 1 + cs - base[group]  # inside how many shells the line is after each crossing
    ex = np.flatnonzero(depth <= 0)
    if len(ex) == 0:
        return np.zeros(s, dtype=bool), first, first_f, last, last_f
    er = ra[ex]
    f_idx = ex[np.r_[True, er[1:] != er[:-1]]]
    l_idx = ex[np.r_[er[1:] != er[:-1], True]]
    has = np.zeros(s, dtype=bool)
    has[ra[f_idx]] = True
    first[ra[f_idx]], first_f[ra[f_idx]] = loc[after[f_idx]], tri[after[f_idx]]
    last[ra[l_idx]], last_f[ra[l_idx]] = loc[after[l_idx]], tri[after[l_idx]]
    return outer & has, first, first_f, last, last_f


def antipodal_pairs(
    mesh: trimesh.Trimesh, n_samples: int, friction: float, max_width_m: float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Antipodal contact pairs: each outer surface sample and where the line into the part along -n leaves
    the solid (first exit and, when different, last exit: across a hole or gap, the far side is what a
    closing jaw meets).

    The mesh may be several overlapping shells; samples inside another shell are dropped and resampled
    (up to four times ``n_samples`` in all), so about ``n_samples`` samples lie on the outer boundary.

    Returns
    -------
    p, q : (K, 3) float each, contact points (part frame); the pair is inside both friction cones
        (half angle ``arctan(friction)``) and no wider than ``max_width_m``.
    """
    rng_seed = seed
    pts, fi = trimesh.sample.sample_surface(mesh, n_samples, seed=rng_seed)
    n = mesh.face_normals[fi]
    outer, first, ff, last, lf = _outer_exits(mesh, pts, n)
    frac = float(np.mean(outer)) if len(outer) else 1.0
    if 0.0 < frac < 0.9:
        extra = int(min(3 * n_samples, n_samples * (1.0 / frac - 1.0)))
        pts2, fi2 = trimesh.sample.sample_surface(mesh, extra, seed=rng_seed + 7919)
        n2 = mesh.face_normals[fi2]
        o2, f2, ff2, l2, lf2 = _outer_exits(mesh, pts2, n2)
        pts, n = np.vstack([pts, pts2]), np.vstack([n, n2])
        outer, first, ff = np.r_[outer, o2], np.vstack([first, f2]), np.r_[ff, ff2]
        last, lf = np.vstack([last, l2]), np.r_[lf, lf2]
    if outer.any():
        two = (np.linalg.norm(last - first, axis=1) > 1e-4) & outer
        p = np.vstack([pts[outer], pts[two]])
        n_p = np.vstack([n[outer], n[two]])
        q = np.vstack([first[outer], last[two]])
        n_q = mesh.face_normals[np.r_[ff[outer], lf[two]]]
    else:  # normals the crossing count cannot follow (a badly repaired mesh): the first face hit
        loc, ray_i, tri = mesh.ray.intersects_location(pts - 1e-6 * n, -n, multiple_hits=False)
        p, n_p, q, n_q = pts[ray_i], n[ray_i], loc, mesh.face_normals[tri]
    d = q - p
    w = np.linalg.norm(d, axis=1)
    ok = w > 1e-4
    d[ok] /= w[ok, None]
    cos_cone = np.cos(np.arctan(friction))
    # The +q pad pushes along -d; the inward normal there is -n_q: inside the cone iff d . n_q >= cos.
    ok &= (np.sum(d * n_q, axis=1) >= cos_cone) & (np.sum(-d * n_p, axis=1) >= cos_cone) & (w <= max_width_m)
    return p[ok], q[ok]


def wrench_safety_factor(
    T_part_tcp: np.ndarray,
    contacts_m: np.ndarray,
    patch_radius_m: np.ndarray,
    com_m: np.ndarray,
    mass_kg: float,
    friction: float,
    force_n: float,
    accel_m_s2: float = GRAVITY_M_S2 + CARRY_ACCEL_M_S2,
) -> np.ndarray:
    """Safety factor ``k (N,)`` of two-pad grasps: the largest k such that the grip holds a load of
    ``k * mass_kg * accel_m_s2`` at the centre of mass in the worst direction (force and its moment).

    Model: both pads press with ``force_n`` along the grasp axis (the jaws are rigid along it, so loads
    along the axis never slip); each contact patch carries a tangential force and a torque about the axis
    inside the soft-finger limit ellipse ``|t|^2 / (mu F)^2 + tau^2 / (mu F rho)^2 <= 1`` with ``rho`` the
    patch's torsion lever (``patch_radius_m``). Moments about the other two axes are carried by opposite
    tangential forces at the two pads (lever = contact width). The worst load direction is the top
    eigenvector of each pad's quadratic load form, so the whole batch is one ``eigvalsh``.
    """
    T = np.asarray(T_part_tcp, dtype=float)
    c = np.asarray(contacts_m, dtype=float)
    R = T[:, :3, :3]
    mid = c.mean(axis=1)
    r = np.einsum("nji,nj->ni", R, np.asarray(com_m, dtype=float)[None, :] - mid)  # COM in contact frame
    w = np.maximum(np.einsum("nj,nj->n", c[:, 0] - c[:, 1], R[:, :, 1]), 1e-6)
    rho = np.maximum(np.asarray(patch_radius_m, dtype=float), 1e-6).sum(axis=1)
    rx, ry, rz = r[:, 0], r[:, 1], r[:, 2]
    n = len(T)
    tor = np.stack([-rz, np.zeros(n), rx], axis=1) / rho[:, None]  # torque about the axis per unit load
    worst = np.zeros(n)
    for sgn in (1.0, -1.0):  # the +y pad, then the -y pad
        tx = np.stack([-0.5 - sgn * ry / w, sgn * rx / w, np.zeros(n)], axis=1)
        tz = np.stack([np.zeros(n), sgn * rz / w, -0.5 - sgn * ry / w], axis=1)
        Q = (
            tx[:, :, None] * tx[:, None, :]
            + tz[:, :, None] * tz[:, None, :]
            + tor[:, :, None] * tor[:, None, :]
        )
        worst = np.maximum(worst, np.linalg.eigvalsh(Q)[:, -1])
    load = max(mass_kg * accel_m_s2, 1e-12)
    return friction * force_n / (load * np.sqrt(np.maximum(worst, 1e-30)))


def _distinct_pairs(p: np.ndarray, q: np.ndarray, max_pairs: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_pairs`` contact pairs: one per 4 mm cell of the midpoint and ~10 deg of the axis,
    then an even random subset if there are still too many."""
    if len(p) <= max_pairs:
        return p, q
    ax = (q - p) / np.linalg.norm(q - p, axis=1, keepdims=True)
    lead = np.take_along_axis(ax, np.argmax(np.abs(ax), axis=1)[:, None], axis=1)
    ax = ax * np.sign(lead)  # p->q and q->p are the same axis
    key = np.round(np.hstack([0.5 * (p + q) / 0.004, ax * 6.0])).astype(np.int64)
    _, first = np.unique(key, axis=0, return_index=True)
    idx = np.sort(first)
    if len(idx) > max_pairs:
        idx = np.sort(np.random.default_rng(seed).choice(idx, max_pairs, replace=False))
    return p[idx], q[idx]


def _unit(a: np.ndarray) -> np.ndarray:
    a = np.atleast_2d(np.asarray(a, dtype=float))
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def _part_points(mesh: trimesh.Trimesh, seed: int) -> tuple[np.ndarray, float]:
    """Points that stand for the part in the box checks, and the surface area each sample stands for.

    Vertices (of a fine mesh, the sharpest 300 by angle defect: corners and edges, where an extreme under
    a pad is most likely) plus an even surface sampling about 4 mm apart: four times as many random
    samples thinned to one per grid cell (plain random sampling leaves gaps twice as wide, where the pads
    would land a millimetre or more inside a curved part; the finger boxes are also grown by half the
    spacing).
    """
    n_pts = int(np.clip(mesh.area / 0.0035**2, 250, 900))
    dense = trimesh.sample.sample_surface(mesh, 4 * n_pts, seed=seed + 1)[0]
    cell = 1.2 * np.sqrt(mesh.area / n_pts)  # a surface crosses ~1.5 cells per cell area
    _, first = np.unique(np.floor(dense / cell).astype(np.int64), axis=0, return_index=True)
    samples = dense[np.sort(first)]
    v = np.asarray(mesh.vertices)
    if len(v) > 300:
        v = v[np.argsort(-np.abs(mesh.vertex_defects), kind="stable")[:300]]
    return np.vstack([v, samples]), float(mesh.area / len(samples))


def synthesize_grasps(
    mesh: trimesh.Trimesh,
    gripper: GripperGeometry,
    mass_kg: float,
    com_m: np.ndarray,
    preferred_approach: np.ndarray | None = None,
    n_samples: int = 300,
    n_angles: int = 12,
    max_candidates: int = 300,
    approach_m: float = 0.08,
    clearance_m: float = 0.001,
    max_tilt_rad: float = np.radians(30.0),
    seed: int = 0,
    *,
    approach_dirs: np.ndarray | None = None,
    carry_accel_m_s2: float = CARRY_ACCEL_M_S2,
    max_pairs: int = 160,
) -> GraspSet:
    """Collision-free, scored parallel-jaw grasps of a part, approaching from all sides.

    Parameters
    ----------
    mesh : watertight part mesh (metres, part frame); may be several overlapping shells
    gripper : finger and palm geometry
    mass_kg, com_m : part mass and centre of mass (3,) in the part frame
    preferred_approach : (A, 3) float or None, the same as ``approach_dirs`` (kept for callers)
    approach_dirs : (A, 3) float or None, approach directions in the part frame: they are added exactly to
        the sampled ones and only approaches within ``max_tilt_rad`` of one of them are kept. None: all
        approach directions (the ring of ``n_angles`` around every grasp axis)
    n_samples : surface samples for contact pairs
    n_angles : approach directions sampled around each grasp axis (12: every direction perpendicular to
        the axis is within 15 deg of one)
    max_tilt_rad : with ``approach_dirs``, keep only approaches within this angle of one of them
    max_candidates : how many of the best grasps to return; if more pass, every approach direction
        (26 bins around the part) keeps a share of up to a quarter of them, the rest go by score
    approach_m : distance the fingers travel towards the part (their swept volume is checked)
    clearance_m : margin around the finger boxes
    carry_accel_m_s2 : acceleration while carrying, added to gravity in the worst direction for the
        safety factor
    max_pairs : contact pairs kept as grasp axes (near-duplicates merged first, then an even subset)

    Returns
    -------
    GraspSet, best first; empty if no grasp fits (e.g. the part is wider than the stroke).
    """
    force = _grip_force(gripper)
    mu = float(gripper.friction)
    max_width = gripper.stroke_m - 2 * clearance_m
    p, q = antipodal_pairs(mesh, n_samples, mu, max_width, seed)
    n_pairs = len(p)
    if n_pairs == 0:
        return _empty(force)
    com = np.asarray(com_m, dtype=float)
    given = [np.atleast_2d(a) for a in (preferred_approach, approach_dirs) if a is not None]
    want = _unit(np.vstack(given)) if given else None
    cos_tilt = np.cos(max_tilt_rad) - 1e-9

    p, q = _distinct_pairs(p, q, max_pairs, seed)
    n_axes = len(p)
    # Pair frames: y from p to q, (u, v) span the plane of approach directions; origin at the midpoint.
    width = np.linalg.norm(q - p, axis=1)
    y = (q - p) / width[:, None]
    centre = 0.5 * (p + q)
    helper = np.where(np.abs(y[:, :1]) < 0.9, np.array([[1.0, 0, 0]]), np.array([[0, 1.0, 0]]))
    u = np.cross(y, helper)
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    # Exactly along a given direction: the pair's axis tilted (up to 30 deg) into the plane across it, so
    # e.g. a round part lying in the feeder gets a truly vertical pick (a ring slot is only near it). The
    # closing pads find the contacts along the tilted axis; the edge check keeps the tilt in the cone.
    exact_of = np.full(n_axes, -1)
    for j, a in enumerate(want if want is not None else []):
        ya = y[:n_axes] @ a
        tilt = np.flatnonzero(
            (np.abs(ya) > 1e-6) & (np.abs(ya) <= np.sin(min(max_tilt_rad, np.radians(30.0))))
        )
        yt = y[tilt] - ya[tilt, None] * a
        yt /= np.linalg.norm(yt, axis=1, keepdims=True)
        y, u = np.vstack([y, yt]), np.vstack([u, np.repeat(a[None], len(tilt), axis=0)])
        centre, width = np.vstack([centre, centre[tilt]]), np.r_[width, width[tilt]]
        exact_of = np.r_[exact_of, np.full(len(tilt), j)]
    v = np.cross(y, u)
    base = exact_of < 0

    pts, area_per_pt = _part_points(mesh, seed)
    f32 = np.float32
    pts32 = pts.astype(f32)

    def proj(axis: np.ndarray) -> np.ndarray:  # (K, P) coordinate of every point along a per-pair axis
        return (pts32 @ axis.T.astype(f32)).T - np.sum(centre * axis, axis=1).astype(f32)[:, None]

    Y, U, V = proj(y), proj(u), proj(v)
    pre = np.minimum(width + 2 * PREGRASP_MARGIN_M, gripper.stroke_m)
    o = (pre / 2).astype(f32)[:, None]
    c = clearance_m
    hw, t_f, hp = gripper.finger_width_m / 2, gripper.finger_thickness_m, gripper.pad_length_m / 2
    px, py, _ = gripper.palm_size_m
    z0, z1 = gripper.finger_z_range_m
    AY = np.abs(Y)
    # Between points the surface can rise up to about half their spacing: every finger box is grown by
    # that much (e), so a steep wall just beyond a pad's edge or the fingertip is not missed.
    e = min(0.5 * float(np.sqrt(area_per_pt)), 0.0025)
    slab_y = (AY > o - c - e) & (AY < o + t_f + c + e)  # where the open fingers are, across the axis
    palm_y = AY < py / 2 + c + e
    neg_inf = f32(-np.inf)
    YP = np.where(Y < o, Y, neg_inf)  # what the +y pad can meet when closing from the open position
    YN = np.where(Y > -o, -Y, neg_inf)  # the same for the -y pad (mirrored)
    del AY
    d_cap = hp - 0.00025
    edge_tol = (_EDGE_MARGIN_M + e) * mu + 3e-4

    # Approach slots: the ring, then the given directions projected onto each pair's approach plane.
    slots: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    ring = np.linspace(0, 2 * np.pi, n_angles, endpoint=False)
    n_all = len(y)
    for a in ring:
        slots.append((np.full(n_all, np.cos(a)), np.full(n_all, np.sin(a)), base))
    for j, a in enumerate(want if want is not None else []):
        au, av = u @ a, v @ a
        nrm = np.hypot(au, av)
        good = (nrm > 0.2) & base
        nrm = np.where(good, nrm, 1.0)
        slots.append((au / nrm, av / nrm, good))
        slots.append((np.ones(n_all), np.zeros(n_all), exact_of == j))  # the tilted pairs: z = u = a

    out: dict[str, list[np.ndarray]] = {
        k: [] for k in ("k", "cs", "sn", "d", "ymax", "ymin", "cen", "rho", "cnt")
    }
    n_checked = 0
    with np.errstate(invalid="ignore"):  # -inf - -inf where a pad window is empty: rejected
        for cs_all, sn_all, good in slots:
            valid = good.copy()
            if want is not None:
                z_dir = cs_all[:, None] * u + sn_all[:, None] * v
                valid &= np.max(z_dir @ want.T, axis=1) >= cos_tilt
            rows = np.flatnonzero(valid)
            if len(rows) == 0:
                continue
            cs, sn = cs_all[rows].astype(f32)[:, None], sn_all[rows].astype(f32)[:, None]
            Ur, Vr = U[rows], V[rows]
            X = cs * Vr - sn * Ur  # x = y cross z
            Z = cs * Ur + sn * Vr
            ax = np.abs(X)
            # Open fingers and palm, swept along the approach: the least depth at which they stay clear.
            fs = (ax < hw + c + e) & slab_y[rows]
            zmin_f = np.where(fs, Z, f32(np.inf)).min(axis=1)
            ps = (ax < px / 2 + c + e) & palm_y[rows]
            zmin_p = np.where(ps, Z, f32(np.inf)).min(axis=1)
            d_lo = np.maximum.reduce([z1 + c + e - zmin_f, z0 + c + e - zmin_p, np.zeros(len(rows))])
            d_flush = z1 + TIP_CLEARANCE_M - Z.max(axis=1)
            d_hi = np.clip(np.maximum(d_flush, d_lo + 0.011), d_lo, d_cap)
            feas = np.flatnonzero(d_lo <= d_cap)
            if len(feas) == 0:
                continue
            if len(feas) < len(rows):
                rows, X, Z, ax = rows[feas], X[feas], Z[feas], ax[feas]
                d_lo, d_hi = d_lo[feas], d_hi[feas]
                cs, sn = cs[feas], sn[feas]
            YPr, YNr = YP[rows], YN[rows]
            xs, xi = ax < hw + e, ax < hw - _EDGE_MARGIN_M
            depth_cols = [(d_lo, np.ones(len(rows), dtype=bool)), (d_hi, d_hi - d_lo > 0.002)]
            if np.any(d_hi - d_lo > 0.006):
                depth_cols.append((0.5 * (d_lo + d_hi), d_hi - d_lo > 0.006))
            for d, use in depth_cols:
                n_checked += int(use.sum())
                zt = Z + d.astype(f32)[:, None]
                in_pad = zt > -hp
                pw = xs & (zt < z1 + e) & in_pad
                bw = xs & (zt > z0 - e) & ~in_pad
                iw = xi & (zt < hp - _EDGE_MARGIN_M) & (zt > _EDGE_MARGIN_M - hp)
                ok = use.copy()
                ext = []
                for Ys in (YPr, YNr):
                    top = np.where(pw, Ys, neg_inf).max(axis=1)
                    body = np.where(bw, Ys, neg_inf).max(axis=1)
                    inner = np.where(iw, Ys, neg_inf).max(axis=1)
                    # The pad touches first (not the finger behind it), and not only with its edge on a slope.
                    ok &= np.isfinite(top) & (body <= top + _SNAP_TOL_M) & (top - inner <= edge_tol)
                    ext.append(top)
                ymax, ymin = ext[0].astype(float), -ext[1].astype(float)
                wid = ymax - ymin
                ok &= np.isfinite(wid) & (wid > max(gripper.min_opening_m, 1e-4))
                ok &= np.maximum(ymax, -ymin) <= pre[rows] / 2 - _MIN_GAP_M
                sel = np.flatnonzero(ok)
                if len(sel) == 0:
                    continue
                Xs, Zs = X[sel], Z[sel]
                # The patch: points on the pad plane, on the pad itself where any (else in the grown band).
                zs = zt[sel]
                pwk = pw[sel]
                strict = pwk & (np.abs(Xs) < hw) & (zs < z1)
                R2s = Xs * Xs + Zs * Zs
                cen_l, rho_l, cnt_l = [], [], []
                for Ys, top in ((YPr, ext[0]), (YNr, ext[1])):
                    touch = Ys[sel] >= top[sel, None] - _SNAP_TOL_M
                    on_pad = strict & touch
                    patch = np.where(on_pad.any(axis=1, keepdims=True), on_pad, pwk & touch).astype(f32)
                    n_in = patch.sum(axis=1, dtype=float)
                    sx = np.einsum("ij,ij->i", patch, Xs, dtype=float) / n_in
                    sz = np.einsum("ij,ij->i", patch, Zs, dtype=float) / n_in
                    r2 = np.einsum("ij,ij->i", patch, R2s, dtype=float) / n_in - sx * sx - sz * sz
                    cen_l.append(np.stack([sx, sz], axis=1))
                    # RMS radius x 0.94 ~ mean distance from the centre (exact for a disc): the torsion lever.
                    rho_l.append(np.maximum(0.94 * np.sqrt(np.maximum(r2, 0.0)), MIN_PATCH_RADIUS_M))
                    cnt_l.append(n_in)
                out["k"].append(rows[sel])
                out["cs"].append(cs[sel, 0].astype(float))
                out["sn"].append(sn[sel, 0].astype(float))
                out["d"].append(d[sel])
                out["ymax"].append(ymax[sel])
                out["ymin"].append(ymin[sel])
                out["cen"].append(np.stack(cen_l, axis=1))  # (m, 2 pads, (x, z))
                out["rho"].append(np.stack(rho_l, axis=1))
                out["cnt"].append(np.stack(cnt_l, axis=1))
    if not out["k"]:
        g = _empty(force)
        g.n_pairs, g.n_checked = n_pairs, n_checked
        return g
    k = np.concatenate(out["k"])
    cs, sn, d = np.concatenate(out["cs"]), np.concatenate(out["sn"]), np.concatenate(out["d"])
    ymax, ymin = np.concatenate(out["ymax"]), np.concatenate(out["ymin"])
    cen, rho, cnt = np.concatenate(out["cen"]), np.concatenate(out["rho"]), np.concatenate(out["cnt"])

    # Frames in the part: x = y cross z; TCP re-centred between the pads, backed off d along -z.
    yy = y[k]
    zz = cs[:, None] * u[k] + sn[:, None] * v[k]
    xx = np.cross(yy, zz)
    shift = 0.5 * (ymax + ymin)
    T = np.zeros((len(k), 4, 4))
    T[:, :3, 0], T[:, :3, 1], T[:, :3, 2] = xx, yy, zz
    T[:, :3, 3] = centre[k] + shift[:, None] * yy - d[:, None] * zz
    T[:, 3, 3] = 1.0
    wid = ymax - ymin
    pregrasp = pre[k] - 2 * np.abs(shift)
    contacts = np.stack(
        [
            centre[k] + ymax[:, None] * yy + cen[:, 0, :1] * xx + cen[:, 0, 1:] * zz,
            centre[k] + ymin[:, None] * yy + cen[:, 1, :1] * xx + cen[:, 1, 1:] * zz,
        ],
        axis=1,
    )
    area = cnt.sum(axis=1) * area_per_pt
    sf = wrench_safety_factor(
        T, contacts, rho, com, mass_kg, mu, force, accel_m_s2=GRAVITY_M_S2 + carry_accel_m_s2
    )
    # Gravity torque about the grasp axis when gravity acts along the approach axis (top-down pick).
    com_tcp = np.einsum("mji,mj->mi", T[:, :3, :3], com[None, :] - T[:, :3, 3])
    torque = mass_kg * GRAVITY_M_S2 * np.abs(com_tcp[:, 0])
    com_dist = np.linalg.norm(com_tcp[:, [0, 2]], axis=1)
    size = float(np.max(mesh.extents))
    pad_area = gripper.finger_width_m * gripper.pad_length_m
    holds = sf >= 1.0
    score = (
        1.0 * np.clip(np.log(np.maximum(sf, 1e-9)) / np.log(10.0), 0.0, 1.0)
        + 1.0 * np.clip(area / pad_area, 0, 2)
        - 1.0 * com_dist / size
        - 0.5 * torque / max(mass_kg * GRAVITY_M_S2 * size, 1e-9)
        - 10.0 * ~holds
    )
    order = _best_spread(score, zz, max_candidates)
    return GraspSet(
        T[order],
        wid[order],
        pregrasp[order],
        contacts[order],
        area[order],
        torque[order],
        score[order],
        force,
        n_pairs,
        n_checked,
        sf[order],
        sf[order] - 1.0,
        rho[order],
    )


def _direction_bins() -> np.ndarray:
    """26 unit directions: the faces, edges and corners of a cube around the part."""
    g = np.array(
        [(i, j, k) for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1) if (i, j, k) != (0, 0, 0)]
    )
    return g / np.linalg.norm(g, axis=1, keepdims=True)


def _best_spread(score: np.ndarray, approach: np.ndarray, max_candidates: int) -> np.ndarray:
    """Indices of up to ``max_candidates`` grasps, best first: if there are more, every approach-direction
    bin first keeps its best few (a quarter of the budget shared by the bins), the rest go by score; so a
    later filter on the approach side still finds grasps from every side."""
    order = np.argsort(-score, kind="stable")
    if len(order) <= max_candidates:
        return order
    bins = np.argmax(approach[order] @ _direction_bins().T, axis=1)
    quota = max(1, max_candidates // (4 * 26))
    rank = np.zeros(len(order), dtype=int)
    srt = np.argsort(bins, kind="stable")  # by bin, score order kept inside each bin
    b = bins[srt]
    start = np.r_[0, np.flatnonzero(b[1:] != b[:-1]) + 1]
    counts = np.diff(np.r_[start, len(b)])
    rank[srt] = np.arange(len(b)) - np.repeat(start, counts)
    keep = rank < quota
    n_rest = max_candidates - int(keep.sum())
    if n_rest > 0:
        keep[np.flatnonzero(~keep)[:n_rest]] = True
    return order[keep][:max_candidates]


def required_force_n(gripper: GripperGeometry, mass_kg: float, safety: float = 3.0) -> float:
    """Grip force that holds ``mass_kg`` by friction on two pads, times ``safety`` (for accelerations)."""
    return safety * mass_kg * GRAVITY_M_S2 / (2.0 * gripper.friction)


def _grip_force(gripper: GripperGeometry) -> float:
    """The gripper's full force: a firmer grip slips less; parts too heavy for it are rejected earlier."""
    return float(gripper.force_n)


def _empty(force: float) -> GraspSet:
    return GraspSet(
        np.zeros((0, 4, 4)),
        np.zeros(0),
        np.zeros(0),
        np.zeros((0, 2, 3)),
        np.zeros(0),
        np.zeros(0),
        np.zeros(0),
        force,
    )
