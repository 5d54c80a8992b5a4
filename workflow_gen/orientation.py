"""Build orientation: how a product drawn in any CAD frame stands on the fixture.

CAD assemblies come drawn Y-up (many mechanical CAD tools), lying on their side, or standing z up
somewhere off the origin. :func:`choose_build_frame` finds the rigid transform ``T_fixture_cad`` that stands
the product on the fixture plane (z = 0 of the fixture frame, +z up) with its footprint centred over the
fixture origin:

- the up direction is one of the six CAD axis directions, chosen by stability: the centre of mass must lie
  well inside the convex support polygon of the product's lowest points (tipping angle and margin), a base
  plate at the bottom (one flat part carrying most of the footprint) is preferred, then a low centre of
  mass, a bigger contact area, the CAD's own +z and last +y (Y-up exports);
- a product already drawn standing z up with its bottom on z = 0 over the origin keeps the drawing's own
  frame exactly (designers place products on the fixture deliberately);
- ``build_up`` forces the up axis and ``build_rpy_deg`` a whole rotation (variant.yaml overrides).

All parts share one density here, so the centre of mass is the volume centroid of the placed meshes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import trimesh
from scipy.spatial import ConvexHull, QhullError
from scipy.spatial.transform import Rotation

UP_LABELS = ("+z", "+y", "+x", "-x", "-y", "-z")  # order = tie-break preference after the scores
IN_PLACE_TOL_M = 1e-3
STABLE_TIP_DEG = 10.0
STABLE_MARGIN_M = 1e-3


@dataclass(frozen=True)
class BuildFrame:
    """How the product stands on the fixture.

    Attributes
    ----------
    T_fixture_cad : (4, 4) float
        Rigid transform fixture-from-CAD; a part's target is ``T_fixture_cad @ T_cad_part``.
    up_cad : (3,) float
        Unit CAD direction that points up (+z) on the fixture.
    reason : str
        One sentence for the report: which way up, what it stands on, footprint, stability.
    candidates : list of (str, float)
        Up directions ("+x" .. "-z") with their scores, best first (empty for a forced rotation).
    """

    T_fixture_cad: np.ndarray
    up_cad: np.ndarray
    reason: str
    candidates: list[tuple[str, float]] = field(default_factory=list)


def rotation_up(label: str) -> np.ndarray:
    """Smallest rotation (3, 3) fixture-from-CAD that turns the CAD axis ``label`` ("+y" ...) to +z."""
    turns = {
        "+z": ("x", 0.0),
        "-z": ("x", 180.0),
        "+y": ("x", 90.0),  # y -> z, z -> -y
        "-y": ("x", -90.0),
        "+x": ("y", -90.0),  # x -> z, z -> -x
        "-x": ("y", 90.0),
    }
    axis, deg = turns[label]
    R = Rotation.from_euler(axis, deg, degrees=True).as_matrix()
    return np.round(R, 12)  # exact zeros and ones: a Y-up part's axes map onto the fixture's exactly


@dataclass
class _Part:
    name: str
    points: np.ndarray  # (H, 3) convex hull vertices, CAD frame
    com: np.ndarray  # (3,) CAD frame
    volume: float


@dataclass
class _Stance:
    label: str
    R: np.ndarray  # (3, 3) fixture-from-CAD rotation
    z_min: float
    com_height_m: float
    margin_m: float  # COM inside the support polygon by (negative: outside)
    tip_deg: float
    support_area_m2: float
    footprint_m: tuple[float, float]
    footprint_centre: np.ndarray  # (2,) xy after R
    base: str | None  # the base plate carrying the product, if one
    on: list[str]  # parts touching the fixture
    origin_margin_m: float  # the CAD origin inside the footprint by (after R)
    score: float = 0.0

    @property
    def stable(self) -> bool:
        return self.margin_m >= STABLE_MARGIN_M and self.tip_deg >= STABLE_TIP_DEG


def _hull_2d(p: np.ndarray) -> ConvexHull | None:
    if len(p) < 3:
        return None
    try:
        return ConvexHull(p)
    except QhullError:  # collinear: a cylinder lying on its side touches along a line
        return None


def _inside_margin(hull: ConvexHull | None, pts: np.ndarray, q: np.ndarray) -> float:
    """Signed distance (m) of the 2D point q (2,) inside the hull of pts (N, 2) (negative outside)."""
    if hull is None:
        # Degenerate support (a point or a line): never inside, the margin is minus the distance to it.
        if len(pts) == 1:
            return -float(np.linalg.norm(q - pts[0]))
        a, b = pts[np.argmin(pts @ (pts[-1] - pts[0]))], pts[np.argmax(pts @ (pts[-1] - pts[0]))]
        d = b - a
        t = np.clip(np.dot(q - a, d) / max(np.dot(d, d), 1e-30), 0.0, 1.0)
        return -float(np.linalg.norm(q - (a + t * d)))
    eq = hull.equations  # (E, 3): n . x + c <= 0 inside, n unit
    return float(np.min(-(eq[:, :2] @ q + eq[:, 2])))


def _stance(label: str, R: np.ndarray, parts: list[_Part], tol_m: float) -> _Stance:
    pts = [p.points @ R.T for p in parts]
    allp = np.vstack(pts)
    z_min = float(allp[:, 2].min())
    total_v = sum(p.volume for p in parts)
    com = sum(R @ p.com * p.volume for p in parts) / total_v
    contact = [q[q[:, 2] <= z_min + tol_m, :2] for q in pts]
    on = [p.name for p, c in zip(parts, contact, strict=True) if len(c)]
    cpts = np.vstack([c for c in contact if len(c)])
    support = _hull_2d(cpts)
    margin = _inside_margin(support, cpts, com[:2])
    height = float(com[2] - z_min)
    tip = float(np.degrees(np.arctan2(margin, max(height, 1e-9))))
    area = float(support.volume) if support is not None else 0.0  # a 2D hull's "volume" is its area
    lo, hi = allp[:, :2].min(axis=0), allp[:, :2].max(axis=0)
    foot = _hull_2d(allp[:, :2])
    foot_area = float(foot.volume) if foot is not None else 0.0
    # A base plate: one flat part whose own contact carries at least half of the product's footprint.
    base, base_area = None, 0.0
    for p, q, c in zip(parts, pts, contact, strict=True):
        h = _hull_2d(c)
        if h is None:
            continue
        thick = float(q[:, 2].max() - q[:, 2].min())
        if h.volume >= 0.5 * foot_area and thick <= 0.5 * np.sqrt(h.volume) and h.volume > base_area:
            base, base_area = p.name, float(h.volume)
    return _Stance(
        label=label,
        R=R,
        z_min=z_min,
        com_height_m=height,
        margin_m=margin,
        tip_deg=tip,
        support_area_m2=area,
        footprint_m=(float(hi[0] - lo[0]), float(hi[1] - lo[1])),
        footprint_centre=(lo + hi) / 2,
        base=base,
        on=on,
        origin_margin_m=_inside_margin(foot, allp[:, :2], np.zeros(2)),
    )


def _score(s: _Stance, size_m: float, max_face_m2: float) -> float:
    """Higher is better: stable (50), on a base plate (20), low COM (15), contact (10), tipping angle (5).

    ``size_m`` (the product's diagonal) and ``max_face_m2`` (its largest box face) are the same for all
    six stances, so the scores compare; +z and +y get 2 and 1 so that ties go to the drawing's own up.
    """
    score = 0.0
    if s.stable:
        score += 50.0
    if s.base is not None:
        score += 20.0
    score += 15.0 * (1.0 - min(s.com_height_m / size_m, 1.0))  # low centre of mass
    score += 10.0 * min(s.support_area_m2 / max_face_m2, 1.0)  # bigger contact
    score += 5.0 * min(max(s.tip_deg, 0.0), 45.0) / 45.0
    score += {"+z": 2.0, "+y": 1.0}.get(s.label, 0.0)  # the drawing's own up, then Y-up exports
    return round(score, 3)


def _describe(s: _Stance, head: str | None = None) -> str:
    own = {"+z": " (CAD z up)", "+y": " (a Y-up drawing)"}.get(s.label, "")
    head = head or f"{s.label} of the CAD points up{own}"
    what = (
        f"{s.base} (its base plate)" if s.base else ("parts " if len(s.on) > 1 else "") + ", ".join(s.on[:4])
    )
    if len(s.on) > 4 and not s.base:
        what += f" and {len(s.on) - 4} more"
    w, d = (x * 1000 for x in s.footprint_m)
    verdict = (
        "stable"
        if s.stable
        else (
            f"NOT stable (tips over at {s.tip_deg:.0f} deg)"
            if s.margin_m > 0
            else "NOT stable (its centre of mass is outside its support)"
        )
    )
    return (
        f"{head}: stands on {what}, {w:.0f} x {d:.0f} mm footprint, "
        f"centre of mass {s.com_height_m * 1000:.0f} mm high and {s.margin_m * 1000:.0f} mm inside the "
        f"support edge, {verdict}"
    )


def _parts(meshes_cad: dict[str, trimesh.Trimesh]) -> list[_Part]:
    out = []
    for name, m in sorted(meshes_cad.items()):
        if len(m.faces) == 0:
            continue
        try:
            hull = m.convex_hull
            pts = np.asarray(hull.vertices, dtype=float)
        except Exception:  # qhull fails on flat or degenerate meshes: their vertices do as well
            hull, pts = None, np.asarray(m.vertices, dtype=float)
        if m.is_watertight and m.volume > 0:
            com, vol = np.asarray(m.center_mass, dtype=float), float(m.volume)
        elif hull is not None and hull.volume > 0:
            com, vol = np.asarray(hull.center_mass, dtype=float), float(hull.volume)
        else:
            com, vol = pts.mean(axis=0), 1e-12
        out.append(_Part(name, pts, com, vol))
    return out


def choose_build_frame(
    meshes_cad: dict[str, trimesh.Trimesh],
    build_up: str = "auto",
    build_rpy_deg: tuple[float, float, float] | None = None,
) -> BuildFrame:
    """Choose how the product stands on the fixture (see the module docstring).

    Parameters
    ----------
    meshes_cad : dict of str to trimesh.Trimesh
        Part name -> mesh placed in the assembly (CAD) frame, metres.
    build_up : str
        "auto", or the CAD axis that must point up: "+x", "-x", "+y", "-y", "+z", "-z".
    build_rpy_deg : (3,) float or None
        A forced rotation fixture-from-CAD, degrees, xyz extrinsic (instead of ``build_up``).

    Returns
    -------
    BuildFrame
        ``T_fixture_cad`` (4, 4) puts the product's lowest point on z = 0 with its footprint centred over
        the origin, unless the chosen rotation is the identity and the drawing already stands there.
    """
    parts = _parts(meshes_cad)
    if not parts:
        raise ValueError("no part with faces to stand on the fixture")
    allp = np.vstack([p.points for p in parts])
    size = float(np.linalg.norm(np.ptp(allp, axis=0)))
    ext = np.sort(np.ptp(allp, axis=0))
    max_face = float(ext[1] * ext[2]) or 1e-12
    tol = max(1e-4, 1e-3 * size)  # contact: within 0.1 % of the size (tessellated curved bottoms)

    if build_rpy_deg is not None:
        R = np.round(Rotation.from_euler("xyz", build_rpy_deg, degrees=True).as_matrix(), 12)
        chosen = _stance("rpy", R, parts, tol)
        rpy = ", ".join(f"{a:g}" for a in build_rpy_deg)
        reason = _describe(chosen, f"rotated by build_rpy_deg [{rpy}] (variant.yaml)")
        cands: list[tuple[str, float]] = []
    else:
        stances = [_stance(lb, rotation_up(lb), parts, tol) for lb in UP_LABELS]
        for s in stances:
            s.score = _score(s, size, max_face)
        cands = [(s.label, s.score) for s in sorted(stances, key=lambda s: -s.score)]
        if build_up != "auto":
            if build_up not in UP_LABELS:
                raise ValueError(f"build_up must be auto or one of {', '.join(UP_LABELS)}, not {build_up!r}")
            chosen = next(s for s in stances if s.label == build_up)
            reason = f"build_up {build_up} (variant.yaml): {_describe(chosen)}"
        else:
            z_up = stances[0]
            in_place = abs(z_up.z_min) <= IN_PLACE_TOL_M and z_up.origin_margin_m >= IN_PLACE_TOL_M
            any_base = any(s.base and s.stable for s in stances)
            if in_place and z_up.stable and (z_up.base or not any_base):
                chosen = z_up
            else:
                chosen = max(stances, key=lambda s: s.score)  # max keeps the first of equal scores
            reason = _describe(chosen)
    T = np.eye(4)
    T[:3, :3] = chosen.R
    identity = bool(np.allclose(chosen.R, np.eye(3), atol=1e-12))
    kept = identity and abs(chosen.z_min) <= IN_PLACE_TOL_M and chosen.origin_margin_m >= IN_PLACE_TOL_M
    if kept:
        reason += "; drawn standing on the fixture (bottom at z = 0 over the origin), so its frame is kept"
    else:
        T[:3, 3] = np.array([-chosen.footprint_centre[0], -chosen.footprint_centre[1], -chosen.z_min]) + 0.0
    up_cad = chosen.R.T @ np.array([0.0, 0.0, 1.0])
    return BuildFrame(T_fixture_cad=T, up_cad=up_cad, reason=reason, candidates=cands)
