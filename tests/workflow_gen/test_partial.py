"""Parts that cannot be planned get a reason, and the rest of the variant is still planned."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from workflow_gen.phases import ReasonKind
from workflow_gen.pipeline import plan_variant

REPO = Path(__file__).resolve().parents[2]


def test_unreachable_kit_target_is_reported_and_the_rest_planned(tmp_path: Path, cell) -> None:
    d = tmp_path / "kit"
    d.mkdir()
    for f in ("cover.step", "bushing.stl"):
        shutil.copy(REPO / "cad_parts" / "oversize_kit" / f, d / f)
    (d / "variant.yaml").write_text(
        "parts:\n"
        "  - {name: cover, cad: cover.step, target: A1}\n"
        "  - {name: bushing, cad: bushing.stl, target: {frame: world, xyz_m: [2.5, 0.0, 0.0]}}\n"
    )
    o = plan_variant(d, cell)
    assert [(t.part, t.actor) for t in o.workflow.tasks] == [("cover", "robot"), ("bushing", "operator")]
    assert list(o.infeasible) == ["bushing"]
    assert "IK above the place pose" in o.infeasible["bushing"]
    # Out of the robot's reach, the worker puts it there: the instructions give the pose in the world frame.
    op = o.workflow.tasks[1]
    assert "IK above the place pose" in op.instructions[0]
    where = "x 2500 mm, y 0 mm and its bottom at z 0 mm in the world frame"
    assert any(where in s for s in op.instructions), op.instructions


def test_parts_resting_on_an_infeasible_part_are_infeasible_too(tmp_path: Path, cell) -> None:
    d = tmp_path / "asm"
    d.mkdir()
    shutil.copy(REPO / "cad_parts" / "bracket_assembly" / "product.step", d / "product.step")
    # A plate of 500 t/m^3 weighs 45 kg: too heavy for a 140 N grip, so nothing can be built on it.
    (d / "variant.yaml").write_text(
        "assembly: product.step\nfixture: fixture\nfeed: feeder\nparts:\n  plate: {density_kg_m3: 500000}\n"
    )
    o = plan_variant(d, cell)
    assert o.workflow.tasks == []
    inf = o.infeasible
    assert sorted(inf) == ["bracket_1", "bracket_2", "pin_1", "pin_2", "plate"]
    assert inf["plate"].startswith("too heavy for the gripper")
    assert "no worker's task either" in inf["plate"] and "25 kg" in inf["plate"]
    kinds = {i.part: i.kind for i in o.workflow.infeasible}
    assert kinds["plate"] == ReasonKind.TOO_HEAVY_FOR_WORKER
    assert inf["bracket_1"] == "rests on plate, which nobody can place"
    assert inf["pin_2"] == "rests on bracket_2, which nobody can place"
    assert kinds["bracket_1"] == kinds["pin_2"] == ReasonKind.DEPENDS_ON


def test_open_mesh_is_infeasible_with_a_reason_and_mass_properties_are_analytic(tmp_path: Path, cell) -> None:
    import trimesh

    from workflow_gen.cad_import import import_parts
    from workflow_gen.variant import load_variant

    d = tmp_path / "kit"
    d.mkdir()
    shutil.copy(REPO / "cad_parts" / "oversize_kit" / "cover.step", d / "cover.step")
    # A cup: a cylinder without its top cap; a 16-sided hole is beyond hole filling (triangles and quads).
    cyl = trimesh.creation.cylinder(radius=15.0, height=20.0, sections=16)
    keep = cyl.face_normals[:, 2] < 0.5
    trimesh.Trimesh(cyl.vertices, cyl.faces[keep]).export(d / "tube.stl")
    (d / "variant.yaml").write_text(
        "density_kg_m3: 7850\n"
        "parts:\n"
        "  - {name: cover, cad: cover.step, target: A1}\n"
        "  - {name: tube, cad: tube.stl, target: A2}\n"
    )
    parts = {p.name: p for p in import_parts(d, load_variant(d), cell.spec.gripper.stroke_m)}
    assert parts["tube"].issue is not None and "watertight" in parts["tube"].issue
    cover = parts["cover"]
    assert cover.issue is None
    vol = 0.040 * 0.030 * 0.025
    assert cover.mass_kg == pytest.approx(7850 * vol, rel=1e-6)
    assert cover.com_m == pytest.approx([0.0, 0.0, 0.0125], abs=1e-9)
    ixx = 7850 * vol * (0.030**2 + 0.025**2) / 12
    assert cover.inertia_kg_m2[0, 0] == pytest.approx(ixx, rel=1e-6)
    o = plan_variant(d, cell)
    assert list(o.infeasible) == ["tube"] and [t.part for t in o.workflow.tasks] == ["cover"]


def test_assembly_parts_are_fed_in_their_assembly_orientation(cell, plan_of) -> None:
    import numpy as np

    o = plan_of(REPO / "cad_parts" / "bracket_assembly")
    for p in o.workflow.parts:
        up_start = p.T_world_start.matrix()[:3, 2]
        up_target = p.T_world_target.matrix()[:3, 2]
        assert np.dot(up_start, up_target) == pytest.approx(1.0, abs=1e-6), p.name


def test_wide_parts_skip_feeder_slots_instead_of_overlapping(tmp_path: Path, cell) -> None:
    import numpy as np
    import trimesh

    d = tmp_path / "kit"
    d.mkdir()
    # A 130 x 20 x 20 mm bar is longer than both slot pitches (95 x 110 mm): neighbours must stay clear.
    trimesh.creation.box(extents=(130.0, 20.0, 20.0)).export(d / "bar.stl")
    (d / "variant.yaml").write_text(
        "parts:\n  - {name: bar, cad: bar.stl, quantity: 3, target: [A1, B1, C1]}\n"
    )
    o = plan_variant(d, cell)
    parts = o.workflow.parts
    boxes = []
    for p in parts:
        m = trimesh.creation.box(extents=(0.13, 0.02, 0.02))  # the bar in its part frame, in metres
        v = trimesh.transform_points(m.vertices, p.T_world_start.matrix())
        boxes.append((v.min(axis=0), v.max(axis=0)))
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            (a0, a1), (b0, b1) = boxes[i], boxes[j]
            assert not (np.all(a0 < b1) and np.all(b0 < a1)), (parts[i].source, parts[j].source)
    assert len(parts) == 3 and len({p.source for p in parts}) == 3
    # The feeder is laid out from the footprints: the bars lie side by side with room for the fingers.
    gaps = [
        max(float(np.max(b0 - a1)), float(np.max(a0 - b1)))
        for i, (a0, a1) in enumerate(boxes)
        for (b0, b1) in boxes[i + 1 :]
    ]
    assert min(gaps) >= 0.02, gaps
    assert [t.actor for t in o.workflow.tasks] == ["robot"] * 3
