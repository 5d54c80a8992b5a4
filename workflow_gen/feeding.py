"""Feeder layout: where each part is laid on the cell's feeding stations before the robot picks it.

Each part is fed in its stable resting pose (``T_slot_part``, see :mod:`workflow_gen.resting`). Its
footprint is the convex hull of the part projected on the surface; the packer works on the footprint's
minimum-area bounding rectangle, turned about the vertical to the tray axes (two turns tried, 90 deg
apart). Rectangles are packed onto the top surface of a station, keeping ``finger_gap_m`` between
neighbours for the open jaws and a small margin from the tray edge, in priority order (the base part and
the parts placed early in the assembly first), with a bottom-left skyline rule whose origin is the tray
corner nearest the robot: the first parts are the closest to the arm.

A part that does not fit on its requested station goes to another feeding station (``feeder_tray`` or
``bin``) with room; identical parts (same ``group``) go to a ``bin`` first when the cell has one, and next
to each other in any case; what fits nowhere is an overflow part, with the reason, for the operator to
hand to the cell. The slot grid of a tray is ignored here: the layout is generated per product.

The layout is deterministic (same requests, same cell -> same layout) and cheap (a few milliseconds
for twenty parts): candidate positions are the tray corner and the right/top edges of placed parts
(plus the gap), tested all at once with numpy.

Use from the pipeline (one request per part the robot or the operator feeds)::

    rest = resting_poses(mesh, R_target)[0]
    req = FeedRequest(name, mesh, rest.T_slot_part, station=source, priority=rank_in_sequence,
                      group=group_key(mesh, rest.T_slot_part))
    layout = layout_feed(requests, cell)
    p = layout.placed[name]           # p.T_world_part is the start pose, p.label the source position
    why = layout.overflow.get(name)   # else: the operator hands the part to the cell
    write_loading_sheet(out_dir, layout, meshes, cell)   # workflow_gen.loading_sheet
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import trimesh
from scipy.spatial import ConvexHull, QhullError

from cell_config import Cell

# Station types the generator may lay parts on when it falls back from the requested station.
FEEDING_TYPES = ("feeder_tray", "bin")
# Free space for the open jaws around a footprint: the 85 mm gripper's finger (22 mm wide, 10 mm thick)
# plus a few millimetres of opening beyond the part, whichever way the fingers close.
DEFAULT_FINGER_GAP_M = 0.022
# Distance kept from the tray edge: parts never overhang, and a tray rim (a few mm) does not tilt them.
EDGE_MARGIN_M = 0.005
# Geometric tolerance of the packer (m): placements exactly one gap apart are accepted.
_EPS_M = 1e-9


@dataclass(frozen=True)
class FeedRequest:
    """One part to feed.

    Attributes
    ----------
    name : part name (unique among the requests)
    mesh : part mesh in the part frame (metres)
    T_slot_part : (4, 4) float, stable resting pose: part frame in a slot frame whose z = 0 is the surface
    station : name of the station the part is requested on (normally the cell's feeder tray)
    group : key shared by identical parts (same mesh and resting pose, see :func:`group_key`); ``""`` for
        a part of its own
    priority : lower is placed first (the base part, then the parts in assembly order)
    finger_gap_m : free space the open jaws need around the footprint (m)
    """

    name: str
    mesh: trimesh.Trimesh
    T_slot_part: np.ndarray
    station: str
    group: str = ""
    priority: int = 0
    finger_gap_m: float = DEFAULT_FINGER_GAP_M


@dataclass(frozen=True)
class FeedPlacement:
    """Where one part is fed.

    Attributes
    ----------
    name : part name
    station : station it lies on
    label : position label for people: ``feeder/P03`` on a tray (the 3rd part laid there), ``bin/G2#4`` in
        a bin (the 4th part of the 2nd group of identical parts in that bin)
    T_world_part : (4, 4) float, part frame in the world, resting on the station's top surface
    footprint_m : (2,) float, (length, width) of the footprint's bounding rectangle, length >= width (m)
    yaw_deg : turn about the vertical applied to the resting pose ``T_slot_part`` (deg, in (-180, 180])
    """

    name: str
    station: str
    label: str
    T_world_part: np.ndarray
    footprint_m: np.ndarray
    yaw_deg: float


@dataclass
class FeederLayout:
    """Result of :func:`layout_feed`.

    Attributes
    ----------
    placed : part name -> placement, in placement order
    overflow : part name -> reason sentence (ends with "hand it to the cell")
    stations_used : stations holding at least one part, in order of first use
    """

    placed: dict[str, FeedPlacement] = field(default_factory=dict)
    overflow: dict[str, str] = field(default_factory=dict)
    stations_used: list[str] = field(default_factory=list)


def group_key(mesh: trimesh.Trimesh, T_slot_part: np.ndarray, decimals: int = 6) -> str:
    """Key shared by parts with the same geometry and resting pose (a short hex digest).

    Vertices and the pose are rounded to ``decimals`` (1 um by default) so that the same CAD part
    exported twice hashes alike.
    """
    h = hashlib.sha1()
    h.update(np.round(np.asarray(mesh.vertices, dtype=float), decimals).tobytes())
    h.update(np.asarray(mesh.faces, dtype=np.int64).tobytes())
    h.update(np.round(np.asarray(T_slot_part, dtype=float), decimals).tobytes())
    return h.hexdigest()[:16]


def convex_hull_2d(points_xy: np.ndarray) -> np.ndarray:
    """Convex hull ``(m, 2)`` of ``points_xy (n, 2)``, counter-clockwise, no repeated end point.

    Qhull (C, fast on the thousands of hull vertices of a CAD mesh); a degenerate footprint (all points on
    a line) goes to Andrew's monotone chain, which keeps its two ends.
    """
    pts = np.asarray(points_xy, dtype=float)
    if len(pts) >= 3:
        try:
            return pts[ConvexHull(pts).vertices]  # counter-clockwise for 2D input
        except QhullError:
            pass
    return _monotone_chain(pts)


def _monotone_chain(points_xy: np.ndarray) -> np.ndarray:
    pts = np.unique(np.round(points_xy, 12), axis=0)  # sorted by x, then y
    if len(pts) < 3:
        return pts

    def half(seq: np.ndarray) -> list[np.ndarray]:
        chain: list[np.ndarray] = []
        for p in seq:
            while len(chain) >= 2:
                (ax, ay), (bx, by) = chain[-2], chain[-1]
                if (bx - ax) * (p[1] - ay) - (by - ay) * (p[0] - ax) > 1e-15:
                    break
                chain.pop()
            chain.append(p)
        return chain

    lower, upper = half(pts), half(pts[::-1])
    return np.array(lower[:-1] + upper[:-1])


def part_outline_xy(mesh: trimesh.Trimesh, T_frame_part: np.ndarray) -> np.ndarray:
    """Footprint ``(m, 2)`` of a part at ``T_frame_part (4, 4)``: convex hull of its xy projection (m)."""
    # All vertices, not mesh.convex_hull: a 2D hull of 10k points takes ~2 ms, the 3D hull ~150 ms.
    v = trimesh.transform_points(mesh.vertices, T_frame_part)
    return convex_hull_2d(v[:, :2])


def _rot2(angle_rad: float) -> np.ndarray:
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    return np.array([[c, -s], [s, c]])


def _best_yaw_rad(hull: np.ndarray) -> float:
    """Turn ``(rad, in (-pi/2, pi/2])`` that aligns the minimum-area bounding rectangle of ``hull (m, 2)``
    with the axes, long side along y (the resting-pose convention, so a part already aligned is not turned).
    """
    if len(hull) < 3:
        return 0.0
    edges = np.roll(hull, -1, axis=0) - hull
    # The minimum-area rectangle has a side along one hull edge (rotating calipers); try them all at once.
    # Parallel edges (a round part's hull has many) give the same rectangle: try each direction once.
    angles = np.unique(np.round(np.arctan2(edges[:, 1], edges[:, 0]) % (np.pi / 2), 9))
    c, s = np.cos(-angles), np.sin(-angles)
    x = hull[None, :, 0] * c[:, None] - hull[None, :, 1] * s[:, None]
    y = hull[None, :, 0] * s[:, None] + hull[None, :, 1] * c[:, None]
    w, h = np.ptp(x, axis=1), np.ptp(y, axis=1)
    area = w * h
    # Ties (a square, a circle) go to the smallest turn, so that the result does not hang on vertex order.
    best = np.flatnonzero(area <= area.min() * (1 + 1e-9) + 1e-15)
    turns = np.where(w[best] > h[best] + 1e-12, -angles[best] + np.pi / 2, -angles[best])
    turns = (turns + np.pi / 2) % np.pi - np.pi / 2
    turns = np.where(turns <= -np.pi / 2 + 1e-12, turns + np.pi, turns)
    return float(turns[np.argmin(np.abs(turns) + 1e-9 * np.arange(len(turns)))])


@dataclass
class _Item:
    """A request with its footprint, ready to pack."""

    req: FeedRequest
    order: int  # index in the request list (the last tie-break)
    options: list[tuple[float, np.ndarray]]  # (yaw rad, bounds (4,) x0 y0 x1 y1 about the slot origin)
    size_m: np.ndarray  # (2,) length >= width of the footprint rectangle


def _prepare(req: FeedRequest, order: int) -> _Item:
    hull = part_outline_xy(req.mesh, req.T_slot_part)
    yaw0 = _best_yaw_rad(hull)
    options = []
    for yaw in (yaw0, yaw0 + np.pi / 2 if yaw0 <= 0 else yaw0 - np.pi / 2):
        p = hull @ _rot2(yaw).T
        options.append((yaw, np.array([*p.min(axis=0), *p.max(axis=0)])))
    b = options[0][1]
    size = np.sort([b[2] - b[0], b[3] - b[1]])[::-1]
    return _Item(req, order, options, size)


@dataclass
class _Surface:
    """Packing state of one station's top surface.

    Packing coordinates ``p`` run from the tray corner nearest the robot (p = 0) into the tray, along the
    station axes times ``sign`` (+-1, pointing into the tray): ``x_station = corner + sign * p``.
    """

    name: str
    type: str
    area_m: np.ndarray  # (2,) usable (x, y) extent
    corner_m: np.ndarray  # (2,) station-frame corner nearest the robot
    sign: np.ndarray  # (2,) +-1, from the corner into the tray
    rects: list[np.ndarray] = field(default_factory=list)  # (4,) p0x p0y p1x p1y in packing coordinates
    gaps: list[float] = field(default_factory=list)
    count: int = 0
    group_labels: dict[str, tuple[int, int]] = field(default_factory=dict)  # group -> (index, members)
    group_yaw: dict[str, float] = field(default_factory=dict)  # group -> turn of its first part here

    def to_packing(self, lo_xy: np.ndarray, hi_xy: np.ndarray) -> np.ndarray:
        """(4,) packing rectangle of the station-frame rectangle [lo, hi]."""
        a, b = self.sign * (lo_xy - self.corner_m), self.sign * (hi_xy - self.corner_m)
        return np.array([*np.minimum(a, b), *np.maximum(a, b)])

    def to_station(self, rect: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Station-frame (lo, hi) corners ``(2,)`` of a packing rectangle ``(4,)``."""
        a, b = self.corner_m + self.sign * rect[:2], self.corner_m + self.sign * rect[2:]
        return np.minimum(a, b), np.maximum(a, b)

    def fits_empty(self, item: _Item) -> bool:
        room = self.area_m - 2 * EDGE_MARGIN_M + _EPS_M
        return any(bool(np.all([b[2] - b[0], b[3] - b[1]] <= room)) for _, b in item.options)

    def find(self, item: _Item, group: str) -> tuple[float, np.ndarray] | None:
        """Best (yaw, packing rectangle) for ``item`` of ``group``, or None when it does not fit any more."""
        gap = item.req.finger_gap_m
        r = np.array(self.rects).reshape(-1, 4)
        # Between two parts the larger of their two gaps, so that each gets the room it asked for.
        g = np.maximum(np.array(self.gaps), gap) if self.gaps else np.zeros(0)
        lo = EDGE_MARGIN_M
        xs = np.unique(np.concatenate([[lo], r[:, 2] + g]))
        ys = np.unique(np.concatenate([[lo], r[:, 3] + g]))
        X, Y = (a.ravel() for a in np.meshgrid(xs, ys, indexing="ij"))
        best: tuple[tuple[int, float, float], float, np.ndarray] | None = None
        for yaw, b in item.options:
            w, h = b[2] - b[0], b[3] - b[1]
            ok = (X + w <= self.area_m[0] - lo + _EPS_M) & (Y + h <= self.area_m[1] - lo + _EPS_M)
            if len(r):
                clash = (
                    (X[:, None] < r[None, :, 2] + g - _EPS_M)
                    & (X[:, None] + w > r[None, :, 0] - g + _EPS_M)
                    & (Y[:, None] < r[None, :, 3] + g - _EPS_M)
                    & (Y[:, None] + h > r[None, :, 1] - g + _EPS_M)
                )
                ok &= ~clash.any(axis=1)
            idx = np.flatnonzero(ok)
            if not len(idx):
                continue
            # Skyline rule: the lowest top edge, then the nearest right edge; rows fill from the robot's corner.
            k = idx[np.lexsort((X[idx] + w, Y[idx] + h))[0]]
            # Identical parts keep the turn of the first of them wherever it fits: one tidy grid, one grasp.
            odd = int(group in self.group_yaw and yaw != self.group_yaw[group])
            score = (odd, float(Y[k] + h), float(X[k] + w))
            if best is None or score < best[0]:
                best = (score, yaw, np.array([X[k], Y[k], X[k] + w, Y[k] + h]))
        return None if best is None else (best[1], best[2])

    def add(self, rect: np.ndarray, gap_m: float, group: str = "", yaw: float = 0.0) -> None:
        self.rects.append(rect)
        self.gaps.append(gap_m)
        if group:
            self.group_yaw.setdefault(group, yaw)

    def label(self, group: str) -> str:
        self.count += 1
        if self.type != "bin":
            return f"{self.name}/P{self.count:02d}"
        index, members = self.group_labels.get(group, (len(self.group_labels) + 1, 0))
        self.group_labels[group] = (index, members + 1)
        return f"{self.name}/G{index}#{members + 1}"

    def describe(self, with_count: bool) -> str:
        """``the feeder's 0.30 x 0.36 m tray`` (``(14 parts placed)`` appended with ``with_count``)."""
        x_m, y_m = self.area_m
        kind = "bin" if self.type == "bin" else "tray" if self.type in FEEDING_TYPES else "top"
        text = f"the {self.name}'s {x_m:.2f} x {y_m:.2f} m {kind}"
        return text + (f" ({self.count} part{'s' * (self.count != 1)} placed)" if with_count else "")


def _surfaces(
    cell: Cell, names: Sequence[str], occupied: Mapping[str, Sequence[Sequence[float]]] | None
) -> dict[str, _Surface]:
    out = {}
    for name in names:
        st = cell.station(name)
        area = np.asarray(st.feed_area_m if st.feed_area_m is not None else st.size_m[:2], dtype=float)
        T_station_world = np.linalg.inv(cell.T_world_station(name))
        base_xy = (T_station_world @ cell.T_world_base[:, 3])[:2]
        # Corner nearest the robot base; a base right over an axis takes the negative side (deterministic).
        sign = np.where(base_xy > 0, -1.0, 1.0)
        corner = -sign * area / 2
        s = _Surface(name, st.type, area, corner, sign)
        for x0, y0, x1, y1 in (occupied or {}).get(name, []):
            # An occupied area counts as a neighbour with no gap of its own: each part keeps its own gap.
            s.add(s.to_packing(np.array([x0, y0]), np.array([x1, y1])), 0.0)
        out[name] = s
    return out


def layout_feed(
    requests: Sequence[FeedRequest],
    cell: Cell,
    occupied: Mapping[str, Sequence[Sequence[float]]] | None = None,
) -> FeederLayout:
    """Lay every part out on the cell's feeding stations, or say why it cannot be fed.

    Parameters
    ----------
    requests : the parts to feed (unique names)
    cell : the cell; its stations of type ``feeder_tray`` and ``bin`` are the fallbacks
    occupied : station name -> rectangles ``(x_min_m, y_min_m, x_max_m, y_max_m)`` in the station frame
        already taken (a clamp, parts fed by something else); parts keep their finger gap from them

    Returns
    -------
    FeederLayout : every request is either in ``placed`` or in ``overflow``

    Raises
    ------
    ValueError : duplicate part names, or a request for a station the cell does not have
    """
    names = [r.name for r in requests]
    if len(set(names)) != len(names):
        raise ValueError(
            f"duplicate part names in the feed requests: {sorted({n for n in names if names.count(n) > 1})}"
        )
    stations = [s.name for s in cell.spec.stations]
    for r in requests:
        if r.station not in stations:
            raise ValueError(
                f"part {r.name!r} is requested on station {r.station!r}; the cell has {stations}"
            )
    feeding = [s.name for s in cell.spec.stations if s.type in FEEDING_TYPES]
    bins = [s.name for s in cell.spec.stations if s.type == "bin"]
    surfaces = _surfaces(cell, list(dict.fromkeys([r.station for r in requests] + feeding)), occupied)

    items = [_prepare(r, i) for i, r in enumerate(requests)]
    # Identical parts travel together: a group takes the turn of its most urgent member, members follow.
    members: dict[str, list[_Item]] = {}
    for it in items:
        members.setdefault(it.req.group or f"\0{it.order}", []).append(it)
    units = sorted(members.values(), key=lambda m: (min(i.req.priority for i in m), min(i.order for i in m)))
    ordered = [it for unit in units for it in sorted(unit, key=lambda i: (i.req.priority, i.order))]
    group_size = {k: len(v) for k, v in members.items()}

    out = FeederLayout()
    for it in ordered:
        r = it.req
        grouped = bool(r.group) and group_size[r.group] > 1
        key = r.group or f"\0{it.order}"  # a part of its own is a group of one
        prefs = list(dict.fromkeys((bins if grouped else []) + [r.station] + feeding))
        spot = None
        for name in prefs:
            spot = surfaces[name].find(it, key)
            if spot is not None:
                break
        if spot is None:
            out.overflow[r.name] = _overflow_reason(it, [surfaces[n] for n in prefs])
            continue
        s = surfaces[name]
        yaw, rect = spot
        s.add(rect, r.finger_gap_m, key, yaw)
        bounds = dict(it.options)[yaw]
        lo, _ = s.to_station(rect)
        T_station_slot = np.eye(4)
        T_station_slot[:2, :2] = _rot2(yaw)
        # The rectangle's corner is at the footprint bounds, which are taken about the slot origin (COM).
        T_station_slot[:2, 3] = lo - bounds[:2]
        out.placed[r.name] = FeedPlacement(
            name=r.name,
            station=name,
            label=s.label(key),
            T_world_part=cell.T_world_station(name) @ T_station_slot @ r.T_slot_part,
            footprint_m=it.size_m.copy(),
            yaw_deg=float(np.degrees(yaw)),
        )
        if name not in out.stations_used:
            out.stations_used.append(name)
    return out


def _overflow_reason(item: _Item, tried: list[_Surface]) -> str:
    length_mm, width_mm = item.size_m * 1000
    if not any(s.fits_empty(item) for s in tried):
        trays = ", ".join(f"{s.name} {s.area_m[0]:.2f} x {s.area_m[1]:.2f} m" for s in tried)
        return (
            f"its {length_mm:.0f} x {width_mm:.0f} mm footprint is bigger than every feeding station "
            f"({trays}); hand it to the cell"
        )
    full = [s for s in tried if s.fits_empty(item)]
    room = f"no room for its {length_mm:.0f} x {width_mm:.0f} mm footprint"
    if len(full) == 1:
        n = full[0].count
        return f"{full[0].describe(False)} is full ({n} part{'s' * (n != 1)} placed, {room}); hand it to the cell"
    return f"{' and '.join(s.describe(True) for s in full)} are full ({room}); hand it to the cell"
