"""Cylindrical features, fastener recognition and nut-to-bolt pairing on primitive test geometry."""

from __future__ import annotations

import time

import manifold3d
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


def _frustum(r_low_m: float, r_high_m: float, h_m: float, z0_m: float = 0.0) -> trimesh.Trimesh:
    """A cone frustum (manifold3d), axis z, from z0 up to z0 + h."""
    c = manifold3d.Manifold.cylinder(h_m, r_low_m, r_high_m, 48).translate((0.0, 0.0, z0_m))
    mesh = c.to_mesh()
    return trimesh.Trimesh(np.asarray(mesh.vert_properties)[:, :3], np.asarray(mesh.tri_verts))


def _hex(af_m: float, h_m: float, z0_m: float = 0.0) -> trimesh.Trimesh:
    """Hexagonal prism ``af_m`` across flats, axis z, from z0 up to z0 + h."""
    return _cyl(af_m / 2 / np.cos(np.pi / 6), h_m, (0, 0, z0_m + h_m / 2), sections=6)


def countersunk_screw(d_m: float = 0.005, length_m: float = 0.012) -> trimesh.Trimesh:
    """ISO 10642-like screw: a 90 deg cone head 2 d across, its flat top at z = 0, a hex socket in it."""
    k = 0.5 * d_m
    head = _frustum(d_m / 2, d_m, k, -k)
    shank = _cyl(d_m / 2, length_m - k + 1e-4, (0, 0, -k - (length_m - k) / 2 + 5e-5))
    return _minus(_plus(head, shank), _hex(0.6 * d_m, 0.4 * d_m, -0.4 * d_m).apply_translation((0, 0, 1e-4)))


def button_screw(d_m: float = 0.006, length_m: float = 0.016) -> trimesh.Trimesh:
    """ISO 7380-like screw: a domed head 1.9 d across and 0.55 d high on top (z 0..k), shank down."""
    a, k = 0.95 * d_m, 0.55 * d_m
    big = (a * a + k * k) / (2 * k)  # radius of the sphere the dome is cut from
    dome = trimesh.creation.icosphere(subdivisions=4, radius=big).apply_translation((0, 0, k - big))
    dome = trimesh.boolean.intersection([dome, _box((3 * a, 3 * a, k), (0, 0, k / 2))], engine="manifold")
    return _plus(dome, _cyl(d_m / 2, length_m + 1e-4, (0, 0, -length_m / 2 + 5e-5)))


def standoff_mf(round_body: bool = False, tapped: bool = True) -> trimesh.Trimesh:
    """M3 male-female standoff: a 5.5 mm hex (or round) body 10 mm long on z 0..10 mm, a 6 mm stud
    below it, a tapped hole (tap drill 2.5 mm) 6 mm deep in its top."""
    body = _cyl(0.00275, 0.010, (0, 0, 0.005)) if round_body else _hex(0.0055, 0.010)
    part = _plus(body, _cyl(0.0015, 0.0061, (0, 0, -0.003 + 5e-5)))
    return _minus(part, _cyl(0.00125, 0.0062, (0, 0, 0.010 - 0.003 + 1e-4))) if tapped else part


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


def test_male_female_standoff_is_a_screw_driven_stud_first() -> None:
    for mesh in (standoff_mf(), standoff_mf(round_body=True)):
        assert recognise_fastener("Standoff", mesh) is FastenerKind.SCREW
        axis, point = fastener_axis(mesh, FastenerKind.SCREW)
        np.testing.assert_allclose(axis, [0, 0, -1], atol=1e-6)  # body on top: the stud goes in first
        np.testing.assert_allclose(point, [0, 0, -0.003], atol=2e-4)
    turned = standoff_mf().apply_transform(RX)
    assert recognise_fastener("NAUO7", turned) is FastenerKind.SCREW
    # No tapped hole: a tall hex on a stud, not a standoff (and far too tall for a bolt's head).
    assert recognise_fastener("NAUO8", standoff_mf(tapped=False)) is None


def test_countersunk_and_round_heads_are_screws_hex_heads_bolts() -> None:
    assert recognise_fastener("Part11", countersunk_screw()) is FastenerKind.SCREW
    assert recognise_fastener("Part12", countersunk_screw().apply_transform(RX)) is FastenerKind.SCREW
    axis, _ = fastener_axis(countersunk_screw(), FastenerKind.SCREW)
    np.testing.assert_allclose(axis, [0, 0, -1], atol=1e-6)
    assert recognise_fastener("Part5", cap_screw(0.006, 0.045)) is FastenerKind.SCREW  # M6x45: 7.5 d
    assert recognise_fastener("NAUO6", button_screw()) is FastenerKind.SCREW
    assert recognise_fastener("NAUO9", hex_bolt(0.006, 0.060)) is FastenerKind.BOLT  # ISO 4017 M6x60: 10 d


def _lead_screw(hub_r_m: float = 0.013, hub_h_m: float = 0.016, cross_r_m: float = 0.0045) -> trimesh.Trimesh:
    """A vise's lead screw: a 12 mm shaft 88 mm long under a hub, a cross hole for the handle in it."""
    part = _plus(_cyl(hub_r_m, hub_h_m, (0, 0, hub_h_m / 2)), _cyl(0.006, 0.0881, (0, 0, -0.044 + 5e-5)))
    if cross_r_m <= 0:
        return part
    bore = _cyl(cross_r_m, 3 * hub_r_m).apply_transform(
        trimesh.transformations.rotation_matrix(np.pi / 2, (1, 0, 0))
    )
    return _minus(part, bore.apply_translation((0, 0, hub_h_m / 2)))


def test_lead_screws_handle_bars_and_knobs_are_not_fasteners() -> None:
    assert recognise_fastener("Part15", _lead_screw()) is None
    assert recognise_fastener("NAUO1", _lead_screw(cross_r_m=0.0)) is None  # hub 1.33 d high, 2.2 d across
    assert recognise_fastener("NAUO2", _lead_screw(0.009, 0.010)) is None  # head of a cap screw, cross hole
    assert recognise_fastener("NAUO2", _lead_screw(0.009, 0.010, 0.0)) is FastenerKind.SCREW  # no cross hole
    # Handle bar 8 x 110 mm with a 12 x 8 mm knob: the head of a socket cap screw, but a 14 d shank.
    bar = _plus(_cyl(0.006, 0.008, (0, 0, 0.004)), _cyl(0.004, 0.1101, (0, 0, -0.055 + 5e-5)))
    assert recognise_fastener("Part16", bar) is None
    assert recognise_fastener("NAUO3", bar.apply_transform(RX)) is None
    # Hex head bolt with a 14 d shank: a bar, not a fastener.
    assert recognise_fastener("NAUO4", hex_bolt(0.006, 0.084)) is None
    # Lever with a ball knob: the ball's height against its width (and against the shank) gives it away.
    for ball_r_m in (0.0054, 0.006, 0.009):  # 0.84 as high as wide; 1.31 d high; 2.25 d across
        ball = trimesh.creation.icosphere(subdivisions=4, radius=ball_r_m)
        lever = _plus(ball, _cyl(0.004, 0.060 + ball_r_m, (0, 0, -0.030 - ball_r_m / 2)))
        assert recognise_fastener("NAUO5", lever) is None, ball_r_m
