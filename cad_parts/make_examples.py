"""Generate the example variants' CAD (STEP, STL, OBJ) and their variant.yaml files.

Run ``.venv/bin/python cad_parts/make_examples.py`` (or ``make cad``). The outputs are committed, so
the planner never needs build123d at run time; this script is how they were made.

Dimensions below are millimetres (build123d's native unit; STEP files carry their unit, so they load in
metres). Every part is small (20-80 mm), light (< 0.5 kg in aluminium) and has parallel flat or round
faces an 85 mm parallel-jaw gripper can hold, except the deliberately oversize block of ``oversize_kit``.
"""

from __future__ import annotations

from pathlib import Path

import trimesh
from build123d import (
    Align,
    Box,
    Compound,
    Cylinder,
    Location,
    Pos,
    RegularPolygon,
    Rot,
    Shape,
    export_step,
    export_stl,
    extrude,
)

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


def main() -> None:
    bracket_assembly()
    sensor_kit()
    oversize_kit()


if __name__ == "__main__":
    main()
