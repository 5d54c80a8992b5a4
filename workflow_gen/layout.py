"""Where each part goes (its target) and where it is fed from (the feeder laid out from the footprints).

:func:`targets` gives every part its resting pose and its target: its place in the assembly on the fixture,
or its kit slot. :func:`feeding` lays the feeder out itself (:mod:`workflow_gen.feeding`): the parts'
footprints packed onto the feeding stations in sequence order, identical parts in a bin when the cell has
one; a part that finds no room is handed to the cell by a person. Both return new records; nothing is
mutated.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import trimesh

from cell_config import Cell, ConfigError, PoseSpec
from workflow_gen.cad_import import PartGeometry
from workflow_gen.feeding import FeederLayout, FeedRequest, group_key, layout_feed
from workflow_gen.resting import RestingPose, resting_poses, symmetry
from workflow_gen.variant import VariantSpec


@dataclass(frozen=True)
class Target:
    """A part's target and how it rests (world frame).

    Attributes
    ----------
    T_world_target : (4, 4) part pose at its place
    label : station name (assemblies) or ``station/slot`` (kits) or ``pose``
    station : the station it is placed on (``""`` for a pose in the world)
    surface_z_m : height of the surface it is placed on
    resting : its stable pose for feeding (preferring its target orientation)
    overlap : for kits, the part it would overlap at its slot (``""`` if none)
    tolerance : (mm, deg) it may rest from its target: its station's, or the variant's when tighter
    """

    T_world_target: np.ndarray
    label: str
    station: str
    surface_z_m: float
    resting: RestingPose
    symmetry: str
    overlap: str = ""
    tolerance: tuple[float, float] = (2.0, 2.0)


def _slot_target(
    cell: Cell, spec_file: Path, key: str, target: str | PoseSpec
) -> tuple[str, str, np.ndarray]:
    """(label, station, T_world_slot) of a kit target: ``A1``, ``station/A1`` or a pose."""
    if isinstance(target, PoseSpec):
        try:
            return "pose", target.frame, cell.resolve_pose(target)
        except KeyError as e:
            raise ConfigError(spec_file, f"{key}.target.frame", str(e).strip("'\"")) from None
    if "/" in target:
        station, slot = target.split("/", 1)
        stations = [station]
    else:
        slot = target
        stations = [s.name for s in cell.spec.stations if s.type == "kit_tray"]
    for st in stations:
        try:
            slots = cell.slot_poses_world(st)
        except KeyError:
            raise ConfigError(spec_file, f"{key}.target", f"the cell has no station {st!r}") from None
        if slot in slots:
            return f"{st}/{slot}", st, slots[slot]
    raise ConfigError(spec_file, f"{key}.target", f"no kit slot {target!r} in stations {stations}")


def targets(geoms: list[PartGeometry], spec: VariantSpec, cell: Cell, spec_file: Path) -> dict[str, Target]:
    """Target and resting pose of every part with a sound mesh (kit slots checked for double use)."""
    station_names = {s.name for s in cell.spec.stations}
    if spec.kind == "assembly" and spec.fixture not in station_names:
        raise ConfigError(spec_file, "fixture", f"the cell has no station {spec.fixture!r}")
    out: dict[str, Target] = {}
    used: dict[str, str] = {}
    boxes: dict[str, np.ndarray] = {}
    for g in geoms:
        if g.source not in station_names:
            raise ConfigError(
                spec_file,
                f"{g.yaml_key}.source" if g.yaml_key != "assembly" else "feed",
                f"the cell has no station {g.source!r} (stations: {sorted(station_names)})",
            )
        if g.mass_kg <= 0:
            continue  # no sound mesh: nothing to lay out (its issue says why)
        if spec.kind == "assembly":
            assert g.T_fixture_part is not None
            T_fixture = cell.T_world_station(spec.fixture)
            T = T_fixture @ g.T_fixture_part
            rest = resting_poses(g.mesh, T[:3, :3])[0]
            out[g.name] = Target(
                T, spec.fixture, spec.fixture, float(T_fixture[2, 3]), rest, symmetry(g.mesh)
            )
            continue
        assert g.target is not None
        label, st, T_slot = _slot_target(cell, spec_file, g.yaml_key, g.target)
        if label != "pose" and label in used:
            raise ConfigError(
                spec_file, f"{g.yaml_key}.target", f"slot {label} is already the target of {used[label]}"
            )
        used[label] = g.name
        rest = resting_poses(g.mesh)[0]
        T = T_slot @ rest.T_slot_part
        clash = _overlaps(g.mesh, T, boxes)
        boxes[g.name] = _world_bounds(g.mesh, T)
        station = st if st in station_names else ""
        out[g.name] = Target(
            T,
            label,
            station,
            float(T_slot[2, 3]),
            rest,
            symmetry(g.mesh),
            clash,
            _tolerance(cell, station, spec, g),
        )
    return out


def _tolerance(cell: Cell, station: str, spec: VariantSpec, g: PartGeometry) -> tuple[float, float]:
    """(mm, deg) a placed part may rest from its target: the station's, tightened by the variant's."""
    by_name = {s.name: s for s in cell.spec.stations}
    mm, deg = by_name[station].placement_tolerance() if station in by_name else (2.0, 2.0)
    if g.yaml_key.startswith("parts."):
        said = spec.kit_parts()[int(g.yaml_key.split(".")[1])]
    else:
        said = spec.overrides().get(g.name)  # type: ignore[assignment]
    if said is not None:
        mm = min(mm, said.tolerance_mm or mm)
        deg = min(deg, said.tolerance_deg or deg)
    return mm, deg


def feeding(
    geoms: list[PartGeometry], tg: dict[str, Target], cell: Cell, priority: dict[str, int]
) -> FeederLayout:
    """Lay out the feeding stations for every part that has a target, in ``priority`` order (lower first).

    Parts the gripper cannot hold (an import issue: too large) come after the robot's parts, with a gap of
    half the palm around them: the worker takes them by hand, and the palm must pass them when the robot
    picks its parts next to them.
    """
    palm_gap_m = max(cell.spec.gripper.palm_size_m[:2]) / 2
    n = len(priority) + len(geoms)
    reqs = []
    for g in geoms:
        if g.name not in tg:
            continue
        rest = tg[g.name].resting.T_slot_part
        robot_part = g.issue is None
        reqs.append(
            FeedRequest(
                name=g.name,
                mesh=g.mesh,
                T_slot_part=rest,
                station=g.source,
                group=group_key(g.mesh, rest),
                priority=priority.get(g.name, n) + (0 if robot_part else 2 * n),
                **({} if robot_part else {"finger_gap_m": palm_gap_m}),
            )
        )
    return layout_feed(reqs, cell)


def _world_bounds(mesh: trimesh.Trimesh, T: np.ndarray) -> np.ndarray:
    """``(2, 3)`` axis-aligned bounds of ``mesh`` placed at ``T (4, 4)``."""
    v = trimesh.transform_points(mesh.convex_hull.vertices, T)
    return np.array([v.min(axis=0), v.max(axis=0)])


def _overlaps(
    mesh: trimesh.Trimesh, T: np.ndarray, others: dict[str, np.ndarray], gap_m: float = 0.002
) -> str:
    """Name of a part whose bounds come within ``gap_m`` of ``mesh`` at ``T``, or ``""``."""
    b = _world_bounds(mesh, T)
    for name, o in others.items():
        if np.all(b[0] < o[1] + gap_m) and np.all(o[0] < b[1] + gap_m):
            return name
    return ""


def regrasp_spot(
    cell: Cell,
    near_xy_m: np.ndarray,
    part_radius_m: float,
    occupied: tuple[tuple[np.ndarray, float], ...] = (),
) -> tuple[np.ndarray, str]:
    """``(T_world_area (4, 4), surface name)``: where a part is put down to be taken another way.

    The cell's ``planning.regrasp_area`` when it names one. Otherwise a free patch on a 2 cm grid within
    the arm's comfortable reach (0.35-0.65 m from the base), the one nearest ``near_xy_m (2,)`` (the middle
    of the part's way), looked for first on the stations' tops, then on the table top (world z = 0):

    - on a station, the part (a ball of ``part_radius_m`` round its centre of mass) lies wholly on its top;
    - on the table, it keeps the part's radius plus half the palm from every station and obstacle footprint;
    - everywhere, it keeps the part's radius plus half the palm from the parts in ``occupied`` (their
      centres' ``(xy (2,), radius_m)``: the parts lying in the cell meanwhile) and from the obstacles.

    Stations come first: a part may touch the station it lies on, whereas the table is an obstacle of the
    cell that the carried part must not touch (the simulation fails a task whose part hits it). The surface
    name is the station, or the obstacle the patch lies on.
    """
    spec = cell.spec
    if spec.planning.regrasp_area is not None:
        T = cell.resolve_pose(spec.planning.regrasp_area)
        return T, _surface_under(cell, T[:3, 3])
    base = cell.resolve_pose(spec.robot.base_pose)[:3, 3]
    palm_half = max(spec.gripper.palm_size_m[:2]) / 2
    margin = part_radius_m + palm_half
    step = 0.02

    def free(xy: np.ndarray, skip: str = "") -> np.ndarray:
        r = np.linalg.norm(xy - base[:2], axis=1)
        ok = (r > 0.35) & (r < 0.65)
        for T_b, half, name in bodies:
            if name != skip:
                local = (xy - T_b[:2, 3]) @ T_b[:2, :2]  # points in the body's xy frame
                ok &= ~np.all(np.abs(local) < half + margin, axis=1)
        for c, rad in occupied:
            ok &= np.linalg.norm(xy - np.asarray(c, float)[:2], axis=1) >= margin + rad
        return ok

    stations = [(cell.T_world_station(s.name), np.asarray(s.size_m[:2]) / 2, s.name) for s in spec.stations]
    obstacles = []
    for o in spec.obstacles:
        T_o = cell.resolve_pose(o.pose)
        if o.shape == "box" and o.size_m is not None and abs(T_o[2, 3] + o.size_m[2] / 2) < 1e-3:
            continue  # the table itself (its top at z = 0) is the surface, not an obstacle
        half = np.asarray(o.size_m[:2]) / 2 if o.size_m is not None else np.full(2, o.radius_m or 0.0)
        obstacles.append((T_o, half, o.name))
    # On a station's top: the part's footprint inside the top; the station is not in its own way.
    bodies = obstacles + stations
    best: tuple[float, np.ndarray, str] | None = None
    for T_s, half, name in stations:
        inner = half - part_radius_m
        if np.any(inner < 0):
            continue
        u = np.arange(-inner[0], inner[0] + 1e-9, step)
        v = np.arange(-inner[1], inner[1] + 1e-9, step)
        local = np.stack(np.meshgrid(u, v, indexing="ij"), axis=-1).reshape(-1, 2)
        xy = local @ T_s[:2, :2].T + T_s[:2, 3]
        ok = free(xy, skip=name)
        if ok.any():
            d = np.linalg.norm(xy[ok] - near_xy_m, axis=1)
            i = int(np.argmin(d))
            if best is None or d[i] < best[0]:
                best = (float(d[i]), np.append(xy[ok][i], T_s[2, 3]), name)
    if best is not None:
        T = np.eye(4)
        T[:3, 3] = best[1]
        return T, best[2]
    xs = np.arange(-1.0, 1.0001, step)
    grid = np.stack(np.meshgrid(xs, xs, indexing="ij"), axis=-1).reshape(-1, 2) + base[:2]
    ok = free(grid)
    if not ok.any():
        raise ValueError("no free patch of the table for a regrasp; name planning.regrasp_area in the cell")
    cand = grid[ok]
    T = np.eye(4)
    T[:2, 3] = cand[int(np.argmin(np.linalg.norm(cand - near_xy_m, axis=1)))]
    return T, _surface_under(cell, T[:3, 3])


def _surface_under(cell: Cell, xyz: np.ndarray) -> str:
    """Name of the obstacle whose top the point lies on (within 5 mm), or ``""``."""
    for o in cell.spec.obstacles:
        if o.shape != "box" or o.size_m is None:
            continue
        T_o = cell.resolve_pose(o.pose)
        local = np.linalg.solve(T_o, np.append(xyz, 1.0))[:3]
        half = np.asarray(o.size_m) / 2
        if np.all(np.abs(local[:2]) <= half[:2]) and abs(local[2] - half[2]) < 0.005:
            return o.name
    return ""
