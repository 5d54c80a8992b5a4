"""Convex pieces of a part mesh: the collision geometry of a part in the planner and in MuJoCo.

Both collision engines (coal in :mod:`motion.collision_world`, MuJoCo in :mod:`sim.model_builder`) collide
convex shapes, and the convex hull of a non-convex part fills its holes, pockets and the inside of an L.
:func:`convex_pieces` splits such a part into convex pieces whose union is the part:

1. A part whose surface lies on its convex hull (concavity under ``CONVEX_TOL_M``) is its hull.
2. A prism (every face parallel or perpendicular to one axis, two cap planes: plates with holes, nuts,
   tubes, plain L and U profiles) is decomposed exactly in 2D: its cross-section, curved walls simplified
   by at most ``HOLE_TOL_M``, is triangulated (constrained Delaunay) and the triangles are merged into
   convex polygons (Hertel-Mehlhorn), each extruded back to a piece. Each edge of a hole takes a piece
   of its own, so past ``MAX_PIECES`` the smallest holes are filled (a plate with dozens of holes).
3. Otherwise the part is cut along the plane of one of its flat faces (the cut that leaves the fewest
   pieces needing more work) and each side goes through 1-3 again, up to ``MAX_CUT_DEPTH`` cuts deep
   (an L bracket with holes in both flanges is cut into two holed plates, a block with a pocket into a
   floor slab and a holed frame).
   If that fails, it is tried again with more cut planes: planes that separate the part's concave
   features (holes, pockets: connected faces inside the hull) from each other, halfway between them
   along a flat face's normal. A block with a horizontal through hole and a vertical blind hole beside
   it is cut between the holes into two pieces with one hole each (a prism, and a blind hole that the
   plane of its bottom turns into a slab and a prism). Parts the first try handles keep its pieces.
4. A part none of this handles within ``MAX_PIECES`` pieces (free-form shapes) goes to V-HACD
   (``vhacdx`` through trimesh) with ``VHACD_PARAMS``, which can fill small holes.

The pieces are cached on disk under ``cache_dir`` by the hash of the mesh and the method parameters (JSON,
a list of ``{"vertices", "faces"}``, the format the simulator used for its V-HACD pieces) and in memory,
so a part costs the decomposition once.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import time
from pathlib import Path

import manifold3d
import numpy as np
import shapely
import trimesh
from shapely.geometry import MultiPolygon, Polygon

CACHE_DIR = Path(__file__).resolve().parents[1] / "build" / "cache" / "vhacd"
# A part whose surface is at most this far inside its convex hull is its hull.
CONVEX_TOL_M = 1e-4
# Curved walls of a prism are simplified by at most this much, so a hole of diameter d keeps a free
# cylinder of d - 2 * HOLE_TOL_M (a pin with 0.5 mm diametral clearance needs HOLE_TOL_M < 0.25 mm).
HOLE_TOL_M = 1.5e-4
MAX_PIECES = 96
MAX_CUT_DEPTH = 4
CUT_CANDIDATES = 8
# Past this time the exact decomposition gives up for V-HACD (a large mesh with many flat faces).
EXACT_BUDGET_S = 2.0
# Fallback for free-form parts (few pieces: every piece is a separate collision body pair to test).
VHACD_PARAMS: dict[str, int] = {"maxConvexHulls": 8, "resolution": 100000}
METHOD_VERSION = 2  # 2: the second try with cuts between concave features
_CUT_EPS_M = 1e-8

_MEMO: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}


def mesh_hash(mesh: trimesh.Trimesh) -> str:
    """Content hash of a mesh (vertices and faces), the cache key of its pieces."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(mesh.vertices, dtype=np.float64).tobytes())
    h.update(np.ascontiguousarray(mesh.faces, dtype=np.int64).tobytes())
    return h.hexdigest()[:24]


def cache_key(mesh: trimesh.Trimesh) -> str:
    """File stem of the cached pieces: mesh hash and every parameter that changes the result."""
    v = VHACD_PARAMS
    return (
        f"{mesh_hash(mesh)}-x{METHOD_VERSION}-{CONVEX_TOL_M * 1e6:.0f}-{HOLE_TOL_M * 1e6:.0f}"
        f"-{MAX_PIECES}-{MAX_CUT_DEPTH}-{v['maxConvexHulls']}-{v['resolution']}"
    )


def convex_pieces(mesh: trimesh.Trimesh, cache_dir: Path = CACHE_DIR) -> list[trimesh.Trimesh]:
    """Convex pieces whose union is ``mesh`` (metres, part frame); see the module docstring.

    A nearly convex mesh (or one that is not a closed volume) is returned as its own hull. The pieces are
    new meshes on every call, so the caller may move them.
    """
    key = cache_key(mesh)
    raw = _MEMO.get(key)
    if raw is None:
        path = cache_dir / f"{key}.json"
        if path.is_file():
            raw = [(np.asarray(p["vertices"], float), np.asarray(p["faces"], np.int64)) for p in _load(path)]
        else:
            raw = [(np.asarray(p.vertices, float), np.asarray(p.faces, np.int64)) for p in _decompose(mesh)]
            if len(raw) > 1:  # a hull is cheaper to recompute than to read
                cache_dir.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(f".{os.getpid()}.{id(raw)}.tmp")
                tmp.write_text(json.dumps([{"vertices": v.tolist(), "faces": f.tolist()} for v, f in raw]))
                tmp.replace(path)
        _MEMO[key] = raw
    return [trimesh.Trimesh(v.copy(), f.copy(), process=False) for v, f in raw]


def _load(path: Path) -> list[dict[str, list[list[float]]]]:
    data = json.loads(path.read_text())
    assert isinstance(data, list)
    return data


def is_solid(piece: trimesh.Trimesh) -> bool:
    """A piece a collision engine can hull: at least 4 vertices spanning 3D (no flat slivers)."""
    if len(piece.vertices) < 4:
        return False
    centred = piece.vertices - piece.vertices.mean(axis=0)
    sv = np.linalg.svd(centred, compute_uv=False)
    return bool(sv[2] > 1e-4 * sv[0] and sv[2] > 1e-6)


# ----------------------------------------------------------------------------- decomposition
def _decompose(mesh: trimesh.Trimesh) -> list[trimesh.Trimesh]:
    hull = mesh.convex_hull
    if not mesh.is_volume or concavity(mesh, hull) <= CONVEX_TOL_M:
        return [hull]
    pieces = _exact(mesh)
    if pieces is None:
        pieces = _vhacd(mesh)
    return [p for p in pieces if is_solid(p)] or [hull]


def concavity(mesh: trimesh.Trimesh, hull: trimesh.Trimesh | None = None) -> float:
    """How deep (m) the surface of ``mesh`` goes inside its convex hull (vertices and face centres).

    0 for a convex mesh; a through hole or a slot shows as the depth of its walls' face centres.
    """
    hull = mesh.convex_hull if hull is None else hull
    n = np.asarray(hull.face_normals, dtype=float)
    d = np.einsum("ij,ij->i", n, hull.triangles[:, 0])
    pts = np.vstack([mesh.vertices, mesh.triangles_center])
    worst = 0.0
    for i in range(0, len(pts), 2048):
        depth = (d[None, :] - pts[i : i + 2048] @ n.T).min(axis=1)  # distance to the nearest hull plane
        worst = max(worst, float(depth.max()))
    return worst


class _OutOfTime(Exception):
    pass


def _exact(mesh: trimesh.Trimesh) -> list[trimesh.Trimesh] | None:
    try:
        man = _to_manifold(mesh)
    except ValueError:
        return None
    bodies = [_to_trimesh(body) for body in man.decompose()]
    deadline = time.monotonic() + EXACT_BUDGET_S
    for between_features in (False, True):  # the second try only if the first fails (see step 3)
        try:
            out = _exact_bodies(bodies, deadline, between_features)
        except _OutOfTime:
            return None
        if out is not None:
            return out
    return None


def _exact_bodies(
    bodies: list[trimesh.Trimesh], deadline: float, between_features: bool
) -> list[trimesh.Trimesh] | None:
    out: list[trimesh.Trimesh] = []
    for body in bodies:
        pieces = _exact_body(body, 0, deadline, between_features)
        if pieces is None or len(out) + len(pieces) > MAX_PIECES:
            return None
        out.extend(pieces)
    return out


def _exact_body(
    mesh: trimesh.Trimesh, depth: int, deadline: float, between_features: bool = False
) -> list[trimesh.Trimesh] | None:
    """Convex pieces of one closed body (hull, prism or cut), or None past the depth or piece budget.

    ``between_features`` adds the planes between the body's concave features to the cut candidates.
    """
    if time.monotonic() > deadline:
        raise _OutOfTime
    if concavity(mesh) <= CONVEX_TOL_M:
        return [mesh.convex_hull]
    prism = _prism_axis(mesh)
    if prism is not None:
        return _prism_pieces(mesh, *prism)
    if depth >= MAX_CUT_DEPTH:
        return None
    # A plane between features is preferred to a face's plane that leaves as many sides to work on: it
    # splits the features up, where a cut along a hole's facet leaves the pieces with a hole each.
    best: tuple[tuple[int, int, float], list[trimesh.Trimesh]] | None = None
    planes = [(n, d, 1) for n, d in _cut_planes(mesh)]
    if between_features:
        planes += [(n, d, 0) for n, d in _between_feature_planes(mesh, [(n, d) for n, d, _ in planes])]
    for normal, offset, rank in planes:
        if time.monotonic() > deadline:
            raise _OutOfTime
        sides = _split(mesh, normal, offset)
        if len(sides) < 2:
            continue
        score = (
            sum(1 for s in sides if concavity(s) > CONVEX_TOL_M and _prism_axis(s) is None),
            rank,
            sum(s.convex_hull.volume - s.volume for s in sides),
        )
        if best is None or score < best[0]:
            best = (score, sides)
        if score[0] == 0:
            break
    if best is None:
        return None
    out: list[trimesh.Trimesh] = []
    for side in best[1]:
        pieces = _exact_body(side, depth + 1, deadline, between_features)
        if pieces is None or len(out) + len(pieces) > MAX_PIECES:
            return None
        out.extend(pieces)
    return out


def _to_manifold(mesh: trimesh.Trimesh) -> manifold3d.Manifold:
    # Fresh writeable copies: manifold3d refuses read-only arrays, and a mesh made from another manifold's
    # output holds read-only views of that buffer (np.ascontiguousarray would pass them through).
    m = manifold3d.Manifold(
        manifold3d.Mesh64(
            vert_properties=np.array(mesh.vertices, dtype=np.float64, order="C", copy=True),
            tri_verts=np.array(mesh.faces, dtype=np.uint32, order="C", copy=True),
        )
    )
    if m.is_empty():
        raise ValueError("mesh is not an oriented 2-manifold")
    return m


def _to_trimesh(m: manifold3d.Manifold) -> trimesh.Trimesh:
    out = m.to_mesh64()
    return trimesh.Trimesh(np.asarray(out.vert_properties)[:, :3], np.asarray(out.tri_verts, dtype=np.int64))


def _split(mesh: trimesh.Trimesh, normal: np.ndarray, offset: float) -> list[trimesh.Trimesh]:
    """Closed bodies on both sides of the plane ``normal . x = offset`` of a face (``normal`` outward).

    The plane is moved ``_CUT_EPS_M`` off the material: cut exactly in the face, the face would stay a
    flat sheet glued to the body on the other side.
    """
    above, below = _to_manifold(mesh).split_by_plane(
        tuple(float(c) for c in normal), float(offset) + _CUT_EPS_M
    )
    return [_to_trimesh(b) for part in (above, below) for b in part.decompose() if b.volume() > 1e-12]


def _cut_planes(mesh: trimesh.Trimesh) -> list[tuple[np.ndarray, float]]:
    """Planes of the largest flat faces that pass through the body (vertices on both sides)."""
    planes: list[tuple[np.ndarray, float]] = []
    if not len(mesh.facets):
        return planes
    order = np.argsort(-np.asarray(mesh.facets_area))
    for k in order:
        n = np.asarray(mesh.facets_normal[k], dtype=float)
        d = float(n @ mesh.facets_origin[k])
        if any(
            abs(n @ m) > 1 - 1e-6 and abs(d - float(np.sign(n @ m)) * e) < CONVEX_TOL_M for m, e in planes
        ):
            continue
        s = mesh.vertices @ n - d
        if s.max() > CONVEX_TOL_M and s.min() < -CONVEX_TOL_M:
            planes.append((n, d))
            if len(planes) >= CUT_CANDIDATES:
                break
    return planes


def _between_feature_planes(
    mesh: trimesh.Trimesh, known: list[tuple[np.ndarray, float]]
) -> list[tuple[np.ndarray, float]]:
    """Planes halfway between the body's concave features along the normals of its large flat faces.

    A feature is a connected set of faces inside the convex hull (a hole's wall and bottom, a pocket).
    Along a direction, the features' extents are merged where they overlap; each gap between them gives
    the plane at its middle (a cut there touches no feature), unless ``known`` has it already.
    """
    hull = mesh.convex_hull
    hn = np.asarray(hull.face_normals, dtype=float)
    hd = np.einsum("ij,ij->i", hn, hull.triangles[:, 0])
    depth = (hd[None, :] - mesh.triangles_center @ hn.T).min(axis=1)
    inside = depth > CONVEX_TOL_M
    if not inside.any() or not len(mesh.facets):
        return []
    adj = mesh.face_adjacency
    edges = adj[inside[adj[:, 0]] & inside[adj[:, 1]]]
    features = trimesh.graph.connected_components(edges, nodes=np.nonzero(inside)[0])
    if len(features) < 2:
        return []
    verts = [np.unique(mesh.faces[np.asarray(f, dtype=np.int64)]) for f in features]
    directions: list[np.ndarray] = []
    areas = np.asarray(mesh.facets_area)
    for k in np.argsort(-areas):
        if areas[k] < 0.1 * areas.max():  # a hole's facet, not a face of the part's outline
            break
        n = np.asarray(mesh.facets_normal[k], dtype=float)
        if all(abs(n @ m) < 1 - 1e-6 for m in directions):
            directions.append(n if n[int(np.argmax(np.abs(n)))] > 0 else -n)
            if len(directions) >= 6:
                break
    h_all = mesh.vertices @ np.asarray(directions).T
    out: list[tuple[np.ndarray, float]] = []
    for i, n in enumerate(directions):
        spans = sorted((float(h_all[v, i].min()), float(h_all[v, i].max())) for v in verts)
        reach = spans[0][1]
        for lo, hi in spans[1:]:
            if lo - reach > 2 * CONVEX_TOL_M:
                d = 0.5 * (lo + reach)
                if not any(
                    abs(n @ m) > 1 - 1e-6 and abs(d - float(np.sign(n @ m)) * e) < CONVEX_TOL_M
                    for m, e in known + out
                ):
                    out.append((n, d))
            reach = max(reach, hi)
    return out


def _prism_axis(mesh: trimesh.Trimesh) -> tuple[np.ndarray, float, float] | None:
    """``(axis, lo, hi)`` if ``mesh`` is a prism along ``axis`` between the planes ``lo`` and ``hi``."""
    if not len(mesh.facets):
        return None
    order = np.argsort(-np.asarray(mesh.facets_area))[:6]
    normals = np.asarray(mesh.face_normals, dtype=float)
    for k in order:
        a = np.asarray(mesh.facets_normal[k], dtype=float)
        dots = np.abs(normals @ a)
        if not np.all((dots > 1 - 1e-4) | (dots < 1e-4)):
            continue
        h = mesh.vertices @ a
        lo, hi = float(h.min()), float(h.max())
        if np.all((np.abs(h - lo) < 1e-7) | (np.abs(h - hi) < 1e-7)) and hi - lo > 1e-6:
            return a, lo, hi
    return None


def _prism_frame(axis: np.ndarray) -> np.ndarray:
    """Rotation whose rows are (u, v, axis): world -> prism frame."""
    seed = np.eye(3)[int(np.argmin(np.abs(axis)))]
    u = np.cross(axis, seed)
    u /= np.linalg.norm(u)
    return np.vstack([u, np.cross(axis, u), axis])


def _prism_pieces(
    mesh: trimesh.Trimesh, axis: np.ndarray, lo: float, hi: float
) -> list[trimesh.Trimesh] | None:
    R = _prism_frame(axis)
    local = trimesh.Trimesh(mesh.vertices @ R.T, mesh.faces, process=False)
    rings = _to_manifold(local).slice(0.5 * (lo + hi)).to_polygons()
    section = functools.reduce(
        lambda acc, g: acc.symmetric_difference(g),
        [Polygon(np.asarray(r, dtype=float)) for r in rings if len(r) >= 3],
        Polygon(),
    )
    section = section.simplify(HOLE_TOL_M, preserve_topology=True)
    polys = _polygons(section)
    # A piece borders at most one edge of a hole, so every hole costs pieces: with too many, the smallest
    # holes are filled (the least likely to be reached into), in proportion to the excess.
    holes = sorted((Polygon(r).area, i, j) for i, p in enumerate(polys) for j, r in enumerate(p.interiors))
    filled = 0
    while True:
        kept = {(i, j) for _, i, j in holes[filled:]}
        shapes = [
            Polygon(p.exterior, [r for j, r in enumerate(p.interiors) if (i, j) in kept])
            for i, p in enumerate(polys)
        ]
        convex_2d = [piece for poly in shapes for piece in convex_partition(poly)]
        if len(convex_2d) <= MAX_PIECES or filled >= len(holes):
            break
        filled += max(1, int(np.ceil(len(kept) * (1 - MAX_PIECES / len(convex_2d)))))
    if not convex_2d or len(convex_2d) > MAX_PIECES:
        return None
    out: list[trimesh.Trimesh] = []
    for piece in convex_2d:
        xy = np.asarray(piece.exterior.coords, dtype=float)[:-1]
        pts = np.vstack([np.column_stack([xy, np.full(len(xy), z)]) for z in (lo, hi)])
        out.append(trimesh.convex.convex_hull(pts @ R))
    return out


def _polygons(g: shapely.Geometry) -> list[Polygon]:
    if isinstance(g, Polygon):
        return [g] if g.area > 0 else []
    if isinstance(g, MultiPolygon):
        return [p for p in g.geoms if p.area > 0]
    return [p for p in getattr(g, "geoms", []) if isinstance(p, Polygon) and p.area > 0]


def convex_partition(poly: Polygon) -> list[Polygon]:
    """Convex polygons whose union is ``poly`` (holes allowed): constrained Delaunay + Hertel-Mehlhorn.

    Triangles are merged across their shared edges, longest edge first, while the union stays convex.
    """
    tris = [t for t in shapely.constrained_delaunay_triangles(poly).geoms if t.area > 0]
    pieces: dict[int, Polygon] = dict(enumerate(tris))

    def key(p: tuple[float, ...]) -> tuple[float, float]:
        return (round(p[0], 12), round(p[1], 12))

    edges: dict[tuple[tuple[float, float], tuple[float, float]], set[int]] = {}
    for i, t in pieces.items():
        c = list(t.exterior.coords)[:3]
        for a, b in ((c[0], c[1]), (c[1], c[2]), (c[2], c[0])):
            ka, kb = key(a), key(b)
            edges.setdefault((min(ka, kb), max(ka, kb)), set()).add(i)
    owner = {i: i for i in pieces}

    def find(i: int) -> int:
        while owner[i] != i:
            owner[i] = owner[owner[i]]
            i = owner[i]
        return i

    shared = [(e, ids) for e, ids in edges.items() if len(ids) == 2]
    shared.sort(
        key=lambda item: -float(np.hypot(item[0][0][0] - item[0][1][0], item[0][0][1] - item[0][1][1]))
    )
    merged = True
    while merged:
        merged = False
        for _, ids in shared:
            i, j = (find(x) for x in ids)
            if i == j:
                continue
            u = pieces[i].union(pieces[j])
            if isinstance(u, Polygon) and u.area >= u.convex_hull.area * (1 - 1e-9):
                pieces[i] = u
                del pieces[j]
                owner[j] = i
                merged = True
    return list(pieces.values())


def _vhacd(mesh: trimesh.Trimesh) -> list[trimesh.Trimesh]:
    raw = trimesh.decomposition.convex_decomposition(mesh, **VHACD_PARAMS)
    if isinstance(raw, dict):
        raw = [raw]
    return [trimesh.Trimesh(np.asarray(p["vertices"]), np.asarray(p["faces"])) for p in raw]
