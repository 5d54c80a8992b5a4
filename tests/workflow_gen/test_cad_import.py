"""CAD import of real-export habits: per-face parts, useless names, broken meshes, repaired into solids."""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pytest
import trimesh
from realcad import (
    GENERIC_LABELS,
    box_mm,
    gapped_box_mesh,
    housing_volume_m3,
    overlapping_shells_mesh,
    per_face_soup,
    write_generic_names_assembly,
    write_split_face_assembly,
    write_variant,
)

from workflow_gen.cad_import import import_variant, is_generic_name, sanitize_name, unique_names
from workflow_gen.mesh_repair import repair_mesh
from workflow_gen.variant import load_variant

REPO = Path(__file__).resolve().parents[2]
STROKE_M = 0.085
SAFE = re.compile(r"^[A-Za-z0-9_.-]+$")


def _scene(path: Path) -> trimesh.Scene:
    s = trimesh.load(path)
    assert isinstance(s, trimesh.Scene)
    return s


def _concat(*meshes: trimesh.Trimesh) -> trimesh.Trimesh:
    m = trimesh.util.concatenate(list(meshes))
    assert isinstance(m, trimesh.Trimesh)
    return m


def _import(d: Path):
    return import_variant(d, load_variant(d), STROKE_M)


# --- repair_mesh ---------------------------------------------------------------------------------


def test_overlapping_shells_duplicates_and_internal_faces_are_united_into_the_outer_solid() -> None:
    mesh, vol_mm3 = overlapping_shells_mesh()
    assert not mesh.is_watertight
    r = repair_mesh(mesh)
    assert r.ok, r.reason
    assert r.mesh.is_watertight and r.mesh.is_winding_consistent
    assert r.mesh.volume == pytest.approx(vol_mm3, rel=0.01)
    # The outer surface only: the union is a 60 x 30 x 20 box.
    assert r.mesh.extents == pytest.approx([60, 30, 20], abs=1e-6)
    assert len(r.mesh.split(only_watertight=False)) == 1
    said = " | ".join(r.notes)
    assert "12 duplicate faces removed" in said
    assert "1 shell fully inside another dropped" in said
    assert "2 internal faces dropped" in said
    assert "2 shells united into 1 solid" in said


def test_a_cavity_wound_inward_is_kept_and_the_mass_is_that_of_the_hollow_part() -> None:
    outer = box_mm((0.04, 0.04, 0.04))
    void = box_mm((0.02, 0.02, 0.02))
    void.invert()  # a cavity's surface faces into the void, away from the material
    r = repair_mesh(_concat(outer, void))
    assert r.ok, r.reason
    assert r.notes == ["1 inner cavity kept (shells wound inward inside the solid)"]
    assert r.mesh.volume == pytest.approx(0.04**3 - 0.02**3, rel=1e-9)
    # Wound like its container, the inner shell is a body modelled inside another: it adds nothing.
    void.invert()
    r = repair_mesh(_concat(outer, void))
    assert r.ok and r.mesh.volume == pytest.approx(0.04**3, rel=1e-9)


def test_an_inverted_mesh_comes_out_with_outward_normals_in_the_same_frame() -> None:
    m = box_mm((40, 30, 20), at=(100, 5, 7))
    m.invert()
    assert m.volume < 0
    r = repair_mesh(m)
    assert r.ok and r.mesh.volume == pytest.approx(24000.0)
    assert r.mesh.bounds == pytest.approx(m.bounds)


def test_per_face_seams_within_tessellation_tolerance_are_merged_and_the_volume_kept() -> None:
    sphere = trimesh.creation.icosphere(subdivisions=4, radius=0.02)  # metres, 5120 faces
    soup = per_face_soup(sphere, jitter=2e-6)  # seams up to 2 micrometres apart
    assert not soup.is_watertight
    r = repair_mesh(soup)
    assert r.ok, r.reason
    assert r.mesh.is_watertight and len(r.mesh.faces) == len(sphere.faces)
    assert r.mesh.volume == pytest.approx(sphere.volume, rel=1e-4)


def test_a_small_crack_is_filled_and_a_real_opening_is_reported_with_its_size() -> None:
    sphere = trimesh.creation.icosphere(subdivisions=4, radius=0.02)
    cracked = trimesh.Trimesh(sphere.vertices, sphere.faces[1:])  # one 1 mm triangle missing
    r = repair_mesh(cracked)
    assert r.ok and "1 small hole filled" in r.notes
    assert r.mesh.volume == pytest.approx(sphere.volume, rel=1e-3)

    gapped = gapped_box_mesh(gap_mm=10.0)
    gapped.apply_scale(1e-3)
    r = repair_mesh(gapped)
    assert not r.ok
    assert r.reason.startswith("open surface: ")
    m = re.search(
        r"(\d+) open edges in 1 hole after hole filling \(largest hole ([\d.]+) mm across", r.reason
    )
    assert m, r.reason
    # The opening is 10 x 10 mm in 2.5 mm cells: 16 edges, 14.1 mm across its diagonal.
    assert int(m.group(1)) == 16 and float(m.group(2)) == pytest.approx(10 * np.sqrt(2), rel=0.01)
    assert "(0 open edges)" not in r.reason


def test_a_soup_whose_seams_are_wider_than_the_tolerance_is_not_closed_face_by_face() -> None:
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=0.02)
    soup = per_face_soup(sphere, jitter=1e-4)  # 0.1 mm seams: ten times the merge tolerance
    r = repair_mesh(soup)
    assert not r.ok
    assert "its faces hardly meet" in r.reason and "0.01 mm merge tolerance" in r.reason
    assert not any("small hole" in n for n in r.notes)  # not "repaired" by closing every face on itself


def test_touching_bodies_in_one_merged_soup_are_separated_at_their_shared_edges_and_united() -> None:
    # Two boxes sharing a face, written as one soup with merged vertices (a STEP part's faces once their
    # seams are merged, or an STL of a multi-body part): the shared outline's edges have four faces.
    a, b = box_mm((0.04, 0.03, 0.02)), box_mm((0.04, 0.03, 0.02), at=(0.04, 0, 0))
    both = trimesh.util.concatenate([a, b])
    assert isinstance(both, trimesh.Trimesh)
    for mesh in (trimesh.Trimesh(both.vertices, both.faces), both):  # merged soup, separate bodies
        r = repair_mesh(mesh)
        assert r.ok, r.reason
        assert r.mesh.is_watertight and r.mesh.volume == pytest.approx(2 * 0.04 * 0.03 * 0.02, rel=1e-6)
        assert r.mesh.extents == pytest.approx([0.08, 0.03, 0.02])
        assert "2 shells united into 1 solid" in r.notes


def test_an_internal_wall_ending_on_the_outer_surface_is_dropped() -> None:
    # Two 40 x 30 x 20 cells sharing one wall, the wall written once: its rim edges have three faces.
    a, b = box_mm((0.04, 0.03, 0.02), at=(-0.02, 0, 0)), box_mm((0.04, 0.03, 0.02), at=(0.02, 0, 0))
    b_open = trimesh.Trimesh(b.vertices, b.faces[b.face_normals[:, 0] > -0.5])
    cells = trimesh.util.concatenate([a, b_open])
    assert isinstance(cells, trimesh.Trimesh)
    r = repair_mesh(trimesh.Trimesh(cells.vertices, cells.faces))
    assert r.ok, r.reason
    assert r.notes == ["2 internal faces dropped"]
    assert r.mesh.is_watertight and r.mesh.volume == pytest.approx(0.08 * 0.03 * 0.02, rel=1e-9)
    assert len(r.mesh.faces) == len(cells.faces) - 2


def test_repair_of_a_5k_face_part_is_fast() -> None:
    sphere = trimesh.creation.icosphere(subdivisions=4, radius=0.02)
    soup = per_face_soup(sphere)
    repair_mesh(soup)  # imports and caches warm
    t = time.perf_counter()
    for _ in range(5):
        r = repair_mesh(soup)
    dt = (time.perf_counter() - t) / 5
    assert r.ok
    # Typically ~20 ms; the bound leaves room for a loaded shared machine.
    assert dt < 0.2, f"{dt * 1000:.0f} ms"


# --- STEP assemblies -----------------------------------------------------------------------------


def test_the_example_assembly_keeps_its_placements_exactly() -> None:
    d = REPO / "cad_parts" / "bracket_assembly"
    scene = _scene(d / "product.step")
    iv = _import(d)
    assert iv.build is not None
    assert np.array_equal(iv.build.T_fixture_cad, np.eye(4))
    assert "frame is kept" in iv.build.reason
    by = {p.name: p for p in iv.parts}
    assert sorted(by) == ["bracket_1", "bracket_2", "pin_1", "pin_2", "plate"]
    for node in scene.graph.nodes_geometry:
        T, _ = scene.graph[node]
        p = by[node]
        assert p.T_fixture_part is not None and np.array_equal(p.T_fixture_part, np.asarray(T, dtype=float))
        assert p.cad_name == node and p.issue is None
    assert by["plate"].mass_kg == pytest.approx(2700 * 0.100 * 0.060 * 0.015, rel=1e-6)


def test_a_part_written_one_face_per_shape_is_merged_into_one_watertight_part(tmp_path: Path) -> None:
    d = write_variant(tmp_path / "split", "assembly: product.step\n")
    write_split_face_assembly(d / "product.step")
    scene = _scene(d / "product.step")
    assert len(scene.graph.nodes_geometry) > 5  # the exporter's habit really is in the file
    iv = _import(d)
    by = {p.name: p for p in iv.parts}
    assert sorted(by) == ["housing", "plate"]
    h = by["housing"]
    assert h.issue is None, h.issue
    assert h.mesh.is_watertight
    assert h.mesh.volume == pytest.approx(housing_volume_m3(), rel=0.01)
    assert h.mass_kg == pytest.approx(2700 * housing_volume_m3(), rel=0.01)
    assert h.cad_name.count(" + ") == len(scene.graph.nodes_geometry) - 2
    # Placed: the housing stands on the plate (15 mm), the plate on the fixture.
    assert h.T_fixture_part is not None
    placed = h.mesh.copy()
    placed.apply_transform(h.T_fixture_part)
    assert placed.bounds[0, 2] == pytest.approx(0.015, abs=1e-6)
    assert placed.bounds[1, 2] == pytest.approx(0.035, abs=1e-6)


def test_two_face_by_face_parts_touching_along_their_outline_stay_two_parts(tmp_path: Path) -> None:
    from realcad import write_stacked_split_face_assembly

    d = write_variant(tmp_path / "stack", "assembly: product.step\n")
    write_stacked_split_face_assembly(d / "product.step")
    assert len(_scene(d / "product.step").graph.nodes_geometry) == 12
    parts = {p.name: p for p in _import(d).parts}
    assert sorted(parts) == ["lower", "upper"]
    for p in parts.values():
        assert p.issue is None, p.issue
        assert p.mesh.volume == pytest.approx(0.040 * 0.030 * 0.020, rel=1e-6)
        assert p.cad_name.count(" + ") == 5
    assert _placed_bottom(parts["upper"]) == pytest.approx(0.020, abs=1e-6)


def _placed_bottom(p) -> float:
    m = p.mesh.copy()
    m.apply_transform(p.T_fixture_part)
    return float(m.bounds[0, 2])


def test_named_faces_give_the_merged_part_their_common_prefix(tmp_path: Path) -> None:
    d = write_variant(tmp_path / "split_named", "assembly: product.step\n")
    write_split_face_assembly(d / "product.step", face_label="housing_face")
    assert sorted(p.name for p in _import(d).parts) == ["housing", "plate"]


def test_useless_cad_names_are_replaced_unique_safe_and_deterministic(tmp_path: Path) -> None:
    d = write_variant(tmp_path / "names", "assembly: gearbox.step\n")
    write_generic_names_assembly(d / "gearbox.step")
    first = _import(d).parts
    names = [p.name for p in first]
    assert len(names) == len(set(names)) == len(GENERIC_LABELS) + 2
    assert all(SAFE.match(n) for n in names), names
    # Nothing up the tree has a name (the root is unnamed): the file names the unnamed parts.
    assert sorted(n for n in names if n.startswith("gearbox")) == ["gearbox"] + [
        f"gearbox_{k}" for k in range(2, len(GENERIC_LABELS) + 1)
    ]
    # Fusion-style components name their "Body1": the component's name, sanitised.
    assert {"Bracket_1", "Bracket_2"} <= set(names)
    # The raw CAD names are kept.
    raw = {p.cad_name for p in first}
    assert {"NAUO12", "Body", "Name:1", "Body1"} <= raw
    again = [p.name for p in _import(d).parts]
    assert again == names


def test_name_helpers() -> None:
    for raw in (
        "NAUO12",
        "Body",
        "Body:2",
        "Name:1",
        "",
        "=>[0:1:1:5]",
        "SOLID",
        "42",
        "3f2a9c1e-0b7d-4c1a-9e2f-1234567890ab",
    ):
        assert is_generic_name(raw), raw
    for raw in ("plate", "Bracket:1", "pin_2", "M6x20 bolt", "base-plate"):
        assert not is_generic_name(raw), raw
    assert sanitize_name("M6x20 bolt (ISO 4017)") == "M6x20_bolt_ISO_4017"
    # SolidWorks Toolbox names: the " --- " between size and thread length is one separator.
    assert sanitize_name("ISO 4762 M6 x 25 --- 25N-1") == "ISO_4762_M6_x_25_25N-1"
    assert sanitize_name("6204-2RS") == "6204-2RS"
    assert unique_names(["pin", "pin", "plate", "pin"], [False, True, True, False]) == [
        "pin_2",
        "pin",
        "plate",
        "pin_3",
    ]


def test_a_step_without_an_assembly_tree_is_split_into_its_bodies(tmp_path: Path) -> None:
    from realcad import BLOCK_MM, PIN_H_MM, PIN_R_MM, PLATE_MM, write_treeless_assembly

    d = write_variant(tmp_path / "treeless", "assembly: gearbox.step\n")
    write_treeless_assembly(d / "gearbox.step")
    assert len(_scene(d / "gearbox.step").graph.nodes_geometry) == 1
    iv = _import(d)
    # Lowest first: the plate, then the blocks (-x before +x), then the pin on block_1.
    assert [p.name for p in iv.parts] == ["gearbox", "gearbox_2", "gearbox_3", "gearbox_4"]
    vols_mm3 = [p.mesh.volume * 1e9 for p in iv.parts]
    assert vols_mm3 == pytest.approx(
        [np.prod(PLATE_MM), np.prod(BLOCK_MM), np.prod(BLOCK_MM), np.pi * PIN_R_MM**2 * PIN_H_MM], rel=0.01
    )
    assert all(p.issue is None for p in iv.parts)
    # Each body has its frame at its bottom centre, placed where it was drawn.
    pin = iv.parts[3]
    assert pin.T_fixture_part is not None
    # (the centre of the tessellated circle's box is a few micrometres off the axis)
    assert pin.T_fixture_part[:3, 3] == pytest.approx([0.030, 0.0, 0.045], abs=1e-5)
    assert pin.mesh.bounds[0] == pytest.approx([-PIN_R_MM / 1000, -PIN_R_MM / 1000, 0.0], abs=1e-4)


def test_repeated_parts_stay_separate_instances(tmp_path: Path) -> None:
    from realcad import product_shapes, write_assembly

    d = write_variant(tmp_path / "rep", "assembly: product.step\n")
    write_assembly(d / "product.step", product_shapes())
    parts = {p.name: p for p in _import(d).parts}
    assert {"block_1", "block_2"} <= set(parts)
    b1, b2 = parts["block_1"], parts["block_2"]
    assert b1.T_fixture_part is not None and b2.T_fixture_part is not None
    assert b1.mass_kg == pytest.approx(b2.mass_kg, rel=1e-9)
    centres = [(p.T_fixture_part @ np.append(p.com_m, 1.0))[:3] for p in (b1, b2)]
    assert centres[0][0] - centres[1][0] == pytest.approx(0.060, abs=1e-6)


def test_a_kit_part_with_overlapping_shells_is_repaired_and_one_with_a_gap_has_a_clear_issue(
    tmp_path: Path,
) -> None:
    d = tmp_path / "kit"
    d.mkdir()
    mesh, vol_mm3 = overlapping_shells_mesh()
    mesh.export(d / "twin.obj")
    gapped_box_mesh(10.0).export(d / "open.stl")
    write_variant(
        d,
        "parts:\n"
        "  - {name: twin, cad: twin.obj, units: mm, target: A1}\n"
        "  - {name: open, cad: open.stl, units: mm, target: A2}\n",
    )
    iv = _import(d)
    assert iv.build is None
    by = {p.name: p for p in iv.parts}
    assert by["twin"].issue is None, by["twin"].issue
    assert by["twin"].mesh.volume == pytest.approx(vol_mm3 * 1e-9, rel=0.01)
    assert any("united" in n for n in by["twin"].repair_notes)
    issue = by["open"].issue
    assert issue is not None and "open.stl" in issue and "open surface" in issue
    assert "largest hole 14.1 mm across" in issue


def _tube(od_mm: float, id_mm: float, h_mm: float, z_mm: float, label: str):
    from build123d import Align, Cylinder, Pos

    bottom = (Align.CENTER, Align.CENTER, Align.MIN)
    t = Pos(0, 0, z_mm) * (Cylinder(od_mm / 2, h_mm, align=bottom) - Cylinder(id_mm / 2, h_mm, align=bottom))
    t.label = label
    return t


def test_a_named_sub_assembly_of_unnamed_touching_bodies_is_one_part(tmp_path: Path) -> None:
    from build123d import Align, Box, Compound, Pos, export_step

    bottom = (Align.CENTER, Align.CENTER, Align.MIN)
    plate = Box(120, 80, 10, align=bottom)
    plate.label = "plate"
    # A bought-in bearing: two unnamed rings, the inner one's outside = the outer one's bore (touching).
    bearing = Compound(
        children=[_tube(30, 20, 12, 10, "Body"), _tube(47, 30, 12, 10, "Body")], label="6204-2RS"
    )
    # A sub-assembly of named parts stays parts; so do unnamed bodies that do not touch.
    web, foot = Pos(40, 0, 10) * Box(10, 30, 20, align=bottom), Pos(40, 0, 30) * Box(10, 30, 5, align=bottom)
    web.label, foot.label = "web", "foot"
    bracket = Compound(children=[web, foot], label="Bracket")
    a, b = Pos(-45, 20, 10) * Box(8, 8, 8, align=bottom), Pos(-45, -20, 10) * Box(8, 8, 8, align=bottom)
    a.label = b.label = "Body"
    loose = Compound(children=[a, b], label="Spacers")
    d = write_variant(tmp_path / "bearing", "assembly: product.step\n")
    export_step(Compound(children=[plate, bearing, bracket, loose], label="bench"), str(d / "product.step"))
    parts = {p.name: p for p in _import(d).parts}
    assert "6204-2RS" in parts and not any(n.startswith("6204-2RS_") for n in parts), sorted(parts)
    unit = parts["6204-2RS"]
    assert unit.issue is None and unit.mesh.is_watertight
    assert len(unit.cad_name.split(" + ")) == 2
    ring_mm3 = np.pi / 4 * ((47**2 - 30**2) + (30**2 - 20**2)) * 12
    assert unit.mesh.volume * 1e9 == pytest.approx(ring_mm3, rel=0.01)
    assert len(unit.mesh.split(only_watertight=False)) == 1
    assert {"web", "foot"} <= set(parts)
    assert (
        sum(
            p.cad_name.count(" + ") == 0 and p.mesh.volume * 1e9 == pytest.approx(512, rel=0.01)
            for p in parts.values()
        )
        == 2
    )


def test_generic_names_are_numbered_in_the_cad_order(tmp_path: Path) -> None:
    from build123d import Align, Box, Compound, Pos, export_step

    cubes = []
    for i in range(1, 13):
        c = Pos(15.0 * i, 0, 0) * Box(10, 10, 10, align=(Align.CENTER, Align.CENTER, Align.MIN))
        c.label = f"NAUO{i}"
        cubes.append(c)
    d = write_variant(tmp_path / "rig", "assembly: rig.step\n")
    export_step(Compound(children=cubes, label="rig"), str(d / "rig.step"))
    by_raw = {p.cad_name: p.name for p in _import(d).parts}
    # NAUO1 -> rig, NAUO2 -> rig_2 ... NAUO12 -> rig_12 (not NAUO10 -> rig_2 as a string sort would give).
    assert by_raw == {f"NAUO{i}": ("rig" if i == 1 else f"rig_{i}") for i in range(1, 13)}
