"""A generated set of novel parts for the grasp benchmark (``flexcell bench grasp``), by our own procedure.

:func:`make_objects` gives ``n`` objects, deterministic per ``seed``, cycling over five families:

``blocks``   a random union of 2-4 primitives (boxes, cylinders, spheres, capsules), united into one solid
``shells``   the same kind of union written as its overlapping primitives, one closed shell each, never
             united (as exported and scanned meshes often come: the importer unites them)
``prism``    an extrusion of a random star-shaped polygon, sometimes tapered, sometimes drilled through
``revolve``  a revolve of a random stepped / sloped profile, sometimes bored (bushes, knobs, flanges)
``bracket``  an L, T, U or Z profile extruded, with holes, sometimes with bosses as extra shells

Some prisms and revolves get an overlapping knob or boss as a shell of its own, too. Every object is scaled
so that its largest extent is a random size in 15-90 mm, and half of them are turned to a random
orientation (a file's frame says nothing about how a part lies). Meshes are in metres; :func:`write_stl`
writes them in millimetres, as CAD tools export STL.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import manifold3d
import numpy as np
import trimesh
from scipy.spatial.transform import Rotation

FAMILIES = ("blocks", "shells", "prism", "revolve", "bracket")
SIZE_RANGE_MM = (15.0, 90.0)
MIN_WALL_MM = 2.0


def _rng(seed: int, i: int) -> np.random.Generator:
    """The object's own generator: object ``i`` does not change when ``n`` does."""
    return np.random.default_rng([seed, i, 7])


def _to_manifold(m: trimesh.Trimesh) -> manifold3d.Manifold:
    mesh = manifold3d.Mesh(
        vert_properties=np.ascontiguousarray(m.vertices, dtype=np.float32),
        tri_verts=np.ascontiguousarray(m.faces, dtype=np.uint32),
    )
    return manifold3d.Manifold(mesh)


def _from_manifold(m: manifold3d.Manifold) -> trimesh.Trimesh:
    out = m.to_mesh()
    v = np.asarray(out.vert_properties, dtype=float)[:, :3]
    f = np.asarray(out.tri_verts, dtype=np.int64)
    return trimesh.Trimesh(v, f, process=True)


def _pose(rng: np.random.Generator, centre: np.ndarray, free: bool) -> np.ndarray:
    """A pose at ``centre``: a random rotation (``free``) or one of the axis-aligned ones."""
    T = np.eye(4)
    if free:
        T[:3, :3] = Rotation.random(random_state=rng).as_matrix()
    else:
        T[:3, :3] = Rotation.from_euler("xyz", rng.integers(0, 4, 3) * 90.0, degrees=True).as_matrix()
    T[:3, 3] = centre
    return T


def _primitive(rng: np.random.Generator, scale_mm: float) -> trimesh.Trimesh:
    """One box, cylinder, sphere or capsule about the origin, about ``scale_mm`` across."""
    kind = rng.choice(["box", "cylinder", "sphere", "capsule"], p=[0.35, 0.3, 0.15, 0.2])
    s = scale_mm
    if kind == "box":
        return trimesh.creation.box(extents=rng.uniform(0.25, 1.0, 3) * s)
    if kind == "cylinder":
        return trimesh.creation.cylinder(
            radius=rng.uniform(0.12, 0.45) * s, height=rng.uniform(0.2, 1.0) * s, sections=40
        )
    if kind == "sphere":
        return trimesh.creation.icosphere(subdivisions=3, radius=rng.uniform(0.2, 0.45) * s)
    r = rng.uniform(0.1, 0.3) * s
    return trimesh.creation.capsule(height=rng.uniform(0.3, 0.8) * s, radius=r, count=[24, 24])


def _union_pieces(rng: np.random.Generator) -> list[trimesh.Trimesh]:
    """2-4 primitives, each centred inside an earlier one, so that they overlap into one body."""
    pieces: list[trimesh.Trimesh] = []
    n = int(rng.integers(2, 5))
    for k in range(n):
        p = _primitive(rng, 40.0)
        if k == 0:
            centre = np.zeros(3)
        else:
            host = pieces[int(rng.integers(0, k))]
            corner = host.vertices[int(rng.integers(0, len(host.vertices)))]
            centre = host.centroid + rng.uniform(0.3, 0.75) * (corner - host.centroid)
        p.apply_transform(_pose(rng, centre, free=bool(rng.random() < 0.4)))
        pieces.append(p)
    return pieces


def _star_polygon(rng: np.random.Generator, radius: float, n_min: int = 5, n_max: int = 11) -> np.ndarray:
    """A random simple polygon, star-shaped about the origin (concave corners included), CCW."""
    n = int(rng.integers(n_min, n_max + 1))
    gaps = rng.uniform(0.5, 1.5, n)
    ang = np.cumsum(gaps / gaps.sum() * 2 * np.pi) + rng.uniform(0, 2 * np.pi)
    r = radius * rng.uniform(0.45, 1.0, n)
    if rng.random() < 0.4:  # a regular-ish outline (hex bar, cam): more even radii
        r = radius * rng.uniform(0.85, 1.0, n)
    return np.column_stack([r * np.cos(ang), r * np.sin(ang)])


def _boss(rng: np.random.Generator, body: trimesh.Trimesh) -> trimesh.Trimesh:
    """A cylinder or box sunk half into a face of ``body``'s box (a knob or boss as a separate shell)."""
    lo, hi = body.bounds
    ext = hi - lo
    axis = int(rng.integers(0, 3))
    side = float(rng.choice([-1.0, 1.0]))
    d = float(np.clip(rng.uniform(0.25, 0.5) * np.sort(ext)[1], 5.0, None))
    h = float(rng.uniform(0.3, 0.6) * np.max(ext))
    boss = (
        trimesh.creation.cylinder(radius=d / 2, height=h, sections=32)
        if rng.random() < 0.6
        else trimesh.creation.box(extents=[d, d, h])
    )
    R = np.eye(4)
    if axis != 2:
        R[:3, :3] = Rotation.from_euler("y" if axis == 0 else "x", 90.0, degrees=True).as_matrix()
    boss.apply_transform(R)
    # Centre the boss on a point of that face, inside the body's outline (a body vertex pulled inward).
    centre = body.centroid.copy()
    face = lo[axis] if side < 0 else hi[axis]
    near = body.vertices[np.abs(body.vertices[:, axis] - face) < 1e-6 + 0.02 * ext[axis]]
    if len(near):
        v = near[int(rng.integers(0, len(near)))]
        centre = centre + rng.uniform(0.0, 0.5) * (v - centre)
    centre[axis] = face  # half in, half out
    boss.apply_translation(centre)
    return boss


def _drill(solid: manifold3d.Manifold, pts: np.ndarray, h: float, r_in: float) -> manifold3d.Manifold:
    """Through holes along z at a few points whose distance to the outline leaves a wall."""
    holes = []
    for p in pts:
        cyl = trimesh.creation.cylinder(radius=r_in, height=h * 3, sections=24)
        cyl.apply_translation([p[0], p[1], h / 2])
        holes.append(_to_manifold(cyl))
    if not holes:
        return solid
    return solid - manifold3d.Manifold.batch_boolean(holes, manifold3d.OpType.Add)


def _prism(rng: np.random.Generator) -> list[trimesh.Trimesh]:
    R = 20.0
    poly = _star_polygon(rng, R)
    h = float(rng.uniform(0.15, 1.6) * R)
    taper = float(rng.uniform(0.6, 1.0)) if rng.random() < 0.3 else 1.0
    solid = manifold3d.CrossSection([poly]).extrude(h, scale_top=(taper, taper))
    if rng.random() < 0.4:  # a bore through the middle, as far from the outline as the wall allows
        r_min = float(np.min(np.linalg.norm(poly, axis=1))) * taper
        r_in = rng.uniform(0.2, 0.5) * r_min
        if r_min - r_in > MIN_WALL_MM * 1.5:
            solid = _drill(solid, np.zeros((1, 2)), h, r_in)
    body = _from_manifold(solid)
    return [body, _boss(rng, body)] if rng.random() < 0.3 else [body]


def _revolve(rng: np.random.Generator) -> list[trimesh.Trimesh]:
    H = float(rng.uniform(10.0, 60.0))
    n = int(rng.integers(2, 6))
    z = np.sort(rng.uniform(0.0, H, n - 1))
    z = np.concatenate([[0.0], z, [H]])
    r = rng.uniform(5.0, 22.0, n + 1)
    bore = 0.0
    if rng.random() < 0.45:  # a bush or a sleeve: leave a wall of at least MIN_WALL_MM
        bore = float(rng.uniform(0.25, 0.7) * (np.min(r) - MIN_WALL_MM))
    outer = []
    for k in range(n):
        if rng.random() < 0.5:  # a step: a flange or a shoulder
            outer += [(r[k], z[k]), (r[k], z[k + 1])]
        else:  # a slope: a cone, a chamfer, a knob
            outer += [(r[k], z[k]), (r[k + 1], z[k + 1])]
    prof = [(bore, 0.0), *outer, (bore, H)]
    pts = np.array(prof, dtype=float)
    keep = np.ones(len(pts), bool)
    keep[1:] = np.linalg.norm(np.diff(pts, axis=0), axis=1) > 0.2  # repeated points
    pts = pts[keep]
    cs = manifold3d.CrossSection([pts])
    if cs.area() < 0:
        cs = manifold3d.CrossSection([pts[::-1]])
    body = _from_manifold(cs.revolve(circular_segments=48))
    return [body, _boss(rng, body)] if rng.random() < 0.3 else [body]


def _bracket(rng: np.random.Generator) -> list[trimesh.Trimesh]:
    t = float(rng.uniform(3.0, 8.0))  # sheet thickness
    a, b = rng.uniform(15.0, 45.0, 2)
    shape = rng.choice(["L", "T", "U", "Z"])
    if shape == "L":
        poly = [(0, 0), (a, 0), (a, t), (t, t), (t, b), (0, b)]
    elif shape == "T":
        poly = [(0, 0), (a, 0), (a, t), (a / 2 + t / 2, t), (a / 2 + t / 2, b), (a / 2 - t / 2, b)]
        poly += [(a / 2 - t / 2, t), (0, t)]
    elif shape == "U":
        poly = [(0, 0), (a, 0), (a, b), (a - t, b), (a - t, t), (t, t), (t, b), (0, b)]
    else:
        a = float(rng.uniform(10.0, 30.0))  # the base flange is the hole's
        poly = [(0, 0), (a, 0), (a, t), (t, t), (t, b), (-a + t, b), (-a + t, b - t), (0, b - t)]
    w = float(rng.uniform(8.0, 40.0))
    solid = manifold3d.CrossSection([np.array(poly, dtype=float)]).extrude(w)
    if rng.random() < 0.6 and w > 4 * MIN_WALL_MM + 4:  # holes through the base flange
        r_in = float(rng.uniform(1.5, min(5.0, w / 2 - MIN_WALL_MM - 1)))
        x = float(rng.uniform(0.55, 0.8) * a)
        hole = trimesh.creation.cylinder(radius=r_in, height=4 * t + 2, sections=24)
        hole.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [1, 0, 0], point=[0, 0, 0]))
        hole.apply_translation([x, t / 2, w / 2])
        solid = solid - _to_manifold(hole)
    body = _from_manifold(solid)
    if rng.random() < 0.5:
        return [body, _boss(rng, body)]
    return [body]


def _blocks(rng: np.random.Generator) -> list[trimesh.Trimesh]:
    pieces = _union_pieces(rng)
    u = manifold3d.Manifold.batch_boolean([_to_manifold(p) for p in pieces], manifold3d.OpType.Add)
    return [_from_manifold(u)]


def _shells(rng: np.random.Generator) -> list[trimesh.Trimesh]:
    return _union_pieces(rng)


MAKERS: dict[str, Callable[[np.random.Generator], list[trimesh.Trimesh]]] = {
    "blocks": _blocks,
    "shells": _shells,
    "prism": _prism,
    "revolve": _revolve,
    "bracket": _bracket,
}


def _one_body(pieces: list[trimesh.Trimesh]) -> bool:
    """Whether the pieces overlap into one solid (so the importer's union gives one part)."""
    u = manifold3d.Manifold.batch_boolean([_to_manifold(p) for p in pieces], manifold3d.OpType.Add)
    return len(u.decompose()) == 1 and u.volume() > 0


def make_object(i: int, seed: int = 0) -> tuple[str, trimesh.Trimesh]:
    """Object ``i`` of the set of ``seed``: ``(name, mesh in metres)``; the mesh may hold several shells."""
    family = FAMILIES[i % len(FAMILIES)]
    rng = _rng(seed, i)
    pieces = MAKERS[family](rng)
    for _ in range(20):  # a rare draw falls apart into two bodies: draw again (still deterministic)
        if _one_body(pieces):
            break
        pieces = MAKERS[family](rng)
    else:
        raise RuntimeError(f"object {i} of seed {seed}: no single body in 20 draws")
    mesh = trimesh.util.concatenate(pieces)
    assert isinstance(mesh, trimesh.Trimesh)
    size = float(rng.uniform(*SIZE_RANGE_MM))
    T = np.eye(4)
    if rng.random() < 0.5:
        T[:3, :3] = Rotation.random(random_state=rng).as_matrix()
    mesh.apply_transform(T)
    mesh.apply_translation(-mesh.bounds.mean(axis=0) + rng.uniform(-20.0, 20.0, 3))
    mesh.apply_scale(size / float(np.max(mesh.extents)) * 1e-3)
    return f"{family}_{i:02d}", mesh


def make_objects(n: int = 60, seed: int = 0) -> list[tuple[str, trimesh.Trimesh]]:
    """``n`` novel objects, ``(name, mesh in metres)`` each, the same for the same ``seed``."""
    return [make_object(i, seed) for i in range(n)]


def shell_count(mesh: trimesh.Trimesh) -> int:
    """Number of separate shells (connected pieces) of a mesh."""
    return len(mesh.split(only_watertight=False))


def write_stl(mesh: trimesh.Trimesh, path: Path | str) -> Path:
    """Write a metre mesh as a binary STL in millimetres (how CAD tools export parts)."""
    p = Path(path)
    m = mesh.copy()
    m.apply_scale(1000.0)
    data = m.export(file_type="stl")
    assert isinstance(data, bytes)
    p.write_bytes(data)
    return p


def write_kit(vdir: Path | str, name: str, mesh: trimesh.Trimesh, slot: str = "A1") -> Path:
    """A kit variant directory with one part, ``obj`` from ``obj.stl`` (mm), from the feeder to ``slot``."""
    d = Path(vdir)
    d.mkdir(parents=True, exist_ok=True)
    write_stl(mesh, d / "obj.stl")
    (d / "variant.yaml").write_text(
        f"# Generated object {name} (workflow_gen.object_set).\n"
        f"name: {name}\n"
        "parts:\n"
        f"  - {{name: obj, cad: obj.stl, units: mm, source: feeder, target: {slot}}}\n"
    )
    return d
