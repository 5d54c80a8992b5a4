"""Collision world of a cell (coal through pinocchio): robot links, gripper, obstacles, stations, parts.

One pinocchio ``GeometryModel`` holds the robot geometry (from the URDF, fingers at the current opening)
and every world object, placed in the robot BASE frame (the model root). Two ``GeometryData`` share it:
``padded`` (robot-vs-world pairs carry the planning padding as coal security margin) used while planning,
and ``exact`` (no margin) used for the final check of every returned trajectory and for reports.

Pairs checked: robot-robot (minus SRDF-disabled pairs and pairs that collide in every sampled
configuration, like MoveIt's setup assistant "Always"/"Default"), robot-world (minus pairs between a
fixed static obstacle and a link that touches it in every configuration, such as the first link and the
table), attached-object-vs-robot (minus the gripper and the flange link) and attached-object-vs-world.
"""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

import coal
import numpy as np
import pinocchio as pin
import trimesh

from cell_config.compose import cell_srdf
from cell_config.schema import ObstacleSpec, StationSpec
from motion.robot_model import RobotModel

_HULL_CACHE: dict[str, coal.CollisionGeometry] = {}


def convex_hull_geometry(mesh: trimesh.Trimesh) -> coal.CollisionGeometry:
    """coal convex hull of a mesh (metres, mesh frame); cached by the mesh content hash."""
    key = hashlib.sha1(
        np.ascontiguousarray(mesh.vertices, dtype=float).tobytes()
        + np.ascontiguousarray(mesh.faces, dtype=np.int64).tobytes()
    ).hexdigest()
    if key not in _HULL_CACHE:
        hull = mesh.convex_hull
        points = coal.StdVec_Vec3s()
        points.extend([np.asarray(v, dtype=float) for v in hull.vertices])
        _HULL_CACHE[key] = coal.Convex.convexHull(points, False, "")
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
    """A body of the world. ``T_world_obj (4, 4)``; when attached, ``T_tcp_obj`` is used instead."""

    name: str
    geometry: coal.CollisionGeometry
    T_world_obj: np.ndarray
    kind: str  # "obstacle" | "station" | "part"
    T_tcp_obj: np.ndarray | None = None
    extent_m: float = 0.0  # radius of a ball around the object frame that holds the whole object

    @property
    def attached(self) -> bool:
        return self.T_tcp_obj is not None


@dataclass
class _Built:
    geom_model: pin.GeometryModel
    padded: pin.GeometryData
    exact: pin.GeometryData
    labels: list[str] = field(default_factory=list)  # per geometry: link or object name
    robot_count: int = 0
    # Broad-phase managers (naive = AABB test per pair before the narrow phase): ~4x faster than
    # computeCollisions over the pair list, and they honour the per-pair security margins.
    padded_mgr: Any = None
    exact_mgr: Any = None


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
        b = self._built
        assert b is not None
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

    def _rebuild(self, check_all: bool = False) -> None:
        """Assemble the geometry model and both datas from the robot and the current objects."""
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
        obj_index: dict[str, int] = {}
        for o in self.objects.values():
            if o.attached:
                assert o.T_tcp_obj is not None
                M = M_joint_tcp * pin.SE3(o.T_tcp_obj)
                go = pin.GeometryObject(o.name, robot.last_joint, robot.tcp_frame, M, o.geometry)
            else:
                go = pin.GeometryObject(o.name, 0, 0, pin.SE3(T_base_world @ o.T_world_obj), o.geometry)
            obj_index[o.name] = gm.addGeometryObject(go)
            labels.append(o.name)
            parents.append(go.parentJoint)
        n_all = len(labels)
        pair_kinds: list[str] = []
        for i in range(robot_count):
            for j in range(i + 1, robot_count):
                a, c = labels[i], labels[j]
                if a == c or frozenset((a, c)) in self.disabled_links or parents[i] == parents[j]:
                    continue
                if not check_all and (a, c) in self._always_self:
                    continue
                gm.addCollisionPair(pin.CollisionPair(i, j))
                pair_kinds.append("self")
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
                gm.addCollisionPair(pin.CollisionPair(i, j))
                pair_kinds.append("world")
            if obj.attached:
                for k in range(robot_count, n_all):
                    other = self.objects[labels[k]]
                    if k != j and not other.attached:
                        gm.addCollisionPair(pin.CollisionPair(min(j, k), max(j, k)))
                        pair_kinds.append("world")
        padded = pin.GeometryData(gm)
        exact = pin.GeometryData(gm)
        for k, kind in enumerate(pair_kinds):
            padded.collisionRequests[k].security_margin = self.padding_m if kind == "world" else 0.0
            exact.collisionRequests[k].security_margin = 0.0
        for d in (padded, exact):
            for req in d.collisionRequests:
                req.num_max_contacts = 1
                req.enable_contact = False
        self._built = _Built(
            gm,
            padded,
            exact,
            labels,
            robot_count,
            pin.BroadPhaseManager_NaiveCollisionManager(robot.model, gm, padded),
            pin.BroadPhaseManager_NaiveCollisionManager(robot.model, gm, exact),
        )
        self._obj_index = obj_index

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
            assert self._built is not None
            T_base_world = np.linalg.inv(self.robot.T_world_base)
            idx = self._obj_index[name]
            self._built.geom_model.geometryObjects[idx].placement = pin.SE3(T_base_world @ obj.T_world_obj)

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
        assert self._built is not None
        return self._built

    def in_collision(self, q: np.ndarray, padded: bool = True) -> bool:
        b = self.built
        r = self.robot
        return bool(pin.computeCollisions(r.model, r.data, b.padded_mgr if padded else b.exact_mgr, q, True))

    def set_allowed(self, names: set[str] | frozenset[str]) -> None:
        """Switch off every pair involving one of ``names`` (re-enable with an empty set)."""
        b = self.built
        for k, cp in enumerate(b.geom_model.collisionPairs):
            off = b.labels[cp.first] in names or b.labels[cp.second] in names
            for d in (b.padded, b.exact):
                if off:
                    d.deactivateCollisionPair(k)
                else:
                    d.activateCollisionPair(k)

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
