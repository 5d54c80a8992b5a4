"""Sequencing: assembly by disassembly for assemblies, a short-travel order for kits.

Assemblies are taken apart in the computer, one part at a time, each along a straight direction in
which nothing of the rest is in its way (the axes of the fixture frame, and each part's own hole and
shaft axes), keeping what is left standing under gravity; the insertion order is the reverse.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import trimesh
from scipy.spatial import ConvexHull, QhullError

from workflow_gen.features import (
    PAIR_ANGLE_RAD,
    PAIR_DIST_M,
    CylinderFeature,
    FastenerKind,
    cylindrical_features,
    pair_fasteners,
    recognise_fastener,
)

SUPPORT_TOL_M = 1e-3
PROBE_INSET_M = 1e-4  # probes sit this far inside their part, so touching parts do not block
# Probes on faces parallel to the motion sit deeper: tessellated fits (a 32-gon rod in a 32-gon hole)
# overlap by up to the chord sagitta, a few tenths of a millimetre, which must not block sliding.
SLIDE_INSET_M = 4e-4
SLIDE_COS = 0.3  # |n . d| below this: the face is parallel to the motion
SAME_DIR_COS = float(np.cos(np.deg2rad(1.0)))
CARRY_AXIS_MAX_Z = float(np.cos(np.deg2rad(20.0)))  # steeper hole axes let a part slide down
HOLD_CLEARANCE_M = (-3e-4, 1e-3)  # hole radius minus shaft radius for a part held in a hole
# Removal preference, as costs: going up (inserted from above) 0, sideways 1, down 2; turning away
# from the last removal's direction 2.5; sliding sideways off a part or the fixture it rests on 2.5.
# So nuts under a plate go on one after the other from below, a part that can be lifted off is not
# slid off, and sideways moves continue sideways.
DIR_COST = np.array([0.0, 1.0, 2.0])
TURN_COST = 2.5
SLIDE_COST = 2.5
# A shaft pressed into a hole (|clearance| at most this) over at least this many diameters holds it.
PRESS_CLEARANCE_M = 1e-4
PRESS_MIN_DIAMETERS = 0.9
FACE_MIN_PROBES = 3  # probes of a face bearing on another part's face for a flanged spigot joint
# Sideways (|d_z| below this), a part slides its length along d and this margin, then is lifted away.
SLIDE_MAX_Z = 0.7
SLIDE_MARGIN_M = 0.01
# Within a slide, hits this close are surfaces in contact (a countersunk head's rim in its countersink).
SLIDE_CONTACT_M = 2 * PROBE_INSET_M
MAX_VERTEX_PROBES = 2  # vertices used as probes, at most this many times n_probe

_BASE_DIRS = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]], dtype=float)
_UP, _DOWN = 4, 5  # indices of +z and -z in the direction table


@dataclass
class AssemblyOrder:
    """Result of assembly by disassembly.

    Attributes
    ----------
    order : part names in insertion order (those that can be inserted)
    supports : name -> names of the parts it rests on or is held by (empty: rests on the fixture)
    blocked : name -> reason (a sentence), parts that cannot be inserted or would not rest
    insert_dir : name -> (3,) unit direction the part moves while it is inserted, fixture frame
        ((0, 0, -1): from above; (1, 0, 0): pushed along +x from the -x side)
    blocked_kind : name -> "interlocked", "unsupported" or "tips_over", for the blocked parts
    locked_by : name -> the parts in its way in every direction tried, for interlocked parts
    """

    order: list[str]
    supports: dict[str, set[str]] = field(default_factory=dict)
    blocked: dict[str, str] = field(default_factory=dict)
    insert_dir: dict[str, np.ndarray] = field(default_factory=dict)
    blocked_kind: dict[str, str] = field(default_factory=dict)
    locked_by: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class _Support:
    """What a part could rest on in the finished product, found once.

    Attributes
    ----------
    fixture_pts : (K, 3) its bottom points on the fixture top (z = 0)
    rest_pts : other part -> (K, 3) contact points where it lies on that part
    holds : other part -> [(axis (3,), segment (2, 3))], lengths of its shafts inside that part's holes
    threaded_on : the bolt or shaft this nut / washer is threaded on, or None
    flanged : the parts of ``holds`` it also bears on with a face across the hole axis (a flanged
        spigot joint: an end cap on a tube's bore), which hold it whatever its centre of mass
    pressed : the parts of ``holds`` with a hole it is pressed into (zero clearance, at least about a
        diameter long), which hold it as a cantilever
    screwed : parts it bears on with a face across a hole of its own that lines up with one of theirs,
        the axis across gravity (a jaw plate against a jaw's face): it is held there until the screw
        through both goes in
    """

    fixture_pts: np.ndarray
    rest_pts: dict[str, np.ndarray] = field(default_factory=dict)
    holds: dict[str, list[tuple[np.ndarray, np.ndarray]]] = field(default_factory=dict)
    threaded_on: str | None = None
    flanged: set[str] = field(default_factory=set)
    pressed: set[str] = field(default_factory=set)
    screwed: set[str] = field(default_factory=set)

    def parts(self) -> set[str]:
        """Every part this one could rest on, be held by or be threaded on."""
        out = set(self.rest_pts) | set(self.holds) | self.screwed
        if self.threaded_on is not None:
            out.add(self.threaded_on)
        return out


def _basis(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors ``(3,)`` across direction ``d (3,)``."""
    helper = np.array([1.0, 0.0, 0.0]) if abs(d[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    u = np.cross(d, helper)
    u /= np.linalg.norm(u)
    return u, np.cross(d, u)


def _probe_points(mesh: trimesh.Trimesh, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(pts (P, 3), normals (P, 3))``: surface samples and vertices, with their outward normals."""
    pts, fi = trimesh.sample.sample_surface(mesh, n, seed=seed)
    nrm = mesh.face_normals[fi]
    # Vertices on open edges (seams of a STEP tessellation whose two sides do not share vertices) have
    # the normal of one side only; pulled in along it they can stay on the other side's plane, on a
    # touching part's surface. The surface samples cover those faces instead.
    edges = mesh.edges_sorted
    open_edges = edges[trimesh.grouping.group_rows(edges, require_count=1)]
    vi = np.setdiff1d(np.arange(len(mesh.vertices)), open_edges.ravel())
    if len(vi) > MAX_VERTEX_PROBES * n:  # fine meshes: a seeded subset of the vertices
        vi = np.sort(np.random.default_rng(seed).choice(vi, MAX_VERTEX_PROBES * n, replace=False))
    return np.vstack([pts, mesh.vertices[vi]]), np.vstack([nrm, mesh.vertex_normals[vi]])


def _direction_table(
    names: list[str], part_axes: dict[str, list[np.ndarray]]
) -> tuple[np.ndarray, list[list[int]], list[int]]:
    """Candidate directions ``(D, 3)``, closed under negation; per part the indices it may use, and
    how many of its own axes are not along x, y or z."""
    dirs = [d for d in _BASE_DIRS]

    def index_of(v: np.ndarray) -> int:
        for i, d in enumerate(dirs):
            if float(d @ v) > SAME_DIR_COS:
                return i
        dirs.append(v)
        return len(dirs) - 1

    allowed, n_own = [], []
    for a in names:
        idx = list(range(len(_BASE_DIRS)))
        own = 0
        for ax in part_axes.get(a, []):
            ax = np.asarray(ax, dtype=float)
            if not np.isfinite(ax).all() or np.linalg.norm(ax) < 1e-9:
                continue
            ax = ax / np.linalg.norm(ax)
            i, j = index_of(ax), index_of(-ax)
            for k in (i, j):
                if k not in idx:
                    idx.append(k)
                    own += k == i
        allowed.append(idx)
        n_own.append(own)
    return np.array(dirs), allowed, n_own


@dataclass
class _Rays:
    """What the ray probes found.

    Attributes
    ----------
    dist : (D, n, n) float, ``dist[d, a, b]``: the shortest distance a ray from part a along direction
        d travels to meet part b (inf: none meets it)
    far : (D, n, n) float, the same for the rays that meet b beyond SLIDE_CONTACT_M: those meeting it
        sooner start in the overlap of two touching surfaces, tessellated apart
    rest : (a, b) -> contact point arrays (K, 3) where a lies on b (rays down from a's bottom, up
        from b's top, that meet the other part within SUPPORT_TOL_M)
    touch : (D, n, n) int, ``touch[d, a, b]``: probes of a on faces facing d that meet b within
        SUPPORT_TOL_M (a's face bears against b's)
    clear_up : (D, n, n) bool, ``clear_up[d, a, b]``: rays up from part a moved ``slide[a, d]`` along
        d meet b (only for sideways d with a slide)
    """

    dist: np.ndarray
    far: np.ndarray
    rest: dict[tuple[int, int], list[np.ndarray]]
    touch: np.ndarray
    clear_up: np.ndarray


def _cast(
    meshes: list[trimesh.Trimesh], probes: list[tuple[np.ndarray, np.ndarray]], dirs: np.ndarray
) -> tuple[np.ndarray, dict[tuple[int, int], list[np.ndarray]]]:
    """Rays from every part's probes along every direction, onto every other part.

    Returns
    -------
    hit : (D, n, n) bool, ``hit[d, a, b]``: a ray from part a along direction d meets part b
    rest : (a, b) -> contact point arrays (K, 3) where a lies on b (see :class:`_Rays`)
    """
    r = _cast_rays(meshes, probes, dirs)
    return np.isfinite(r.dist), r.rest


def _ray_hits(
    mesh: trimesh.Trimesh, corners: np.ndarray, org: np.ndarray, sel: np.ndarray, d: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(ray indices (H,), hit points (H, 3), distances (H,))`` of the rays from ``org[sel]`` along
    ``d`` that meet ``mesh`` (its box ``corners (8, 3)``); only rays in its shadow are cast."""
    margin = SLIDE_INSET_M + PROBE_INSET_M
    u, v = _basis(d)
    cu, cv, cd = corners @ u, corners @ v, corners @ d
    ou, ov, od = org @ u, org @ v, org @ d
    sel = (
        sel
        & (ou > cu.min() - margin)
        & (ou < cu.max() + margin)
        & (ov > cv.min() - margin)
        & (ov < cv.max() + margin)
        & (od < cd.max() + margin)
    )
    idx = np.nonzero(sel)[0]
    if len(idx) == 0:
        return idx, np.zeros((0, 3)), np.zeros(0)
    rays = np.broadcast_to(d, (len(idx), 3))
    loc, ray_i, _ = mesh.ray.intersects_location(org[idx], rays, multiple_hits=False)
    if len(ray_i) == 0:
        return np.zeros(0, dtype=int), np.zeros((0, 3)), np.zeros(0)
    src = idx[ray_i]
    return src, loc, (loc - org[src]) @ d


def _cast_rays(
    meshes: list[trimesh.Trimesh],
    probes: list[tuple[np.ndarray, np.ndarray]],
    dirs: np.ndarray,
    slide: np.ndarray | None = None,
) -> _Rays:
    """Rays from every part's probes along every direction, onto every other part; with ``slide
    (n, D)`` (how far each part slides along each sideways direction before it is lifted away, 0: no
    slide) also rays up from the parts moved that far."""
    n = len(meshes)
    pts = np.vstack([p for p, _ in probes])
    nrm = np.vstack([q for _, q in probes])
    owner = np.concatenate([np.full(len(p), i) for i, (p, _) in enumerate(probes)])
    corners = np.array([trimesh.bounds.corners(m.bounds) for m in meshes])  # (n, 8, 3)
    dist = np.full((len(dirs), n, n), np.inf)
    far = np.full((len(dirs), n, n), np.inf)
    touch = np.zeros((len(dirs), n, n), dtype=int)
    clear_up = np.zeros((len(dirs), n, n), dtype=bool)
    rest: dict[tuple[int, int], list[np.ndarray]] = {}
    up = np.array([0.0, 0.0, 1.0])
    for di, d in enumerate(dirs):
        # Faces facing away from the motion sit deep too: a countersunk head's cone in its countersink,
        # tessellated apart, overlaps the other cone as the parallel faces do.
        inset = np.where(nrm @ d < SLIDE_COS, SLIDE_INSET_M, PROBE_INSET_M)
        org = pts - inset[:, None] * nrm
        step = slide[owner, di] if slide is not None else np.zeros(len(owner))
        moved = org + step[:, None] * d
        for ti in range(n):
            src, loc, dd = _ray_hits(meshes[ti], corners[ti], org, owner != ti, d)
            if (step > 0).any():
                usrc, _, _ = _ray_hits(meshes[ti], corners[ti], moved, (owner != ti) & (step > 0), up)
                clear_up[di, owner[usrc], ti] = True
            if len(src) == 0:
                continue
            np.minimum.at(dist[di, :, ti], owner[src], dd)
            beyond = dd > SLIDE_CONTACT_M
            np.minimum.at(far[di, :, ti], owner[src[beyond]], dd[beyond])
            facing = (nrm[src] @ d > 0.5) & (dd < SUPPORT_TOL_M)
            np.add.at(touch[di, :, ti], owner[src[facing]], 1)
            if di not in (_UP, _DOWN):
                continue
            facing = nrm[src, 2] < -0.5 if di == _DOWN else nrm[src, 2] > 0.5
            near = facing & (dd < SUPPORT_TOL_M)
            for oi in np.unique(owner[src[near]]):
                m = near & (owner[src] == oi)
                # Down from a onto b: a lies on b; up from b onto a: a lies on b too.
                key = (int(oi), ti) if di == _DOWN else (ti, int(oi))
                rest.setdefault(key, []).append(org[src[m]] if di == _DOWN else loc[m])
    return _Rays(dist=dist, far=far, rest=rest, touch=touch, clear_up=clear_up)


def _holds(
    shafts: list[CylinderFeature], holes: list[CylinderFeature]
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``[(axis (3,), segment (2, 3))]``: where shafts of one part run inside holes of another."""
    out = []
    for s in shafts:
        for h in holes:
            if abs(float(s.axis @ h.axis)) < np.cos(PAIR_ANGLE_RAD):
                continue
            rel = h.point_m - s.point_m
            th = float(rel @ s.axis)
            if float(np.linalg.norm(rel - th * s.axis)) > PAIR_DIST_M:
                continue
            clearance = h.radius_m - s.radius_m
            if not HOLD_CLEARANCE_M[0] <= clearance <= max(HOLD_CLEARANCE_M[1], 0.05 * s.radius_m):
                continue
            lo = max(-0.5 * s.length_m, th - 0.5 * h.length_m)
            hi = min(0.5 * s.length_m, th + 0.5 * h.length_m)
            if hi - lo > 1e-4:
                out.append((s.axis, s.point_m + np.outer([lo, hi], s.axis)))
    return out


def _bears_on(touch: np.ndarray, dirs: np.ndarray, neg: np.ndarray, a: int, b: int, axis: np.ndarray) -> bool:
    """Whether part a bears on part b with a face across ``axis (3,)`` (``touch`` of
    :class:`_Rays`: a's face against b's, or b's against a's, along either sense of the axis)."""
    for di in np.nonzero(np.abs(dirs @ axis) > SAME_DIR_COS)[0]:
        if touch[di, a, b] >= FACE_MIN_PROBES or touch[neg[di], b, a] >= FACE_MIN_PROBES:
            return True
    return False


def _coaxial_holes(feats_a: list[CylinderFeature], feats_b: list[CylinderFeature]) -> list[np.ndarray]:
    """Axes ``(3,)`` of the holes of a that line up with a hole of b (one screw goes through both)."""
    out = []
    for ha in feats_a:
        if ha.kind != "hole":
            continue
        for hb in feats_b:
            if hb.kind != "hole" or abs(float(ha.axis @ hb.axis)) < np.cos(PAIR_ANGLE_RAD):
                continue
            rel = hb.point_m - ha.point_m
            if float(np.linalg.norm(rel - float(rel @ ha.axis) * ha.axis)) <= PAIR_DIST_M:
                out.append(ha.axis)
                break
    return out


def _press_fit(shaft: CylinderFeature, holes: list[CylinderFeature]) -> bool:
    """Whether ``shaft`` sits in one of ``holes`` with (near) zero clearance over at least about a
    diameter: a press or tight fit, which holds a cantilever."""
    for h in holes:
        if abs(float(shaft.axis @ h.axis)) < np.cos(PAIR_ANGLE_RAD):
            continue
        rel = h.point_m - shaft.point_m
        th = float(rel @ shaft.axis)
        if float(np.linalg.norm(rel - th * shaft.axis)) > PAIR_DIST_M:
            continue
        if abs(h.radius_m - shaft.radius_m) > PRESS_CLEARANCE_M:
            continue
        lo = max(-0.5 * shaft.length_m, th - 0.5 * h.length_m)
        hi = min(0.5 * shaft.length_m, th + 0.5 * h.length_m)
        if hi - lo >= PRESS_MIN_DIAMETERS * 2 * shaft.radius_m:
            return True
    return False


def _over_support(com_xy: np.ndarray, contact_xy: np.ndarray, tol_m: float = 1e-4) -> bool:
    """Whether ``com_xy (2,)`` lies over the contacts ``contact_xy (P, 2)``: inside their convex hull,
    or on them when they lie on a line (a round rod lying on a flat face)."""
    try:
        hull = ConvexHull(contact_xy)
    except (QhullError, ValueError):
        # Collinear or a single point: stable only with the centre of mass right above them.
        c = contact_xy.mean(axis=0)
        rel = contact_xy - c
        _, _, vt = np.linalg.svd(rel, full_matrices=False) if len(rel) > 1 else (None, None, np.eye(2))
        along = rel @ vt[0]
        q = com_xy - c
        off = float(abs(q @ vt[1])) if vt.shape[0] > 1 else float(np.linalg.norm(q))
        t = float(q @ vt[0])
        return off < 5 * tol_m and along.min() - tol_m <= t <= along.max() + tol_m
    eq = hull.equations  # rows (a, b, c): a x + b y + c <= 0 inside
    return bool(np.all(eq[:, :2] @ com_xy + eq[:, 2] <= tol_m))


def _rest_state(sup: _Support, com: np.ndarray, present: frozenset[str]) -> tuple[str | None, set[str]]:
    """``(problem, supporting parts)`` of a part with only ``present`` others in place.

    problem is None (it rests), "unsupported" or "tips_over".
    """
    if sup.threaded_on is not None and sup.threaded_on in present:
        return None, {sup.threaded_on}
    if sup.screwed & present:
        return None, set(sup.screwed & present)  # held against their face until screwed to them
    rest = {b: p for b, p in sup.rest_pts.items() if b in present}
    holds = {b: h for b, h in sup.holds.items() if b in present}
    parts = set(rest) | set(holds)
    cp = np.vstack([sup.fixture_pts, *rest.values()])
    carrying = [(ax, seg) for hs in holds.values() for ax, seg in hs if abs(ax[2]) < CARRY_AXIS_MAX_Z]
    if carrying and (sup.flanged | sup.pressed) & set(holds):
        return None, parts  # a flanged spigot or a press fit holds it as a cantilever
    if carrying:
        # Held in holes across gravity: it stays when its centre of mass lies between the outermost
        # holding lengths and contacts along the holding axis (a rod in two brackets, a pin in a hole).
        # Its contacts on the hole bottoms lie on one line, which must not count as tipping.
        for ax, _ in carrying:
            along = [seg @ ax for a2, seg in carrying if abs(float(a2 @ ax)) > SAME_DIR_COS]
            ts = np.concatenate([*along, cp @ ax])
            tc = float(com @ ax)
            if ts.min() - SUPPORT_TOL_M <= tc <= ts.max() + SUPPORT_TOL_M:
                return None, parts
        if any(abs(float(a1 @ a2)) < SAME_DIR_COS for a1, _ in carrying for a2, _ in carrying):
            return None, parts  # held on two crossing axes: cannot turn
        return "tips_over", parts
    if len(cp) == 0:
        return "unsupported", parts
    if holds:
        return None, parts  # standing in a hole: its walls keep it upright
    if _over_support(com[:2], cp[:, :2]):
        return None, parts
    return "tips_over", parts


def _direction_words(n_axes: int) -> str:
    """'±x, ±y, ±z and 2 part axes' for the interlock sentence."""
    if n_axes == 0:
        return "±x, ±y, ±z"
    return f"±x, ±y, ±z and {n_axes} part axis" + ("es" if n_axes > 1 else "")


def assembly_order(
    meshes_fixture: dict[str, trimesh.Trimesh],
    n_probe: int = 400,
    seed: int = 0,
    part_axes: dict[str, list[np.ndarray]] | None = None,
    threaded_on: dict[str, str] | None = None,
) -> AssemblyOrder:
    """Insertion order and directions by disassembly along straight lines, stable under gravity.

    Parameters
    ----------
    meshes_fixture : name -> part mesh placed in the fixture frame (fixture top at z = 0), metres
    n_probe : surface samples per part for the ray probes (its vertices are used too)
    seed : seed of the surface sampling
    part_axes : name -> its hole / shaft axes (3,) in the fixture frame, tried as insertion
        directions in both senses besides ±x, ±y, ±z; None: found with
        :func:`workflow_gen.features.cylindrical_features`
    threaded_on : nut / washer name -> the bolt or shaft it is threaded on (it is supported by it);
        None: fasteners recognised by name and shape and paired with
        :func:`workflow_gen.features.pair_fasteners`; ``{}``: none

    Returns
    -------
    AssemblyOrder

    A part can be removed along a direction when rays cast from its surface along it meet none of the
    remaining parts, and rays cast from theirs the opposite way do not meet it; parts on the fixture
    cannot move down through it. The next part removed is one whose removal leaves the rest standing
    (when there is one), then the cheapest move: up 0, sideways 1, down 2, plus 2.5 for a change of
    direction from the last removal and 2.5 for sliding sideways off what it rests on; then the
    outermost along its direction, then by name. So parts go in from above where they can, a
    sideways series (a shaft, then its nuts) stays together, and the nuts under a plate go in one
    after the other from below. A part stands when it lies on the fixture or on standing parts with
    its centre of mass over the contacts, is held in holes of standing parts across gravity (a rod in
    two brackets; its contacts on a line do not make it tip), or is threaded on a standing bolt or
    shaft; standing is grown from the fixture up, so parts cannot hold each other up in a circle.
    When no part is free, the smallest group that can only move together is reported as interlocked
    and set aside. Parts without faces are reported as unsupported.
    """
    names = []
    out = AssemblyOrder(order=[])
    for a in sorted(meshes_fixture):
        m = meshes_fixture[a]
        if len(m.faces) == 0 or not np.isfinite(m.vertices).all() or m.area <= 0:
            out.blocked[a] = "does not rest on anything: it has no surface (empty mesh)"
            out.blocked_kind[a] = "unsupported"
            out.supports[a] = set()
        else:
            names.append(a)
    meshes = []
    for a in names:
        m = meshes_fixture[a].copy()
        m.merge_vertices()  # STEP tessellations come with one set of vertices per CAD face
        meshes.append(m)
    n = len(names)
    if n == 0:
        return out
    feats = {a: cylindrical_features(m) for a, m in zip(names, meshes, strict=True)}
    if part_axes is None:
        part_axes = {a: [f.axis for f in feats[a]] for a in names}
    if threaded_on is None:
        kinds: dict[str, FastenerKind] = {}
        for a, m in zip(names, meshes, strict=True):
            k = recognise_fastener(a, m)
            if k is not None:
                kinds[a] = k
        threaded_on = pair_fasteners(dict(zip(names, meshes, strict=True)), kinds)
    dirs, allowed_idx, n_own = _direction_table(names, part_axes)
    probes = [_probe_points(m, n_probe, seed) for m in meshes]
    neg = np.argmax(dirs @ -dirs.T, axis=1)
    # Sideways, a part only needs to slide until it is clear of what it sits in (its length along the
    # direction and a margin); from there it is lifted away.
    extent = np.array([np.ptp(m.vertices @ dirs.T, axis=0) for m in meshes])  # (n, D)
    sideways = np.abs(dirs[:, 2]) < SLIDE_MAX_Z
    slide = np.where(sideways[None, :], extent + SLIDE_MARGIN_M, 0.0)
    rays = _cast_rays(meshes, probes, dirs, slide)
    rest, dist = rays.rest, rays.dist
    hit = np.isfinite(dist)
    # b blocks a along d when a's rays along d meet b, or b's rays along -d meet a: anywhere along an
    # endless line, or for a sideways slide only within the slide, or then on the way up.
    block = hit | hit[neg].transpose(0, 2, 1)
    reach = slide.T[:, :, None]  # (D, n, 1)
    far = rays.far
    near = (far < reach) | (far[neg].transpose(0, 2, 1) < reach) | rays.clear_up
    block &= np.where(reach > 0, near, True)

    sup: dict[str, _Support] = {}
    for i, a in enumerate(names):
        pts, nrm = probes[i]
        bottom = (nrm[:, 2] < -0.5) & (pts[:, 2] < SUPPORT_TOL_M)
        s = _Support(fixture_pts=pts[bottom], threaded_on=threaded_on.get(a))
        for j, b in enumerate(names):
            if (i, j) in rest:
                s.rest_pts[b] = np.vstack(rest[(i, j)])
            if j != i and threaded_on.get(b) != a:  # a nut riding on a does not hold it
                shafts = [f for f in feats[a] if f.kind == "shaft"]
                holes = [f for f in feats[b] if f.kind == "hole"]
                # Its shafts in b's holes, and its holes on b's shafts (a washer hanging on a screw).
                h = _holds(shafts, holes) + _holds(
                    [f for f in feats[b] if f.kind == "shaft"], [f for f in feats[a] if f.kind == "hole"]
                )
                if s.threaded_on is None and any(  # a nut is held by its bolt, not by the face
                    _bears_on(rays.touch, dirs, neg, i, j, ax)
                    for ax in _coaxial_holes(feats[a], feats[b])
                    if abs(ax[2]) < CARRY_AXIS_MAX_Z
                ):
                    s.screwed.add(b)
                if h:
                    s.holds[b] = h
                    if any(_bears_on(rays.touch, dirs, neg, i, j, ax) for ax, _ in h):
                        s.flanged.add(b)
                    if any(_press_fit(f, holes) for f in shafts):
                        s.pressed.add(b)
        sup[a] = s
    com = {
        a: np.asarray(m.center_mass if m.is_volume else m.centroid)
        for a, m in zip(names, meshes, strict=True)
    }
    cache: dict[tuple[str, frozenset[str]], tuple[str | None, set[str]]] = {}

    def state(a: str, present: set[str]) -> tuple[str | None, set[str]]:
        key = (a, frozenset(present & sup[a].parts()))
        if key not in cache:
            cache[key] = _rest_state(sup[a], com[a], key[1])
        return cache[key]

    def grounded(present: set[str]) -> set[str]:
        """The parts of ``present`` that stand: on the fixture, or on / in / threaded on standing ones.

        Grown from the fixture up, so that circles (a plate on its nut, the nut on its bolt, the bolt
        on the plate) do not hold each other up in the air.
        """
        stands: set[str] = set()
        grew = True
        while grew:
            grew = False
            for a in sorted(present - stands):
                if state(a, stands)[0] is None:
                    stands.add(a)
                    grew = True
        return stands

    standing = grounded(set(names))
    for a in names:
        if a in standing:
            continue
        problem, parts = state(a, standing)
        assert problem is not None
        out.supports[a] = parts
        if problem == "unsupported":
            out.blocked[a] = "does not rest on anything: nothing under it in the assembly"
        else:
            out.blocked[a] = "would tip over: its centre of mass is outside the area it rests on"
        out.blocked_kind[a] = problem
    dependents = {a: sorted(b for b in names if a in sup[b].parts()) for a in names}

    allowed = np.zeros((n, len(dirs)), dtype=bool)
    for i, idx in enumerate(allowed_idx):
        allowed[i, idx] = True
    on_fixture = np.array([m.bounds[0, 2] < SUPPORT_TOL_M for m in meshes])
    allowed[on_fixture[:, None] & (dirs[None, :, 2] < -0.1)] = False  # not down through the fixture
    dir_class = np.where(dirs[:, 2] > 0.7, 0, np.where(dirs[:, 2] < -0.7, 2, 1))
    outer = np.array([(m.vertices @ dirs.T).max(axis=0) for m in meshes])  # (n, D)

    remaining = np.ones(n, dtype=bool)
    removal: list[str] = []
    prev: int | None = None
    while remaining.any():
        obstructed = block[:, :, remaining].any(axis=2).T  # (n, D)
        free = allowed & ~obstructed & remaining[:, None]
        cand = np.argwhere(free)
        if len(cand) == 0:
            group = _interlocked_group(block, allowed, remaining, dir_class)
            locks = {g: block[allowed[g]][:, g, :].any(axis=0) & remaining for g in group}
            for g in group:
                locked = [names[j] for j in np.nonzero(locks[g])[0] if j != g]
                out.locked_by[names[g]] = locked
                out.blocked[names[g]] = (
                    f"interlocked: no straight direction frees it from {', '.join(locked)} "
                    f"(tried {_direction_words(n_own[g])})"
                )
                out.blocked_kind[names[g]] = "interlocked"
                remaining[g] = False
            prev = None
            continue
        unstable_after: dict[int, list[str]] = {}
        for i in sorted({int(c[0]) for c in cand}):
            a = names[i]
            unstable_after[i] = []
            if a in standing and any(p in standing for p in dependents[a]):
                rest_of = standing - {a}
                unstable_after[i] = sorted(rest_of - grounded(rest_of))
        # Parts lying on the fixture or on a part still in place: sideways moves slide them.
        resting = {
            names[i]: len(sup[names[i]].fixture_pts) > 0 or any(b in standing for b in sup[names[i]].rest_pts)
            for i in unstable_after
        }
        scored = [
            (
                len(unstable_after[i]),  # none left unstable, else as few as can be
                float(DIR_COST[dir_class[di]])
                + (0.0 if di == prev else TURN_COST)
                + (SLIDE_COST if dir_class[di] == 1 and resting[names[i]] else 0.0),
                -float(outer[i, di]),
                names[i],
                di,
                i,
            )
            for i, di in ((int(c[0]), int(c[1])) for c in cand)
        ]
        best = min(scored)
        i, di = best[5], best[4]
        a = names[i]
        removal.append(a)
        out.insert_dir[a] = -dirs[di] + 0.0  # + 0.0: no negative zeros
        remaining[i] = False
        prev = di
        standing.discard(a)
        standing -= set(unstable_after[i])
        for p in unstable_after[i]:
            # No free part kept the rest standing: p goes in before a, which it needs to stand.
            problem, _ = state(p, standing)
            assert problem is not None
            out.blocked_kind[p] = problem
            what = "does not rest on anything" if problem == "unsupported" else "would tip over"
            out.blocked[p] = f"{what} when it is inserted: it needs {a}, which can only go in after it"
            out.supports[p] = sup[p].parts() & set(names)
    # Insertion: each part must stand on the parts inserted before it; a part that stood on one that
    # cannot be inserted at all (interlocked, say) cannot go in either.
    inserted: list[str] = []
    for a in reversed(removal):
        if a in out.blocked:
            continue
        problem, parts = state(a, set(inserted))
        out.supports[a] = parts
        if problem is None:
            inserted.append(a)
            continue
        missing = sorted(sup[a].parts() - set(inserted))
        what = "does not rest on anything" if problem == "unsupported" else "would tip over"
        out.blocked[a] = f"{what} without " + ", ".join(
            f"{m} ({out.blocked_kind.get(m, 'not inserted')})" for m in missing
        )
        out.blocked_kind[a] = problem
    out.order = inserted
    for a in names:
        out.supports.setdefault(a, sup[a].parts())
    return out


def _interlocked_group(
    block: np.ndarray, allowed: np.ndarray, remaining: np.ndarray, dir_class: np.ndarray
) -> list[int]:
    """The smallest set of remaining parts that can move away together along one direction (each part
    of it blocked only by others of it); all remaining parts when there is none."""
    best: tuple[int, int, int, list[int]] | None = None
    for a in np.nonzero(remaining)[0]:
        for di in np.nonzero(allowed[a])[0]:
            group, stack, ok = {int(a)}, [int(a)], True
            while stack and ok:
                g = stack.pop()
                for b in np.nonzero(block[di, g] & remaining)[0]:
                    if int(b) not in group:
                        if not allowed[b, di]:
                            ok = False
                            break
                        group.add(int(b))
                        stack.append(int(b))
            if ok:
                key = (len(group), int(dir_class[di]), int(di), sorted(group))
                if best is None or key < best:
                    best = key
    return best[3] if best is not None else [int(i) for i in np.nonzero(remaining)[0]]


def fasten_early(
    order: list[str],
    insert_dir: dict[str, np.ndarray],
    supports: dict[str, set[str]],
    meshes_fixture: dict[str, trimesh.Trimesh],
    fasteners: set[str],
    threaded_on: dict[str, str] | None = None,
    n_probe: int = 200,
    seed: int = 0,
) -> list[str]:
    """The insertion ``order`` with every fastener moved as early as it can go.

    A bracket that is bolted down before the shaft slides through it stays put; bolting it after leaves
    it loose while the shaft pushes on it. A fastener moves to just after the parts it rests on (and, for
    a nut or washer, its bolt), but never in front of a part whose straight insertion line it would then
    be in the way of (rays from that part along its insertion direction, and back, against the fastener).
    Fasteners are moved in their order in ``order``; the result is deterministic.
    """
    threaded_on = threaded_on or {}
    out = list(order)
    probes: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def probe(name: str) -> tuple[np.ndarray, np.ndarray]:
        if name not in probes:
            probes[name] = _probe_points(meshes_fixture[name], n_probe, seed)
        return probes[name]

    def in_way(f: str, q: str) -> bool:
        """Whether fastener ``f`` in place blocks part ``q`` going in along its direction."""
        d = np.asarray(insert_dir.get(q, (0.0, 0.0, -1.0)), float)
        hit, _ = _cast([meshes_fixture[q], meshes_fixture[f]], [probe(q), probe(f)], np.stack([-d, d]))
        return bool(hit[0, 0, 1] or hit[1, 1, 0])

    for f in [n for n in order if n in fasteners]:
        i = out.index(f)
        needs = set(supports.get(f, set()))
        if f in threaded_on:
            needs.add(threaded_on[f])
        earliest = max((out.index(n) + 1 for n in needs if n in out), default=0)
        k = i
        while k > earliest and not in_way(f, out[k - 1]):
            k -= 1
        if k < i:
            out.insert(k, out.pop(i))
    return out


def kit_order(
    jobs: dict[str, tuple[np.ndarray, np.ndarray]], start_xyz_m: np.ndarray | None = None
) -> list[str]:
    """A short-travel order of pick-and-place jobs (greedy nearest neighbour).

    Parameters
    ----------
    jobs : name -> (pick position (3,), place position (3,)) in the world, metres
    start_xyz_m : (3,) where the tool starts (home), or None to start with the first job

    Each job's own pick-to-place leg is fixed; the order only changes the empty legs from one place
    to the next pick, and the nearest next pick is taken each time.
    """
    left = list(jobs)
    out: list[str] = []
    pos = start_xyz_m
    while left:
        if pos is None:
            nxt = left[0]
        else:
            nxt = min(left, key=lambda k: (float(np.linalg.norm(jobs[k][0] - pos)), left.index(k)))
        out.append(nxt)
        left.remove(nxt)
        pos = jobs[nxt][1]
    return out


def travel_m(jobs: dict[str, tuple[np.ndarray, np.ndarray]], order: list[str], start: np.ndarray) -> float:
    """Total straight-line tool travel of an order, from ``start (3,)`` (metres)."""
    pos, total = start, 0.0
    for k in order:
        total += float(np.linalg.norm(jobs[k][0] - pos) + np.linalg.norm(jobs[k][1] - jobs[k][0]))
        pos = jobs[k][1]
    return total
