"""Collision world of a cell (coal through pinocchio): robot links, gripper, obstacles, stations, parts.

One pinocchio ``GeometryModel`` holds the robot geometry (from the URDF, fingers at the current opening)
and every world object, placed in the robot BASE frame (the model root). Two ``GeometryData`` share it:
``padded`` (robot-vs-world pairs carry the planning padding as coal security margin) used while planning,
and ``exact`` (no margin) used for the final check of every returned trajectory and for reports.

Pairs checked: robot-robot (minus SRDF-disabled pairs and pairs that collide in every sampled
configuration, like MoveIt's setup assistant "Always"/"Default"), robot-world (minus pairs between a
fixed static obstacle and a link that touches it in every configuration, such as the first link and the
table), attached-object-vs-robot (minus the gripper and the flange link) and attached-object-vs-world.

A part collides as its convex pieces (:func:`motion.convex.convex_pieces`, the pieces MuJoCo uses too),
one geometry per piece, so its holes, pockets and inside corners are free space. The hot path
(:meth:`CollisionWorld.in_collision`) first checks one geometry per object: the pairs without a
multi-piece part as they are, and a multi-piece part by its bounding hull; only a hull hit checks the
pieces behind it. With 10 holed parts (210 pieces) a check costs ~10 % more on random configurations
and ~20 % more next to the parts than with hulls.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import coal
import numpy as np
import pinocchio as pin
import trimesh

from cell_config.compose import cell_srdf
from cell_config.schema import ObstacleSpec, StationSpec
from motion.convex import convex_pieces, mesh_hash
from motion.robot_model import RobotModel

_HULL_CACHE: dict[str, coal.CollisionGeometry] = {}
_PIECE_CACHE: dict[str, list[coal.CollisionGeometry]] = {}
# Convex pieces of the hulls made by convex_hull_geometry (by id: the hulls stay alive in _HULL_CACHE).
_PIECES_OF_HULL: dict[int, list[coal.CollisionGeometry]] = {}


def _coal_convex(vertices: np.ndarray) -> coal.CollisionGeometry:
    points = coal.StdVec_Vec3s()
    points.extend([np.asarray(v, dtype=float) for v in vertices])
    return coal.Convex.convexHull(points, False, "")


def convex_piece_geometries(mesh: trimesh.Trimesh) -> list[coal.CollisionGeometry]:
    """coal convex pieces of a part mesh (metres, mesh frame): :func:`motion.convex.convex_pieces`.

    One piece (the hull) for a convex part; cached by the mesh content hash (and on disk by
    :mod:`motion.convex`), so the same mesh costs the decomposition once.
    """
    key = mesh_hash(mesh)
    if key not in _PIECE_CACHE:
        pieces = convex_pieces(mesh)
        if len(pieces) == 1:
            _PIECE_CACHE[key] = [_HULL_CACHE.setdefault(key, _coal_convex(mesh.convex_hull.vertices))]
        else:
            _PIECE_CACHE[key] = [_coal_convex(p.vertices) for p in pieces]
            # The bounding hull of the pieces (V-HACD pieces may bulge out of the mesh's hull a little).
            hull = _coal_convex(np.vstack([mesh.vertices, *[p.vertices for p in pieces]]))
            _HULL_CACHE[key] = hull
            _PIECES_OF_HULL[id(hull)] = _PIECE_CACHE[key]
    return _PIECE_CACHE[key]


def convex_hull_geometry(mesh: trimesh.Trimesh) -> coal.CollisionGeometry:
    """coal convex hull of a part mesh (metres, mesh frame) and of its convex pieces; cached by mesh hash.

    The pieces (:func:`convex_piece_geometries`) are remembered with the hull: a :class:`WorldObject` made
    on this hull collides as those pieces, so a part's holes, pockets and inside corners stay free, and
    the hull is only its bounding shape (checked first).
    """
    key = mesh_hash(mesh)
    if key not in _HULL_CACHE:
        _HULL_CACHE[key] = _coal_convex(mesh.convex_hull.vertices)
        convex_piece_geometries(mesh)  # a non-convex mesh replaces the hull by the pieces' bound
    return _HULL_CACHE[key]


def obstacle_geometry(o: ObstacleSpec) -> coal.CollisionGeometry:
    if o.shape == "box":
        assert o.size_m is not None
        return coal.Box(*o.size_m)
    if o.shape == "cylinder":
        assert o.radius_m is not None and o.length_m is not None
        return coal.Cylinder(o.radius_m, o.length_m)
    assert o.radius_m is not None
    return coal.Sphere(o.radius_m)


@dataclass
class WorldObject:
    """A body of the world. ``T_world_obj (4, 4)``; when attached, ``T_tcp_obj`` is used instead.

    ``pieces`` are the convex shapes (object frame) the world collides; by default the pieces
    :func:`convex_hull_geometry` found for ``geometry``, else ``geometry`` alone.
    """

    name: str
    geometry: coal.CollisionGeometry
    T_world_obj: np.ndarray
    kind: str  # "obstacle" | "station" | "part"
    T_tcp_obj: np.ndarray | None = None
    extent_m: float = 0.0  # radius of a ball around the object frame that holds the whole object
    pieces: list[coal.CollisionGeometry] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.pieces:
            self.pieces = list(_PIECES_OF_HULL.get(id(self.geometry), [self.geometry]))

    @property
    def attached(self) -> bool:
        return self.T_tcp_obj is not None


@dataclass
class _Built:
    """The world with every convex piece of every object: reports, distances, and the pieces' checks.

    ``labels`` gives the link or object name of each geometry; ``padded`` and ``exact`` check all pairs.
    """

    geom_model: pin.GeometryModel
    padded: pin.GeometryData
    exact: pin.GeometryData
    labels: list[str] = field(default_factory=list)  # per geometry: link or object name
    robot_count: int = 0
    # Broad-phase managers (naive = AABB test per pair before the narrow phase): ~4x faster than
    # computeCollisions over the pair list, and they honour the per-pair security margins.
    padded_mgr: Any = None
    exact_mgr: Any = None
    obj_index: dict[str, list[int]] = field(default_factory=dict)  # object -> its geometries
    # (data, pair labels, pair role) of each data: a pair is active when its role is and it is allowed.
    datas: list[tuple[pin.GeometryData, list[tuple[str, str]], list[bool]]] = field(default_factory=list)


@dataclass
class _Fast:
    """What :meth:`CollisionWorld.in_collision` checks first: one geometry per object (a part's bound).

    ``plain_*`` check the pairs without a multi-piece object (the same shapes as in the fine world), so
    a hit there is a collision; ``gate_*`` check the bounding hulls of the multi-piece objects, and only
    a hit there sends the check to the pieces (``refine_*``: the gate's objects, every piece). Each has
    only the objects its pairs need (fewer geometries to place per check). Without multi-piece objects the fine world is this
    world and ``models`` is empty.
    """

    plain_padded: Any
    plain_exact: Any
    gate_padded: Any = None
    gate_exact: Any = None
    # The pieces behind the gate (the gate's objects, every piece; built on the first gate hit).
    refine_padded: Any = None
    refine_exact: Any = None
    # (geometry model, object -> its geometry) of the plain and the gate world, for moving objects.
    models: list[tuple[pin.GeometryModel, dict[str, list[int]]]] = field(default_factory=list)
    datas: list[tuple[pin.GeometryData, list[tuple[str, str]], list[bool]]] = field(default_factory=list)


@dataclass
class _Assembly:
    geom_model: pin.GeometryModel
    labels: list[str]
    pairs: list[tuple[int, int, str]]  # (first, second, "self" | "world")
    multi: list[bool]  # per pair: involves an object of several pieces
    obj_index: dict[str, list[int]]


class CollisionWorld:
    """Robot + world collision checking.

    Parameters
    ----------
    robot : the kinematic model (its reduced geometry is the robot part of the world)
    padding_m : security margin between robot (and attached objects) and the world while planning
    """

    def __init__(self, robot: RobotModel, padding_m: float) -> None:
        self.robot = robot
        self.padding_m = float(padding_m)
        self.objects: dict[str, WorldObject] = {}
        cell = robot.cell
        for o in cell.spec.obstacles:
            self.objects[o.name] = WorldObject(
                o.name, obstacle_geometry(o), cell.resolve_pose(o.pose), "obstacle"
            )
        for s in cell.spec.stations:
            self.objects[s.name] = self._station_object(s, cell.T_world_station(s.name))
        self.disabled_links = self._srdf_disabled_pairs()
        self.gripper_links = {
            "gripper_base",
            "finger_left",
            "finger_right",
            "tcp",
            cell.spec.robot.flange_link,
        }
        self.flange_parent_link = self._flange_parent_link()
        self._always_self: set[tuple[str, str]] = set()
        self._always_world: set[tuple[str, str]] = set()
        self._built: _Built | None = None
        self._fast = _Fast(None, None)
        self._gate_objects: set[str] = set()
        self._allowed: frozenset[str] = frozenset()
        self._check_all = False
        self._compute_always_pairs()

    # ----------------------------------------------------------------- construction helpers
    @staticmethod
    def _station_object(s: StationSpec, T_world_station: np.ndarray) -> WorldObject:
        # Station frame = top-surface centre; the box centre is half a height below it.
        T = T_world_station.copy()
        T[:3, 3] = T_world_station[:3, 3] - T_world_station[:3, 2] * s.size_m[2] / 2.0
        return WorldObject(s.name, coal.Box(*s.size_m), T, "station")

    def _srdf_disabled_pairs(self) -> set[frozenset[str]]:
        root = ET.fromstring(cell_srdf(self.robot.cell))
        return {
            frozenset((str(e.get("link1")), str(e.get("link2")))) for e in root.findall("disable_collisions")
        }

    def _flange_parent_link(self) -> str:
        m = self.robot.model
        flange = self.robot.flange_frame
        return str(m.frames[m.frames[flange].parentFrame].name) if flange < len(m.frames) else ""

    def _link_of(self, geom: pin.GeometryObject) -> str:
        return str(self.robot.model.frames[geom.parentFrame].name)

    def _compute_always_pairs(self) -> None:
        """Pairs colliding at home and in every one of 64 random configurations are never checked.

        This is what MoveIt's setup assistant does for robot links ("Always", "Default" at home); here it
        also covers static obstacles that a link always touches (the base column standing on the table).
        """
        self._rebuild(check_all=True)
        b = self.built
        rng = np.random.default_rng(0)
        qs = [self.robot.home] + [self.robot.random_q(rng) for _ in range(64)]
        counts: dict[int, int] = {}
        home_hits: set[int] = set()
        for i, q in enumerate(qs):
            pin.computeCollisions(self.robot.model, self.robot.data, b.geom_model, b.exact, q, False)
            for k, res in enumerate(b.exact.collisionResults):
                if res.isCollision():
                    counts[k] = counts.get(k, 0) + 1
                    if i == 0:
                        home_hits.add(k)
        for k, cp in enumerate(b.geom_model.collisionPairs):
            a, c = b.labels[cp.first], b.labels[cp.second]
            is_world = cp.second >= b.robot_count
            if counts.get(k, 0) == len(qs):
                (self._always_world if is_world else self._always_self).add((a, c))
            elif k in home_hits and not is_world:
                self._always_self.add((a, c))  # "Default": touching at home (e.g. overlapping shells)
        self._rebuild()

    def _assemble(
        self, per_piece: bool, check_all: bool, only: Callable[[WorldObject], bool] | None = None
    ) -> _Assembly:
        """Geometry model of the robot and the objects (every piece, or one geometry each) and its pairs.

        ``only`` keeps the objects it accepts (all by default).
        """
        robot = self.robot
        gm = pin.GeometryModel()
        labels: list[str] = []
        parents: list[int] = []
        for g in robot.geom_model.geometryObjects:
            gm.addGeometryObject(g)
            labels.append(self._link_of(g))
            parents.append(g.parentJoint)
        robot_count = len(labels)
        T_base_world = np.linalg.inv(robot.T_world_base)
        M_joint_tcp = robot.model.frames[robot.tcp_frame].placement
        obj_index: dict[str, list[int]] = {}
        for o in self.objects.values():
            if only is not None and not only(o):
                continue
            obj_index[o.name] = []
            shapes = o.pieces if per_piece else [o.geometry]
            for i, shape in enumerate(shapes):
                gname = o.name if len(shapes) == 1 else f"{o.name}:{i}"
                if o.attached:
                    assert o.T_tcp_obj is not None
                    M = M_joint_tcp * pin.SE3(o.T_tcp_obj)
                    go = pin.GeometryObject(gname, robot.last_joint, robot.tcp_frame, M, shape)
                else:
                    go = pin.GeometryObject(gname, 0, 0, pin.SE3(T_base_world @ o.T_world_obj), shape)
                obj_index[o.name].append(gm.addGeometryObject(go))
                labels.append(o.name)
                parents.append(go.parentJoint)
        n_all = len(labels)
        pairs: list[tuple[int, int, str]] = []
        for i in range(robot_count):
            for j in range(i + 1, robot_count):
                a, c = labels[i], labels[j]
                if a == c or frozenset((a, c)) in self.disabled_links or parents[i] == parents[j]:
                    continue
                if not check_all and (a, c) in self._always_self:
                    continue
                pairs.append((i, j, "self"))
        for j in range(robot_count, n_all):
            obj = self.objects[labels[j]]
            for i in range(robot_count):
                if parents[i] == 0:
                    continue  # the fixed base never moves against the world
                a = labels[i]
                if obj.attached:
                    if a in self.gripper_links or a == self.flange_parent_link:
                        continue  # a grasped part touches the fingers and sits at the flange
                elif not check_all and (a, obj.name) in self._always_world:
                    continue
                pairs.append((i, j, "world"))
            if obj.attached:
                for k in range(robot_count, n_all):
                    other = self.objects[labels[k]]
                    if k != j and not other.attached:
                        pairs.append((min(j, k), max(j, k), "world"))
        multi_names = {o.name for o in self.objects.values() if len(o.pieces) > 1}
        multi = [labels[i] in multi_names or labels[j] in multi_names for i, j, _ in pairs]
        for i, j, _ in pairs:
            gm.addCollisionPair(pin.CollisionPair(i, j))
        return _Assembly(gm, labels, pairs, multi, obj_index)

    def _datas(
        self, a: _Assembly, role: list[bool]
    ) -> tuple[pin.GeometryData, pin.GeometryData, list[tuple[str, str]]]:
        """Padded and exact datas of ``a`` with the pairs of ``role`` active."""
        padded = pin.GeometryData(a.geom_model)
        exact = pin.GeometryData(a.geom_model)
        for d, margin in ((padded, self.padding_m), (exact, 0.0)):
            reqs = d.collisionRequests  # indexed access: iterating the vector is 4x slower
            first = reqs[0] if len(a.pairs) else None
            if first is not None and (first.num_max_contacts != 1 or first.enable_contact):
                for k in range(len(a.pairs)):
                    reqs[k].num_max_contacts = 1
                    reqs[k].enable_contact = False
            for k, (_, _, kind) in enumerate(a.pairs):
                if not role[k]:
                    d.deactivateCollisionPair(k)
                elif reqs[k].security_margin != (m := margin if kind == "world" else 0.0):
                    reqs[k].security_margin = m
        return padded, exact, [(a.labels[i], a.labels[j]) for i, j, _ in a.pairs]

    def _rebuild(self, check_all: bool = False) -> None:
        """Assemble the world from the robot and the current objects (the fine world when first needed)."""
        self._allowed = frozenset()
        self._built = None
        self._check_all = check_all
        if not any(len(o.pieces) > 1 for o in self.objects.values()):
            b = self._build_fine()
            self._fast = _Fast(b.padded_mgr, b.exact_mgr)
            return
        # Plain: the single-piece objects. Gate: the multi-piece ones and the held ones (what can hit them),
        # and all when a multi-piece one is held.
        multi_held = any(len(o.pieces) > 1 and o.attached for o in self.objects.values())
        plain = self._assemble(False, check_all, lambda o: len(o.pieces) == 1)
        gate = self._assemble(False, check_all, lambda o: multi_held or o.attached or len(o.pieces) > 1)
        plain_role = [not m for m in plain.multi]
        pp, pe, pnames = self._datas(plain, plain_role)
        gp, ge, gnames = self._datas(gate, gate.multi)
        model, mgr = self.robot.model, pin.BroadPhaseManager_NaiveCollisionManager
        self._fast = _Fast(
            mgr(model, plain.geom_model, pp),
            mgr(model, plain.geom_model, pe),
            mgr(model, gate.geom_model, gp),
            mgr(model, gate.geom_model, ge),
        )
        self._fast.models = [(plain.geom_model, plain.obj_index), (gate.geom_model, gate.obj_index)]
        self._fast.datas = [(pp, pnames, plain_role), (pe, pnames, plain_role)]
        self._fast.datas += [(gp, gnames, gate.multi), (ge, gnames, gate.multi)]
        self._gate_objects = set(gate.obj_index)

    def _build_refine(self) -> tuple[Any, Any]:
        """Managers of the pieces behind the gate (``_Fast.refine_*``), made on the first gate hit."""
        f = self._fast
        names = self._gate_objects
        a = self._assemble(True, self._check_all, lambda o: o.name in names)
        rp, re, rnames = self._datas(a, a.multi)
        model, mgr = self.robot.model, pin.BroadPhaseManager_NaiveCollisionManager
        f.refine_padded, f.refine_exact = mgr(model, a.geom_model, rp), mgr(model, a.geom_model, re)
        f.models.append((a.geom_model, a.obj_index))
        refine_datas = [(rp, rnames, a.multi), (re, rnames, a.multi)]
        f.datas += refine_datas
        if self._allowed:
            self._apply_allowed(refine_datas)
        return f.refine_padded, f.refine_exact

    def _build_fine(self) -> _Built:
        fine = self._assemble(per_piece=True, check_all=self._check_all)
        everything = [True] * len(fine.pairs)
        padded, exact, names = self._datas(fine, everything)
        mgr = pin.BroadPhaseManager_NaiveCollisionManager
        b = _Built(fine.geom_model, padded, exact, fine.labels, self.robot.geom_model.ngeoms)
        b.padded_mgr = mgr(self.robot.model, fine.geom_model, padded)
        b.exact_mgr = mgr(self.robot.model, fine.geom_model, exact)
        b.obj_index = fine.obj_index
        b.datas = [(padded, names, everything), (exact, names, everything)]
        self._built = b
        if self._allowed:
            self._apply_allowed(b.datas)
        return b

    # ----------------------------------------------------------------- object management
    def add(self, obj: WorldObject) -> None:
        self.objects[obj.name] = obj
        self._rebuild()

    def remove(self, name: str) -> None:
        if name not in self.objects:
            raise KeyError(f"no object {name!r} in the planning world")
        del self.objects[name]
        self._rebuild()

    def set_pose(self, name: str, T_world_obj: np.ndarray) -> None:
        obj = self.objects[name]
        obj.T_world_obj = np.asarray(T_world_obj, dtype=float).copy()
        if not obj.attached:
            T_base_world = np.linalg.inv(self.robot.T_world_base)
            M = pin.SE3(T_base_world @ obj.T_world_obj)
            if self._built is not None:
                for idx in self._built.obj_index[name]:
                    self._built.geom_model.geometryObjects[idx].placement = M
            for gm, index in self._fast.models:
                for idx in index.get(name, []):
                    gm.geometryObjects[idx].placement = M

    def attach(self, name: str, T_tcp_obj: np.ndarray) -> None:
        self.objects[name].T_tcp_obj = np.asarray(T_tcp_obj, dtype=float).copy()
        self._rebuild()

    def detach(self, name: str, T_world_obj: np.ndarray) -> None:
        obj = self.objects[name]
        obj.T_tcp_obj = None
        obj.T_world_obj = np.asarray(T_world_obj, dtype=float).copy()
        self._rebuild()

    def robot_changed(self) -> None:
        """Call after the robot's reduced model was rebuilt (new finger opening)."""
        self._rebuild()

    # ----------------------------------------------------------------- queries
    @property
    def built(self) -> _Built:
        """The fine world (every piece of every object), assembled on first use after a change."""
        return self._built if self._built is not None else self._build_fine()

    def in_collision(self, q: np.ndarray, padded: bool = True) -> bool:
        f = self._fast
        r = self.robot
        if pin.computeCollisions(r.model, r.data, f.plain_padded if padded else f.plain_exact, q, True):
            return True
        gate = f.gate_padded if padded else f.gate_exact
        if gate is None or not pin.computeCollisions(r.model, r.data, gate, q, True):
            return False  # no multi-piece object, or none's bounding hull is hit
        refine = (f.refine_padded, f.refine_exact) if f.refine_padded is not None else self._build_refine()
        return bool(pin.computeCollisions(r.model, r.data, refine[0] if padded else refine[1], q, True))

    def set_allowed(self, names: set[str] | frozenset[str]) -> None:
        """Switch off every pair involving one of ``names`` (re-enable with an empty set)."""
        self._allowed = frozenset(names)
        self._apply_allowed(self._fast.datas + (self._built.datas if self._built is not None else []))

    def _apply_allowed(self, datas: list[tuple[pin.GeometryData, list[tuple[str, str]], list[bool]]]) -> None:
        names = self._allowed
        for d, pair_labels, role in datas:
            for k, (a, c) in enumerate(pair_labels):
                if role[k] and not (a in names or c in names):
                    d.activateCollisionPair(k)
                else:
                    d.deactivateCollisionPair(k)

    def colliding_pairs(self, q: np.ndarray, padded: bool = False) -> list[tuple[str, str]]:
        """All colliding ``(robot link or attached object, other)`` label pairs at ``q``."""
        b = self.built
        r = self.robot
        d = b.padded if padded else b.exact
        pin.computeCollisions(r.model, r.data, b.geom_model, d, q, False)
        out: list[tuple[str, str]] = []
        for k, res in enumerate(d.collisionResults):
            if d.activeCollisionPairs[k] and res.isCollision():
                cp = b.geom_model.collisionPairs[k]
                pair = (b.labels[cp.first], b.labels[cp.second])
                first = self.objects.get(pair[0])
                if first is not None and not first.attached:
                    pair = (pair[1], pair[0])  # the moving body (link or held part) first
                if pair not in out:
                    out.append(pair)
        return out

    def report(self, q: np.ndarray) -> str | None:
        """Human reason why ``q`` is in collision (exact world first, then padding), or None."""
        hits = self.colliding_pairs(q, padded=False)
        if hits:
            return "; ".join(f"{a} hits {b}" for a, b in hits)
        hits = self.colliding_pairs(q, padded=True)
        if hits:
            return "; ".join(f"{a} within {self.padding_m:.3g} m padding of {b}" for a, b in hits)
        return None

    def min_distance(self, q: np.ndarray) -> tuple[float, str, str]:
        """Smallest distance (m, exact geometry) over the checked pairs, with the pair's labels."""
        b = self.built
        r = self.robot
        pin.computeDistances(r.model, r.data, b.geom_model, b.exact, q)
        best = (np.inf, "", "")
        for k, res in enumerate(b.exact.distanceResults):
            if not b.exact.activeCollisionPairs[k]:
                continue
            if res.min_distance < best[0]:
                cp = b.geom_model.collisionPairs[k]
                best = (float(res.min_distance), b.labels[cp.first], b.labels[cp.second])
        return best
