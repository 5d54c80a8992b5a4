"""Sequencing: assembly by disassembly and kit ordering."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import trimesh

from workflow_gen.features import FastenerKind, recognise_fastener
from workflow_gen.sequence import assembly_order, kit_order, travel_m


def _box(ext, at) -> trimesh.Trimesh:
    m = trimesh.creation.box(extents=ext)
    m.apply_translation(at)
    return m


def test_stack_is_built_bottom_up() -> None:
    meshes = {
        "top": _box((0.02, 0.02, 0.02), (0, 0, 0.05)),
        "base": _box((0.06, 0.06, 0.02), (0, 0, 0.01)),
        "middle": _box((0.04, 0.04, 0.02), (0, 0, 0.03)),
        "beside": _box((0.02, 0.02, 0.02), (0.08, 0, 0.01)),
    }
    r = assembly_order(meshes)
    assert r.blocked == {}
    assert r.order.index("base") < r.order.index("middle") < r.order.index("top")
    assert r.supports == {"top": {"middle"}, "middle": {"base"}, "base": set(), "beside": set()}


def test_floating_and_tipping_parts_are_reported() -> None:
    meshes = {
        "base": _box((0.04, 0.04, 0.02), (0, 0, 0.01)),
        "floating": _box((0.02, 0.02, 0.02), (0.1, 0, 0.05)),
        "overhang": _box((0.06, 0.02, 0.01), (0.045, 0, 0.025)),  # COM beyond the base's edge
    }
    r = assembly_order(meshes)
    assert "floating" in r.blocked and "nothing under it" in r.blocked["floating"]
    assert "overhang" in r.blocked and "tip over" in r.blocked["overhang"]
    assert r.order == ["base"]


def test_part_under_an_overhang_cannot_go_in_from_above() -> None:
    # A bridge over a block: the block can only be inserted before the bridge, and the bridge rests on
    # two posts; all insertable from above in the right order.
    meshes = {
        "post_a": _box((0.01, 0.02, 0.03), (-0.03, 0, 0.015)),
        "post_b": _box((0.01, 0.02, 0.03), (0.03, 0, 0.015)),
        "bridge": _box((0.07, 0.02, 0.01), (0, 0, 0.035)),
        "block": _box((0.02, 0.02, 0.02), (0, 0, 0.01)),
    }
    r = assembly_order(meshes)
    assert r.blocked == {}
    assert r.order.index("block") < r.order.index("bridge")
    assert r.order.index("post_a") < r.order.index("bridge") and r.order.index("post_b") < r.order.index(
        "bridge"
    )


def test_kit_order_shortens_travel() -> None:
    rng = np.random.default_rng(0)
    jobs = {f"p{i}": (rng.uniform(-0.3, 0.3, 3), rng.uniform(-0.3, 0.3, 3)) for i in range(8)}
    start = np.zeros(3)
    order = kit_order(jobs, start)
    assert sorted(order) == sorted(jobs)
    assert travel_m(jobs, order, start) < travel_m(jobs, list(jobs), start)


# ----------------------------------------------------------------------------- straight-line insertion
RX = trimesh.transformations.rotation_matrix(np.pi / 2, (0, 1, 0))  # a part's +z axis onto +x
RZ180 = trimesh.transformations.rotation_matrix(np.pi, (0, 0, 1))
UP, DOWN = np.array([0.0, 0.0, 1.0]), np.array([0.0, 0.0, -1.0])
PLUS_X, MINUS_X = np.array([1.0, 0.0, 0.0]), np.array([-1.0, 0.0, 0.0])


def _cyl(
    r_m: float, h_m: float, at=(0.0, 0.0, 0.0), sections: int = 32, along_x: bool = False
) -> trimesh.Trimesh:
    m = trimesh.creation.cylinder(radius=r_m, height=h_m, sections=sections)
    if along_x:
        m.apply_transform(RX)
    m.apply_translation(at)
    return m


def _minus(a: trimesh.Trimesh, *cut: trimesh.Trimesh) -> trimesh.Trimesh:
    return trimesh.boolean.difference([a, *cut], engine="manifold")


def _plus(*parts: trimesh.Trimesh) -> trimesh.Trimesh:
    return trimesh.boolean.union(list(parts), engine="manifold")


def _nut(d_m: float, af_m: float, h_m: float) -> trimesh.Trimesh:
    """Hex nut, axis z, bottom face at z = 0."""
    prism = _cyl(af_m / 2 / np.cos(np.pi / 6), h_m, (0, 0, h_m / 2), sections=6)
    return _minus(prism, _cyl(d_m / 2, 2 * h_m, (0, 0, h_m / 2)))


def _bolt(d_m: float = 0.006, length_m: float = 0.025) -> trimesh.Trimesh:
    """Hex head M6 bolt: head underside at z = 0, head up to 4 mm, shank down to -length."""
    head = _cyl(0.010 / 2 / np.cos(np.pi / 6), 0.004, (0, 0, 0.002), sections=6)
    return _plus(head, _cyl(d_m / 2, length_m + 1e-4, (0, 0, -length_m / 2 + 5e-5)))


def _unit(v) -> np.ndarray:
    return np.asarray(v, dtype=float) / np.linalg.norm(v)


def _rod_through_uprights(clearance_m: float = 5e-4, hole_sections: int = 24) -> dict[str, trimesh.Trimesh]:
    """Plate, two uprights with holes along x at z = 40 mm, a 12 mm rod through both, nuts on its ends."""
    r = 0.006
    upright = _minus(
        _box((0.01, 0.04, 0.05), (0, 0, 0.035)),
        _cyl(r + clearance_m, 0.03, (0, 0, 0.04), hole_sections, True),
    )
    nut_a = _nut(0.012, 0.018, 0.0108)
    nut_a.apply_transform(RX)  # bottom face on x = 0, body along +x
    nut_b = nut_a.copy()
    nut_b.apply_transform(RZ180)  # body along -x
    return {
        "plate": _box((0.16, 0.06, 0.01), (0, 0, 0.005)),
        "upright_a": upright.copy().apply_translation((0.04, 0, 0)),
        "upright_b": upright.copy().apply_translation((-0.04, 0, 0)),
        "rod": _cyl(r, 0.12, (0, 0, 0.04 - clearance_m), along_x=True),  # lies on the holes' bottoms
        "nut_a": nut_a.apply_translation((0.045, 0, 0.04 - clearance_m)),
        "nut_b": nut_b.apply_translation((-0.045, 0, 0.04 - clearance_m)),
    }


def test_rod_goes_in_sideways_through_two_uprights_then_its_nuts() -> None:
    r = assembly_order(_rod_through_uprights())
    assert r.blocked == {}
    assert sorted(r.order) == ["nut_a", "nut_b", "plate", "rod", "upright_a", "upright_b"]
    assert r.order[0] == "plate"
    assert r.order.index("upright_a") < r.order.index("rod") and r.order.index("upright_b") < r.order.index(
        "rod"
    )
    assert r.order.index("rod") < r.order.index("nut_a") and r.order.index("rod") < r.order.index("nut_b")
    assert abs(float(r.insert_dir["rod"] @ PLUS_X)) == pytest.approx(1.0, abs=1e-6)  # along its axis
    np.testing.assert_allclose(r.insert_dir["nut_a"], MINUS_X, atol=1e-6)  # onto the +x end, moving -x
    np.testing.assert_allclose(r.insert_dir["nut_b"], PLUS_X, atol=1e-6)
    np.testing.assert_allclose(r.insert_dir["upright_a"], DOWN, atol=1e-6)
    assert r.supports["rod"] == {"upright_a", "upright_b"}
    assert r.supports["nut_a"] == {"rod"} and r.supports["nut_b"] == {"rod"}
    for k, v in r.insert_dir.items():
        assert float(np.linalg.norm(v)) == pytest.approx(1.0, abs=1e-9), k


@pytest.mark.parametrize("clearance_m", [0.0, 2e-4, 5e-4])
def test_tight_rod_is_free_along_its_axis_only(clearance_m: float) -> None:
    # A 32-gon rod in a 24-gon hole of the same radius overlaps the hole's flats by 0.05 mm.
    meshes = _rod_through_uprights(clearance_m, hole_sections=24)
    del meshes["nut_a"], meshes["nut_b"]
    r = assembly_order(meshes, threaded_on={})
    assert r.blocked == {}
    assert r.order[-1] == "rod"
    assert abs(float(r.insert_dir["rod"][0])) == pytest.approx(1.0, abs=1e-6)
    assert r.supports["rod"] == {"upright_a", "upright_b"}


def test_rod_in_one_hole_only_tips_over() -> None:
    meshes = _rod_through_uprights()
    del meshes["nut_a"], meshes["nut_b"], meshes["upright_b"]
    meshes["rod"] = _cyl(0.006, 0.05, (0.065, 0, 0.04 - 5e-4), along_x=True)  # sticks out of upright_a
    r = assembly_order(meshes)
    assert r.blocked_kind == {"rod": "tips_over"}
    assert r.order == ["plate", "upright_a"]


def _bolted_plate() -> dict[str, trimesh.Trimesh]:
    """Plate on two rails (top at z = 28 mm), an M6 bolt from above through its hole, a nut under it."""
    plate = _minus(_box((0.1, 0.06, 0.008), (0, 0, 0.024)), _cyl(0.0035, 0.03, (0, 0, 0.024)))
    return {
        "rail_1": _box((0.02, 0.06, 0.02), (0.04, 0, 0.01)),
        "rail_2": _box((0.02, 0.06, 0.02), (-0.04, 0, 0.01)),
        "plate": plate,
        "bolt": _bolt().apply_translation((0, 0, 0.028)),
        "nut": _nut(0.006, 0.010, 0.0052).apply_translation((0, 0, 0.02 - 0.0052)),
    }


def test_bolt_from_above_nut_from_below() -> None:
    r = assembly_order(_bolted_plate())
    assert r.blocked == {}
    assert r.order[2:] == ["plate", "bolt", "nut"]
    np.testing.assert_allclose(r.insert_dir["bolt"], DOWN, atol=1e-6)
    np.testing.assert_allclose(r.insert_dir["nut"], UP, atol=1e-6)
    assert r.supports["nut"] == {"bolt"}
    assert r.supports["bolt"] == {"plate"}
    assert r.supports["plate"] == {"rail_1", "rail_2"}


def test_nut_not_threaded_on_anything_hangs_in_the_air() -> None:
    r = assembly_order(_bolted_plate(), threaded_on={})
    assert r.blocked_kind == {"nut": "unsupported"}
    assert "does not rest on anything" in r.blocked["nut"]
    assert r.order[2:] == ["plate", "bolt"]


def _two_side_housing() -> dict[str, trimesh.Trimesh]:
    """A housing with a tunnel along x split by a middle wall; one block in from each end."""
    shell = _box((0.08, 0.06, 0.05), (0, 0, 0.025))
    left = _box((0.05, 0.05, 0.04), (-0.0275, 0, 0.025))  # x -0.0525 .. -0.0025: open at x = -0.04
    right = _box((0.05, 0.05, 0.04), (0.0275, 0, 0.025))
    return {
        "housing": _minus(shell, left, right),
        "block_a": _box((0.03, 0.04, 0.03), (-0.02, 0, 0.02)),
        "block_b": _box((0.03, 0.04, 0.03), (0.02, 0, 0.02)),
    }


def test_housing_filled_from_two_sides() -> None:
    r = assembly_order(_two_side_housing())
    assert r.blocked == {}
    assert r.order[0] == "housing"
    np.testing.assert_allclose(r.insert_dir["housing"], DOWN, atol=1e-6)
    np.testing.assert_allclose(r.insert_dir["block_a"], PLUS_X, atol=1e-6)  # pushed in from the -x side
    np.testing.assert_allclose(r.insert_dir["block_b"], MINUS_X, atol=1e-6)
    assert r.supports["block_a"] == {"housing"} and r.supports["block_b"] == {"housing"}


def test_tee_in_a_slot_closed_at_both_ends_is_interlocked() -> None:
    slot = _minus(
        _box((0.08, 0.04, 0.03), (0, 0, 0.025)),  # on a base plate: z 0.01 .. 0.04
        _box((0.06, 0.024, 0.013), (0, 0, 0.0215)),  # wide channel z 0.015 .. 0.028
        _box((0.06, 0.008, 0.02), (0, 0, 0.037)),  # narrow slot up through the top
    )
    tee = _plus(_box((0.05, 0.02, 0.01), (0, 0, 0.02)), _box((0.05, 0.006, 0.03), (0, 0, 0.038)))
    meshes = {"base": _box((0.1, 0.06, 0.01), (0, 0, 0.005)), "slot_block": slot, "tee": tee}
    r = assembly_order(meshes)
    assert r.blocked_kind == {"slot_block": "interlocked", "tee": "interlocked"}
    assert r.locked_by == {"slot_block": ["tee"], "tee": ["slot_block"]}
    assert (
        r.blocked["tee"] == "interlocked: no straight direction frees it from slot_block (tried ±x, ±y, ±z)"
    )
    assert r.order == ["base"]
    assert r.supports["tee"] == {"slot_block"}


def test_chain_links_are_interlocked_and_the_rest_still_goes_in() -> None:
    # Two links of a chain (tori in perpendicular planes): no straight move separates them.
    link_a = trimesh.creation.torus(0.02, 0.004)
    link_a.apply_translation((0, 0, 0.004))  # lying on the fixture
    link_b = trimesh.creation.torus(0.02, 0.004)
    link_b.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, (1, 0, 0)))
    link_b.apply_translation((0.02, 0, 0.0245))  # standing through link_a, hanging on its tube
    meshes = {"link_a": link_a, "link_b": link_b, "block": _box((0.02, 0.02, 0.02), (0.08, 0, 0.01))}
    r = assembly_order(meshes)
    assert r.blocked_kind == {"link_a": "interlocked", "link_b": "interlocked"}
    assert r.locked_by == {"link_a": ["link_b"], "link_b": ["link_a"]}
    assert "from link_a (tried ±x, ±y, ±z)" in r.blocked["link_b"]
    assert r.order == ["block"]
    np.testing.assert_allclose(r.insert_dir["block"], DOWN, atol=1e-6)
    assert "link_a" not in r.insert_dir


def bolted_shaft_product() -> dict[str, trimesh.Trimesh]:
    """20 parts: rails, base plate, two L brackets bolted to it, a shaft through the brackets' webs
    (0.5 mm clearance, lying on the holes' bottoms), M12 nuts on its ends, six M6 bolts with nuts under
    the plate (four through the brackets, two through the plate only)."""
    rail_h, plate_t, base_t = 0.02, 0.008, 0.006
    plate_top = rail_h + plate_t
    bracket_xy = [(x, y) for x in (0.022, -0.022) for y in (0.012, -0.012)]
    plate_xy = [(0.0, 0.03), (0.0, -0.03)]
    plate = _minus(
        _box((0.16, 0.09, plate_t), (0, 0, rail_h + plate_t / 2)),
        *[_cyl(0.0035, 0.03, (x, y, plate_top)) for x, y in bracket_xy + plate_xy],
    )
    # Bracket: 40 x 40 base, 6 mm web on its +x edge, bolt holes at x = -3 mm, shaft hole 24 mm up.
    bracket = _plus(
        _box((0.04, 0.04, base_t), (0, 0, base_t / 2)), _box((0.006, 0.04, 0.03), (0.017, 0, 0.015 + base_t))
    )
    bracket = _minus(
        bracket,
        *[_cyl(0.0035, 0.02, (-0.003, y, 0)) for y in (0.012, -0.012)],
        _cyl(0.0065, 0.02, (0.017, 0, 0.024), along_x=True),
    )
    b1 = bracket.copy().apply_translation((0.025, 0, plate_top))  # web x 0.039 .. 0.045
    b2 = bracket.copy().apply_transform(RZ180).apply_translation((-0.025, 0, plate_top))
    shaft_z = plate_top + 0.024 - 0.0005
    nut12 = _nut(0.012, 0.018, 0.0108).apply_transform(RX)
    parts = {
        "rail_1": _box((0.02, 0.09, rail_h), (0.07, 0, rail_h / 2)),
        "rail_2": _box((0.02, 0.09, rail_h), (-0.07, 0, rail_h / 2)),
        "base_plate": plate,
        "bracket_1": b1,
        "bracket_2": b2,
        "shaft": _cyl(0.006, 0.14, (0, 0, shaft_z), along_x=True),
        "ISO 4032 M12-1": nut12.copy().apply_translation((0.045, 0, shaft_z)),
        "ISO 4032 M12-2": nut12.copy().apply_transform(RZ180).apply_translation((-0.045, 0, shaft_z)),
    }
    for i, (x, y) in enumerate(bracket_xy + plate_xy, start=1):
        top = plate_top + (base_t if (x, y) in bracket_xy else 0.0)
        parts[f"ISO 4017 M6x25-{i}"] = _bolt().apply_translation((x, y, top))
        parts[f"ISO 4032 M6-{i}"] = _nut(0.006, 0.010, 0.0052).apply_translation((x, y, rail_h - 0.0052))
    return parts


def test_twenty_part_bolted_shaft_product() -> None:
    meshes = bolted_shaft_product()
    assert len(meshes) == 20
    r = assembly_order(meshes)
    timings = []
    for _ in range(3):
        t0 = time.perf_counter()
        assembly_order(meshes)
        timings.append(time.perf_counter() - t0)
    assert r.blocked == {}
    assert sorted(r.order) == sorted(meshes)
    pos = {a: k for k, a in enumerate(r.order)}
    assert {r.order[0], r.order[1]} == {"rail_1", "rail_2"} and r.order[2] == "base_plate"
    for i in range(1, 7):
        bolt, nut = f"ISO 4017 M6x25-{i}", f"ISO 4032 M6-{i}"
        np.testing.assert_allclose(r.insert_dir[bolt], DOWN, atol=1e-6)
        np.testing.assert_allclose(r.insert_dir[nut], UP, atol=1e-6)  # from below, onto its bolt
        assert pos[bolt] < pos[nut]
        assert r.supports[nut] == {bolt}
    for i in range(1, 5):  # the bracket bolts go through the brackets
        bracket = "bracket_1" if i <= 2 else "bracket_2"
        assert pos[f"ISO 4017 M6x25-{i}"] > pos[bracket]
        assert bracket in r.supports[f"ISO 4017 M6x25-{i}"]
    # The nuts from below go in one after the other, after all the bolts (one change of direction).
    assert sorted(r.order[-6:]) == [f"ISO 4032 M6-{i}" for i in range(1, 7)]
    assert r.supports["shaft"] == {"bracket_1", "bracket_2"}
    assert abs(float(r.insert_dir["shaft"][0])) == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(r.insert_dir["ISO 4032 M12-1"], MINUS_X, atol=1e-6)
    np.testing.assert_allclose(r.insert_dir["ISO 4032 M12-2"], PLUS_X, atol=1e-6)
    assert pos["shaft"] < min(pos["ISO 4032 M12-1"], pos["ISO 4032 M12-2"])
    assert r.supports["ISO 4032 M12-1"] == {"shaft"}
    assert sorted(timings)[1] < 5.0  # ~3 s budget on a shared 2-core machine; see the report


def test_pin_goes_in_along_its_tilted_axis() -> None:
    # A pin in a hole tilted 30 deg from vertical (in the xz plane): only its own axis frees it.
    tilt = trimesh.transformations.rotation_matrix(np.deg2rad(30), (0, 1, 0))
    axis = tilt[:3, 2]  # (sin 30, 0, cos 30)
    centre = np.array([0.0, 0.0, 0.02])
    hole = _cyl(0.0041, 0.08).apply_transform(tilt).apply_translation(centre)
    block = _minus(_box((0.06, 0.04, 0.04), (0, 0, 0.02)), hole)
    pin = _cyl(0.004, 0.06).apply_transform(tilt).apply_translation(centre + 0.01 * axis)
    meshes = {"block": block, "pin": pin}
    r = assembly_order(meshes)
    assert r.blocked == {}
    assert r.order == ["block", "pin"]
    np.testing.assert_allclose(r.insert_dir["pin"], -axis, atol=1e-6)  # down along the hole
    assert r.supports["pin"] == {"block"}
    # Without its own axis among the candidates nothing frees it.
    r = assembly_order(meshes, part_axes={})
    assert r.blocked_kind == {"block": "interlocked", "pin": "interlocked"}
    assert r.blocked["pin"] == "interlocked: no straight direction frees it from block (tried ±x, ±y, ±z)"
    r = assembly_order(meshes, part_axes={"block": [], "pin": [axis]})
    np.testing.assert_allclose(r.insert_dir["pin"], -axis, atol=1e-6)


def _step_product(variant: str) -> dict[str, trimesh.Trimesh]:
    """The parts of an example's STEP assembly in the fixture frame, as tessellated (not repaired)."""
    scene = trimesh.load(Path(__file__).resolve().parents[2] / "cad_parts" / variant / "product.step")
    assert isinstance(scene, trimesh.Scene)
    out = {}
    for node in sorted(scene.graph.nodes_geometry):
        T, geom = scene.graph[node]
        m = scene.geometry[geom].copy()
        m.apply_transform(T)
        out[node] = m
    return out


def test_step_bolted_shaft_example() -> None:
    meshes = _step_product("bolted_shaft")
    r = assembly_order(meshes)
    assert r.blocked == {}
    assert r.order[:3] in (["rail_1", "rail_2", "base_plate"], ["rail_2", "rail_1", "base_plate"])
    np.testing.assert_allclose(r.insert_dir["shaft"], PLUS_X, atol=1e-6)
    assert r.supports["shaft"] == {"bracket_1", "bracket_2"}
    for i in range(1, 5):
        np.testing.assert_allclose(r.insert_dir[f"ISO 4032 M6-{i}"], UP, atol=1e-6)
        assert r.supports[f"ISO 4032 M6-{i}"] == {f"ISO 4017 M6x25-{i}"}
    assert r.supports["ISO 4032 M12-1"] == {"shaft"} and r.supports["ISO 4032 M12-2"] == {"shaft"}
    # The same parts recognised by their shape alone.
    assert recognise_fastener("NAUO1", meshes["ISO 4017 M6x25-1"]) is FastenerKind.BOLT
    assert recognise_fastener("NAUO2", meshes["ISO 4032 M12-1"]) is FastenerKind.NUT
    for name in ("shaft", "bracket_1", "base_plate", "rail_1"):
        assert recognise_fastener("NAUO3", meshes[name]) is None, name


def test_step_two_side_housing_example() -> None:
    r = assembly_order(_step_product("two_side_housing"))
    assert r.blocked == {}
    assert r.order[0] == "housing"
    np.testing.assert_allclose(r.insert_dir["side_pin"], MINUS_X, atol=1e-6)  # in from the +x side
    assert r.order.index("block") < r.order.index("side_pin")


def test_empty_input_gives_a_sentence_not_a_traceback() -> None:
    assert assembly_order({}).order == []
    r = assembly_order({"ghost": trimesh.Trimesh(), "block": _box((0.02, 0.02, 0.02), (0, 0, 0.01))})
    assert r.order == ["block"]
    assert r.blocked_kind == {"ghost": "unsupported"} and "no surface" in r.blocked["ghost"]


def test_pin_sealed_in_a_tilted_bore_names_the_axes_tried() -> None:
    tilt = trimesh.transformations.rotation_matrix(np.deg2rad(30), (0, 1, 0))
    centre = np.array([0.0, 0.0, 0.03])
    bore = _cyl(0.0041, 0.03).apply_transform(tilt).apply_translation(centre)  # closed at both ends
    block = _minus(_box((0.06, 0.04, 0.06), (0, 0, 0.03)), bore)
    pin = _cyl(0.004, 0.028).apply_transform(tilt).apply_translation(centre)
    r = assembly_order({"block": block, "pin": pin})
    assert r.locked_by["pin"] == ["block"]
    assert (
        r.blocked["pin"]
        == "interlocked: no straight direction frees it from block (tried ±x, ±y, ±z and 1 part axis)"
    )


def test_a_part_on_interlocked_links_cannot_go_in_either() -> None:
    link_a = trimesh.creation.torus(0.02, 0.004)
    link_a.apply_translation((0, 0, 0.004))
    link_b = trimesh.creation.torus(0.02, 0.004)
    link_b.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, (1, 0, 0)))
    link_b.apply_translation((0.02, 0, 0.0245))
    # A plate lying on link_a's far side and on a post, its centre of mass between them.
    meshes = {
        "link_a": link_a,
        "link_b": link_b,
        "post": _box((0.01, 0.01, 0.008), (-0.05, 0, 0.004)),
        "plate": _box((0.04, 0.01, 0.002), (-0.035, 0, 0.009)),
    }
    r = assembly_order(meshes)
    assert r.blocked_kind == {"link_a": "interlocked", "link_b": "interlocked", "plate": "tips_over"}
    assert r.blocked["plate"] == "would tip over without link_a (interlocked)"
    assert r.order == ["post"]


def test_result_does_not_depend_on_the_order_of_the_input() -> None:
    meshes = _rod_through_uprights()
    meshes.update({f"b_{k}": v.apply_translation((0, 0.2, 0)) for k, v in _bolted_plate().items()})
    a = assembly_order(meshes)
    assert a.blocked == {} and len(a.order) == 11
    b = assembly_order(dict(reversed(list(meshes.items()))))
    assert a.order == b.order and a.blocked == b.blocked and a.supports == b.supports
    assert all(np.array_equal(a.insert_dir[k], b.insert_dir[k]) for k in a.insert_dir)


# ----------------------------------------------------------------------------- held-out CAD rules
def _capped_block(gap_m: float = 0.0) -> dict[str, trimesh.Trimesh]:
    """A block with a bore along x (r 5.5 mm), a cap on its +x face: a 40 mm disc 6 mm thick on a
    5 mm spigot (r 5 mm) in the bore; ``gap_m`` between the disc and the block's face."""
    block = _minus(_box((0.03, 0.05, 0.05), (0, 0, 0.025)), _cyl(0.0055, 0.04, (0, 0, 0.03), along_x=True))
    x0 = 0.015 + gap_m  # the disc's face
    disc = _cyl(0.02, 0.006, (x0 + 0.003, 0, 0.03), along_x=True)
    spigot = _cyl(0.005, 0.005 + 2 * gap_m, (x0 - 0.0025 - gap_m + 1e-5, 0, 0.03 - 5e-4), along_x=True)
    return {"block": block, "cap": _plus(disc, spigot)}


def test_cap_on_a_spigot_bearing_on_the_face_is_held() -> None:
    r = assembly_order(_capped_block())
    assert r.blocked == {}
    assert r.order == ["block", "cap"]
    assert r.supports["cap"] == {"block"}
    np.testing.assert_allclose(r.insert_dir["cap"], MINUS_X, atol=1e-6)


def test_cap_on_a_spigot_clear_of_the_face_tips_over() -> None:
    r = assembly_order(_capped_block(gap_m=0.002))
    assert r.blocked_kind == {"cap": "tips_over"}


def _cantilever(clearance_m: float) -> dict[str, trimesh.Trimesh]:
    """A 20 mm shaft, 60 mm long, 22 mm deep in a support's bore along x; the rest sticks out."""
    support = _minus(
        _box((0.022, 0.05, 0.06), (0, 0, 0.03)), _cyl(0.01 + clearance_m, 0.04, (0, 0, 0.035), along_x=True)
    )
    shaft = _cyl(0.01, 0.06, (0.019, 0, 0.035 - clearance_m), along_x=True)  # x -0.011 .. 0.049
    return {"support": support, "shaft": shaft}


def test_shaft_pressed_into_a_bore_a_diameter_deep_is_held() -> None:
    r = assembly_order(_cantilever(0.0))
    assert r.blocked == {}
    assert r.order == ["support", "shaft"]
    assert r.supports["shaft"] == {"support"}
    assert abs(float(r.insert_dir["shaft"][0])) == pytest.approx(1.0, abs=1e-6)


def test_shaft_loose_in_a_bore_tips_over() -> None:
    r = assembly_order(_cantilever(5e-4))
    assert r.blocked_kind == {"shaft": "tips_over"}


def _jaws(gap_m: float) -> dict[str, trimesh.Trimesh]:
    """A U block: two jaws ``gap_m`` apart along x on one base; a 12 mm pin in a blind hole of the left
    jaw's inner face, flush with it: it can only come out into the gap, then up."""
    body = _plus(
        _box((0.2, 0.04, 0.01), (0, 0, 0.005)),
        _box((0.03, 0.04, 0.03), (-0.015, 0, 0.025)),
        _box((0.03, 0.04, 0.03), (gap_m + 0.015, 0, 0.025)),
    )
    return {
        "jaws": _minus(body, _cyl(0.0032, 0.024, (0, 0, 0.025), along_x=True)),
        "pin": _cyl(0.003, 0.012, (-0.006, 0, 0.025 - 2e-4), along_x=True),
    }


def test_pin_slides_out_into_a_wide_gap_then_up() -> None:
    r = assembly_order(_jaws(0.03))
    assert r.blocked == {}
    assert r.order == ["jaws", "pin"]
    assert r.supports["pin"] == {"jaws"}
    np.testing.assert_allclose(r.insert_dir["pin"], MINUS_X, atol=1e-6)


def test_pin_facing_a_narrow_gap_is_interlocked() -> None:
    r = assembly_order(_jaws(0.015))
    assert r.blocked_kind == {"jaws": "interlocked", "pin": "interlocked"}


def _plate_on_a_wall(hole: bool) -> dict[str, trimesh.Trimesh]:
    """A 4 mm plate against a wall's +x face, clear of the fixture; with ``hole``, a hole through it in
    line with a tapped hole in the wall (a screw goes in later)."""
    wall = _minus(_box((0.02, 0.04, 0.04), (0, 0, 0.02)), _cyl(0.0025, 0.02, (0.01, 0, 0.025), along_x=True))
    plate = _box((0.004, 0.03, 0.02), (0.012, 0, 0.025))
    if hole:
        plate = _minus(plate, _cyl(0.003, 0.01, (0.012, 0, 0.025), along_x=True))
    return {"wall": wall, "plate": plate}


def test_plate_held_against_a_face_until_screwed() -> None:
    r = assembly_order(_plate_on_a_wall(hole=True))
    assert r.blocked == {}
    assert r.order == ["wall", "plate"]
    assert r.supports["plate"] == {"wall"}
    r = assembly_order(_plate_on_a_wall(hole=False))
    assert r.blocked_kind == {"plate": "unsupported"}
