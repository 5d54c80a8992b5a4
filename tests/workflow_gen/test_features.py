"""Cylindrical features, fastener recognition and nut-to-bolt pairing on primitive test geometry."""

from __future__ import annotations

import time

import numpy as np
import pytest
import trimesh

from workflow_gen.features import (
    CylinderFeature,
    FastenerKind,
    cylindrical_features,
    fastener_axis,
    pair_fasteners,
    recognise_fastener,
)

RX = trimesh.transformations.rotation_matrix(np.pi / 2, (0, 1, 0))  # part +z onto fixture +x


def _cyl(r_m: float, h_m: float, at=(0.0, 0.0, 0.0), sections: int = 32) -> trimesh.Trimesh:
    m = trimesh.creation.cylinder(radius=r_m, height=h_m, sections=sections)
    m.apply_translation(at)
    return m


def _box(ext, at=(0.0, 0.0, 0.0)) -> trimesh.Trimesh:
    m = trimesh.creation.box(extents=ext)
    m.apply_translation(at)
    return m


def _minus(a: trimesh.Trimesh, *cut: trimesh.Trimesh) -> trimesh.Trimesh:
    return trimesh.boolean.difference([a, *cut], engine="manifold")


def _plus(*parts: trimesh.Trimesh) -> trimesh.Trimesh:
    return trimesh.boolean.union(list(parts), engine="manifold")


def hex_nut(d_m: float = 0.006, af_m: float = 0.010, h_m: float = 0.0052) -> trimesh.Trimesh:
    """ISO 4032-like nut, axis z, bottom at z = 0 (a 6-section cylinder is a hexagonal prism)."""
    prism = _cyl(af_m / 2 / np.cos(np.pi / 6), h_m, (0, 0, h_m / 2), sections=6)
    return _minus(prism, _cyl(d_m / 2, 2 * h_m, (0, 0, h_m / 2)))


def hex_bolt(
    d_m: float = 0.006, length_m: float = 0.025, af_m: float = 0.010, k_m: float = 0.004
) -> trimesh.Trimesh:
    """Hex head bolt, head on top (z in 0..k), shank down to z = -length."""
    head = _cyl(af_m / 2 / np.cos(np.pi / 6), k_m, (0, 0, k_m / 2), sections=6)
    return _plus(head, _cyl(d_m / 2, length_m + 1e-4, (0, 0, -length_m / 2 + 5e-5)))


def cap_screw(d_m: float = 0.006, length_m: float = 0.020) -> trimesh.Trimesh:
    """Socket-head-like screw: a round head 1.5 d wide, d high, on top; shank down."""
    head = _cyl(0.75 * d_m, d_m, (0, 0, d_m / 2))
    return _plus(head, _cyl(d_m / 2, length_m + 1e-4, (0, 0, -length_m / 2 + 5e-5)))


def washer() -> trimesh.Trimesh:
    return trimesh.creation.annulus(r_min=0.0032, r_max=0.006, height=0.0016, sections=48)


def test_hole_and_shaft_are_found_with_axis_radius_length() -> None:
    plate = _minus(_box((0.1, 0.06, 0.01)), _cyl(0.004, 0.03, (0.02, 0.01, 0)))
    feats = cylindrical_features(plate)
    assert len(feats) == 1
    f = feats[0]
    assert f.kind == "hole"
    np.testing.assert_allclose(f.axis, [0, 0, 1], atol=1e-6)
    np.testing.assert_allclose(f.point_m, [0.02, 0.01, 0.0], atol=1e-6)
    assert f.radius_m == pytest.approx(0.004, rel=1e-3)
    assert f.length_m == pytest.approx(0.01, rel=1e-3)
    rod = _cyl(0.005, 0.1).apply_transform(RX)
    (s,) = cylindrical_features(rod)
    assert s.kind == "shaft"
    np.testing.assert_allclose(s.axis, [1, 0, 0], atol=1e-6)
    assert s.radius_m == pytest.approx(0.005, rel=1e-3) and s.length_m == pytest.approx(0.1, rel=1e-6)


def test_tilted_coarse_cylinder_and_a_box_with_no_cylinder() -> None:
    # 12 sections (30 deg steps, as a coarse STEP export), axis tilted 30 deg about y.
    tilt = trimesh.transformations.rotation_matrix(np.deg2rad(30), (0, 1, 0))
    tube = trimesh.creation.annulus(r_min=0.01, r_max=0.02, height=0.03, sections=12)
    tube.apply_transform(tilt)
    feats = cylindrical_features(tube)
    assert [f.kind for f in feats] == ["shaft", "hole"]
    for f in feats:
        assert abs(float(f.axis @ tilt[:3, 2])) == pytest.approx(1.0, abs=1e-6)
    assert cylindrical_features(_box((0.05, 0.04, 0.03))) == []
    assert cylindrical_features(hex_nut())[0].kind == "hole"  # the hex outside is no cylinder
    assert len(cylindrical_features(hex_nut())) == 1


def test_fine_tessellation_is_fast() -> None:
    part = _minus(_cyl(0.02, 0.05, sections=200), _cyl(0.01, 0.06, sections=200)).subdivide()
    assert len(part.faces) >= 5000
    part = trimesh.Trimesh(part.vertices, part.faces)  # no cached adjacency
    t0 = time.perf_counter()
    feats = cylindrical_features(part)
    assert time.perf_counter() - t0 < 0.05
    assert sorted((f.kind, round(f.radius_m, 4)) for f in feats) == [("hole", 0.01), ("shaft", 0.02)]


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("ISO_4017_M8x30_3", FastenerKind.BOLT),
        ("ISO 4762 M6x20-1", FastenerKind.SCREW),
        ("DIN912_M5x16", FastenerKind.SCREW),
        ("DIN 933 M10", FastenerKind.BOLT),
        ("Nut:2", FastenerKind.NUT),
        ("hex nut M6", FastenerKind.NUT),
        ("HexNut_M12", FastenerKind.NUT),
        ("ISO 4032 M12-1", FastenerKind.NUT),
        ("DIN-934-M8", FastenerKind.NUT),
        ("washer for M8 bolt", FastenerKind.WASHER),
        ("DIN 125 A 6.4", FastenerKind.WASHER),
        ("M6x20", FastenerKind.BOLT),
        ("CapScrew", FastenerKind.SCREW),
    ],
)
def test_fasteners_by_name(name: str, kind: FastenerKind) -> None:
    assert recognise_fastener(name, _box((0.02, 0.02, 0.02))) is kind


@pytest.mark.parametrize("name", ["peanut_tray", "NAUO12", "Body", "screwdriver_rest", "plate_4017", "M8"])
def test_names_that_say_nothing(name: str) -> None:
    assert recognise_fastener(name, _box((0.02, 0.02, 0.02))) is None


def test_fasteners_by_shape() -> None:
    assert recognise_fastener("NAUO12", hex_nut()) is FastenerKind.NUT
    assert recognise_fastener("Body", hex_nut(0.012, 0.018, 0.0108).apply_transform(RX)) is FastenerKind.NUT
    assert recognise_fastener("Name:1", hex_bolt()) is FastenerKind.BOLT
    assert recognise_fastener("NAUO3", cap_screw()) is FastenerKind.SCREW
    assert recognise_fastener("NAUO4", washer()) is FastenerKind.WASHER


def test_no_fastener_false_positives() -> None:
    plate = _minus(
        _box((0.1, 0.06, 0.008)),
        *[_cyl(0.0035, 0.03, (x, y, 0)) for x in (-0.03, 0.03) for y in (-0.02, 0.02)],
    )
    bracket = _minus(
        _plus(_box((0.04, 0.04, 0.006), (0, 0, 0.003)), _box((0.006, 0.04, 0.03), (0.017, 0, 0.015))),
        _cyl(0.0035, 0.02, (-0.003, 0.012, 0)),
        _cyl(0.0065, 0.02).apply_transform(RX).apply_translation((0.017, 0, 0.02)),
    )
    pin = _cyl(0.004, 0.03)
    sleeve = trimesh.creation.annulus(r_min=0.006, r_max=0.009, height=0.03)
    spacer = trimesh.creation.annulus(r_min=0.004, r_max=0.008, height=0.012)  # thick ring, not a washer
    standoff = _minus(_cyl(0.0058, 0.03, sections=6), _cyl(0.0025, 0.04))  # long hex: not a nut
    for name, mesh in [
        ("Body", plate),
        ("NAUO1", bracket),
        ("NAUO2", pin),
        ("NAUO3", sleeve),
        ("NAUO4", spacer),
        ("NAUO5", standoff),
    ]:
        assert recognise_fastener(name, mesh) is None, name


def test_fastener_axes() -> None:
    bolt = hex_bolt()
    axis, point = fastener_axis(bolt, FastenerKind.BOLT)
    np.testing.assert_allclose(axis, [0, 0, -1], atol=1e-6)  # head on top: driven downwards
    np.testing.assert_allclose(point, [0, 0, -0.0125], atol=1e-4)
    nut = hex_nut().apply_transform(RX)
    axis, point = fastener_axis(nut, FastenerKind.NUT)
    np.testing.assert_allclose(axis, [1, 0, 0], atol=1e-6)
    np.testing.assert_allclose(point, [0.0026, 0, 0], atol=1e-6)


def test_nuts_pair_with_their_bolt_or_rod() -> None:
    bolt_a = hex_bolt().apply_translation((0.0, 0.0, 0.008))
    bolt_b = hex_bolt().apply_translation((0.03, 0.0, 0.008))
    nut_a = hex_nut().apply_translation((0.0, 0.0, -0.012))
    nut_b = hex_nut().apply_translation((0.03, 0.0, -0.012))
    far_nut = hex_nut().apply_translation((0.1, 0.0, 0.0))
    rod = _cyl(0.006, 0.14).apply_transform(RX)
    rod_nut = hex_nut(0.012, 0.018, 0.0108).apply_transform(RX).apply_translation((0.06, 0.0, 0.0))
    rod.apply_translation((0, 0.05, 0))
    rod_nut.apply_translation((0, 0.05, 0))
    wash = washer().apply_translation((0.0, 0.0, 0.0072))  # under bolt_a's head
    meshes = {
        "bolt_a": bolt_a,
        "bolt_b": bolt_b,
        "nut_a": nut_a,
        "nut_b": nut_b,
        "far_nut": far_nut,
        "rod": rod,
        "rod_nut": rod_nut,
        "washer": wash,
    }
    kinds = {k: v for k in meshes if (v := recognise_fastener(k, meshes[k])) is not None}
    assert kinds == {
        "bolt_a": FastenerKind.BOLT,
        "bolt_b": FastenerKind.BOLT,
        "nut_a": FastenerKind.NUT,
        "nut_b": FastenerKind.NUT,
        "far_nut": FastenerKind.NUT,
        "rod_nut": FastenerKind.NUT,
        "washer": FastenerKind.WASHER,
    }
    assert pair_fasteners(meshes, kinds) == {
        "nut_a": "bolt_a",
        "nut_b": "bolt_b",
        "rod_nut": "rod",
        "washer": "bolt_a",
    }


def test_feature_is_frozen() -> None:
    f = CylinderFeature(np.array([0, 0, 1.0]), np.zeros(3), 0.01, 0.02, "hole")
    with pytest.raises(AttributeError):
        f.radius_m = 0.02  # type: ignore[misc]


def test_empty_mesh_is_no_fastener_and_has_a_default_axis() -> None:
    empty = trimesh.Trimesh()
    assert cylindrical_features(empty) == []
    assert recognise_fastener("NAUO1", empty) is None
    axis, point = fastener_axis(empty, FastenerKind.NUT)
    np.testing.assert_allclose(axis, [0, 0, 1])
    np.testing.assert_allclose(point, [0, 0, 0])
