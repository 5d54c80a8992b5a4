"""Build orientation: products drawn Y-up, lying on their side or already on the fixture stand on their base."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trimesh
from realcad import (
    PLATE_MM,
    product_shapes,
    write_assembly,
    write_side_lying_assembly,
    write_variant,
    write_y_up_assembly,
)
from scipy.spatial.transform import Rotation

from cell_config import ConfigError
from workflow_gen.cad_import import PartGeometry, import_variant
from workflow_gen.orientation import choose_build_frame
from workflow_gen.variant import load_variant

STROKE_M = 0.085


def _placed(p: PartGeometry) -> trimesh.Trimesh:
    assert p.T_fixture_part is not None
    m = p.mesh.copy()
    m.apply_transform(p.T_fixture_part)
    return m


def _variant(tmp_path: Path, name: str, writer, extra_yaml: str = "") -> Path:
    d = write_variant(tmp_path / name, "assembly: product.step\n" + extra_yaml)
    writer(d / "product.step")
    return d


def _import(d: Path):
    return import_variant(d, load_variant(d), STROKE_M)


def _check_stands_on_plate(parts: list[PartGeometry]) -> None:
    """The reference product stands on its plate: plate bottom on z = 0, centred, everything above it."""
    by = {p.name: _placed(p) for p in parts}
    plate = by["plate"]
    assert plate.bounds[0, 2] == pytest.approx(0.0, abs=1e-9)
    assert plate.extents == pytest.approx(np.array(PLATE_MM) / 1000, abs=1e-6)  # flat, 15 mm high
    lo = np.min([m.bounds[0] for m in by.values()], axis=0)
    hi = np.max([m.bounds[1] for m in by.values()], axis=0)
    assert lo[2] == pytest.approx(0.0, abs=1e-9)
    assert (lo[:2] + hi[:2]) / 2 == pytest.approx([0.0, 0.0], abs=1e-6)
    assert hi[2] == pytest.approx((PLATE_MM[2] + 30 + 36) / 1000, abs=1e-6)  # plate + block + pin
    # The pin stands on block_1, which stands on the plate (STEP placements are float32: ~10 nm).
    assert by["pin"].bounds[0, 2] == pytest.approx(by["block_1"].bounds[1, 2], abs=1e-7)
    assert by["block_1"].bounds[0, 2] == pytest.approx(plate.bounds[1, 2], abs=1e-7)


def test_a_y_up_drawing_is_stood_up_with_cad_plus_y_to_fixture_plus_z(tmp_path: Path) -> None:
    iv = _import(_variant(tmp_path, "yup", write_y_up_assembly))
    b = iv.build
    assert b is not None
    assert b.up_cad == pytest.approx([0.0, 1.0, 0.0], abs=1e-12)
    assert b.T_fixture_cad[:3, :3] @ np.array([0.0, 1.0, 0.0]) == pytest.approx([0.0, 0.0, 1.0], abs=1e-12)
    assert b.candidates[0][0] == "+y"
    assert b.reason.startswith("+y of the CAD points up (a Y-up drawing): stands on plate (its base plate)")
    assert "100 x 60 mm footprint" in b.reason and b.reason.endswith("stable")
    _check_stands_on_plate(iv.parts)
    # T_fixture_part = T_fixture_cad @ T_cad_part for every part.
    for p in iv.parts:
        assert p.T_cad_part is not None and p.T_fixture_part is not None
        assert np.allclose(p.T_fixture_part, b.T_fixture_cad @ p.T_cad_part)


def test_a_product_lying_on_its_side_is_turned_onto_its_plate(tmp_path: Path) -> None:
    iv = _import(_variant(tmp_path, "side", write_side_lying_assembly))
    assert iv.build is not None
    assert iv.build.up_cad == pytest.approx([-1.0, 0.0, 0.0], abs=1e-12)
    _check_stands_on_plate(iv.parts)


def test_a_drawing_already_standing_on_the_fixture_keeps_its_frame_and_an_offset_one_is_moved(
    tmp_path: Path,
) -> None:
    iv = _import(_variant(tmp_path, "zup", lambda p: write_assembly(p, product_shapes())))
    assert iv.build is not None and np.array_equal(iv.build.T_fixture_cad, np.eye(4))
    for p in iv.parts:
        assert np.array_equal(p.T_fixture_part, p.T_cad_part)
    # 5 mm above the origin (beyond the 1 mm of "already there"): lowered onto the fixture, not turned.
    iv = _import(
        _variant(tmp_path, "zup_high", lambda p: write_assembly(p, product_shapes(), offset_mm=(0, 0, 5)))
    )
    assert iv.build is not None
    T = iv.build.T_fixture_cad
    assert np.array_equal(T[:3, :3], np.eye(3))
    assert T[:3, 3] == pytest.approx([0.0, 0.0, -0.005], abs=1e-9)
    _check_stands_on_plate(iv.parts)


def test_build_up_and_build_rpy_deg_override_the_choice(tmp_path: Path) -> None:
    # Forcing the CAD's +z up on a Y-up drawing: the product lies on its back, as asked.
    iv = _import(_variant(tmp_path, "forced", write_y_up_assembly, "build_up: '+z'\n"))
    assert iv.build is not None
    assert iv.build.up_cad == pytest.approx([0.0, 0.0, 1.0])
    assert np.array_equal(iv.build.T_fixture_cad[:3, :3], np.eye(3))
    assert iv.build.reason.startswith("build_up +z (variant.yaml): ")
    # A forced rotation is used as given (then lowered onto the fixture and centred).
    iv = _import(_variant(tmp_path, "rpy", write_y_up_assembly, "build_rpy_deg: [90, 0, 0]\n"))
    assert iv.build is not None
    R = Rotation.from_euler("xyz", [90, 0, 0], degrees=True).as_matrix()
    assert iv.build.T_fixture_cad[:3, :3] == pytest.approx(R, abs=1e-12)
    assert iv.build.candidates == []
    assert iv.build.reason.startswith("rotated by build_rpy_deg [90, 0, 0] (variant.yaml): ")
    _check_stands_on_plate(iv.parts)


def test_build_up_and_build_rpy_deg_together_are_a_config_error(tmp_path: Path) -> None:
    d = _variant(tmp_path, "both", write_y_up_assembly, "build_up: '+y'\nbuild_rpy_deg: [90, 0, 0]\n")
    with pytest.raises(ConfigError, match=r"give either build_up .* or build_rpy_deg, not both") as e:
        load_variant(d)
    assert "\n" not in str(e.value) and "variant.yaml" in str(e.value)


def test_a_long_bar_lies_down_instead_of_standing_on_its_end() -> None:
    # A 100 x 10 x 10 mm bar drawn standing on its end (x up would be the drawing's "stand"): tips over.
    bar = trimesh.creation.box(extents=(0.010, 0.010, 0.100))
    bar.apply_translation((0.2, 0.0, 0.3))
    b = choose_build_frame({"bar": bar})
    assert abs(b.up_cad[2]) < 1e-12  # lies on a long side
    placed = bar.copy()
    placed.apply_transform(b.T_fixture_cad)
    assert placed.bounds[0, 2] == pytest.approx(0.0, abs=1e-12)
    assert placed.extents[2] == pytest.approx(0.010)
    scores = dict(b.candidates)
    assert scores["+z"] < scores[b.candidates[0][0]]
    # Forced onto its end, it is done, and the reason says it is not stable.
    b = choose_build_frame({"bar": bar}, build_up="+z")
    assert "NOT stable (tips over at 6 deg)" in b.reason


def test_an_l_shape_stands_on_the_face_that_carries_its_centre_of_mass() -> None:
    # An L of two plates: a 60 x 40 x 5 base and a 5 x 40 x 30 wall on its +x edge, drawn turned so that
    # the base's bottom faces CAD -x. Standing on the base is the lowest, widest stable stance.
    base = trimesh.creation.box(extents=(0.060, 0.040, 0.005))
    base.apply_translation((0.0, 0.0, 0.0025))
    wall = trimesh.creation.box(extents=(0.005, 0.040, 0.030))
    wall.apply_translation((0.0275, 0.0, 0.020))
    R = trimesh.transformations.rotation_matrix(np.pi / 2, [0, 1, 0])  # z -> +x: the base now stands on x
    meshes = {}
    for name, m in (("base", base), ("wall", wall)):
        m = m.copy()
        m.apply_transform(R)
        meshes[name] = m
    b = choose_build_frame(meshes)
    assert b.up_cad == pytest.approx(R[:3, :3] @ [0, 0, 1], abs=1e-12)
    assert "base (its base plate)" in b.reason
