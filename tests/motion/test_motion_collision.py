"""Collision world: table contact, stations, parts (attach/detach), padding, reports, distances."""

from __future__ import annotations

import numpy as np
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
