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
    """

    T_world_target: np.ndarray
    label: str
    station: str
    surface_z_m: float
    resting: RestingPose
    symmetry: str
    overlap: str = ""


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
        out[g.name] = Target(
            T, label, st if st in station_names else "", float(T_slot[2, 3]), rest, symmetry(g.mesh), clash
        )
    return out


def feeding(
    geoms: list[PartGeometry], tg: dict[str, Target], cell: Cell, priority: dict[str, int]
) -> FeederLayout:
    """Lay out the feeding stations for every part that has a target, in ``priority`` order (lower first)."""
    reqs = [
        FeedRequest(
            name=g.name,
            mesh=g.mesh,
            T_slot_part=tg[g.name].resting.T_slot_part,
            station=g.source,
            group=group_key(g.mesh, tg[g.name].resting.T_slot_part),
            priority=priority.get(g.name, len(priority)),
        )
        for g in geoms
        if g.name in tg
    ]
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
