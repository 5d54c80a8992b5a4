"""Stable resting poses against analytic cases."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from workflow_gen.resting import REST_GAP_M, resting_poses, symmetry


def test_a_box_rests_on_its_largest_face_centred_on_the_slot() -> None:
    box = trimesh.creation.box(extents=(0.06, 0.04, 0.02))
    best = resting_poses(box)[0]
    m = box.copy()
    m.apply_transform(best.T_slot_part)
    # Largest face down: 20 mm tall, lying REST_GAP_M above the surface, centre of mass over the slot origin.
    assert m.extents[2] == pytest.approx(0.02, abs=1e-9)
    assert m.bounds[0, 2] == pytest.approx(REST_GAP_M, abs=1e-12)
    assert m.center_mass[:2] == pytest.approx([0.0, 0.0], abs=1e-9)
    # Long side along slot y (the feeder's longer pitch).
    assert m.extents[1] == pytest.approx(0.06, abs=1e-9)


def test_the_target_orientation_wins_when_it_is_stable() -> None:
    # A standing pin: lying on its side is more probable, but it is placed standing, so it is fed standing.
    pin = trimesh.creation.cylinder(radius=0.006, height=0.036, sections=32)
    free = resting_poses(pin)
    assert not free[0].matches_target
    assert abs(free[0].T_slot_part[2, 2]) < 0.1, "most probable: lying down"
    fed = resting_poses(pin, R_target_part=np.eye(3))[0]
    assert fed.matches_target
    assert fed.T_slot_part[:3, 2] == pytest.approx([0.0, 0.0, 1.0], abs=1e-9)


def test_symmetry_of_a_cylinder_is_radial() -> None:
    assert symmetry(trimesh.creation.cylinder(radius=0.01, height=0.03, sections=64)) == "radial"
    assert symmetry(trimesh.creation.box(extents=(0.01, 0.02, 0.03))) == "none"
