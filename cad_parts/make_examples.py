"""Generate the example variants' CAD (STEP, STL, OBJ) and their variant.yaml files.

Run ``.venv/bin/python cad_parts/make_examples.py`` (or ``make cad``). The outputs are committed, so
the planner never needs build123d at run time; this script is how they were made.

Dimensions below are millimetres (build123d's native unit; STEP files carry their unit, so they load in
metres). Every part is small (20-80 mm), light (< 0.5 kg in aluminium) and has parallel flat or round
faces an 85 mm parallel-jaw gripper can hold, except the deliberately oversize block of ``oversize_kit``.
"""

from __future__ import annotations

import itertools
import re
import sys
from pathlib import Path

import trimesh
from build123d import (
    Align,
    Box,
    Compound,
    Cylinder,
    Location,
    Plane,
    Polygon,
    Pos,
    RegularPolygon,
    Rot,
    Shape,
    export_step,
    export_stl,
    extrude,
)
from build123d.topology import Solid

HERE = Path(__file__).resolve().parent
BOTTOM = (Align.CENTER, Align.CENTER, Align.MIN)  # part frame: bottom face centre at the origin


def l_bracket(base_x: float, depth_y: float, base_t: float, web_t: float, web_h: float) -> Shape:
    """An L bracket: a base plate with a vertical web along its +x edge; origin at the base's bottom centre."""
    base = Box(base_x, depth_y, base_t, align=BOTTOM)
    web = Pos(base_x / 2 - web_t / 2, 0, base_t) * Box(web_t, depth_y, web_h, align=BOTTOM)
    return base + web


def hex_nut(across_flats: float, height: float, hole_d: float) -> Shape:
    """A hexagonal prism with a through hole (a large nut); origin at the bottom centre."""
    radius = across_flats / 2 / 0.8660254037844386
    prism = extrude(RegularPolygon(radius, 6), amount=height)
    return prism - Cylinder(hole_d / 2, height, align=BOTTOM)


def write_step(shape: Shape, path: Path, label: str) -> None:
    shape.label = label
    export_step(shape, str(path))


def write_text(path: Path, text: str) -> None:
    path.write_text(text)
    print(f"wrote {path.relative_to(HERE.parent)}")


def bracket_assembly() -> None:
    """Plate on the fixture, two L brackets on the plate, a pin standing on each bracket's web.

    The pins stand on the webs, not in the brackets' inside corners: planners model parts by their
    convex hulls, and a pin in the corner of an L would sit inside the bracket's hull.
    """
    d = HERE / "bracket_assembly"
    d.mkdir(exist_ok=True)
    plate_t = 15.0
    plate = Box(100, 60, plate_t, align=BOTTOM)
    plate.label = "plate"
    bracket = l_bracket(base_x=36, depth_y=40, base_t=8, web_t=14, web_h=30)
    pin = Cylinder(6, 36, align=BOTTOM)
    # Brackets sit at the plate's ends with their webs outward; the second is the first turned 180 deg.
    b1 = bracket.moved(Location((32, 0, plate_t)))
    b1.label = "bracket_1"
    b2 = bracket.moved(Location((-32, 0, plate_t), (0, 0, 180)))
    b2.label = "bracket_2"
    # Pins centred on the 14 mm web tops (same solid twice: instances in the STEP tree).
    web_top = plate_t + 8 + 30
    p1 = pin.moved(Location((43, 0, web_top)))
    p1.label = "pin_1"
    p2 = pin.moved(Location((-43, 0, web_top)))
    p2.label = "pin_2"
    asm = Compound(children=[plate, b1, b2, p1, p2], label="bracket_assembly")
    export_step(asm, str(d / "product.step"))
    write_text(d / "variant.yaml", "assembly: product.step\nfixture: fixture\nfeed: feeder\n")


def sensor_kit() -> None:
    """Seven parts of six shapes, from STEP, STL (mm) and OBJ (m), into kit tray slots A1..C1."""
    d = HERE / "sensor_kit"
    d.mkdir(exist_ok=True)
    write_step(Box(50, 40, 25, align=BOTTOM), d / "housing.step", "housing")
    write_step(Cylinder(17.5, 25, align=BOTTOM), d / "sleeve.step", "sleeve")
    angle = Rot(0, 0, 0) * l_bracket(base_x=40, depth_y=30, base_t=6, web_t=6, web_h=28)
    write_step(angle, d / "angle.step", "angle")
    write_step(hex_nut(across_flats=30, height=16, hole_d=14), d / "nut.step", "nut")
    # STL in millimetres (the default unit of STL/OBJ in variant.yaml).
    export_stl(Cylinder(25, 16, align=BOTTOM), str(d / "disc.stl"))
    # OBJ in metres, declared with units: m.
    block = trimesh.creation.box(extents=(0.030, 0.030, 0.045))
    block.export(d / "spacer.obj")
    write_text(
        d / "variant.yaml",
        """\
# A sensor kit: seven parts from the feeder into kit tray slots.
parts:
  - {name: housing, cad: housing.step, source: feeder, target: A1}
  - {name: sleeve, cad: sleeve.step, source: feeder, target: A2}
  - {name: angle, cad: angle.step, source: feeder, target: A3}
  - {name: nut, cad: nut.step, quantity: 2, source: feeder, target: [B1, B2]}
  - {name: disc, cad: disc.stl, units: mm, source: feeder, target: B3}
  - {name: spacer, cad: spacer.obj, units: m, source: feeder, target: C1}
""",
    )


def oversize_kit() -> None:
    """Two fine parts and a block wider than the 85 mm stroke in every direction."""
    d = HERE / "oversize_kit"
    d.mkdir(exist_ok=True)
    write_step(Box(150, 120, 95, align=BOTTOM), d / "big_block.step", "big_block")
    write_step(Box(40, 30, 25, align=BOTTOM), d / "cover.step", "cover")
    export_stl(Cylinder(15, 30, align=BOTTOM), str(d / "bushing.stl"))
    write_text(
        d / "variant.yaml",
        """\
# A kit with one part no parallel-jaw gripper of 85 mm stroke can hold.
parts:
  - {name: cover, cad: cover.step, source: feeder, target: A1}
  - {name: big_block, cad: big_block.step, source: feeder, target: A2}
  - {name: bushing, cad: bushing.stl, source: feeder, target: A3}
expect_infeasible: [big_block]
""",
    )


# ---------------------------------------------------------------------------------------------------
# Assemblies that need more than top-down placing: sideways insertion, fasteners, a worker-placed base
# part, a part turned over between feeder and product. Their STEP files carry a fixed timestamp, so
# ``make cad`` writes them byte for byte the same each time.

STEP_TIMESTAMP = "2026-12-03T00:00:00"
MX = Rot(0, 90, 0)  # turns a part's +z axis onto +x
# ISO 4017 hex head / ISO 4032 hex nut, metric coarse: thread d -> (across flats s, head height k, nut m)
HEX = {6: (10.0, 4.0, 5.2), 12: (18.0, 7.5, 10.8)}


def write_fixed_step(shape: Shape, path: Path) -> None:
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
    print(f"wrote {path.relative_to(HERE.parent)}")


def named(shape: Shape, label: str, loc: Location) -> Shape:
    """``shape`` moved to ``loc`` (its placement in the assembly) and labelled (its STEP node name)."""
    out = shape.moved(loc)
    out.label = label
    return out


def hex_bolt(d: float, length: float) -> Shape:
    """ISO 4017-like hex head bolt: origin at the head's underside centre, shank along -z, head on top."""
    s, k, _ = HEX[int(d)]
    head = extrude(RegularPolygon(s / 2 / 0.8660254037844386, 6), amount=k)
    shank = Cylinder(d / 2, length, align=(Align.CENTER, Align.CENTER, Align.MAX))
    return head + shank


def iso_nut(d: float) -> Shape:
    """ISO 4032-like hex nut; the bore is the thread's nominal diameter (a bolt or rod fills it)."""
    s, _, m = HEX[int(d)]
    return hex_nut(across_flats=s, height=m, hole_d=d)


def bolted_shaft() -> None:
    """Rails, a 160 x 90 plate, two L brackets bolted to it, a shaft through the brackets' webs, nuts.

    The plate stands on two 20 mm rails, so the nuts under it hang 14.8 mm above the fixture top.
    Through holes have 0.5 mm clearance all round (bolt 6 -> 7, shaft 12 -> 13). The shaft lies on the
    bottom of its two holes (its axis 0.5 mm below theirs), the bolts hang by their heads, the nuts are
    on the threads.
    """
    d = HERE / "bolted_shaft"
    d.mkdir(exist_ok=True)
    rail_h, plate_t, base_t, web_t, web_h = 20.0, 8.0, 6.0, 6.0, 30.0
    plate_top = rail_h + plate_t  # 28
    bolt_xy = [(sx * 22.0, sy * 12.0) for sx in (1, -1) for sy in (1, -1)]
    rail = Box(20, 90, rail_h, align=BOTTOM)
    plate = Box(160, 90, plate_t, align=BOTTOM)
    for x, y in bolt_xy:
        plate -= Pos(x, y, 0) * Cylinder(3.5, plate_t, align=BOTTOM)
    # Bracket: 40 x 40 base, web on its +x edge; local bolt holes at x = -3, shaft hole 18 mm above the base.
    hole_z = base_t + 18.0
    bracket = l_bracket(base_x=40, depth_y=40, base_t=base_t, web_t=web_t, web_h=web_h)
    for y in (12.0, -12.0):
        bracket -= Pos(-3, y, 0) * Cylinder(3.5, base_t, align=BOTTOM)
    bracket -= Pos(20 - web_t / 2, 0, hole_z) * MX * Cylinder(6.5, web_t + 2)
    shaft = MX * Cylinder(6, 140)  # along x, centred
    bolt = hex_bolt(6, 25)
    nut6, nut12 = iso_nut(6), iso_nut(12)
    shaft_z = plate_top + hole_z - 0.5  # resting on the holes' bottoms
    web_out = 45.0  # outer faces of the webs at x = +-45
    parts = [
        named(rail, "rail_1", Location((70, 0, 0))),
        named(rail, "rail_2", Location((-70, 0, 0))),
        named(plate, "base_plate", Location((0, 0, rail_h))),
        named(bracket, "bracket_1", Location((web_out - 20, 0, plate_top))),
        named(bracket, "bracket_2", Location((20 - web_out, 0, plate_top), (0, 0, 180))),
        named(shaft, "shaft", Location((0, 0, shaft_z))),
        # The M12 nuts' axes along x, their bottom faces on the webs' outer faces.
        named(nut12, "ISO 4032 M12-1", Location((web_out, 0, shaft_z), (0, 90, 0))),
        named(nut12, "ISO 4032 M12-2", Location((-web_out, 0, shaft_z), (0, -90, 0))),
    ]
    for i, (x, y) in enumerate(bolt_xy, start=1):
        parts.append(named(bolt, f"ISO 4017 M6x25-{i}", Location((x, y, plate_top + base_t))))
    for i, (x, y) in enumerate(bolt_xy, start=1):
        parts.append(named(nut6, f"ISO 4032 M6-{i}", Location((x, y, rail_h - HEX[6][2]), (0, 0, 30))))
    write_fixed_step(Compound(children=parts, label="bolted_shaft"), d / "product.step")
    write_text(
        d / "variant.yaml",
        """\
# Shows: a base plate too wide for the gripper (worker first, on two rails), a shaft inserted sideways
# (-x) through two bracket webs, and fasteners: four ISO 4017 M6 bolts from above with ISO 4032 nuts
# under the plate, two M12 nuts on the shaft ends (worker fastening tasks).
assembly: product.step
fixture: fixture
feed: feeder
""",
    )


def two_side_housing() -> None:
    """An open-top housing with a side bore, a block from above, a pin from the side, a cover, a lock pin.

    Housing 80 x 60 x 50, walls and floor 5 mm; the block (40 x 40 x 30) rests on the floor with a
    horizontal hole in line with the housing's side bore; the headed side pin (shank 10 x 50) slides in
    along -x through the bore into the block and lies on the bottom of both holes; the cover rests on
    the housing's rim; the lock pin goes down through the cover into a blind hole in the block and
    hangs by its knob.
    """
    d = HERE / "two_side_housing"
    d.mkdir(exist_ok=True)
    bore_z = 25.0
    housing = Box(80, 60, 50, align=BOTTOM) - Pos(0, 0, 5) * Box(70, 50, 45, align=BOTTOM)
    housing -= Pos(37.5, 0, bore_z) * MX * Cylinder(5.5, 7)
    block = Box(40, 40, 30, align=BOTTOM)
    block -= Pos(0, 0, bore_z - 5) * MX * Cylinder(5.5, 42)
    block -= Pos(0, 12, 14) * Cylinder(3.5, 16, align=BOTTOM)  # blind, 16 deep from the top
    # Side pin, local: axis +z, shank z in [0, 50], knob head z in [50, 62]; placed with its axis on -x.
    side_pin = Cylinder(5, 50, align=BOTTOM) + Pos(0, 0, 50) * Cylinder(9, 12, align=BOTTOM)
    cover = Box(80, 60, 5, align=BOTTOM) - Pos(0, 12, 0) * Cylinder(3.5, 5, align=BOTTOM)
    # Lock pin, local: knob z in [0, 16] on top, shank 6 x 34 below (its end 2 mm above the hole bottom).
    lock_pin = Cylinder(7, 16, align=BOTTOM) + Cylinder(3, 34, align=(Align.CENTER, Align.CENTER, Align.MAX))
    parts = [
        named(housing, "housing", Location((0, 0, 0))),
        named(block, "block", Location((0, 0, 5))),
        named(side_pin, "side_pin", Location((-10, 0, bore_z - 0.5), (0, 90, 0))),
        named(cover, "cover", Location((0, 0, 50))),
        named(lock_pin, "lock_pin", Location((0, 12, 55))),
    ]
    write_fixed_step(Compound(children=parts, label="two_side_housing"), d / "product.step")
    write_text(
        d / "variant.yaml",
        """\
# Shows: insertion from two sides: a block goes into the housing from above, a headed pin slides in
# from the side (-x) through the housing's bore into the block, then a cover and a lock pin from above.
assembly: product.step
fixture: fixture
feed: feeder
""",
    )


def flip_cap() -> None:
    """A base with a bore, a flanged cap hung open side up in it, a plug in the cap.

    The cap (flange 56 x 8, body 36 with a pointed closed end) lies stably only on its flange, i.e.
    open side down, so it has to be turned over between the feeder and the product; the plug (head
    40 x 10, shank 29 x 24) stands either way up and needs no turning.
    """
    d = HERE / "flip_cap"
    d.mkdir(exist_ok=True)
    base_h = 36.0
    base = Box(70, 70, base_h, align=BOTTOM) - Pos(0, 0, 4) * Cylinder(18.5, 32, align=BOTTOM)
    # Cap, local frame: flange underside at z = 0, open end up at z = 8, cone tip at z = -30.
    cone = Solid.make_cone(2, 18, 10, Plane.XY.offset(-30))
    cap = Pos(0, 0, -20) * Cylinder(18, 20, align=BOTTOM) + Cylinder(28, 8, align=BOTTOM) + cone
    cap -= Pos(0, 0, -18) * Cylinder(15, 26, align=BOTTOM)
    # Plug, local frame: head underside at z = 0.
    plug = Cylinder(20, 10, align=BOTTOM) + Cylinder(14.5, 24, align=(Align.CENTER, Align.CENTER, Align.MAX))
    parts = [
        named(base, "base", Location((0, 0, 0))),
        named(cap, "cap", Location((0, 0, base_h))),
        named(plug, "plug", Location((0, 0, base_h + 8))),
    ]
    write_fixed_step(Compound(children=parts, label="flip_cap"), d / "product.step")
    write_text(
        d / "variant.yaml",
        """\
# Shows: a part turned over between feeder and product: the flanged cap rests in the feeder only open
# side down (on its flange) and goes into the base's bore open side up; the plug needs no turning.
assembly: product.step
fixture: fixture
feed: feeder
""",
    )


def regrasp_block() -> None:
    """A holder block with a slot across its top, and a fin standing upright in the slot.

    The fin (75 tall, 60 wide, 10 thick) ends at its bottom in a tongue tapered to a 4 mm edge, its
    corners chamfered, so it stands only in the slot (1 % of throws land on the edge): in the feeder it
    lies flat. Flat, it is taken across its 60 mm width or its 75 mm length with the tool down; standing in
    the slot, the first grip has the tool on its side with the palm down in the holder's top (the fin
    stands only 27 mm out of the 110 mm deep block), the second a jaw in the slot. So the robot takes it
    by its ends, lays it on its long edge on a free patch of a station, and takes it again by its top end
    across its 10 mm thickness, a grip that comes from above at the slot. The slot has 0.5 mm of play
    across the fin and 1.5 mm along it (the fin's tongue and corners lead it in).
    """
    d = HERE / "regrasp_block"
    d.mkdir(exist_ok=True)
    block_h, slot_d, play_t, play_w = 58.0, 48.0, 0.5, 1.5
    fin_h, fin_w, fin_t, tongue, edge = 75.0, 60.0, 10.0, 6.0, 4.0
    holder = Box(110, 76, block_h, align=BOTTOM)
    slot = Box(fin_t + 2 * play_t, fin_w + 2 * play_w, slot_d, align=BOTTOM)
    holder -= Pos(0, 0, block_h - slot_d) * slot
    # Fin, local frame: the tongue's edge at z = 0, thickness along x, width along y. It is the side
    # outline (the tongue's taper, in x-z) and the front outline (chamfered corners, in y-z) both swept
    # through the fin, intersected.
    w, t = fin_w / 2, fin_t / 2
    side = Polygon(
        (-edge / 2, 0), (edge / 2, 0), (t, tongue), (t, fin_h), (-t, fin_h), (-t, tongue), align=None
    )
    front = Polygon(
        (tongue - w, 0), (w - tongue, 0), (w, tongue), (w, fin_h), (-w, fin_h), (-w, tongue), align=None
    )
    fin = extrude(Plane.XZ.offset(-w) * side, amount=fin_w) & extrude(
        Plane.YZ.offset(-t) * front, amount=fin_t
    )
    parts = [
        named(holder, "holder", Location((0, 0, 0))),
        named(fin, "fin", Location((0, 0, block_h - slot_d))),
    ]
    write_fixed_step(Compound(children=parts, label="regrasp_block"), d / "product.step")
    write_text(
        d / "variant.yaml",
        """\
# Shows: a regrasp: the fin lies flat in the feeder and stands upright in the holder's slot (only the
# slot holds it up: its tongue ends in a 4 mm edge); no grasp works at both ends, so the robot takes it
# by its ends, lays it on its long edge on a free patch of a station, and takes it again by its top end
# across its 10 mm thickness, which comes from above into the slot.
assembly: product.step
fixture: fixture
feed: feeder
""",
    )


EXAMPLES = {
    "bracket_assembly": bracket_assembly,
    "sensor_kit": sensor_kit,
    "oversize_kit": oversize_kit,
    "bolted_shaft": bolted_shaft,
    "two_side_housing": two_side_housing,
    "flip_cap": flip_cap,
    "regrasp_block": regrasp_block,
}


def main() -> None:
    """Write every example, or only those named on the command line (``make_examples.py flip_cap``)."""
    names = sys.argv[1:] or list(EXAMPLES)
    unknown = [n for n in names if n not in EXAMPLES]
    if unknown:
        raise SystemExit(f"unknown example(s) {unknown}; choose from {list(EXAMPLES)}")
    for n in names:
        EXAMPLES[n]()


if __name__ == "__main__":
    main()
