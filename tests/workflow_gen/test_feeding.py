"""Feeder layout of a real-looking 18-part product and its loading sheet.

The product: a 150 x 100 mm base plate, two L-brackets, a rod, six M8 bolts and eight M8 nuts, each
fed in its most probable resting pose (the pipeline's own resting-pose analysis).
"""

from __future__ import annotations

import dataclasses
import struct
import time
from pathlib import Path

import numpy as np
import pytest
import trimesh

from cell_config import Cell
from cell_config.schema import PoseSpec, StationSpec
from workflow_gen.feeding import (
    EDGE_MARGIN_M,
    FeederLayout,
    FeedRequest,
    group_key,
    layout_feed,
    part_outline_xy,
)
from workflow_gen.loading_sheet import write_loading_sheet
from workflow_gen.resting import REST_GAP_M, resting_poses


def _box(size_m: tuple[float, float, float], at_m: tuple[float, float, float]) -> trimesh.Trimesh:
    return trimesh.creation.box(extents=size_m, transform=trimesh.transformations.translation_matrix(at_m))


def _join(meshes: list[trimesh.Trimesh]) -> trimesh.Trimesh:
    joined = trimesh.util.concatenate(meshes)
    assert isinstance(joined, trimesh.Trimesh)
    return joined


def _bracket() -> trimesh.Trimesh:
    """60 x 40 mm L-bracket of 5 mm sheet, 40 mm high (two touching boxes: watertight, right volume)."""
    return _join(
        [
            _box((0.060, 0.040, 0.005), (0.030, 0.0, 0.0025)),
            _box((0.005, 0.040, 0.035), (0.0025, 0.0, 0.0225)),
        ]
    )


def _bolt() -> trimesh.Trimesh:
    """M8 x 30 hex bolt: 13 mm across flats (hexagonal prism), 5.5 mm head."""
    shaft = trimesh.creation.cylinder(radius=0.004, height=0.030, sections=16)
    shaft.apply_translation((0.0, 0.0, 0.015))
    head = trimesh.creation.cylinder(radius=0.0075, height=0.0055, sections=6)
    head.apply_translation((0.0, 0.0, 0.030 + 0.00275))
    return _join([shaft, head])


def _nut() -> trimesh.Trimesh:
    """M8 hex nut: 15 mm across corners, 6.5 mm thick, 8 mm hole."""
    return trimesh.creation.annulus(r_min=0.004, r_max=0.0075, height=0.0065, sections=6)


def _parts() -> list[tuple[str, trimesh.Trimesh]]:
    rod = trimesh.creation.cylinder(radius=0.006, height=0.120, sections=24)
    return (
        [("base_plate", trimesh.creation.box(extents=(0.150, 0.100, 0.010)))]
        + [(f"bracket_{i}", _bracket()) for i in (1, 2)]
        + [("rod", rod)]
        + [(f"bolt_{i}", _bolt()) for i in range(1, 7)]
        + [(f"nut_{i}", _nut()) for i in range(1, 9)]
    )


@pytest.fixture(scope="module")
def requests() -> list[FeedRequest]:
    """The 18 parts in assembly order (priority = position in the sequence, the base plate first)."""
    out = []
    for prio, (name, mesh) in enumerate(_parts()):
        T = resting_poses(mesh)[0].T_slot_part
        out.append(FeedRequest(name, mesh, T, "feeder", group=group_key(mesh, T), priority=prio))
    # Handed over in a shuffled order: the layout must follow the priorities, not the list.
    return [out[i] for i in np.random.default_rng(7).permutation(len(out))]


@pytest.fixture(scope="module")
def cell(cell: Cell) -> Cell:
    """The default cell with its feeder tray only (its bin taken out): packing one tray."""
    stations = [s for s in cell.spec.stations if s.type != "bin"]
    spec = cell.spec.model_copy(update={"stations": stations})
    poses = {k: v for k, v in cell.station_poses.items() if k in {s.name for s in stations}}
    return dataclasses.replace(cell, spec=spec, station_poses=poses)


@pytest.fixture(scope="module")
def bin_cell(cell: Cell) -> Cell:
    """The default cell plus a 0.20 x 0.24 m bin beside the feeder, as proposed for ur5e_cell.yaml."""
    pose = PoseSpec(xyz_m=(0.10, 0.50, 0.03))
    bin_station = StationSpec(name="bin", type="bin", pose=pose, size_m=(0.20, 0.24, 0.03))
    spec = cell.spec.model_copy(update={"stations": [*cell.spec.stations, bin_station]})
    return dataclasses.replace(cell, spec=spec, station_poses={**cell.station_poses, "bin": pose.matrix()})


# ----------------------------------------------------------------------------- geometry checks (no shapely)
def _seg_dist(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    ab = b - a
    t = np.clip((p - a) @ ab / max(float(ab @ ab), 1e-18), 0.0, 1.0)
    return float(np.linalg.norm(p - (a + t * ab)))


def _separated(P: np.ndarray, Q: np.ndarray) -> bool:
    """Separating-axis test of two convex polygons (m, 2)."""
    for poly in (P, Q):
        edges = np.roll(poly, -1, axis=0) - poly
        for n in np.stack([-edges[:, 1], edges[:, 0]], axis=1):
            if (P @ n).max() < (Q @ n).min() or (Q @ n).max() < (P @ n).min():
                return True
    return False


def polygon_distance(P: np.ndarray, Q: np.ndarray) -> float:
    """Smallest distance between two convex polygons (0 when they overlap)."""
    if not _separated(P, Q):
        return 0.0
    d = [_seg_dist(p, Q[i], Q[(i + 1) % len(Q)]) for p in P for i in range(len(Q))]
    d += [_seg_dist(q, P[i], P[(i + 1) % len(P)]) for q in Q for i in range(len(P))]
    return min(d)


def _outlines(layout: FeederLayout, reqs: list[FeedRequest], cell: Cell) -> dict[str, np.ndarray]:
    """Footprint of every placed part in its station frame, from the placed pose (not the packer's boxes)."""
    mesh = {r.name: r.mesh for r in reqs}
    return {
        n: part_outline_xy(mesh[n], np.linalg.inv(cell.T_world_station(p.station)) @ p.T_world_part)
        for n, p in layout.placed.items()
    }


def _check_layout(layout: FeederLayout, reqs: list[FeedRequest], cell: Cell) -> None:
    """Every part placed or overflowed, apart by >= the gap, inside its tray, resting on its surface."""
    assert set(layout.placed) | set(layout.overflow) == {r.name for r in reqs}
    assert not set(layout.placed) & set(layout.overflow)
    outlines = _outlines(layout, reqs, cell)
    gap = {r.name: r.finger_gap_m for r in reqs}
    names = list(layout.placed)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            if layout.placed[a].station == layout.placed[b].station:
                d = polygon_distance(outlines[a], outlines[b])
                assert d >= max(gap[a], gap[b]) - 1e-9, f"{a} and {b} are {d * 1000:.1f} mm apart"
    mesh = {r.name: r.mesh for r in reqs}
    for n, p in layout.placed.items():
        half = np.array(cell.station(p.station).size_m[:2]) / 2 - EDGE_MARGIN_M
        assert np.all(np.abs(outlines[n]) <= half + 1e-9), f"{n} overhangs {p.station}"
        z_min = trimesh.transform_points(mesh[n].vertices, p.T_world_part)[:, 2].min()
        assert z_min == pytest.approx(cell.T_world_station(p.station)[2, 3] + REST_GAP_M, abs=1e-9)
        # Still the resting pose, only turned about the vertical: the same face is down.
        R = p.T_world_part[:3, :3]
        R_rest = next(r.T_slot_part for r in reqs if r.name == n)[:3, :3]
        assert R[2] == pytest.approx(R_rest[2], abs=1e-9)


# ----------------------------------------------------------------------------- default cell
def test_default_feeder_layout(requests: list[FeedRequest], cell: Cell) -> None:
    layout = layout_feed(requests, cell)
    _check_layout(layout, requests, cell)
    assert layout.stations_used == ["feeder"]
    # The base plate goes first, in the tray corner nearest the robot (the station frame's -x/-y corner).
    first = next(iter(layout.placed.values()))
    assert (first.name, first.label) == ("base_plate", "feeder/P01")
    plate = _outlines(layout, requests, cell)["base_plate"]
    assert plate.min(axis=0) == pytest.approx(-np.array([0.30, 0.36]) / 2 + EDGE_MARGIN_M, abs=1e-9)
    # Parts are laid in priority order: positions P01, P02 ... follow the assembly sequence.
    prio = {r.name: r.priority for r in requests}
    placed = list(layout.placed)
    assert [prio[n] for n in placed] == sorted(prio[n] for n in placed)
    # Identical nuts are laid next to each other: consecutive positions.
    nut_positions = sorted(int(p.label[-2:]) for n, p in layout.placed.items() if n.startswith("nut"))
    assert nut_positions == list(range(nut_positions[0], nut_positions[0] + len(nut_positions)))
    # The whole product fits the default 0.30 x 0.36 m feeder, with 22 mm between parts.
    assert not layout.overflow and len(layout.placed) == 18


def test_footprints_are_turned_to_fit(requests: list[FeedRequest], cell: Cell) -> None:
    layout = layout_feed(requests, cell)
    p = layout.placed["base_plate"]
    assert p.footprint_m == pytest.approx([0.150, 0.100], abs=1e-6)
    # Turned a quarter turn so that the plate's long side runs along the tray's x: one row under it fits.
    assert abs(p.yaw_deg) == pytest.approx(90.0)
    rod = layout.placed["rod"]
    assert rod.footprint_m == pytest.approx([0.120, 0.012], abs=2e-4)


def test_part_bigger_than_every_tray_overflows_with_its_size(requests: list[FeedRequest], cell: Cell) -> None:
    table_top = trimesh.creation.box(extents=(0.50, 0.40, 0.012))
    T = resting_poses(table_top)[0].T_slot_part
    big = FeedRequest("cover", table_top, T, "feeder", priority=-1)
    layout = layout_feed([big, *requests[:3]], cell)
    assert "cover" not in layout.placed
    why = layout.overflow["cover"]
    assert "500 x 400 mm footprint is bigger than every feeding station" in why
    assert "feeder 0.30 x 0.36 m" in why and why.endswith("hand it to the cell")
    assert len(layout.placed) == 3  # the big part takes nothing from the others


def test_occupied_area_is_kept_free(requests: list[FeedRequest], cell: Cell) -> None:
    # A clamp over the robot-side half of the tray: the plate has to go to the far half.
    layout = layout_feed(requests, cell, occupied={"feeder": [(-0.15, -0.18, 0.15, 0.0)]})
    _check_layout(layout, requests, cell)
    for n, poly in _outlines(layout, requests, cell).items():
        gap = next(r.finger_gap_m for r in requests if r.name == n)
        assert poly[:, 1].min() >= gap - 1e-9, n
    assert "base_plate" in layout.placed


# ----------------------------------------------------------------------------- a cell with a bin
def test_identical_parts_go_to_the_bin(requests: list[FeedRequest], bin_cell: Cell) -> None:
    layout = layout_feed(requests, bin_cell)
    _check_layout(layout, requests, bin_cell)
    in_bin = [n for n, p in layout.placed.items() if p.station == "bin"]
    # Groups go to the bin in priority order (brackets, then bolts, ...) for as long as there is room;
    # the base plate and the rod are one of a kind and stay on the feeder.
    assert layout.placed["base_plate"].station == "feeder" and layout.placed["rod"].station == "feeder"
    assert in_bin and all(n.startswith(("bracket", "bolt", "nut")) for n in in_bin)
    assert set(layout.stations_used) == {"feeder", "bin"}
    labels = [layout.placed[n].label for n in in_bin]
    assert all(lab.startswith("bin/G") and "#" in lab for lab in labels)
    # Within a group the pick numbers count up 1, 2, 3 ... in the bin.
    by_group: dict[str, list[int]] = {}
    for lab in labels:
        g, k = lab.split("/")[1].split("#")
        by_group.setdefault(g, []).append(int(k))
    assert all(ks == list(range(1, len(ks) + 1)) for ks in by_group.values())
    # With the bin taking the small identical parts, the whole product is fed.
    assert not layout.overflow
    assert len(layout.placed) == 18


def test_nuts_alone_in_a_bin_are_a_tight_grid(requests: list[FeedRequest], bin_cell: Cell) -> None:
    nuts = [r for r in requests if r.name.startswith("nut")]
    layout = layout_feed(nuts, bin_cell)
    _check_layout(layout, nuts, bin_cell)
    assert {p.station for p in layout.placed.values()} == {"bin"} and len(layout.placed) == 8
    centres = np.array([p.T_world_part[:2, 3] for p in layout.placed.values()])
    # A grid: few distinct rows and columns, one pitch (footprint + gap) between neighbours.
    xs, ys = np.unique(centres[:, 0].round(6)), np.unique(centres[:, 1].round(6))
    assert len(xs) * len(ys) <= 12
    pitch = nuts[0].finger_gap_m + layout.placed["nut_1"].footprint_m
    assert np.diff(xs) == pytest.approx(np.full(len(xs) - 1, pitch.min()), abs=1e-6) or np.diff(
        xs
    ) == pytest.approx(np.full(len(xs) - 1, pitch.max()), abs=1e-6)


def _plates() -> list[FeedRequest]:
    """Nine plates, one of a kind each, about 130 x 100 mm: the feeder holds six (2 x 3 with the gaps)."""
    plates = []
    for i in range(9):
        m = trimesh.creation.box(extents=(0.130 - 0.001 * i, 0.100, 0.008))
        plates.append(FeedRequest(f"plate_{i}", m, resting_poses(m)[0].T_slot_part, "feeder", priority=i))
    return plates


def test_full_feeder_overflows_with_a_reason(cell: Cell) -> None:
    plates = _plates()
    layout = layout_feed(plates, cell)
    _check_layout(layout, plates, cell)
    assert list(layout.placed) == [f"plate_{i}" for i in range(6)]
    assert layout.overflow["plate_6"] == (
        "the feeder's 0.30 x 0.36 m tray is full (6 parts placed, no room for its 124 x 100 mm footprint); "
        "hand it to the cell"
    )


def test_falls_back_to_another_feeding_station(bin_cell: Cell) -> None:
    # The feeder holds six plates, the bin two more (one above the other, 22 mm apart).
    plates = _plates()
    layout = layout_feed(plates, bin_cell)
    _check_layout(layout, plates, bin_cell)
    stations = [layout.placed[p.name].station if p.name in layout.placed else "-" for p in plates]
    assert stations == ["feeder"] * 6 + ["bin", "bin", "-"]
    why = layout.overflow["plate_8"]
    assert why.startswith(
        "the feeder's 0.30 x 0.36 m tray (6 parts placed) and the bin's 0.20 x 0.24 m bin (2 parts placed)"
    )
    assert why.endswith("are full (no room for its 122 x 100 mm footprint); hand it to the cell")


def test_deterministic(requests: list[FeedRequest], bin_cell: Cell) -> None:
    a, b = layout_feed(requests, bin_cell), layout_feed(requests, bin_cell)
    assert list(a.placed) == list(b.placed) and a.overflow == b.overflow
    for n, p in a.placed.items():
        assert p.label == b.placed[n].label
        assert np.array_equal(p.T_world_part, b.placed[n].T_world_part)


def test_fast(requests: list[FeedRequest], cell: Cell) -> None:
    layout_feed(requests, cell)  # a first call, so that lazy imports and caches are not timed
    best_s = min(_timed(lambda: layout_feed(requests, cell)) for _ in range(5))
    assert best_s < 0.020, f"{best_s * 1000:.1f} ms for {len(requests)} parts"


def _timed(fn) -> float:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def test_request_for_a_missing_station_is_an_error(requests: list[FeedRequest], cell: Cell) -> None:
    bad = dataclasses.replace(requests[0], station="hopper")
    with pytest.raises(ValueError, match="hopper"):
        layout_feed([bad], cell)


# ----------------------------------------------------------------------------- loading sheet
def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    w, h = struct.unpack(">II", data[16:24])
    return int(w), int(h)


def test_loading_sheet(requests: list[FeedRequest], bin_cell: Cell, cell: Cell, tmp_path: Path) -> None:
    meshes = {r.name: r.mesh for r in requests}
    layout = layout_feed(requests, cell)
    paths = write_loading_sheet(tmp_path / "a", layout, meshes, cell, face_up={"base_plate": "holes up"})
    md, png = paths
    assert [p.name for p in paths] == ["feeder_sheet.md", "feeder_sheet.png"] and all(
        p.is_file() for p in paths
    )
    text = md.read_text()
    rows = [line for line in text.splitlines() if line.startswith("| feeder/")]
    assert len(rows) == len(layout.placed)
    assert rows[0].startswith("| feeder/P01 | base_plate | holes up | turned ")
    assert any("| nut_1 | +Z face up |" in r or "| nut_1 | -Z face up |" in r for r in rows)
    for name in layout.overflow:
        assert f"- hand to the cell: {name} (" in text
    w, h = _png_size(png)
    assert w == 1000 and 300 <= h <= 1400
    # Two stations side by side, and the same sheet written twice is the same text.
    layout2 = layout_feed(requests, bin_cell)
    md2, png2 = write_loading_sheet(tmp_path / "b", layout2, meshes, bin_cell)
    assert "| bin/G1#1 |" in md2.read_text()
    assert _png_size(png2)[0] == 1000
    again = write_loading_sheet(tmp_path / "c", layout2, meshes, bin_cell)[0]
    assert again.read_text() == md2.read_text()
