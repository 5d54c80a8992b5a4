"""Collision world: table contact, stations, parts (attach/detach), padding, reports, distances."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from cell_config import Cell
from motion import MotionPlanner


def _touching_table(p: MotionPlanner) -> np.ndarray:
    # Elbow down and the wrist folded so the tool points at the floor: tcp below the table top.
    q = p.ik(np.array([[1, 0, 0, 0.5], [0, -1, 0, 0.1], [0, 0, -1, 0.3], [0, 0, 0, 1]], float))
    assert q is not None
    T = p.fk(q)
    # Lower the tcp 0.33 m keeping orientation: ends 3 cm below the table top.
    T[2, 3] -= 0.33
    q_low = p.ik_solver.solve(T, reference=q, is_valid=None)
    assert q_low is not None
    return q_low


def test_config_touching_table_is_rejected(ur5e: MotionPlanner) -> None:
    q = _touching_table(ur5e)
    assert not ur5e.is_valid(q)
    assert not ur5e.is_valid(q, padded=False)
    report = ur5e.collision_report(q)
    assert report is not None and "table" in report
    assert "finger" in report or "gripper" in report


def test_home_is_valid_and_reports_none(ur5e: MotionPlanner) -> None:
    assert ur5e.is_valid(ur5e.home)
    assert ur5e.collision_report(ur5e.home) is None
    d, a, b = ur5e.min_distance(ur5e.home)
    assert d > 0.0 and a and b


def test_padding_only_collision_is_reported_as_padding(ur5e: MotionPlanner) -> None:
    q = ur5e.home
    T_tcp = ur5e.fk(q)
    # A box whose top face is 5 mm under the finger tips: inside the 1 cm padding, not touching.
    tip_z = T_tcp[2, 3] - ur5e.cell.spec.gripper.finger.pad_length_m / 2
    T = np.eye(4)
    T[:3, 3] = [T_tcp[0, 3], T_tcp[1, 3], tip_z - 0.005 - 0.05]
    ur5e.add_box("probe", (0.1, 0.1, 0.1), T)
    assert ur5e.is_valid(q, padded=False)
    assert not ur5e.is_valid(q, padded=True)
    report = ur5e.collision_report(q)
    assert report is not None and "padding" in report and "probe" in report
    d, _, b = ur5e.min_distance(q)
    assert b == "probe" and 0.004 < d < 0.006


def test_station_box_top_surface_is_the_station_frame(ur5e_cell: Cell) -> None:
    p = MotionPlanner(ur5e_cell)
    obj = p.world.objects["fixture"]
    T_station = ur5e_cell.T_world_station("fixture")
    size = ur5e_cell.station("fixture").size_m
    np.testing.assert_allclose(obj.T_world_obj[2, 3] + size[2] / 2, T_station[2, 3], atol=1e-12)


def test_part_attach_detach_moves_with_tcp(ur5e: MotionPlanner) -> None:
    q0 = ur5e.home
    # Wider (10 cm) than the open fingers (8.5 cm): it overlaps them, as a grasped part may.
    part = trimesh.creation.box((0.04, 0.10, 0.03))
    T_tcp = ur5e.fk(q0)
    ur5e.add_object("part", part, T_tcp)
    # The part sits between the fingers: touching the gripper is fine once attached.
    ur5e.attach_object("part", q0)
    assert ur5e.is_valid(q0)
    q1 = q0 + np.array([0.3, 0.0, 0.0, 0.0, 0.0, 0.5])
    np.testing.assert_allclose(ur5e.object_pose("part", q1), ur5e.fk(q1), atol=1e-9)
    ur5e.detach_object("part", q1)
    np.testing.assert_allclose(ur5e.world.objects["part"].T_world_obj, ur5e.fk(q1), atol=1e-9)
    # Detached at q1, the part now collides with the gripper there, but not at home.
    assert not ur5e.is_valid(q1, padded=False)
    assert "part" in (ur5e.collision_report(q1) or "")
    assert ur5e.is_valid(q0)


def test_attached_part_collides_with_world(ur5e: MotionPlanner) -> None:
    q0 = ur5e.home
    # A long rod held by the gripper hangs 60 cm below the tcp: through the table.
    rod = trimesh.creation.box((0.02, 0.02, 0.6))
    rod.apply_translation((0.0, 0.0, 0.3))
    T = ur5e.fk(q0)
    ur5e.add_object("rod", rod, T)
    ur5e.attach_object("rod", q0)
    report = ur5e.collision_report(q0)
    assert report is not None and "rod hits table" in report


def test_set_object_pose_and_remove(ur5e: MotionPlanner) -> None:
    q = ur5e.home
    box = trimesh.creation.box((0.05, 0.12, 0.05))
    ur5e.add_object("b", box, ur5e.fk(q))
    assert not ur5e.is_valid(q, padded=False)
    far = np.eye(4)
    far[:3, 3] = [0.6, 0.6, 0.5]
    ur5e.set_object_pose("b", far)
    assert ur5e.is_valid(q)
    ur5e.set_object_pose("b", ur5e.fk(q))
    assert not ur5e.is_valid(q)
    ur5e.remove_object("b")
    assert ur5e.is_valid(q)


def test_gripper_opening_changes_finger_geometry(ur5e: MotionPlanner) -> None:
    q = ur5e.home
    T = ur5e.fk(q)
    # A 2 cm pin exactly on the tcp: between open fingers it is free, closed fingers hit it.
    ur5e.add_object("pin", trimesh.creation.cylinder(radius=0.01, height=0.02), T)
    ur5e.set_gripper_opening(0.085)
    assert ur5e.is_valid(q, padded=False)
    ur5e.set_gripper_opening(0.0)
    assert not ur5e.is_valid(q, padded=False)
    assert "finger" in (ur5e.collision_report(q) or "")


def test_disabled_pairs_from_srdf(ur5e: MotionPlanner) -> None:
    assert frozenset(("link5", "link6")) in ur5e.world.disabled_links
    assert frozenset(("finger_left", "finger_right")) in ur5e.world.disabled_links


# ----------------------------------------------------------------- non-convex parts as convex pieces
def _T(x: float = 0.0, y: float = 0.0, z: float = 0.0, R: np.ndarray | None = None) -> np.ndarray:
    T = np.eye(4)
    if R is not None:
        T[:3, :3] = R
    T[:3, 3] = [x, y, z]
    return T


# A frame whose z points up (world) as seen from the tcp at home, which points down.
_UP_FROM_TCP = np.diag([1.0, -1.0, -1.0])
_HELD_Z_M = 0.05  # held parts sit 5 cm out along the tool axis: 3.5 cm beyond the finger tips


def _hold(p: MotionPlanner, name: str, mesh: trimesh.Trimesh) -> np.ndarray:
    """Attach ``mesh`` (centred on its frame) at ``_HELD_Z_M`` along the tcp at home; return T_world_tcp."""
    q = p.home
    T_tcp = p.fk(q)
    p.add_object(name, mesh, T_tcp @ _T(z=_HELD_Z_M))
    p.attach_object(name, q)
    return T_tcp


def _place_around(p: MotionPlanner, name: str, mesh: trimesh.Trimesh, held_in_part: np.ndarray) -> np.ndarray:
    """Place ``mesh`` (z up) so the held part's centre is at ``held_in_part`` in its frame; T_world_part."""
    T_tcp = p.fk(p.home)
    x, y, z = np.array([0.0, 0.0, _HELD_Z_M]) - _UP_FROM_TCP @ held_in_part
    T = T_tcp @ _T(x, y, z, R=_UP_FROM_TCP)
    p.add_object(name, mesh, T)
    return T


def _shifted(T_world_part: np.ndarray, dx_part: float) -> np.ndarray:
    """``T_world_part`` moved ``dx_part`` along the part's own x."""
    return T_world_part @ _T(x=dx_part)


def _hull_only(p: MotionPlanner, name: str, mesh: trimesh.Trimesh, T: np.ndarray) -> None:
    """The same part as one convex hull, as the collision world had it before the pieces."""
    from motion.collision_world import WorldObject, convex_hull_geometry

    hull = convex_hull_geometry(mesh)
    p.world.add(WorldObject(name, hull, T, "part", pieces=[hull]))


def _hex_nut() -> trimesh.Trimesh:
    """30 mm across flats, 16 mm high, 14 mm hole (64-gon); origin at the bottom centre."""
    prism = trimesh.creation.cylinder(0.015 / np.cos(np.pi / 6), 0.016, sections=6, transform=_T(z=0.008))
    return prism.difference(trimesh.creation.cylinder(0.007, 0.03, sections=64, transform=_T(z=0.008)))


def test_pin_in_hole_with_half_mm_clearance_is_free(ur5e: MotionPlanner) -> None:
    nut = _hex_nut()
    # A pin of the hole's 14 mm minus 0.5 mm, 8 cm long, held along the tool axis through the nut.
    _hold(ur5e, "pin", trimesh.creation.cylinder(0.0135 / 2, 0.08, sections=64))
    T_nut = _place_around(ur5e, "nut", nut, np.array([0.0, 0.0, 0.008]))
    q = ur5e.home
    assert len(ur5e.world.objects["nut"].pieces) == 16
    assert ur5e.is_valid(q, padded=False)
    assert ur5e.world.colliding_pairs(q) == []
    d, a, b = ur5e.min_distance(q)
    assert {a, b} == {"pin", "nut"}
    # 0.25 mm radial clearance, less at most HOLE_TOL_M where the hole's 64-gon was simplified.
    assert 0.25e-3 - 0.15e-3 - 1e-6 < d < 0.25e-3 + 1e-6
    # Within the 1 cm planning padding, as any part in a hole is (planning allows the held part there).
    assert not ur5e.is_valid(q, padded=True)
    assert "pin within 0.01 m padding of nut" in (ur5e.collision_report(q) or "")
    # Pushed 1 mm sideways, the pin hits the nut.
    ur5e.set_object_pose("nut", _shifted(T_nut, 0.001))
    assert not ur5e.is_valid(q, padded=False)
    assert ur5e.world.colliding_pairs(q) == [("pin", "nut")]
    assert ur5e.collision_report(q) == "pin hits nut"
    # Back in the centre it is free again; the nut's hull would fill the hole.
    ur5e.set_object_pose("nut", T_nut)
    assert ur5e.is_valid(q, padded=False)
    ur5e.remove_object("nut")
    _hull_only(ur5e, "nut_hull", nut, T_nut)
    assert ur5e.world.colliding_pairs(q) == [("pin", "nut_hull")]


def test_box_inside_an_l_is_free(ur5e: MotionPlanner) -> None:
    # The sensor kit's angle: base 40 x 30 x 6 mm, web 6 mm thick and 28 mm high at x = 14..20 mm.
    base = trimesh.creation.box((0.04, 0.03, 0.006), transform=_T(z=0.003))
    web = trimesh.creation.box((0.006, 0.03, 0.028), transform=_T(x=0.017, z=0.02))
    angle = base.union(web)
    # A 20 mm cube in the inside corner, 0.5 mm from the web and 0.5 mm above the base.
    _hold(ur5e, "cube", trimesh.creation.box((0.02, 0.02, 0.02)))
    T_angle = _place_around(ur5e, "angle", angle, np.array([0.014 - 0.0005 - 0.01, 0.0, 0.0065 + 0.01]))
    q = ur5e.home
    assert len(ur5e.world.objects["angle"].pieces) == 2
    assert ur5e.is_valid(q, padded=False)
    d, a, b = ur5e.min_distance(q)
    assert {a, b} == {"cube", "angle"} and d == pytest.approx(0.0005, abs=1e-6)
    # 1 mm towards the web (the angle moves 1 mm the other way): 0.5 mm into it.
    ur5e.set_object_pose("angle", _shifted(T_angle, -0.001))
    assert ur5e.world.colliding_pairs(q) == [("cube", "angle")]
    ur5e.remove_object("angle")
    _hull_only(ur5e, "angle_hull", angle, T_angle)
    assert ur5e.world.colliding_pairs(q) == [("cube", "angle_hull")]


def test_part_in_a_pocket_is_free(ur5e: MotionPlanner) -> None:
    # A 60 x 50 x 30 mm block with a 32 x 22 mm pocket 15 mm deep; a 31 x 21 x 20 mm part 0.5 mm above
    # its floor: 0.5 mm clearance all round.
    block = trimesh.creation.box((0.06, 0.05, 0.03), transform=_T(z=0.015))
    tray = block.difference(trimesh.creation.box((0.032, 0.022, 0.03), transform=_T(z=0.03)))
    _hold(ur5e, "part", trimesh.creation.box((0.031, 0.021, 0.02)))
    T_tray = _place_around(ur5e, "tray", tray, np.array([0.0, 0.0, 0.0155 + 0.01]))
    q = ur5e.home
    assert len(ur5e.world.objects["tray"].pieces) == 5  # the floor slab and four walls
    assert ur5e.is_valid(q, padded=False)
    d, a, b = ur5e.min_distance(q)
    assert {a, b} == {"part", "tray"} and d == pytest.approx(0.0005, abs=1e-6)
    for dx in (0.001, -0.001):
        ur5e.set_object_pose("tray", _shifted(T_tray, dx))
        assert ur5e.world.colliding_pairs(q) == [("part", "tray")]
    ur5e.set_object_pose("tray", T_tray)
    assert ur5e.is_valid(q, padded=False)
    ur5e.remove_object("tray")
    _hull_only(ur5e, "tray_hull", tray, T_tray)
    assert not ur5e.is_valid(q, padded=False)


def test_finger_through_a_ring_and_allowed_pieces(ur5e: MotionPlanner) -> None:
    """A robot link inside a static holed part is free; allowing the part switches all its pieces off."""
    q = ur5e.home
    # A ring of 36 mm bore (50 mm outside, 10 mm high) around the left finger (22 x 10 mm section, its
    # corners 12.1 mm from its axis), 5 to 15 mm up from the tip.
    ring = trimesh.creation.cylinder(0.025, 0.01, sections=64).difference(
        trimesh.creation.cylinder(0.018, 0.02, sections=64)
    )
    T_finger = ur5e.fk(q) @ _T(y=ur5e.robot.opening_m / 2 + 0.005, z=0.005)
    ur5e.add_object("ring", ring, T_finger)
    assert len(ur5e.world.objects["ring"].pieces) > 8
    assert ur5e.is_valid(q, padded=False)
    # 8 mm along the finger's 22 mm side: its corner (19 mm, 5 mm) off the axis is in the ring.
    ur5e.set_object_pose("ring", T_finger @ _T(x=0.008))
    assert ur5e.world.colliding_pairs(q) == [("finger_left", "ring")]
    assert not ur5e.is_valid(q, padded=False)
    ur5e.world.set_allowed({"ring"})
    assert ur5e.is_valid(q, padded=False) and ur5e.is_valid(q, padded=True)
    ur5e.world.set_allowed(set())
    assert not ur5e.is_valid(q, padded=False)
    ur5e.set_object_pose("ring", T_finger)
    assert ur5e.is_valid(q, padded=False)
    ur5e.remove_object("ring")
    _hull_only(ur5e, "ring_hull", ring, T_finger)
    assert ur5e.world.colliding_pairs(q) == [("finger_left", "ring_hull")]


def test_held_nut_over_a_standing_pin(ur5e: MotionPlanner) -> None:
    """A held multi-piece part: the nut lowered over a pin 0.5 mm thinner than its hole is free."""
    q = ur5e.home
    T_tcp = _hold(ur5e, "nut", _hex_nut())
    T_pin = T_tcp @ _T(z=_HELD_Z_M + 0.008)  # the hole's centre
    ur5e.add_object("pin", trimesh.creation.cylinder(0.0135 / 2, 0.08, sections=64), T_pin)
    assert ur5e.world.objects["nut"].attached and len(ur5e.world.objects["nut"].pieces) == 16
    assert ur5e.is_valid(q, padded=False)
    ur5e.set_object_pose("pin", T_pin @ _T(y=0.001))
    assert ur5e.world.colliding_pairs(q) == [("nut", "pin")]
    assert not ur5e.is_valid(q, padded=False)
