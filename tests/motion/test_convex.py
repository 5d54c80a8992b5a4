"""Convex pieces of non-convex parts (motion.convex): exact pieces, holes kept free, cache, MuJoCo use."""

from __future__ import annotations

import json
import time
from pathlib import Path

import coal
import numpy as np
import pytest
import trimesh

from motion import convex
from motion.collision_world import convex_piece_geometries
from motion.convex import HOLE_TOL_M, cache_key, concavity, convex_pieces

CLEARANCE_M = 0.0005  # diametral: a pin of the hole's diameter minus 0.5 mm


def _T(x: float = 0.0, y: float = 0.0, z: float = 0.0) -> np.ndarray:
    T = np.eye(4)
    T[:3, 3] = [x, y, z]
    return T


def plate_with_holes() -> tuple[trimesh.Trimesh, list[tuple[float, float]]]:
    """80 x 60 x 6 mm plate, four 8.5 mm through holes (48-gon) at (+-30, +-20) mm; origin at its centre."""
    holes = [(x, y) for x in (-0.03, 0.03) for y in (-0.02, 0.02)]
    cutters = [trimesh.creation.cylinder(0.00425, 0.02, sections=48, transform=_T(x, y)) for x, y in holes]
    plate = trimesh.creation.box((0.08, 0.06, 0.006)).difference(trimesh.util.concatenate(cutters))
    return plate, holes


def l_bracket() -> trimesh.Trimesh:
    """The sensor kit's angle: 40 x 30 mm base 6 mm thick, a 6 mm web 28 mm high along +x; origin bottom."""
    base = trimesh.creation.box((0.04, 0.03, 0.006), transform=_T(z=0.003))
    web = trimesh.creation.box((0.006, 0.03, 0.028), transform=_T(x=0.017, z=0.02))
    return base.union(web)


def hex_nut() -> trimesh.Trimesh:
    """30 mm across flats, 16 mm high, 14 mm hole (64-gon); origin at the bottom centre."""
    prism = trimesh.creation.cylinder(0.015 / np.cos(np.pi / 6), 0.016, sections=6, transform=_T(z=0.008))
    return prism.difference(trimesh.creation.cylinder(0.007, 0.03, sections=64, transform=_T(z=0.008)))


def tube() -> trimesh.Trimesh:
    """30 mm outer and 24 mm inner diameter (3 mm wall), 40 mm long; origin at the bottom centre."""
    outer = trimesh.creation.cylinder(0.015, 0.04, sections=64, transform=_T(z=0.02))
    return outer.difference(trimesh.creation.cylinder(0.012, 0.05, sections=64, transform=_T(z=0.02)))


def block_with_two_holes(through: bool) -> tuple[trimesh.Trimesh, list[tuple[np.ndarray, np.ndarray, float]]]:
    """The two-side housing's block: 40 x 40 x 30 mm, origin at its bottom centre, two perpendicular holes.

    An 11 mm hole along x through it, its axis 20 mm up; a 7 mm hole down from the top at y = 12 mm, 16 mm
    deep (``through``: all the way down). The holes do not meet. Returns the mesh and each hole's
    ``(point on the axis, axis, diameter)``, the point halfway along the free length.
    """
    block = trimesh.creation.box((0.04, 0.04, 0.03), transform=_T(z=0.015))
    R = trimesh.transformations.rotation_matrix(np.pi / 2, [0, 1, 0])
    R[:3, 3] = [0.0, 0.0, 0.02]
    x_hole = trimesh.creation.cylinder(0.0055, 0.05, sections=48, transform=R)
    depth = 0.04 if through else 0.016
    z_hole = trimesh.creation.cylinder(0.0035, 2 * depth, sections=48, transform=_T(y=0.012, z=0.03))
    mesh = block.difference(x_hole).difference(z_hole)
    z_mid = 0.015 if through else 0.03 - 0.008
    holes = [
        (np.array([0.0, 0.0, 0.02]), np.array([1.0, 0.0, 0.0]), 0.011),
        (np.array([0.0, 0.012, z_mid]), np.array([0.0, 0.0, 1.0]), 0.007),
    ]
    return mesh, holes


def _pin_points(centre: np.ndarray, axis: np.ndarray, d: float, length: float, n: int = 4000) -> np.ndarray:
    """``n`` points sampled on the surface of a pin of diameter ``d`` along ``axis``, centred at ``centre``."""
    T = trimesh.geometry.align_vectors([0.0, 0.0, 1.0], axis)
    T[:3, 3] = centre
    pin = trimesh.creation.cylinder(d / 2, length, sections=96, transform=T)
    pts, _ = trimesh.sample.sample_surface(pin, n, seed=0)
    return np.asarray(pts)


def _inside(pieces: list[trimesh.Trimesh], pts: np.ndarray, tol: float = 1e-6) -> int:
    """How many of ``pts`` lie more than ``tol`` inside some piece (behind every plane of its hull)."""
    inside = np.zeros(len(pts), dtype=bool)
    for p in pieces:
        hull = p.convex_hull
        n = np.asarray(hull.face_normals, dtype=float)
        off = np.einsum("ij,ij->i", n, hull.triangles[:, 0])
        inside |= (off[None, :] - pts @ n.T).min(axis=1) > tol
    return int(inside.sum())


def _coal(piece: trimesh.Trimesh) -> coal.CollisionGeometry:
    pts = coal.StdVec_Vec3s()
    pts.extend([np.asarray(v, dtype=float) for v in piece.vertices])
    return coal.Convex.convexHull(pts, False, "")


def _pin_hits(pieces: list[trimesh.Trimesh], centre: np.ndarray, hole_d: float, length: float) -> int:
    """How many pieces a pin of ``hole_d - CLEARANCE_M`` along z, centred at ``centre``, collides with."""
    pin = coal.Cylinder((hole_d - CLEARANCE_M) / 2, length)
    tf = coal.Transform3s()
    tf.setTranslation(np.asarray(centre, dtype=float))
    hits = 0
    for p in pieces:
        res = coal.CollisionResult()
        hits += coal.collide(_coal(p), coal.Transform3s(), pin, tf, coal.CollisionRequest(), res) > 0
    return hits


def _fresh(mesh: trimesh.Trimesh, tmp_path: Path) -> tuple[list[trimesh.Trimesh], float]:
    convex._MEMO.clear()
    t0 = time.perf_counter()
    pieces = convex_pieces(mesh, cache_dir=tmp_path)
    return pieces, time.perf_counter() - t0


def _volume(pieces: list[trimesh.Trimesh]) -> float:
    return float(sum(p.volume for p in pieces))


def test_convex_part_is_its_hull(tmp_path: Path) -> None:
    for mesh in (trimesh.creation.box((0.05, 0.04, 0.025)), trimesh.creation.cylinder(0.0175, 0.025)):
        pieces, _ = _fresh(mesh, tmp_path)
        assert len(pieces) == 1
        assert pieces[0].volume == pytest.approx(mesh.convex_hull.volume, rel=1e-9)
    assert list(tmp_path.iterdir()) == []  # a hull is not worth a cache file


def test_l_bracket_is_two_exact_boxes(tmp_path: Path) -> None:
    mesh = l_bracket()
    assert concavity(mesh) == pytest.approx(0.006, abs=1e-6)  # the web's inner face, 6 mm under the hull
    pieces, dt = _fresh(mesh, tmp_path)
    assert len(pieces) == 2
    assert _volume(pieces) == pytest.approx(mesh.volume, rel=1e-6)
    assert dt < 3.0


@pytest.mark.parametrize(
    ("shape", "max_pieces"),
    [("plate", 48), ("nut", 20), ("tube", 40)],
)
def test_holes_stay_free(shape: str, max_pieces: int, tmp_path: Path) -> None:
    """A pin 0.5 mm under the hole's diameter fits every hole; 1 mm off centre it hits the part."""
    if shape == "plate":
        mesh, xy = plate_with_holes()
        holes = [(np.array([x, y, 0.0]), 0.0085, 0.012) for x, y in xy]
    elif shape == "nut":
        mesh = hex_nut()
        holes = [(np.array([0.0, 0.0, 0.008]), 0.014, 0.03)]
    else:
        mesh = tube()
        holes = [(np.array([0.0, 0.0, 0.02]), 0.024, 0.06)]
    pieces, dt = _fresh(mesh, tmp_path)
    assert 2 < len(pieces) <= max_pieces
    assert dt < 3.0
    # Simplified curved walls add at most HOLE_TOL_M around each hole: the volume is the part's within 1 %.
    assert _volume(pieces) == pytest.approx(mesh.volume, rel=0.01)
    for centre, d, length in holes:
        assert _pin_hits(pieces, centre, d, length) == 0
        assert _pin_hits(pieces, centre + np.array([0.001, 0.0, 0.0]), d, length) >= 1
        # The hull (what the planner used before) fills the hole.
        assert _pin_hits([mesh.convex_hull], centre, d, length) == 1
    assert HOLE_TOL_M < CLEARANCE_M / 2


def test_bracket_with_holes_in_both_flanges_is_cut_into_holed_plates(tmp_path: Path) -> None:
    base = trimesh.creation.box((0.05, 0.04, 0.006), transform=_T(z=0.003))
    web = trimesh.creation.box((0.006, 0.04, 0.04), transform=_T(x=0.022, z=0.026))
    R = trimesh.transformations.rotation_matrix(np.pi / 2, [0, 1, 0])
    R[:3, 3] = [0.022, 0, 0.028]
    mesh = (
        base.union(web)
        .difference(trimesh.creation.cylinder(0.0045, 0.03, sections=48, transform=_T(x=-0.005, z=0.003)))
        .difference(trimesh.creation.cylinder(0.0045, 0.03, sections=48, transform=R))
    )
    pieces, dt = _fresh(mesh, tmp_path)
    assert dt < 3.0
    assert _volume(pieces) == pytest.approx(mesh.volume, rel=0.01)
    assert _pin_hits(pieces, np.array([-0.005, 0.0, 0.003]), 0.009, 0.012) == 0  # the base's hole
    assert _pin_hits(pieces, np.array([0.001, 0.0, 0.003]), 0.009, 0.012) >= 1
    # The web's hole runs along x: turn the pin.
    pin = coal.Cylinder((0.009 - CLEARANCE_M) / 2, 0.012)
    for dz, expected_free in ((0.0, True), (0.001, False)):
        tf = coal.Transform3s(R[:3, :3], np.array([0.022, 0.0, 0.028 + dz]))
        hits = sum(
            coal.collide(
                _coal(p), coal.Transform3s(), pin, tf, coal.CollisionRequest(), coal.CollisionResult()
            )
            > 0
            for p in pieces
        )
        assert (hits == 0) == expected_free


def test_pieces_are_cached_on_disk_and_in_memory(tmp_path: Path) -> None:
    mesh = hex_nut()
    pieces, _ = _fresh(mesh, tmp_path)
    path = tmp_path / f"{cache_key(mesh)}.json"
    raw = json.loads(path.read_text())
    assert [set(p) for p in raw] == [{"vertices", "faces"}] * len(pieces)  # the simulator's old format
    convex._MEMO.clear()
    t0 = time.perf_counter()
    again = convex_pieces(mesh, cache_dir=tmp_path)
    assert time.perf_counter() - t0 < 0.5
    assert len(again) == len(pieces)
    for a, b in zip(again, pieces, strict=True):
        np.testing.assert_allclose(a.vertices, b.vertices, atol=1e-12)
    # From memory: new meshes each call (a caller may move its copy).
    first, second = convex_pieces(mesh, cache_dir=tmp_path), convex_pieces(mesh, cache_dir=tmp_path)
    first[0].apply_translation((1.0, 0.0, 0.0))
    np.testing.assert_allclose(second[0].vertices, pieces[0].vertices, atol=1e-12)


def test_mujoco_model_uses_the_same_pieces(tmp_path: Path) -> None:
    from cell_config import load_cell
    from sim import model_builder
    from workflow_gen.model import PartInfo, Pose

    assert model_builder.convex_pieces is convex_pieces
    hex_nut().export(tmp_path / "nut.stl")
    loaded = trimesh.load(tmp_path / "nut.stl", force="mesh")
    assert isinstance(loaded, trimesh.Trimesh)
    expected = len(convex_pieces(loaded))
    pose = Pose(xyz_m=(0.5, 0.3, 0.1))
    part = PartInfo(
        name="nut",
        cad="nut.stl",
        mesh="nut.stl",
        mass_kg=0.05,
        com_m=(0.0, 0.0, 0.008),
        inertia_kg_m2=(1e-5, 1e-5, 1e-5, 0.0, 0.0, 0.0),
        source="feeder",
        target="fixture",
        T_world_start=pose,
        T_world_target=pose,
    )
    cm = model_builder.build_model(load_cell(), [part], tmp_path)
    assert cm.geom_owner.count("part:nut") == expected == 16  # one per edge of the hole (64-gon simplified)
    assert len(convex_piece_geometries(loaded)) == expected  # the planner's collision world: the same


def test_too_many_holes_fill_the_smallest_first(tmp_path: Path) -> None:
    """24 holes of 6 mm and one of 20 mm in a 200 x 150 mm plate: past MAX_PIECES small holes are filled."""
    xy = [(x, y) for x in np.linspace(-0.08, 0.08, 6) for y in np.linspace(-0.06, 0.06, 4)]
    cutters = [trimesh.creation.cylinder(0.003, 0.02, sections=32, transform=_T(x, y)) for x, y in xy]
    cutters.append(trimesh.creation.cylinder(0.01, 0.02, sections=64, transform=_T(0.0, 0.0)))
    mesh = trimesh.creation.box((0.2, 0.15, 0.008)).difference(trimesh.util.concatenate(cutters))
    pieces, dt = _fresh(mesh, tmp_path)
    assert len(pieces) <= convex.MAX_PIECES and dt < 3.0
    assert mesh.volume < _volume(pieces) < mesh.convex_hull.volume
    assert _pin_hits(pieces, np.zeros(3), 0.02, 0.012) == 0  # the big hole is kept
    filled = sum(_pin_hits(pieces, np.array([x, y, 0.0]), 0.006, 0.012) > 0 for x, y in xy)
    assert 0 < filled < len(xy)  # some of the small ones are filled, the others kept


@pytest.mark.parametrize("through", [False, True])
def test_block_with_perpendicular_holes_keeps_both_free(through: bool, tmp_path: Path) -> None:
    """Holes along x and z: cut between them, each piece keeps one hole; no pin point inside a piece."""
    mesh, holes = block_with_two_holes(through)
    pieces, dt = _fresh(mesh, tmp_path)
    assert dt < 2.0  # about 0.3 s on an idle core
    assert 2 < len(pieces) <= convex.MAX_PIECES
    assert _volume(pieces) == pytest.approx(mesh.volume, rel=0.01)  # the exact pieces, not V-HACD's
    for centre, axis, d in holes:
        length = 0.05 if axis[0] else (0.03 if through else 0.015)  # 0.5 mm above a blind hole's bottom
        free = _pin_points(centre, axis, d - CLEARANCE_M, length)
        assert _inside(pieces, free) == 0
        assert _inside([mesh.convex_hull], free) > len(free) // 2  # the hull fills the hole
        off = np.cross(axis, [0.0, 1.0, 0.0]) if axis[2] else np.array([0.0, 1.0, 0.0])
        for sign in (1.0, -1.0):
            shifted = _pin_points(centre + sign * 0.001 * off, axis, d - CLEARANCE_M, length)
            assert _inside(pieces, shifted) > 0


def test_cache_key_names_the_method_version(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pieces cached by an older method (which filled crossing holes) are not read back."""
    mesh = hex_nut()
    key = cache_key(mesh)
    assert f"-x{convex.METHOD_VERSION}-" in key and convex.METHOD_VERSION >= 2
    monkeypatch.setattr(convex, "METHOD_VERSION", 1)
    assert cache_key(mesh) != key
