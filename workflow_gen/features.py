"""Geometric features of part meshes: cylindrical holes and shafts, fasteners and what they sit on.

Everything works on triangulated CAD meshes (STEP tessellations, STL): a cylinder there is a ring of
flat strips whose normals are all perpendicular to one axis and whose vertices lie on one circle.
Lengths are metres; vectors are in the frame the mesh is given in (part frame, or the fixture frame
when the mesh has been placed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Literal

import numpy as np
import trimesh
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

# A tessellated cylinder turns by at most this much from one strip to the next; a hexagon (60 deg)
# is above it, so hex prisms are not mistaken for cylinders.
MAX_STEP_RAD = np.deg2rad(40.0)
MIN_STEP_RAD = np.deg2rad(0.5)
# A patch must go at least this far round its axis to count (fillets are a quarter turn at most);
# a hole split into two half-faces by the STEP exporter is merged first, then checked.
MIN_PATCH_SPAN_RAD = np.deg2rad(30.0)
MIN_FEATURE_SPAN_RAD = np.deg2rad(200.0)
PERP_TOL = 0.1  # |n . axis| allowed for a face of a cylinder (about 6 deg)
# Pairing a nut to what it sits on: axes within this angle and this distance.
PAIR_ANGLE_RAD = np.deg2rad(3.0)
PAIR_DIST_M = 1e-3


@dataclass(frozen=True)
class CylinderFeature:
    """A cylindrical surface of a part.

    Attributes
    ----------
    axis : (3,) unit axis direction (sign made canonical: its largest component is positive)
    point_m : (3,) point on the axis, halfway along the surface
    radius_m : radius of the surface
    length_m : extent of the surface along the axis
    kind : "hole" (concave, material outside) or "shaft" (convex, material inside)
    """

    axis: np.ndarray
    point_m: np.ndarray
    radius_m: float
    length_m: float
    kind: Literal["hole", "shaft"]


@dataclass
class _Patch:
    """A fitted cylindrical patch before merging: its faces, axis, circle and angular coverage."""

    faces: np.ndarray
    axis: np.ndarray
    centre: np.ndarray  # (3,) a point on the axis
    radius_m: float
    convex: bool
    angles_rad: np.ndarray  # directions of the face normals round the axis


def _canonical(axis: np.ndarray) -> np.ndarray:
    """``axis (3,)`` flipped so that its largest-magnitude component is positive (deterministic sign)."""
    return axis if axis[int(np.argmax(np.abs(axis)))] >= 0 else -axis


def _basis(axis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors ``(3,)`` completing ``axis`` to a right-handed orthonormal frame."""
    helper = np.array([1.0, 0.0, 0.0]) if abs(axis[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    u = np.cross(axis, helper)
    u /= np.linalg.norm(u)
    return u, np.cross(axis, u)


def _span_rad(angles_rad: np.ndarray) -> float:
    """How far round the circle a set of directions ``(K,)`` reaches: 2 pi minus the largest gap."""
    if len(angles_rad) < 2:
        return 0.0
    a = np.sort(np.mod(angles_rad, 2 * np.pi))
    gaps = np.diff(np.concatenate([a, [a[0] + 2 * np.pi]]))
    return float(2 * np.pi - gaps.max())


def _fit_patch(mesh: trimesh.Trimesh, faces: np.ndarray) -> _Patch | None:
    """Fit a cylinder to the faces ``(K,)``; None when they are not one (one pass of outlier removal)."""
    for _ in range(2):
        if len(faces) < 3:
            return None
        n = mesh.face_normals[faces]
        w = mesh.area_faces[faces]
        # The axis is the direction all normals are perpendicular to: the least eigenvector.
        _, vecs = np.linalg.eigh((n * w[:, None]).T @ n)
        axis = _canonical(vecs[:, 0])
        off_axis = np.abs(n @ axis) > PERP_TOL
        u, v = _basis(axis)
        tri = mesh.vertices[mesh.faces[faces]]  # (K, 3, 3)
        x, y = tri @ u, tri @ v
        # Algebraic circle fit of the vertices in the plane across the axis.
        A = np.column_stack([2 * x.ravel(), 2 * y.ravel(), np.ones(x.size)])
        sol, *_ = np.linalg.lstsq(A, x.ravel() ** 2 + y.ravel() ** 2, rcond=None)
        cx, cy = sol[0], sol[1]
        r2 = sol[2] + cx * cx + cy * cy
        if r2 <= 0:
            return None
        r = float(np.sqrt(r2))
        resid = np.abs(np.hypot(x - cx, y - cy) - r).max(axis=1)  # (K,) worst vertex per face
        bad = off_axis | (resid > max(0.02 * r, 1e-5))
        if not bad.any():
            nx, ny = n @ u, n @ v
            # Convex when normals point away from the axis (material inside).
            radial = np.column_stack([x.mean(axis=1) - cx, y.mean(axis=1) - cy])
            outward = np.einsum("ij,ij->i", radial, np.column_stack([nx, ny]))
            return _Patch(
                faces=faces,
                axis=axis,
                centre=cx * u + cy * v,
                radius_m=r,
                convex=bool((w * np.sign(outward)).sum() > 0),
                angles_rad=np.arctan2(ny, nx),
            )
        faces = faces[~bad]
    return None


def _same_cylinder(a: _Patch, b: _Patch) -> bool:
    """Whether two patches lie on one cylinder (same axis line, radius and sense)."""
    if a.convex != b.convex or abs(float(a.axis @ b.axis)) < np.cos(np.deg2rad(1.0)):
        return False
    tol_m = max(0.02 * a.radius_m, 2e-5)
    off = b.centre - a.centre
    off_perp = off - (off @ a.axis) * a.axis
    return abs(a.radius_m - b.radius_m) < tol_m and float(np.linalg.norm(off_perp)) < tol_m


def cylindrical_features(mesh: trimesh.Trimesh) -> list[CylinderFeature]:
    """Cylindrical holes and shafts of a triangulated part.

    Parameters
    ----------
    mesh : the part, metres; faces ``(F, 3)``

    Returns
    -------
    list of CylinderFeature, in the mesh's frame, largest radius first. A feature covers at least 200
    deg round its axis (full holes and shafts; not fillets or half-round slot ends).

    Faces are grouped across edges that turn by 0.5 to 40 deg (tessellation steps of a curved
    surface), each group is fitted with an axis (the direction all its normals are perpendicular to)
    and a circle through its vertices; groups on one cylinder are merged (STEP exports often split a
    cylinder into two half faces).
    """
    if len(mesh.faces) < 4:
        return []
    adj = mesh.face_adjacency
    ang = mesh.face_adjacency_angles
    curved = (ang > MIN_STEP_RAD) & (ang < MAX_STEP_RAD)
    is_curved = np.zeros(len(mesh.faces), dtype=bool)
    is_curved[adj[curved].ravel()] = True
    n_f = len(mesh.faces)
    patches: list[_Patch] = []
    failed = np.zeros(n_f, dtype=bool)
    # Faces are grouped across every edge a curved surface could have (so that the coplanar triangles
    # of a strip, curved or not, keep the strips together); a group that does not fit one cylinder
    # (flat faces running tangentially into two round ends) is split again across curved edges only.
    for links in ((ang < MAX_STEP_RAD), None):
        if links is None:
            links = curved & is_curved[adj[:, 0]] & is_curved[adj[:, 1]]
            keep_only: np.ndarray | None = failed
        else:
            keep_only = None
        graph = coo_matrix((np.ones(int(links.sum())), (adj[links, 0], adj[links, 1])), shape=(n_f, n_f))
        _, labels = connected_components(graph, directed=False)
        cand = np.nonzero(is_curved)[0]
        if keep_only is not None:
            cand = cand[keep_only[cand]]
        lab = labels[cand]
        order = np.argsort(lab, kind="stable")
        cand, lab = cand[order], lab[order]
        cuts = np.nonzero(np.diff(lab))[0] + 1
        failed = np.zeros(n_f, dtype=bool)
        for group in np.split(cand, cuts):
            if len(group) < 3:
                continue
            p = _fit_patch(mesh, group)
            if p is None:
                failed[group] = True
            elif _span_rad(p.angles_rad) >= MIN_PATCH_SPAN_RAD:
                patches.append(p)
        if not failed.any():
            break
    merged: list[list[_Patch]] = []
    for p in patches:
        for group_p in merged:
            if _same_cylinder(group_p[0], p):
                group_p.append(p)
                break
        else:
            merged.append([p])
    out = []
    for group_p in merged:
        angles = np.concatenate([p.angles_rad for p in group_p])
        if _span_rad(angles) < MIN_FEATURE_SPAN_RAD:
            continue
        first = group_p[0]
        faces = np.concatenate([p.faces for p in group_p])
        t = mesh.vertices[mesh.faces[faces].ravel()] @ first.axis
        t0, t1 = float(t.min()), float(t.max())
        out.append(
            CylinderFeature(
                axis=first.axis,
                point_m=first.centre + 0.5 * (t0 + t1) * first.axis,
                radius_m=float(np.mean([p.radius_m for p in group_p])),
                length_m=t1 - t0,
                kind="shaft" if first.convex else "hole",
            )
        )
    out.sort(key=lambda f: (-f.radius_m, f.kind, -f.length_m))
    return out


# ----------------------------------------------------------------------------- fasteners
class FastenerKind(str, Enum):
    """Kinds of fastener the sequencer treats specially."""

    BOLT = "bolt"
    SCREW = "screw"
    NUT = "nut"
    WASHER = "washer"


# Standard numbers (ISO / DIN) of common fasteners.
_STANDARDS: dict[FastenerKind, set[int]] = {
    FastenerKind.BOLT: {4014, 4016, 4017, 4018, 8765, 8676, 931, 933, 960, 961, 601, 558},
    FastenerKind.SCREW: {
        4762,
        7380,
        10642,
        7045,
        7046,
        1207,
        1580,
        14579,
        14580,
        912,
        7984,
        7991,
        965,
        84,
        85,
        7985,
    },
    FastenerKind.NUT: {
        4032,
        4033,
        4034,
        4035,
        4036,
        7040,
        7042,
        10511,
        10513,
        934,
        936,
        985,
        439,
        6923,
        1587,
        980,
    },
    FastenerKind.WASHER: {7089, 7090, 7091, 7092, 7093, 7094, 125, 126, 127, 433, 9021, 6798, 6916, 7349},
}
# Words that name a fastener, optionally glued to a prefix ("locknut", "capscrew", "HexNut").
_WORD = re.compile(
    r"(?<![a-z])(?:hex|lock|wing|cap|set|flange|socket|machine|lag|carriage|thumb|square)?"
    r"(washer|nut|screw|bolt)s?(?![a-z])"
)
_STANDARD = re.compile(r"(?<![a-z])(iso|din)\s*[_\-]?\s*(\d{2,5})(?!\d)")
_THREAD_X_LENGTH = re.compile(r"(?<![a-z0-9])m\d+(?:[.,]\d+)?\s*x\s*\d+")  # "M6x20": a bolt or screw


def _kind_from_name(name: str) -> FastenerKind | None:
    """The fastener kind a part's name gives, or None when the name says nothing."""
    s = re.sub(r"([a-z])([A-Z])", r"\1 \2", name).lower()  # "HexNut" -> "hex nut"
    words = {m.group(1) for m in _WORD.finditer(s)}
    # A washer or a nut named after the bolt it goes on ("washer for M8 bolt") is still a washer.
    for kind in (FastenerKind.WASHER, FastenerKind.NUT, FastenerKind.SCREW, FastenerKind.BOLT):
        if kind.value in words:
            return kind
    for m in _STANDARD.finditer(s):
        number = int(m.group(2))
        for kind, numbers in _STANDARDS.items():
            if number in numbers:
                return kind
    if _THREAD_X_LENGTH.search(s):
        return FastenerKind.BOLT
    return None


def _profile(mesh: trimesh.Trimesh, axis: np.ndarray, point: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(t, rho)``, each ``(V,)``: the vertices' position along ``axis`` and distance from it."""
    rel = mesh.vertices - point
    t = rel @ axis
    rho = np.linalg.norm(rel - t[:, None] * axis, axis=1)
    return t, rho


def _coaxial(f: CylinderFeature, g: CylinderFeature, tol_m: float) -> bool:
    """Whether two features share an axis line (within 3 deg and ``tol_m``)."""
    if abs(float(f.axis @ g.axis)) < np.cos(PAIR_ANGLE_RAD):
        return False
    off = g.point_m - f.point_m
    return float(np.linalg.norm(off - (off @ f.axis) * f.axis)) < tol_m


def _hex_order(
    mesh: trimesh.Trimesh, axis: np.ndarray, point: np.ndarray, bore_r_m: float
) -> tuple[float, float]:
    """Six-fold symmetry (0..1) of the outer side faces round an axis, and their distance from it (m).

    Outer side faces: normals across ``axis``, facing away from it, further out than the bore.
    """
    n_all = mesh.face_normals
    dist = np.einsum("ij,ij->i", mesh.triangles_center - point, n_all)
    side = (np.abs(n_all @ axis) < PERP_TOL) & (dist > 1.05 * bore_r_m)
    if not side.any():
        return 0.0, 0.0
    u, v = _basis(axis)
    n = n_all[side]
    w = mesh.area_faces[side]
    theta = np.arctan2(n @ v, n @ u)
    # Normals of a hexagon's flats are 60 deg apart: 6 theta is the same angle for all of them.
    return float(np.abs((w * np.exp(6j * theta)).sum()) / w.sum()), float(np.max(dist[side]))


# Proportions of real bolts and screws (ISO 4014 / 4017 / 4762 / 10642 / 7380 / 1207 ...), in shank
# diameters d: a shank of up to about 10 d (12 allowed), a head 1.5 to 2.3 d across and at most d high
# (socket cap heads are d, hex heads 0.6 to 0.7 d, countersunk 0.6 d). Longer shanks, taller or wider
# heads, ball-shaped heads and heads with a cross hole are bars, rods, lead screws and levers with a
# knob.
MAX_SHANK_D = 12.0
MAX_HEAD_HEIGHT_D = 1.15
MAX_HEAD_HEIGHT_PER_WIDTH = 0.75  # a ball knob is as high as it is wide; a fastener head is not
MAX_ROUND_HEAD_D = 2.1  # cheese, pan and socket cap heads
MAX_HEAD_D = 2.5  # hex (across corners), countersunk, button and flange heads
# A male-female standoff: a threaded stud of at most this many d under a hex or round body that has a
# tapped hole of about the stud's size in its other end.
MAX_STUD_D = 4.0


HeadKind = Literal["round", "cone", "hex", "square", "dome"]


def _head_kind(
    mesh: trimesh.Trimesh, s: CylinderFeature, feats: list[CylinderFeature], side: float, start: np.ndarray
) -> HeadKind:
    """Shape of what lies beyond one end of shank ``s``, the faces ``start`` (``(F,)`` bool) marks.

    round: a coaxial cylinder wider than the shank (socket cap, cheese head); cone: most of its outer
    faces slope in towards the shank (countersunk); hex / square: six- / four-fold side flats; dome:
    anything else (button and pan heads, coarse tessellations).
    """
    r = s.radius_m
    if any(
        f is not s and f.kind == "shaft" and f.radius_m > 1.3 * r and _coaxial(s, f, 0.05 * r)
        for f in feats
        if side * float((f.point_m - s.point_m) @ s.axis) > 0.5 * s.length_m
    ):
        return "round"
    n = mesh.face_normals[start]
    w = mesh.area_faces[start]
    rel = mesh.triangles_center[start] - s.point_m
    radial = rel - (rel @ s.axis)[:, None] * s.axis
    along = n @ s.axis * side  # > 0: facing away from the shank, < 0: towards it
    outer = (np.einsum("ij,ij->i", radial, n) > 0) & (np.abs(along) < 0.95)
    if not outer.any():
        return "dome"
    if w[outer & (along < -PERP_TOL)].sum() > 0.5 * w[outer].sum():
        return "cone"
    sides = outer & (np.abs(along) < PERP_TOL)
    if sides.any():
        u, v = _basis(s.axis)
        theta = np.arctan2(n[sides] @ v, n[sides] @ u)
        ws = w[sides]
        # Normals of the flats of a hexagon are 60 deg apart (6 theta the same for all), of a square 90.
        if float(np.abs((ws * np.exp(6j * theta)).sum()) / ws.sum()) >= 0.6:
            return "hex"
        if float(np.abs((ws * np.exp(4j * theta)).sum()) / ws.sum()) >= 0.6:
            return "square"
    return "dome"


def _is_standoff_body(
    s: CylinderFeature,
    feats: list[CylinderFeature],
    side: float,
    body_len_m: float,
    body_r_m: float,
    head: HeadKind,
) -> bool:
    """Whether what lies beyond one end of shank ``s`` is a standoff's body: hex or round, 1.3 to 3 d
    across, with a blind coaxial hole of 0.7 to 1.35 times the shank's size from its far end."""
    r = s.radius_m
    half = 0.5 * s.length_m
    if s.length_m > MAX_STUD_D * 2 * r or head not in ("hex", "round") or not 1.3 * r < body_r_m < 3.0 * r:
        return False
    far_end = half + body_len_m
    eps = 0.02 * r + 1e-5
    for h in feats:
        if h.kind != "hole" or not 0.7 * r <= h.radius_m <= 1.35 * r or not _coaxial(s, h, 0.05 * r):
            continue
        c = side * float((h.point_m - s.point_m) @ s.axis)
        if c + 0.5 * h.length_m > far_end - 2 * eps and c - 0.5 * h.length_m > half + eps and h.length_m >= r:
            return True
    return False


def _bolt_shape(
    mesh: trimesh.Trimesh, feats: list[CylinderFeature], proportions: bool = True
) -> tuple[FastenerKind, CylinderFeature, float] | None:
    """(BOLT or SCREW, shank feature, +1 / -1 head side along the axis) when the part is a headed shank.

    With ``proportions`` (recognising by shape) the shank and head must have a real fastener's
    proportions (see ``MAX_SHANK_D``) and the head no cross hole (a lead screw's or capstan's hub); a
    male-female standoff counts as a screw (its stud the shank, its body the head). Without (the kind
    is known, only the axis is wanted) any head 1.3 to 3.5 times the shank's radius, at most 1.5 d
    high, will do, and the kind returned is always BOLT (no standoffs: try with proportions next).
    """
    for s in sorted((f for f in feats if f.kind == "shaft"), key=lambda f: (-f.length_m, f.radius_m)):
        r = s.radius_m
        if s.length_m < 1.5 * r or (proportions and s.length_m > MAX_SHANK_D * 2 * r):
            continue
        t, rho = _profile(mesh, s.axis, s.point_m)
        half = 0.5 * s.length_m
        eps = 0.02 * r + 1e-5
        mid = np.abs(t) <= half - eps
        if mid.any() and rho[mid].max() > 1.05 * r:
            continue  # a collar or flange along the shank: not a plain bolt
        t_face = (mesh.triangles_center - s.point_m) @ s.axis
        for side in (1.0, -1.0):
            head = side * t > half + eps
            tip = side * t < -half - eps
            if not head.any():
                continue
            head_len = float((side * t[head]).max() - half)
            head_r = float(rho[head].max())
            tip_ok = not tip.any() or (
                float((-side * t[tip]).max() - half) < 0.6 * r and float(rho[tip].max()) < 1.05 * r
            )
            if not tip_ok:
                continue
            if not proportions:
                if 1.3 * r < head_r < 3.5 * r and head_len < 3.0 * r:
                    return FastenerKind.BOLT, s, side
                continue
            kind = _head_kind(mesh, s, feats, side, side * t_face > half + eps)
            if _is_standoff_body(s, feats, side, head_len, head_r, kind):
                return FastenerKind.SCREW, s, side
            cross_hole = any(
                f.kind == "hole"
                and abs(float(f.axis @ s.axis)) < np.cos(np.deg2rad(30.0))
                and f.radius_m > 0.2 * r
                and side * float((f.point_m - s.point_m) @ s.axis) > half
                for f in feats
            )
            max_d = MAX_ROUND_HEAD_D if kind == "round" else MAX_HEAD_D
            if (
                not cross_hole
                and 1.3 * r < head_r < max_d * r
                and head_len <= MAX_HEAD_HEIGHT_D * 2 * r
                and head_len <= MAX_HEAD_HEIGHT_PER_WIDTH * 2 * head_r
            ):
                # A hex (or square) head is a bolt; a round, domed or countersunk head a screw.
                return (FastenerKind.BOLT if kind in ("hex", "square") else FastenerKind.SCREW), s, side
    return None


def _ring_shape(
    mesh: trimesh.Trimesh, feats: list[CylinderFeature]
) -> tuple[FastenerKind, CylinderFeature] | None:
    """(NUT or WASHER, its bore) when the part is a short hex prism or a thin disc with a through hole."""
    for h in (f for f in feats if f.kind == "hole"):
        t, rho = _profile(mesh, h.axis, h.point_m)
        height = float(t.max() - t.min())
        outer_r = float(rho.max())
        if h.length_m < 0.8 * height or outer_r < 1.2 * h.radius_m:
            continue  # blind or partial hole, or hardly any wall round it
        round_outside = any(
            f.kind == "shaft" and _coaxial(h, f, 0.05 * h.radius_m) and f.radius_m > 0.95 * outer_r
            for f in feats
        )
        if round_outside and height < 0.25 * 2 * outer_r and outer_r < 4.0 * h.radius_m:
            return FastenerKind.WASHER, h
        order6, flats_r = _hex_order(mesh, h.axis, h.point_m, h.radius_m)
        if round_outside or order6 < 0.8:
            continue
        if height <= 2 * flats_r and 0.3 * flats_r < h.radius_m < 0.9 * flats_r:
            return FastenerKind.NUT, h
    return None


def recognise_fastener(name: str, mesh: trimesh.Trimesh) -> FastenerKind | None:
    """The kind of fastener a part is, from its name, else from its shape; None for other parts.

    Parameters
    ----------
    name : the part's name in the assembly tree ("ISO_4017_M8x30_3", "Nut:2", "NAUO12", ...)
    mesh : the part, metres

    By name: the words bolt, screw, nut, washer (also "HexNut", "locknut"), ISO / DIN standard numbers
    (ISO 4017, DIN 912, ...) and a thread size with a length ("M6x20", a bolt), case-insensitive. By
    shape: a shank of at most 12 d with a head at one end 1.3 to 2.5 d across (2.1 when cylindrical), at
    most 1.15 d high and 0.75 times as high as it is wide, with no cross hole (hex or square head:
    bolt; round, domed or countersunk head: screw); a male-female standoff, a stud of at most 4 d under
    a hex or round body 1.3 to 3 d across with a tapped hole in its far end (screw); a hexagonal prism
    no taller than its width across flats with a through bore (nut); a round disc with a through bore,
    its height under a quarter of its diameter (washer). Bars, rods, lead screws and levers with a knob
    fail the shank's or the head's proportions.
    """
    kind = _kind_from_name(name)
    if kind is not None:
        return kind
    feats = cylindrical_features(mesh)
    bolt = _bolt_shape(mesh, feats)
    if bolt is not None:
        return bolt[0]
    ring = _ring_shape(mesh, feats)
    return ring[0] if ring is not None else None


def _principal_axis(mesh: trimesh.Trimesh, largest: bool) -> np.ndarray:
    """Unit ``(3,)`` principal axis of inertia with the largest (thin disc) or smallest (rod) moment."""
    vals, vecs = np.linalg.eigh(mesh.moment_inertia if mesh.is_volume else np.cov(mesh.vertices.T))
    if not mesh.is_volume:
        largest = not largest  # covariance: the long direction has the largest spread
    return _canonical(vecs[:, int(np.argmax(vals) if largest else np.argmin(vals))])


def fastener_axis(mesh: trimesh.Trimesh, kind: FastenerKind) -> tuple[np.ndarray, np.ndarray]:
    """The axis of a fastener in the mesh's frame.

    Returns
    -------
    axis : (3,) unit; for a bolt or screw it points from the head to the tip (the way it is driven in),
        for a nut or washer its sign is canonical (largest component positive)
    point_m : (3,) a point on the axis: the middle of the shank, or of the bore

    Uses the shank / bore found by :func:`cylindrical_features`; when there is none (a part recognised
    by name but too coarsely tessellated), the principal axis of inertia through the centre of mass.
    """
    if len(mesh.faces) == 0 or not np.isfinite(mesh.vertices).all():
        return np.array([0.0, 0.0, 1.0]), np.zeros(3)  # nothing to measure: the fixture's up axis
    feats = cylindrical_features(mesh)
    com = mesh.center_mass if mesh.is_volume else mesh.centroid
    if kind in (FastenerKind.BOLT, FastenerKind.SCREW):
        bolt = _bolt_shape(mesh, feats, proportions=False) or _bolt_shape(mesh, feats)
        if bolt is not None:
            return -bolt[2] * bolt[1].axis, bolt[1].point_m.copy()
        shafts = [f for f in feats if f.kind == "shaft"]
        if shafts:
            s = max(shafts, key=lambda f: f.length_m)
            return s.axis.copy(), s.point_m.copy()
        return _principal_axis(mesh, largest=False), np.asarray(com, dtype=float)
    ring = _ring_shape(mesh, feats)
    holes = [f for f in feats if f.kind == "hole"]
    if ring is not None:
        return ring[1].axis.copy(), ring[1].point_m.copy()
    if holes:
        return holes[-1].axis.copy(), holes[-1].point_m.copy()
    return _principal_axis(mesh, largest=True), np.asarray(com, dtype=float)


def _shank_lines(
    mesh: trimesh.Trimesh, kind: FastenerKind | None
) -> list[tuple[np.ndarray, np.ndarray, float, float, float]]:
    """Lines a nut could sit on: ``(axis (3,), point_m (3,), t0_m, t1_m, radius_m)`` per shank or shaft.

    ``t0_m .. t1_m`` is the shank's extent along the axis, measured from ``point_m``.
    """
    feats = cylindrical_features(mesh)
    if kind in (FastenerKind.BOLT, FastenerKind.SCREW):
        bolt = _bolt_shape(mesh, feats, proportions=False) or _bolt_shape(mesh, feats)
        if bolt is not None:
            s = bolt[1]
            return [(s.axis, s.point_m, -0.5 * s.length_m, 0.5 * s.length_m, s.radius_m)]
    return [
        (f.axis, f.point_m, -0.5 * f.length_m, 0.5 * f.length_m, f.radius_m)
        for f in feats
        if f.kind == "shaft"
    ]


def pair_fasteners(
    meshes_fixture: dict[str, trimesh.Trimesh], kinds: dict[str, FastenerKind]
) -> dict[str, str]:
    """Which bolt, screw or shaft each nut and washer is threaded on.

    Parameters
    ----------
    meshes_fixture : name -> part mesh placed in the fixture frame (metres)
    kinds : name -> fastener kind, for the parts that are fasteners

    Returns
    -------
    nut / washer name -> name of the part whose shank passes through its bore: the axes within 3 deg
    and 1 mm of each other, the bore at most 1.5 times the shank's radius (plus 0.5 mm), the nut
    within the shank's length. Any shaft counts (a nut on the end of a rod). Nuts and washers on
    nothing are left out; ties go to the nearest axis, then the first name.
    """
    lines = {
        name: _shank_lines(m, kinds.get(name))
        for name, m in sorted(meshes_fixture.items())
        if kinds.get(name) not in (FastenerKind.NUT, FastenerKind.WASHER)
    }
    out: dict[str, str] = {}
    for name in sorted(meshes_fixture):
        kind = kinds.get(name)
        if kind not in (FastenerKind.NUT, FastenerKind.WASHER):
            continue
        mesh = meshes_fixture[name]
        axis, point = fastener_axis(mesh, kind)
        ring = _ring_shape(mesh, cylindrical_features(mesh))
        bore_r = ring[1].radius_m if ring is not None else None
        t_nut, _ = _profile(mesh, axis, point)
        half_h = 0.5 * float(t_nut.max() - t_nut.min())
        best: tuple[float, str] | None = None
        for other, cands in lines.items():
            if other == name:
                continue
            for a, p, t0, t1, r in cands:
                if abs(float(a @ axis)) < np.cos(PAIR_ANGLE_RAD):
                    continue
                rel = point - p
                t = float(rel @ a)
                dist = float(np.linalg.norm(rel - t * a))
                if dist > PAIR_DIST_M or not (t0 - half_h - PAIR_DIST_M <= t <= t1 + half_h + PAIR_DIST_M):
                    continue
                if bore_r is not None and not (0.7 * r <= bore_r <= 1.5 * r + 5e-4):
                    continue
                if best is None or (dist, other) < best:
                    best = (dist, other)
        if best is not None:
            out[name] = best[1]
    return out
