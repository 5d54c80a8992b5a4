"""A held-out corpus of assemblies written the way real CAD exports are, for the workflow generator.

``make_corpus(out_dir, seed)`` writes one variant directory per assembly (``product.step`` +
``variant.yaml``, assembly form, the STEP frame = the fixture frame) and an ``expected.json`` beside
them: the intended answer per part, for scoring a generator, never read by the planner:

* keys: the node names trimesh gives (repeated labels get ``_1``, ``_2``...); a reader that renames
  generic names can match parts by ``centre_m``, the centre of the part's bounding box in the STEP
  frame (metres);
* ``order``: place in a feasible assembly sequence (1 = first; the parts of a sub-assembly share it);
* ``insert_dir``: unit direction the part moves in for its final insertion, in the STEP frame;
* ``fastener``: a bolt, screw, nut, washer or threaded standoff;
* ``worker``: the step needs the operator (threading a fastener, a base too large for the 85 mm
  gripper, holding a part against a vertical face until it is screwed), with ``why``.

Habits of real exports that the examples in ``cad_parts`` do not have:

* a product drawn Y-up (``yup_pillow_block``: gravity along -y of the STEP frame; nothing in
  variant.yaml says so, as nothing in a real export does);
* a product lying on its side, assembled along a horizontal axis (``side_lying_canister``);
* node names as exporters write them: SolidWorks ``Pillow Block-1`` and Toolbox ``ISO 4762 M6 x 25 ---
  25N-1``, Inventor ``End Cap:2``, Fusion's repeated ``Standoff`` (trimesh makes ``Standoff_1``...),
  bare ``NAUO7`` (the STEP occurrence ids, no names), all ``Body``, ``Part12``;
* fasteners named by their standard (``DIN 912 M5x16``) or not named at all (``NAUO``, ``Part``);
* a bearing as a nested sub-assembly (``6204-2RS`` of two rings) that goes on as one unit;
* tapped holes drawn at the nominal diameter, a bearing bore equal to its shaft (coincident faces),
  clearance holes 1 mm over the nominal diameter, parts that hang in clearance holes resting on
  their bottoms.

The seed only changes dimensions within realistic ranges (rounded to 0.5 mm); topology, names and
order stay. Same seed, same bytes (the STEP header's timestamp is fixed).

Run: ``python benchmarks/realcad_corpus.py OUT_DIR [--seed N]``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import trimesh
from build123d import (
    Align,
    Box,
    Compound,
    Cylinder,
    Location,
    Plane,
    Pos,
    RegularPolygon,
    Rot,
    Solid,
    export_step,
    extrude,
)
from build123d.topology import Shape
from OCP.BRepBuilderAPI import BRepBuilderAPI_Transform

T = TypeVar("T")

STEP_TIMESTAMP = "2026-12-03T00:00:00"
BOTTOM = (Align.CENTER, Align.CENTER, Align.MIN)
TOP = (Align.CENTER, Align.CENTER, Align.MAX)
CLEAR = 0.5  # radial clearance of a through hole around its bolt, pin or shaft (mm)
COS30 = math.cos(math.radians(30))
TO_X = Rot(0, 90, 0)  # a local +z axis onto +x
TO_Y = Rot(-90, 0, 0)  # a local +z axis onto +y

# Metric coarse fastener sizes: d -> across flats (hex head / nut), hex head height, nut height,
# socket head diameter, socket head height, washer outer diameter, washer thickness.
ISO = {
    3: dict(s=5.5, k=2.0, m=2.4, dk=5.5, ks=3.0, dw=7.0, hw=0.5),
    4: dict(s=7.0, k=2.8, m=3.2, dk=7.0, ks=4.0, dw=9.0, hw=0.8),
    5: dict(s=8.0, k=3.5, m=4.7, dk=8.5, ks=5.0, dw=10.0, hw=1.0),
    6: dict(s=10.0, k=4.0, m=5.2, dk=10.0, ks=6.0, dw=12.0, hw=1.6),
    8: dict(s=13.0, k=5.3, m=6.8, dk=13.0, ks=8.0, dw=16.0, hw=1.6),
    12: dict(s=18.0, k=7.5, m=10.8, dk=18.0, ks=12.0, dw=24.0, hw=2.5),
}
DOWN, UP = (0.0, 0.0, -1.0), (0.0, 0.0, 1.0)
PX, NX, PY, NY = (1.0, 0.0, 0.0), (-1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, -1.0, 0.0)


# ---------------------------------------------------------------------------------------------------
# Shapes (mm; each in its own part frame, as a CAD part file would have it)


def hex_prism(across_flats: float, height: float) -> Shape:
    return extrude(RegularPolygon(across_flats / 2 / COS30, 6), amount=height)


def hex_bolt(d: int, length: float) -> Shape:
    """ISO 4017 hex head bolt; origin at the head's underside, shank along -z."""
    return hex_prism(ISO[d]["s"], ISO[d]["k"]) + Cylinder(d / 2, length, align=TOP)


def socket_screw(d: int, length: float) -> Shape:
    """DIN 912 / ISO 4762 socket head cap screw with its hex socket; origin at the head's underside."""
    f = ISO[d]
    head = Cylinder(f["dk"] / 2, f["ks"], align=BOTTOM)
    socket = Pos(0, 0, f["ks"] / 2) * hex_prism(d * 0.8, f["ks"] / 2)
    return head - socket + Cylinder(d / 2, length, align=TOP)


def countersunk_screw(d: int, length: float) -> Shape:
    """DIN 7991 countersunk screw (90 deg head); origin at the head's top face, shank along -z.

    ``length`` is the overall length, head included, as the standard counts it.
    """
    dk = 2 * d
    head_h = (dk - d) / 2
    head = Solid.make_cone(d / 2, dk / 2, head_h, Plane.XY.offset(-head_h))
    return head + Pos(0, 0, -head_h) * Cylinder(d / 2, length - head_h, align=TOP)


def hex_nut(d: int) -> Shape:
    """ISO 4032 hex nut; bore = nominal thread diameter; origin at the bottom face."""
    f = ISO[d]
    return hex_prism(f["s"], f["m"]) - Cylinder(d / 2, f["m"], align=BOTTOM)


def washer(d: int) -> Shape:
    """ISO 7089 plain washer; origin at the bottom face."""
    f = ISO[d]
    return Cylinder(f["dw"] / 2, f["hw"], align=BOTTOM) - Cylinder(d / 2 + 0.2, f["hw"], align=BOTTOM)


def tube(od: float, id_: float, length: float) -> Shape:
    return Cylinder(od / 2, length, align=BOTTOM) - Cylinder(id_ / 2, length, align=BOTTOM)


def holes(shape: Shape, xys: list[tuple[float, float]], d: float, depth: float, z_top: float) -> Shape:
    """Drill vertical holes of diameter ``d`` down from ``z_top``, ``depth`` deep."""
    for x, y in xys:
        shape -= Pos(x, y, z_top) * Cylinder(d / 2, depth, align=TOP)
    return shape


def circle_pts(n: int, radius: float, phase_deg: float = 45.0) -> list[tuple[float, float]]:
    return [
        (
            radius * math.cos(math.radians(phase_deg + 360 * i / n)),
            radius * math.sin(math.radians(phase_deg + 360 * i / n)),
        )
        for i in range(n)
    ]


def bake(shape: Shape, loc: Location) -> Shape:
    """``shape`` with ``loc`` applied to its geometry (a part drawn in place, identity placement)."""
    out = BRepBuilderAPI_Transform(shape.wrapped, loc.wrapped.Transformation(), True).Shape()
    return Shape.cast(out)


def std_len(x: float) -> int:
    """The next standard screw length at or above ``x`` (mm)."""
    for n in (6, 8, 10, 12, 16, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 80, 90, 100):
        if n >= x - 1e-9:
            return n
    raise ValueError(f"no standard length for {x}")


# ---------------------------------------------------------------------------------------------------
# Assembly records


@dataclass
class Part:
    """One placed part (or sub-assembly, with ``children``) and its intended answer."""

    label: str
    shape: Shape | None
    loc: Location
    insert_dir: tuple[float, float, float] = DOWN
    fastener: bool = False
    worker: bool = False
    why: str = ""
    children: list[Part] = field(default_factory=list)


@dataclass
class Product:
    name: str
    comment: str
    parts: list[Part]
    up: str = "z"  # "y": the product is drawn Y-up (geometry and placements turned about x)
    notes: list[str] = field(default_factory=list)


def r05(x: float) -> float:
    """Round to 0.5 mm, as a designer would dimension it."""
    return round(x * 2) / 2


class Dims:
    """Seeded dimensions: ``dims.u(lo, hi)`` a value in [lo, hi] rounded to 0.5 mm."""

    def __init__(self, seed: int, name: str) -> None:
        self.rng = random.Random(f"{seed}:{name}")

    def u(self, lo: float, hi: float) -> float:
        return r05(self.rng.uniform(lo, hi))

    def pick(self, options: list[T]) -> T:
        return options[self.rng.randrange(len(options))]


# ---------------------------------------------------------------------------------------------------
# The products


def yup_pillow_block(seed: int) -> Product:
    """Plate, two pillow blocks bolted down (socket screws into tapped holes), a shaft, two collars.

    Built Z-up here, written Y-up: every part's geometry and placement are turned -90 deg about x.
    """
    g = Dims(seed, "yup_pillow_block")
    plate_l, plate_w, plate_t = g.u(150, 180), g.u(88, 100), g.u(12, 15)
    shaft_d = float(g.pick([12, 16, 20]))
    blk_w, blk_d = g.u(30, 36), g.u(50, 60)  # along the shaft (y), across it (x)
    blk_h = g.u(38, 46)
    axis_h = r05(blk_h * 0.55)
    gap = g.u(50, 70)  # between the blocks' inner faces
    screw_d = 6
    foot_t = g.u(10, 14)  # block material under the counterbores
    screw_l = std_len(foot_t + 8)
    plate_t = max(plate_t, screw_l - foot_t + 1.0)  # tapped through the plate; the tip stays inside
    # Pillow block: a block with a bore along y, two counterbored screw holes beside the bore.
    block = Box(blk_d, blk_w, blk_h, align=BOTTOM)
    block -= Pos(0, 0, axis_h) * TO_Y * Cylinder(shaft_d / 2 + CLEAR, blk_w + 2)
    screw_x = blk_d / 2 - 7.5
    for sx in (1, -1):
        block -= Pos(sx * screw_x, 0, foot_t) * Cylinder(ISO[6]["dk"] / 2 + 0.5, blk_h, align=BOTTOM)
    block = holes(block, [(screw_x, 0), (-screw_x, 0)], screw_d + 2 * CLEAR, foot_t, foot_t)
    block_y = gap / 2 + blk_w / 2
    plate = Box(plate_w, plate_l, plate_t, align=BOTTOM)  # long along the shaft (y)
    tapped = [(sx * screw_x, sy * block_y) for sy in (1, -1) for sx in (1, -1)]
    plate = holes(plate, tapped, screw_d, plate_t, plate_t)  # tapped M6 through
    shaft_l = r05(gap + 2 * blk_w + 2 * 12 + 2 * 8)
    shaft = TO_Y * Cylinder(shaft_d / 2, shaft_l)
    collar_w = 12.0
    collar = tube(shaft_d * 2, shaft_d + 2 * CLEAR, collar_w)
    z_axis = plate_t + axis_h - CLEAR  # the shaft lies on the bottom of the bores
    parts = [
        Part(
            "Base Plate-1",
            plate,
            Location((0, 0, 0)),
            worker=True,
            why=f"{plate_l:.0f} x {plate_w:.0f} mm: wider than the 85 mm stroke across both sides",
        ),
        Part("Pillow Block-1", block, Location((0, block_y, plate_t))),
        Part("Pillow Block-2", block, Location((0, -block_y, plate_t))),
    ]
    for i, (x, y) in enumerate(tapped, start=1):
        parts.append(
            Part(
                f"ISO 4762 M6 x {screw_l} --- {screw_l if screw_l <= 30 else 24}N-{i}",
                socket_screw(6, screw_l),
                Location((x, y, plate_t + foot_t)),
                fastener=True,
                worker=True,
                why="screwed into a tapped hole",
            )
        )
    parts.append(Part("Shaft-1", shaft, Location((0, 0, z_axis)), insert_dir=NY))
    c_y = block_y + blk_w / 2
    parts.append(
        Part("Collar-1", collar, Location((0, c_y + collar_w, z_axis - CLEAR), (90, 0, 0)), insert_dir=NY)
    )
    parts.append(
        Part("Collar-2", collar, Location((0, -c_y - collar_w, z_axis - CLEAR), (-90, 0, 0)), insert_dir=PY)
    )
    return Product(
        "yup_pillow_block",
        "A shaft in two bolted pillow blocks, drawn Y-up (gravity along -y of the STEP frame).",
        parts,
        up="y",
        notes=[
            "drawn Y-up: in the STEP frame up is +y and the product stands on the plane y = 0, centred "
            "on x = z = 0 (half of it below the fixture top if read as Z-up)",
            "the shaft goes through both blocks (along +z of the STEP frame), then a collar onto each end",
        ],
    )


def side_lying_canister(seed: int) -> Product:
    """A tube lying along x in a cradle, end caps with spigots and 4 axial screws each, a through shaft."""
    g = Dims(seed, "side_lying_canister")
    od, wall, length = g.u(56, 72), g.u(8, 10), g.u(80, 120)
    id_ = od - 2 * wall
    cap_t, spigot = g.u(6, 8), 5.0
    shaft_d = float(g.pick([10, 12]))
    screw_d = 4
    screw_l = std_len(cap_t + 8)
    cradle_l, cradle_w = r05(length * 0.7), r05(od + 20)
    cradle_h = r05(od * 0.35 + 8)
    axis_z = cradle_h - od * 0.35 + od / 2  # the tube sits 0.35 * od deep in the saddle
    cradle = Box(cradle_l, cradle_w, cradle_h, align=BOTTOM)
    # Saddle 0.5 mm over the tube's radius, touching it along its bottom line only.
    cradle -= Pos(0, 0, axis_z + CLEAR) * TO_X * Cylinder(od / 2 + CLEAR, cradle_l + 2)
    bolt_r = (od / 2 + id_ / 2) / 2
    pts = circle_pts(4, bolt_r)
    # Tube, local: axis z, z in [0, length]; tapped axial holes in both end faces.
    body = tube(od, id_, length)
    body = holes(body, pts, screw_d, 10, length)
    for x, y in pts:
        body -= Pos(x, y, 0) * Cylinder(screw_d / 2, 10, align=BOTTOM)
    # End cap, local: axis z, outer face at z = 0, spigot into the tube towards -z.
    cap = Cylinder(od / 2, cap_t, align=BOTTOM) + Cylinder(id_ / 2 - CLEAR, spigot, align=TOP)
    cap -= Pos(0, 0, -spigot) * Cylinder(shaft_d / 2 + CLEAR, cap_t + spigot, align=BOTTOM)
    cap = holes(cap, pts, screw_d + 2 * CLEAR, cap_t, cap_t)
    shaft_l = r05(length + 2 * cap_t + 2 * 15)
    x0 = -length / 2
    parts = [
        Part("Cradle:1", cradle, Location((0, 0, 0))),
        Part("Tube:1", body, Location((x0, 0, axis_z), (0, 90, 0)), insert_dir=DOWN),
        # Cap 2 at -x: its outer face towards -x, so its local +z (outward) onto -x.
        Part("End Cap:2", cap, Location((x0, 0, axis_z), (0, -90, 0)), insert_dir=PX),
    ]
    k = 1
    for y, z in pts:
        # Local screw axis +z = out of the cap; at -x the head is outside, pointing -x.
        parts.append(
            Part(
                f"ISO 4762 M4 x {screw_l}:{k}",
                socket_screw(screw_d, screw_l),
                Location((x0 - cap_t, y, axis_z + z), (0, -90, 0)),
                insert_dir=PX,
                fastener=True,
                worker=True,
                why="axial screw into a tapped hole, horizontal",
            )
        )
        k += 1
    parts.append(
        Part(
            "Rotor Shaft:1",
            TO_X * Cylinder(shaft_d / 2, shaft_l),
            Location((0, 0, axis_z - CLEAR)),
            insert_dir=NX,
        )
    )
    parts.append(Part("End Cap:1", cap, Location((-x0, 0, axis_z), (0, 90, 0)), insert_dir=NX))
    for y, z in pts:
        parts.append(
            Part(
                f"ISO 4762 M4 x {screw_l}:{k}",
                socket_screw(screw_d, screw_l),
                Location((-x0 + cap_t, y, axis_z + z), (0, 90, 0)),
                insert_dir=NX,
                fastener=True,
                worker=True,
                why="axial screw into a tapped hole, horizontal",
            )
        )
        k += 1
    return Product(
        "side_lying_canister",
        "A canister lying on its side in a cradle: end caps, screws and shaft all go in along x.",
        parts,
        notes=[
            "the tube's axis is horizontal (x); the end caps hang on their spigots in the tube's bore",
            "the shaft lies on the bottom of the caps' bores (0.5 mm below the tube axis)",
        ],
    )


def enclosure_lid(seed: int) -> Product:
    """An open box with corner bosses, a PCB on four standoffs, a lid with four socket screws."""
    g = Dims(seed, "enclosure_lid")
    w, d, h, wall = g.u(110, 140), g.u(70, 84), g.u(40, 55), 3.0
    lid_t = g.u(3, 4)
    boss_d = 9.0
    body = Box(w, d, h, align=BOTTOM) - Pos(0, 0, wall) * Box(w - 2 * wall, d - 2 * wall, h, align=BOTTOM)
    corners = [
        (sx * (w / 2 - wall - boss_d / 2 + 1), sy * (d / 2 - wall - boss_d / 2 + 1))
        for sx in (1, -1)
        for sy in (1, -1)
    ]
    for x, y in corners:
        body += Pos(x, y, wall) * Cylinder(boss_d / 2, h - wall, align=BOTTOM)
    body = holes(body, corners, 3.0, 10, h)  # tapped M3
    pcb_w, pcb_d, pcb_t = r05(w * 0.55), r05(d * 0.6), 1.6
    so_h = g.u(8, 12)
    pcb_pts = [(sx * (pcb_w / 2 - 4), sy * (pcb_d / 2 - 4)) for sx in (1, -1) for sy in (1, -1)]
    pad_h = 2.0
    for x, y in pcb_pts:
        body += Pos(x, y, wall) * Cylinder(3.5, pad_h, align=BOTTOM)
    body = holes(body, pcb_pts, 3.0, 4, wall + pad_h)  # tapped M3 for the standoffs' studs
    standoff = hex_prism(5.5, so_h) - Pos(0, 0, so_h) * Cylinder(1.5, 6, align=TOP)
    standoff += Cylinder(1.5, 4, align=TOP)
    pcb = Box(pcb_w, pcb_d, pcb_t, align=BOTTOM)
    pcb = holes(pcb, pcb_pts, 3.0 + 2 * CLEAR, pcb_t, pcb_t)
    pcb += Pos(-pcb_w / 4, 0, pcb_t) * Box(r05(pcb_w * 0.3), r05(pcb_d * 0.35), 8, align=BOTTOM)  # a relay
    pcb += Pos(pcb_w / 4, pcb_d / 5, pcb_t) * Cylinder(5, 12, align=BOTTOM)  # a capacitor
    lid = Box(w, d, lid_t, align=BOTTOM)
    lid = holes(lid, corners, 3.0 + 2 * CLEAR, lid_t, lid_t)
    pcb_screw = socket_screw(3, 6)
    lid_screw = socket_screw(3, std_len(lid_t + 6))
    z_pcb = wall + pad_h + so_h
    parts = [Part("Body1", body, Location((0, 0, 0)))]
    for x, y in pcb_pts:
        parts.append(
            Part(
                "Standoff",
                standoff,
                Location((x, y, wall + pad_h), (0, 0, 30)),
                fastener=True,
                worker=True,
                why="M3 male-female standoff, screwed into the floor",
            )
        )
    parts.append(Part("PCB", pcb, Location((0, 0, z_pcb))))
    for x, y in pcb_pts:
        parts.append(
            Part(
                "DIN 912 M3x6",
                pcb_screw,
                Location((x, y, z_pcb + pcb_t)),
                fastener=True,
                worker=True,
                why="screw into a standoff",
            )
        )
    parts.append(Part("Lid", lid, Location((0, 0, h))))
    for x, y in corners:
        parts.append(
            Part(
                f"DIN 912 M3x{std_len(lid_t + 6)}",
                lid_screw,
                Location((x, y, h + lid_t)),
                fastener=True,
                worker=True,
                why="screw into a tapped corner boss",
            )
        )
    return Product(
        "enclosure_lid",
        "An electronics enclosure: PCB on four standoffs, a lid with four screws; repeated names.",
        parts,
        notes=["repeated names (Standoff, DIN 912 M3x6, DIN 912 M3x..) become Standoff_1... in trimesh"],
    )


def flange_coupling(seed: int, n_bolts: int = 4) -> Product:
    """Two flanged hubs face to face (vertical axis), four hex bolts, four nuts, eight washers.

    Every node is named ``NAUO<n>`` (the STEP occurrence id, the only name some exporters give).
    ``n_bolts`` other than 4 makes the larger coupling of :func:`make_large` (same dimensions).
    """
    g = Dims(seed, "flange_coupling")
    fd, ft = g.u(90, 120), g.u(12, 16)
    hub_d, bore = g.u(42, 50), float(g.pick([20, 22, 25]))
    bolt_d = 8
    f = ISO[bolt_d]
    grip = 2 * ft + 2 * f["hw"] + f["m"]
    bolt_l = std_len(grip + 3)
    below = bolt_l - (2 * ft + f["hw"])  # bolt length under the lower flange's face
    hub_l = r05(max(g.u(22, 30), below + 4))
    pcd = r05((fd / 2 + hub_d / 2) / 2 + 2)
    pts = circle_pts(n_bolts, pcd, 180.0 / n_bolts)  # symmetric about x: the upper flange is turned about x
    flange = Cylinder(fd / 2, ft, align=BOTTOM) + Cylinder(hub_d / 2, hub_l, align=TOP)
    flange -= Pos(0, 0, ft) * Cylinder(bore / 2, ft + hub_l, align=TOP)
    flange = holes(flange, pts, bolt_d + 2 * CLEAR, ft, ft)
    # Lower flange: hub down on the fixture, flange face on top at hub_l + ft.
    z_face = hub_l + ft
    parts = [
        Part("lower flange", flange, Location((0, 0, hub_l))),
        Part("upper flange", flange, Location((0, 0, z_face + ft), (180, 0, 0))),
    ]
    z_top = z_face + ft
    for x, y in pts:
        parts.append(Part("washer", washer(bolt_d), Location((x, y, z_top)), fastener=True))
    for x, y in pts:
        parts.append(
            Part(
                "bolt",
                hex_bolt(bolt_d, bolt_l),
                Location((x, y, z_top + f["hw"]), (0, 0, 15)),
                fastener=True,
                worker=True,
                why="bolt held while the nut is run on underneath",
            )
        )
    for x, y in pts:
        parts.append(
            Part(
                "washer",
                washer(bolt_d),
                Location((x, y, hub_l - f["hw"])),
                insert_dir=UP,
                fastener=True,
                worker=True,
                why="under the flange, held up until the nut holds it",
            )
        )
    for x, y in pts:
        parts.append(
            Part(
                "nut",
                hex_nut(bolt_d),
                Location((x, y, hub_l - f["hw"] - f["m"]), (0, 0, 15)),
                insert_dir=UP,
                fastener=True,
                worker=True,
                why="threaded onto the bolt from below",
            )
        )
    for i, p in enumerate(parts, start=1):
        p.why = f"{p.label}: {p.why}" if p.why else p.label
        p.label = f"NAUO{i}"
    return Product(
        "flange_coupling" if n_bolts == 4 else f"flange_coupling_{n_bolts}_bolts",
        f"A flange coupling, axis vertical: two hubs, {n_bolts} M8 bolts, {n_bolts} nuts, {2 * n_bolts} washers;"
        " every name NAUO<n>.",
        parts,
        notes=[
            "no names: bolts, nuts and washers can only be told by shape",
            "the lower hub stands on the fixture, so the nuts under the lower flange clear its top",
        ],
    )


def shaft_bearing(seed: int) -> Product:
    """A support with a cantilever shaft along x: spacer, bearing (sub-assembly), pulley, spacer, end screw."""
    g = Dims(seed, "shaft_bearing")
    plate_l, plate_w, plate_t = g.u(130, 160), g.u(90, 100), g.u(10, 12)
    # 6204: 20 x 47 x 14; 6205: 25 x 52 x 15
    bd, bD, bB, bname = g.pick([(20.0, 47.0, 14.0, "6204-2RS"), (25.0, 52.0, 15.0, "6205-2RS")])
    pulley_d, pulley_w = g.u(70, 80), bB + 6
    axis_h = r05(pulley_d / 2 + g.u(8, 14))  # above the plate top
    sup_t, sup_w = g.u(20, 25), g.u(60, 70)  # upright thickness (x) and width (y)
    foot_l = 30.0
    shoulder_d, shoulder_w = bd + 8, 5.0
    # Support, local: upright x in [0, sup_t] (face towards +x at sup_t), foot towards -x.
    support = Pos(sup_t / 2, 0, 0) * Box(sup_t, sup_w, axis_h + 25, align=BOTTOM)
    support += Pos(-foot_l / 2, 0, 0) * Box(foot_l, sup_w, 12, align=BOTTOM)
    support -= Pos(-1, 0, axis_h) * TO_X * Cylinder(bd / 2, sup_t + 2, align=BOTTOM)
    foot_pts = [(-foot_l / 2, sy * (sup_w / 2 - 12)) for sy in (1, -1)]
    support = holes(support, foot_pts, 6 + 2 * CLEAR, 12, 12)
    sp1_w, sp2_w = g.u(6, 10), g.u(4, 8)
    stack = shoulder_w + sp1_w + bB + sp2_w
    # Shaft, local: axis +z; the press-fit journal z in [-sup_t, 0], the shoulder, then the stack.
    shaft = Cylinder(bd / 2, sup_t, align=TOP) + Cylinder(shoulder_d / 2, shoulder_w, align=BOTTOM)
    shaft += Pos(0, 0, shoulder_w) * Cylinder(bd / 2, stack - shoulder_w - 1, align=BOTTOM)
    shaft -= Pos(0, 0, stack - 1) * Cylinder(2.5, 12, align=TOP)  # tapped M5 in the end
    spacer1 = tube(bd + 8, bd + 2 * CLEAR, sp1_w)
    spacer2 = tube(bd + 8, bd + 2 * CLEAR, sp2_w)
    inner = tube(bd + (bD - bd) * 0.4, bd, bB)
    outer = tube(bD, bd + (bD - bd) * 0.4, bB)
    pulley = tube(pulley_d, bD, pulley_w)
    pulley -= Pos(0, 0, pulley_w / 2) * (
        tube(pulley_d + 2, pulley_d - 8, 4).moved(Location((0, 0, -2)))
    )  # belt groove
    end_washer = tube(bd + 10, 5 + 2 * CLEAR, 4)
    x_face = sup_t  # the support's +x face, placed at x = 0 + sup_t in the product
    sx = -plate_l / 2 + foot_l + 5
    zc = plate_t + axis_h
    x1 = sx + x_face + shoulder_w  # after the shoulder
    base = holes(
        Box(plate_l, plate_w, plate_t, align=BOTTOM), [(sx + x, y) for x, y in foot_pts], 6, 10, plate_t
    )
    parts = [
        Part("Body", base, Location((0, 0, 0))),
        Part("Body", support, Location((sx, 0, plate_t))),
    ]
    parts[0].worker, parts[0].why = True, f"{plate_l:.0f} x {plate_w:.0f} mm plate, wider than the stroke"
    fl = std_len(12 + 8)
    for x, y in foot_pts:
        parts.append(
            Part(
                f"DIN 912 M6x{fl}",
                socket_screw(6, fl),
                Location((sx + x, y, plate_t + 12)),
                fastener=True,
                worker=True,
                why="into a tapped hole in the plate",
            )
        )
    along = (0, 90, 0)  # local +z onto +x
    parts.append(Part("Body", shaft, Location((sx + x_face, 0, zc), along), insert_dir=NX))
    parts.append(Part("Body", spacer1, Location((x1, 0, zc - CLEAR), along), insert_dir=NX))
    xb = x1 + sp1_w
    parts.append(
        Part(
            bname,
            None,
            Location((xb, 0, zc), along),
            insert_dir=NX,
            why="a sub-assembly of two rings, pushed on as one unit",
            children=[
                Part("Body", inner, Location((0, 0, 0))),
                Part("Body", outer, Location((0, 0, 0))),
            ],
        )
    )
    parts.append(Part("Body", pulley, Location((xb - 3, 0, zc), along), insert_dir=NX))
    xs2 = xb + bB
    parts.append(Part("Body", spacer2, Location((xs2, 0, zc - CLEAR), along), insert_dir=NX))
    xe = xs2 + sp2_w
    parts.append(Part("Body", end_washer, Location((xe, 0, zc), along), insert_dir=NX))
    parts.append(
        Part(
            "DIN 912 M5x16",
            socket_screw(5, 16),
            Location((xe + 4, 0, zc), along),
            insert_dir=NX,
            fastener=True,
            worker=True,
            why="axial screw into the shaft end, horizontal",
        )
    )
    return Product(
        "shaft_bearing",
        "A cantilever shaft with spacer, bearing, pulley, spacer, end washer and screw pushed on along x.",
        parts,
        notes=[
            "nearly every node is named Body (trimesh: Body, Body_1, ...)",
            f"the bearing {bname} is a nested sub-assembly of two ring bodies: one insertion",
            "the bearing's bore equals the shaft and the pulley's bore the bearing's outside (coincident)",
            "the pulley is pressed on the bearing's outer ring: it goes on before the bearing could be"
            " placed alone, with the bearing inside it, or after it (both along -x)",
        ],
    )


def vise(seed: int) -> Product:
    """A small machine vise; every node is ``Part<n>``.

    T-slotted bed, fixed jaw and end block bolted down from above, a sliding jaw whose T tongue slides
    into the slot along -x before the end block closes it, a lead screw through the end block into the
    sliding jaw, a handle bar through the screw's hub along y, jaw plates with countersunk screws.
    """
    g = Dims(seed, "vise")
    bed_l, bed_w, bed_h = g.u(150, 164), g.u(64, 76), g.u(24, 28)
    neck_w, neck_h, foot_w, foot_h = 12.0, 8.0, 24.0, 6.0
    bed = Box(bed_l, bed_w, bed_h, align=BOTTOM)
    bed -= Pos(0, 0, bed_h - neck_h) * Box(bed_l, neck_w, neck_h, align=BOTTOM)
    bed -= Pos(0, 0, bed_h - neck_h - foot_h) * Box(bed_l, foot_w, foot_h, align=BOTTOM)
    jaw_h = g.u(32, 40)
    fj_l, sj_l, eb_l = g.u(26, 32), g.u(36, 44), 20.0
    screw_y = bed_w / 2 - 9
    x_fj = -bed_l / 2 + fj_l / 2
    x_eb = bed_l / 2 - eb_l / 2
    mount = [(x_fj, screw_y), (x_fj, -screw_y), (x_eb, screw_y), (x_eb, -screw_y)]
    bed = holes(bed, mount, 6, 14, bed_h)  # tapped M6
    lead_h = r05(jaw_h / 2)  # lead screw axis above the bed top
    plate_t, plate_h = 6.0, r05(jaw_h * 0.6)
    plate_z = 4 + plate_h / 2  # jaw plate centre above the bed top
    plate_ys = [bed_w / 4, -bed_w / 4]
    cs_l = 12
    fixed_jaw = Box(fj_l, bed_w, jaw_h, align=BOTTOM)
    fixed_jaw = holes(fixed_jaw, [(0, screw_y), (0, -screw_y)], 7, jaw_h, jaw_h)
    for y in plate_ys:  # tapped M5 into its +x face
        fixed_jaw -= Pos(fj_l / 2, y, plate_z) * TO_X * Cylinder(2.5, 10, align=TOP)
    end_block = Box(eb_l, bed_w, jaw_h, align=BOTTOM)
    end_block = holes(end_block, [(0, screw_y), (0, -screw_y)], 7, jaw_h, jaw_h)
    end_block -= Pos(0, 0, lead_h) * TO_X * Cylinder(6 + CLEAR, eb_l + 2)
    # Sliding jaw: block on the bed top, T tongue in the slot with 0.5 mm clearance all round.
    sliding = Box(sj_l, bed_w, jaw_h, align=BOTTOM)
    sliding += Box(sj_l, neck_w - 1, neck_h + 0.5, align=TOP)
    sliding += Pos(0, 0, -neck_h - 0.5) * Box(sj_l, foot_w - 1, foot_h - 1, align=TOP)
    sliding -= Pos(0, 0, lead_h) * TO_X * Cylinder(6, sj_l + 2)  # tapped M12
    for y in plate_ys:  # tapped M5 into its -x face
        sliding -= Pos(-sj_l / 2, y, plate_z) * TO_X * Cylinder(2.5, 10, align=BOTTOM)
    # Jaw plate, local: back face x = 0, front face x = plate_t; 90 deg countersinks in the front.
    jaw_plate = Pos(plate_t / 2, 0, 0) * Box(plate_t, bed_w - 4, plate_h)
    for y in plate_ys:
        jaw_plate -= Pos(0, y, 0) * TO_X * Cylinder(2.5 + CLEAR, plate_t, align=BOTTOM)
        jaw_plate -= Pos(plate_t, y, 0) * TO_X * Solid.make_cone(2.5, 5, 2.5, Plane.XY.offset(-2.5))
    gap = g.u(20, 40)  # opening between the jaw plates
    x_fj_face = -bed_l / 2 + fj_l
    x_sj_face = x_fj_face + 2 * plate_t + gap
    x_sj = x_sj_face + sj_l / 2
    x_out = bed_l / 2  # the end block's outer face
    lead_l = r05(x_out - x_sj_face - 4)  # its tip 4 mm short of the sliding jaw's -x face
    hub_d, hub_l = 26.0, 16.0
    lead = Cylinder(6, lead_l, align=TOP) + Cylinder(hub_d / 2, hub_l, align=BOTTOM)
    lead -= Pos(0, 0, hub_l / 2) * TO_Y * Cylinder(4 + CLEAR, hub_d + 2)
    handle = Cylinder(4, 110) + Pos(0, 0, 55) * Cylinder(6, 8, align=BOTTOM)  # bar, knob at +z
    screw_l = std_len(jaw_h + 10)
    parts = [
        Part("bed", bed, Location((0, 0, 0))),
        Part("fixed jaw", fixed_jaw, Location((x_fj, 0, bed_h))),
        Part(
            "sliding jaw",
            sliding,
            Location((x_sj, 0, bed_h)),
            insert_dir=NX,
            why="T tongue: slides into the slot from its open +x end",
        ),
        Part(
            "end block", end_block, Location((x_eb, 0, bed_h)), why="closes the slot: after the sliding jaw"
        ),
    ]
    for x, y in mount:
        parts.append(
            Part(
                f"socket screw M6x{screw_l}",
                socket_screw(6, screw_l),
                Location((x, y, bed_h + jaw_h)),
                fastener=True,
                worker=True,
                why="into a tapped hole in the bed",
            )
        )
    why_plate = "held against a vertical jaw face until screwed"
    parts.append(
        Part(
            "jaw plate", jaw_plate, Location((x_fj_face, 0, bed_h + plate_z)), NX, worker=True, why=why_plate
        )
    )
    parts.append(
        Part(
            "jaw plate",
            jaw_plate,
            Location((x_sj_face, 0, bed_h + plate_z), (0, 0, 180)),
            PX,
            worker=True,
            why=why_plate,
        )
    )
    for face_x, rot, d in ((x_fj_face + plate_t, 90, NX), (x_sj_face - plate_t, -90, PX)):
        for y in plate_ys:
            parts.append(
                Part(
                    f"countersunk screw M5x{cs_l}",
                    countersunk_screw(5, cs_l),
                    Location((face_x, y, bed_h + plate_z), (0, rot, 0)),
                    insert_dir=d,
                    fastener=True,
                    worker=True,
                    why="countersunk screw, horizontal, into the jaw",
                )
            )
    parts.append(
        Part(
            "lead screw",
            lead,
            Location((x_out, 0, bed_h + lead_h), (0, 90, 0)),
            insert_dir=NX,
            worker=True,
            why="through the end block and turned into the sliding jaw's thread",
        )
    )
    parts.append(
        Part(
            "handle",
            handle,
            Location((x_out + hub_l / 2, 0, bed_h + lead_h - CLEAR), (-90, 0, 0)),
            insert_dir=NY,
            why="slides through the hub's cross hole along -y, knob end last",
        )
    )
    for i, p in enumerate(parts, start=1):
        p.why = f"{p.label}: {p.why}" if p.why else p.label
        p.label = f"Part{i}"
    return Product(
        "vise",
        "A machine vise: the sliding jaw's T tongue slides into the bed along -x; every name Part<n>.",
        parts,
        notes=[
            "names say nothing: Part1..Part16, screws too",
            "order matters: the sliding jaw goes into the slot along -x before the end block closes it",
            "the handle bar goes through the lead screw's hub along -y",
        ],
    )


PRODUCTS: list[Callable[[int], Product]] = [
    yup_pillow_block,
    side_lying_canister,
    enclosure_lid,
    flange_coupling,
    shaft_bearing,
    vise,
]


# ---------------------------------------------------------------------------------------------------
# Writing


Y_UP = Location((0, 0, 0), (-90, 0, 0))  # z-up -> y-up (+z onto +y, +y onto -z)


def _node(p: Part, up: str) -> Shape:
    if p.children:
        kids = [_node(c, up) for c in p.children]
        loc = Y_UP * p.loc * Y_UP.inverse() if up == "y" else p.loc
        out = Compound(children=kids, label=p.label).moved(loc)
        out.label = p.label
        return out
    assert p.shape is not None
    if up == "y":
        # Drawn Y-up: the part file's own geometry is turned, its placement conjugated.
        shape = bake(p.shape, Y_UP).moved(Y_UP * p.loc * Y_UP.inverse())
    else:
        shape = p.shape.moved(p.loc)
    shape.label = p.label
    return shape


def _direction(v: tuple[float, float, float], up: str) -> list[float]:
    a = np.asarray(v, dtype=float)
    if up == "y":
        a = np.array([a[0], a[2], -a[1]])  # x stays, z-up -> y, y -> -z
    return [round(float(c), 6) + 0.0 for c in a]


def _leaves(parts: list[Part]) -> list[tuple[Part, Part | None]]:
    out: list[tuple[Part, Part | None]] = []
    for p in parts:
        if p.children:
            out.extend((c, p) for c in p.children)
        else:
            out.append((p, None))
    return out


def _trimesh_names(labels: list[str]) -> list[str]:
    """The node names trimesh/cascadio give repeated labels: ``Body``, ``Body_1``, ``Body_2``..."""
    seen: dict[str, int] = {}
    out = []
    for lab in labels:
        n = seen.get(lab, 0)
        out.append(lab if n == 0 else f"{lab}_{n}")
        seen[lab] = n + 1
    return out


def write_product(prod: Product, out_dir: Path) -> Path:
    """Write ``<out_dir>/<name>/`` (product.step, variant.yaml, expected.json) and check it reads back."""
    d = out_dir / prod.name
    d.mkdir(parents=True, exist_ok=True)
    nodes = [_node(p, prod.up) for p in prod.parts]
    asm = Compound(children=nodes, label=prod.name)
    write_step(asm, d / "product.step")
    (d / "variant.yaml").write_text(
        f"# {prod.comment}\n# Held-out corpus (benchmarks/realcad_corpus.py); expected.json has the intended answer.\n"
        "assembly: product.step\nfixture: fixture\nfeed: feeder\n"
    )
    leaves = _leaves(prod.parts)
    names = _trimesh_names([leaf.label for leaf, _ in leaves])
    # Leaf centres as build123d places them, to check that trimesh names the nodes as predicted.
    centres: list[np.ndarray] = []
    for p in prod.parts:
        node = _node(p, prod.up)
        subs = list(node) if p.children else [node]
        for s in subs:
            bb = s.bounding_box()
            centres.append(np.array([bb.center().X, bb.center().Y, bb.center().Z]) / 1000.0)
    order: dict[int, int] = {}
    for i, p in enumerate(prod.parts, start=1):
        order[id(p)] = i
    expected: dict[str, Any] = {
        "name": prod.name,
        "description": prod.comment,
        "up_axis": prod.up,
        "notes": prod.notes,
        "parts": {},
    }
    for (leaf, parent), name, centre in zip(leaves, names, centres, strict=True):
        top = parent or leaf
        expected["parts"][name] = {
            "step_label": leaf.label,
            "centre_m": [round(float(c), 6) + 0.0 for c in centre],
            "sub_assembly": parent.label if parent else None,
            "order": order[id(top)],
            "insert_dir": _direction(top.insert_dir, prod.up),
            "fastener": top.fastener,
            "worker": top.worker,
            "why": top.why,
        }
    (d / "expected.json").write_text(json.dumps(expected, indent=2) + "\n")
    _check(d / "product.step", names, centres)
    return d


def _check(step: Path, names: list[str], centres: list[np.ndarray]) -> None:
    """Read the STEP back: the node names are the predicted ones, each where it was put, one closed body."""
    scene = trimesh.load(step)
    assert isinstance(scene, trimesh.Scene)
    got = sorted(scene.graph.nodes_geometry)
    if got != sorted(names):
        raise RuntimeError(f"{step}: trimesh nodes {got} != predicted {sorted(names)}")
    for name, c in zip(names, centres, strict=True):
        T, gname = scene.graph[name]
        mesh = scene.geometry[gname].copy()
        mesh.apply_transform(T)
        mesh.merge_vertices()
        if not mesh.is_watertight or len(mesh.split(only_watertight=False)) != 1:
            raise RuntimeError(f"{step}: {name} is not one closed body")
        mid = mesh.bounds.mean(axis=0)
        if np.linalg.norm(mid - c) > 2e-4:
            raise RuntimeError(f"{step}: {name} centred at {mid} m, expected {c}")


def write_step(shape: Shape, path: Path) -> None:
    """``export_step`` with reproducible bytes: a fixed header timestamp, and the assembly occurrences
    numbered from 1 in each file, each on one line (OCCT numbers them on from whatever the process
    exported before, and the number's width moves its line breaks)."""
    export_step(shape, str(path), timestamp=STEP_TIMESTAMP)
    count = itertools.count(1)
    text = re.sub(
        r"NEXT_ASSEMBLY_USAGE_OCCURRENCE\('\d+'(.*?;)",  # one entity, maybe wrapped over lines
        lambda m: f"NEXT_ASSEMBLY_USAGE_OCCURRENCE('{next(count)}'" + re.sub(r"\n\s*", "", m[1]),
        path.read_text(),
        flags=re.S,
    )
    path.write_text(text)


def make_corpus(out_dir: Path, seed: int = 0) -> list[Path]:
    """Write the held-out assemblies under ``out_dir``; returns their variant directories."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return [write_product(make(seed), out_dir) for make in PRODUCTS]


def make_large(out_dir: Path, seed: int = 0) -> Path:
    """Write a larger assembly for the plan-time target (not one of the held-out six): the flange
    coupling with six bolts, 26 parts (two hubs, 6 bolts, 6 nuts, 12 washers)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return write_product(flange_coupling(seed, n_bolts=6), out_dir)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir", type=Path, help="directory to write the variant directories into")
    ap.add_argument("--seed", type=int, default=0, help="seed of the dimensions (default 0)")
    args = ap.parse_args()
    for d in make_corpus(args.out_dir, args.seed):
        print(d)


if __name__ == "__main__":
    main()
