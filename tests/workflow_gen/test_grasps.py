"""Grasp synthesis against analytic cases."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from workflow_gen.grasps import GripperGeometry, antipodal_pairs, synthesize_grasps


@pytest.fixture(scope="module")
def gripper(cell) -> GripperGeometry:
    return GripperGeometry.from_spec(cell.spec.gripper)


def _box(extents: tuple[float, float, float]) -> trimesh.Trimesh:
    m = trimesh.creation.box(extents=extents)
    m.density = 2700.0
    return m


def test_box_grasps_are_antipodal_pairs_on_opposite_faces(gripper: GripperGeometry) -> None:
    ext = np.array([0.040, 0.030, 0.050])
    box = _box(tuple(ext))
    gs = synthesize_grasps(box, gripper, box.mass, box.center_mass, n_samples=300, seed=1)
    assert len(gs) >= 100
    for T, w, c in zip(gs.T_part_tcp, gs.contact_width_m, gs.contacts_m, strict=True):
        axis = int(np.argmax(np.abs(T[:3, 1])))  # closing axis = a box axis
        assert abs(abs(T[axis, 1]) - 1.0) < 1e-9
        assert w == pytest.approx(ext[axis], abs=1e-6)
        # Contacts lie on the two opposite faces normal to that axis.
        assert sorted(c[:, axis]) == pytest.approx([-ext[axis] / 2, ext[axis] / 2], abs=1e-6)
        # The TCP is on the line between the contacts, backed off along -approach only.
        mid = c.mean(axis=0)
        off = T[:3, 3] - mid
        assert np.linalg.norm(np.cross(off, T[:3, 2])) < 1e-9
        assert np.dot(off, T[:3, 2]) <= 1e-12
    assert np.all(np.diff(gs.score) <= 1e-12), "grasps must come best first"
    assert np.all(gs.contact_width_m < gs.pregrasp_width_m)


def test_contact_pairs_respect_the_friction_cone() -> None:
    # A wedge: the two slanted faces meet at 60 deg, so a pair across them is 30 deg off each normal.
    prism = trimesh.creation.extrude_polygon(
        trimesh.path.polygons.Polygon([(0, 0), (0.04, 0.0115), (0.04, -0.0115)]), 0.02
    )
    strict_p, _ = antipodal_pairs(prism, 2000, friction=0.2, max_width_m=0.085, seed=0)  # cone 11 deg
    loose_p, _ = antipodal_pairs(prism, 2000, friction=1.0, max_width_m=0.085, seed=0)  # cone 45 deg
    assert len(loose_p) > len(strict_p)


def test_part_wider_than_the_stroke_has_no_grasp(gripper: GripperGeometry) -> None:
    box = _box((0.15, 0.12, 0.095))
    gs = synthesize_grasps(box, gripper, box.mass, box.center_mass)
    assert len(gs) == 0


def test_preferred_approach_restricts_grasps_to_a_cone(gripper: GripperGeometry) -> None:
    box = _box((0.04, 0.03, 0.05))
    down = np.array([0.0, 0.0, -1.0])
    gs = synthesize_grasps(box, gripper, box.mass, box.center_mass, preferred_approach=down, max_tilt_rad=0.1)
    assert len(gs) > 0
    assert np.all(gs.T_part_tcp[:, :3, 2] @ down >= np.cos(0.1) - 1e-9)


def test_fingers_cannot_pass_through_the_part(gripper: GripperGeometry) -> None:
    # A mushroom: a 10 mm stem under a 60 mm cap. From above, the fingers would have to pass through the
    # cap to reach the stem, so only the cap can be held; from the side the stem is reachable.
    stem = trimesh.creation.box(extents=(0.01, 0.01, 0.04))
    cap = trimesh.creation.box(extents=(0.06, 0.06, 0.012))
    cap.apply_translation((0, 0, 0.026))
    part = trimesh.boolean.union([stem, cap])
    part.density = 2700.0
    down = np.array([0.0, 0.0, -1.0])
    from_above = synthesize_grasps(
        part,
        gripper,
        part.mass,
        part.center_mass,
        preferred_approach=down,
        max_tilt_rad=0.3,
        n_samples=800,
        max_candidates=5000,
    )
    assert len(from_above) > 0
    assert np.allclose(from_above.contact_width_m, 0.06, atol=1e-6), "stem grasps must collide with the cap"
    side = np.array([1.0, 0.0, 0.0])
    from_side = synthesize_grasps(
        part,
        gripper,
        part.mass,
        part.center_mass,
        preferred_approach=side,
        max_tilt_rad=0.3,
        n_samples=800,
        max_candidates=5000,
    )
    assert np.any(np.isclose(from_side.contact_width_m, 0.01, atol=1e-6))
