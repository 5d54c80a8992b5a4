"""Test CAD files written in the habits of real CAD exports (build123d for STEP, trimesh for STL/OBJ).

Real assemblies from SolidWorks, Fusion 360, FreeCAD, Onshape and code-CAD tools differ from the
clean examples in ``cad_parts/``: they are drawn Y-up or lying on their side, off the origin, some
exporters write every B-rep face of a part as a shape of its own, their meshes overlap or carry duplicate
and internal faces, and their names are ``NAUO12``, ``Body``, ``Name:1`` or nothing. Each writer below
makes one of those habits on a small product whose true geometry is known (dimensions in millimetres,
build123d's unit; STEP files carry it, so they load in metres).

The reference product (:func:`product_shapes`), z up with the plate's bottom centre at the origin::

    plate      100 x 60 x 15 box
    block_1/2   20 x 40 x 30 boxes on the plate at x = +-30
    pin          r 6 x 36 cylinder on block_1
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import trimesh
from build123d import Align, Box, Compound, Cylinder, Location, Pos, Shape, export_step

BOTTOM = (Align.CENTER, Align.CENTER, Align.MIN)
PLATE_MM = (100.0, 60.0, 15.0)
BLOCK_MM = (20.0, 40.0, 30.0)
PIN_R_MM, PIN_H_MM = 6.0, 36.0
HOUSING_MM = (40.0, 30.0, 20.0)
HOUSING_HOLE_R_MM = 6.0


def product_shapes() -> dict[str, Shape]:
    """The reference product's parts, z up, plate bottom centre at the origin (millimetres)."""
    t = PLATE_MM[2]
    block = Box(*BLOCK_MM, align=BOTTOM)
    return {
        "plate": Box(*PLATE_MM, align=BOTTOM),
        # The same solid twice: two placements of one part (instances in the STEP tree).
        "block_1": block.moved(Location((30, 0, t))),
        "block_2": block.moved(Location((-30, 0, t))),
        "pin": Cylinder(PIN_R_MM, PIN_H_MM, align=BOTTOM).moved(Location((30, 0, t + BLOCK_MM[2]))),
    }


def write_assembly(
    path: Path,
    shapes: dict[str, Shape],
    rpy_deg: tuple[float, float, float] = (0.0, 0.0, 0.0),
    offset_mm: tuple[float, float, float] = (0.0, 0.0, 0.0),
    label: str = "product",
) -> Path:
    """Write ``shapes`` (label -> shape) as one STEP assembly, all turned by ``rpy_deg`` then moved.

    The rotation is applied about the origin (xyz extrinsic, as build123d's ``Location`` orientation).
    """
    loc = Location(offset_mm, rpy_deg)
    children = []
    for name, shape in shapes.items():
        s = shape.moved(loc)
        s.label = name
        children.append(s)
    export_step(Compound(children=children, label=label), str(path))
    return path


def write_y_up_assembly(path: Path) -> Path:
    """The reference product drawn Y-up (SolidWorks/Onshape habit): its up is CAD +y, off the origin."""
    # Rx(-90 deg) turns z to +y.
    return write_assembly(path, product_shapes(), rpy_deg=(-90.0, 0.0, 0.0), offset_mm=(12.0, -40.0, 250.0))


def write_side_lying_assembly(path: Path) -> Path:
    """The reference product lying on its side: its up is CAD -x (Ry(-90 deg) turns z to -x)."""
    return write_assembly(path, product_shapes(), rpy_deg=(0.0, -90.0, 0.0), offset_mm=(300.0, 20.0, 5.0))


def write_treeless_assembly(path: Path) -> Path:
    """The reference product as one shape holding all solids: no assembly tree, no names."""
    export_step(Compound(list(product_shapes().values())), str(path))
    return path


def housing_shape() -> Shape:
    """A 40 x 30 x 20 mm box with a r 6 mm through hole along z, bottom at z = 0 (volume known exactly)."""
    return Box(*HOUSING_MM, align=BOTTOM) - Cylinder(HOUSING_HOLE_R_MM, HOUSING_MM[2], align=BOTTOM)


def housing_volume_m3() -> float:
    x, y, z = HOUSING_MM
    return (x * y * z - np.pi * HOUSING_HOLE_R_MM**2 * z) * 1e-9


def write_split_face_assembly(path: Path, face_label: str = "") -> Path:
    """An assembly whose housing is written one B-rep face per shape (a compound of its faces).

    The housing stands on a plate (a clean solid). Its faces carry ``face_label`` (the exporters doing
    this leave them unnamed, which reads as OCAF entries ``=>[0:1:1:5]``); their compound is "housing".
    """
    faces = list(housing_shape().moved(Location((0, 0, PLATE_MM[2]))).faces())
    for f in faces:
        f.label = face_label
    housing = Compound(children=faces, label="housing")
    plate = Box(*PLATE_MM, align=BOTTOM)
    plate.label = "plate"
    export_step(Compound(children=[plate, housing], label="split_faces"), str(path))
    return path


def write_stacked_split_face_assembly(path: Path) -> Path:
    """Two 40 x 30 x 20 mm boxes, one on the other with the same outline, each written face by face.

    Their faces touch along the whole shared outline, so only the body-by-body pairing of the faces at
    those edges tells the two parts apart.
    """
    children = []
    for name, z in (("lower", 0.0), ("upper", 20.0)):
        faces = list((Pos(0, 0, z) * Box(40, 30, 20, align=BOTTOM)).faces())
        for f in faces:
            f.label = ""
        children.append(Compound(children=faces, label=name))
    export_step(Compound(children=children, label="stack"), str(path))
    return path


GENERIC_LABELS = ("NAUO12", "Body", "Name:1", "", "3f2a9c1e-0b7d-4c1a-9e2f-1234567890ab")


def write_generic_names_assembly(path: Path) -> Path:
    """Parts named like real exports: NAUO ids, ``Body``, ``Name:1``, nothing, a UUID, Fusion sub-assemblies.

    Five 10 mm cubes on a row carry :data:`GENERIC_LABELS`; two components "Bracket:1" and "Bracket:2"
    hold one body each, both called "Body1" (Fusion 360 names bodies per component).
    """
    children: list[Shape] = []
    for i, lab in enumerate(GENERIC_LABELS):
        c = Pos(20.0 * i, 0, 0) * Box(10, 10, 10, align=BOTTOM)
        c.label = lab
        children.append(c)
    for k in (1, 2):
        body = Pos(20.0 * k, 40, 0) * Box(10, 10, 10, align=BOTTOM)
        body.label = "Body1"
        children.append(Compound(children=[body], label=f"Bracket:{k}"))
    export_step(Compound(children=children, label=""), str(path))
    return path


def box_mm(
    extents: tuple[float, float, float], at: tuple[float, float, float] = (0, 0, 0)
) -> trimesh.Trimesh:
    m = trimesh.creation.box(extents=extents)
    m.apply_translation(at)
    return m


def overlapping_shells_mesh() -> tuple[trimesh.Trimesh, float]:
    """Mesh (mm) as STL/OBJ exports of multi-body parts come: overlapping bodies, duplicates, an inner sheet.

    Two 40 x 30 x 20 boxes overlapping by half, a 5 mm cube fully inside the first, every face of the
    second body written twice, and a 10 x 10 internal sheet inside the first. Returns (mesh, the volume
    of the solid they describe in mm^3).
    """
    a = box_mm((40, 30, 20))
    b = box_mm((40, 30, 20), at=(20, 0, 0))
    inner = box_mm((5, 5, 5), at=(-5, 0, 0))
    dup_b = trimesh.Trimesh(b.vertices, np.vstack([b.faces, b.faces]), process=False)
    sheet = trimesh.Trimesh(
        [[-12, -5, 0], [-2, -5, 0], [-2, 5, 0], [-12, 5, 0]], [[0, 1, 2], [0, 2, 3]], process=False
    )
    mesh = trimesh.util.concatenate([a, dup_b, inner, sheet])
    assert isinstance(mesh, trimesh.Trimesh)
    return mesh, 60.0 * 30.0 * 20.0


def gapped_box_mesh(gap_mm: float = 10.0) -> trimesh.Trimesh:
    """A 40 x 40 x 20 mm box whose top has a real square opening ``gap_mm`` wide (a missing patch).

    The box is subdivided into 2.5 mm cells, so ``gap_mm`` should be a multiple of 5 mm.
    """
    box = trimesh.creation.box(extents=(40, 40, 20))
    for _ in range(4):  # 16 cells a side: the opening is some faces, not half the top
        box = box.subdivide()
    tri = box.triangles
    half = gap_mm / 2 + 1e-6
    hole = np.all(tri[:, :, 2] > 9.99, axis=1) & np.all(np.abs(tri[:, :, :2]) <= half, axis=(1, 2))
    return trimesh.Trimesh(box.vertices, box.faces[~hole])


def per_face_soup(mesh: trimesh.Trimesh, jitter: float = 0.0, seed: int = 0) -> trimesh.Trimesh:
    """Every triangle with its own vertices (STL soups, B-rep face seams), jittered by up to ``jitter``.

    ``jitter`` is in the mesh's unit: seams of tessellators are a few micrometres.
    """
    v = mesh.vertices[mesh.faces].reshape(-1, 3)
    if jitter:
        v = v + np.random.default_rng(seed).uniform(-jitter, jitter, v.shape)
    return trimesh.Trimesh(v, np.arange(len(v)).reshape(-1, 3), process=False)


def write_variant(d: Path, yaml_text: str) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    (d / "variant.yaml").write_text(yaml_text)
    return d
