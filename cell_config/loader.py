"""Load and validate a cell YAML into a :class:`Cell` with every frame resolved to the world.

Errors are :class:`ConfigError`: one line that names the file, the key and the reason.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import yaml
from pydantic import BaseModel, ValidationError

from cell_config.schema import CellSpec, PoseSpec, StationSpec

CELLS_DIR = Path(__file__).resolve().parent / "cells"
DEFAULT_CELL = CELLS_DIR / "ur5e_cell.yaml"


class ConfigError(ValueError):
    """A configuration file is invalid. ``str()`` is one line: ``file: key: reason``."""

    def __init__(self, file: Path | str, key: str, reason: str) -> None:
        self.file = str(file)
        self.key = key
        self.reason = reason
        super().__init__(f"{self.file}: {key}: {reason}" if key else f"{self.file}: {reason}")


def pydantic_error(file: Path | str, err: ValidationError) -> ConfigError:
    """Turn the first pydantic error into a one-line :class:`ConfigError` naming the key."""
    first = err.errors()[0]
    loc = [str(p) for p in first["loc"]]
    # Drop pydantic's internal tags (e.g. "function-after[...]") so the key reads like the YAML.
    key = ".".join(p for p in loc if not p.startswith(("function-", "tagged-union", "list[")))
    msg = first["msg"]
    if first["type"] == "missing" and loc and loc[-1].isdigit():
        # A fixed-length tuple (xyz, rpy, quaternion) with too few numbers: name the tuple, not the slot.
        parent = loc[:-1]
        missing = sum(
            1 for e in err.errors() if [str(p) for p in e["loc"]][:-1] == parent and e["type"] == "missing"
        )
        n_given = int(loc[-1])
        return ConfigError(file, ".".join(parent), f"expected {n_given + missing} numbers, got {n_given}")
    if first["type"] == "extra_forbidden":
        msg = "unknown key"
    elif first["type"] in ("too_short", "too_long") and "ctx" in first:
        expected = first["ctx"].get("expected") or first["ctx"].get("max_length")
        got = first["ctx"].get("actual_length")
        msg = f"expected {expected} numbers, got {got}"
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    more = len(err.errors()) - 1
    if more:
        msg += f" (and {more} more error{'s' if more > 1 else ''})"
    return ConfigError(file, key or "(top level)", msg)


def read_yaml(path: Path) -> Any:
    if not path.is_file():
        raise ConfigError(path, "", "file not found")
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "syntax"
        raise ConfigError(path, where, f"not valid YAML ({getattr(e, 'problem', e)})") from None


M = TypeVar("M", bound=BaseModel)


def load_yaml_model(file: Path, model: type[M]) -> M:
    """Read a YAML mapping and validate it as ``model``; any problem is one :class:`ConfigError` line."""
    raw = read_yaml(file)
    if not isinstance(raw, dict):
        raise ConfigError(file, "(top level)", "expected a mapping")
    try:
        return model.model_validate(raw)
    except ValidationError as e:
        raise pydantic_error(file, e) from None


@dataclass(frozen=True)
class JointLimits:
    """Limits of one joint (rad, rad/s, rad/s^2, rad/s^3); ``None`` where not limited."""

    name: str
    lower: float
    upper: float
    velocity: float
    acceleration: float | None
    jerk: float | None


@dataclass
class Cell:
    """A validated cell with resolved paths and world poses.

    Attributes
    ----------
    spec : the validated :class:`CellSpec`
    source : the YAML file it came from
    urdf_path, srdf_path, joint_limits_path : absolute paths of the robot description files
    joint_names : planning-group joints in chain order
    limits : per-joint limits (URDF tightened by joint_limits.yaml)
    T_world_base : (4, 4) float, robot base in the world
    """

    spec: CellSpec
    source: Path
    urdf_path: Path
    srdf_path: Path
    joint_limits_path: Path
    joint_names: list[str]
    limits: list[JointLimits]
    T_world_base: np.ndarray
    station_poses: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def home(self) -> np.ndarray:
        """Home configuration ``(n,) float`` in rad."""
        return np.asarray(self.spec.robot.home_rad, dtype=float)

    def station(self, name: str) -> StationSpec:
        for s in self.spec.stations:
            if s.name == name:
                return s
        raise KeyError(f"cell {self.name!r} has no station {name!r}")

    def T_world_station(self, name: str) -> np.ndarray:
        """``(4, 4)`` pose of the station frame (top surface centre) in the world."""
        return self.station_poses[name].copy()

    def slot_poses_world(self, station: str) -> dict[str, np.ndarray]:
        """``slot name -> T_world_slot (4, 4)`` of a station."""
        T = self.station_poses[station]
        return {k: T @ v for k, v in self.station(station).slot_poses().items()}

    def resolve_pose(self, pose: PoseSpec) -> np.ndarray:
        """``T_world_pose (4, 4)`` of a pose given in ``world`` or in a station frame."""
        if pose.frame == "world":
            return pose.matrix()
        if pose.frame not in self.station_poses:
            raise KeyError(f"unknown frame {pose.frame!r}")
        return self.station_poses[pose.frame] @ pose.matrix()


def _joint_chain(urdf: Path, base: str, tip: str) -> list[ET.Element]:
    """Movable joints from ``base`` to ``tip`` of a URDF, in order."""
    try:
        root = ET.parse(urdf).getroot()
    except ET.ParseError as e:
        raise ConfigError(urdf, "", f"not valid XML ({e})") from None
    by_child = {j.find("child").get("link"): j for j in root.findall("joint")}  # type: ignore[union-attr]
    chain: list[ET.Element] = []
    link = tip
    while link != base:
        j = by_child.get(link)
        if j is None:
            raise ConfigError(urdf, f"link {tip!r}", f"no kinematic chain from {base!r} to {tip!r}")
        chain.append(j)
        link = j.find("parent").get("link")  # type: ignore[union-attr,assignment]
    return [j for j in reversed(chain) if j.get("type") in ("revolute", "prismatic", "continuous")]


def _limits(cell_file: Path, urdf: Path, jl_path: Path, joints: list[ET.Element]) -> list[JointLimits]:
    raw = read_yaml(jl_path) or {}
    table = raw.get("joint_limits", {}) if isinstance(raw, dict) else {}
    if not isinstance(table, dict):
        raise ConfigError(jl_path, "joint_limits", "must be a mapping of joint name to limits")
    known = {j.get("name") for j in joints}
    for name in table:
        if name not in known:
            raise ConfigError(jl_path, f"joint_limits.{name}", "not a joint of the planning chain")
    out = []
    for j in joints:
        name = str(j.get("name"))
        lim = j.find("limit")
        if lim is None:
            raise ConfigError(urdf, f"joint {name}", "has no <limit>")
        lower, upper = float(lim.get("lower", "nan")), float(lim.get("upper", "nan"))
        if not lower < upper:
            raise ConfigError(urdf, f"joint {name}.limit", f"lower {lower} is not below upper {upper}")
        vel = float(lim.get("velocity", "nan"))
        acc = jerk = None
        entry = table.get(name, {}) or {}
        allowed = {
            "has_position_limits",
            "min_position",
            "max_position",
            "has_velocity_limits",
            "max_velocity",
            "has_acceleration_limits",
            "max_acceleration",
            "has_jerk_limits",
            "max_jerk",
            "has_effort_limits",
            "max_effort",
        }
        for k in entry:
            if k not in allowed:
                raise ConfigError(jl_path, f"joint_limits.{name}.{k}", "unknown key")
        if entry.get("has_position_limits", True):
            lower = max(lower, float(entry.get("min_position", lower)))
            upper = min(upper, float(entry.get("max_position", upper)))
            if not lower < upper:
                raise ConfigError(
                    jl_path, f"joint_limits.{name}", f"min_position {lower} is not below max_position {upper}"
                )
        if entry.get("has_velocity_limits"):
            vel = min(vel, float(entry["max_velocity"])) if vel == vel else float(entry["max_velocity"])
        if entry.get("has_acceleration_limits"):
            acc = float(entry["max_acceleration"])
        if entry.get("has_jerk_limits"):
            jerk = float(entry["max_jerk"])
        for k, v in (("max_velocity", vel), ("max_acceleration", acc), ("max_jerk", jerk)):
            if v is not None and not v > 0:
                raise ConfigError(jl_path, f"joint_limits.{name}.{k}", f"must be positive, got {v}")
        out.append(JointLimits(name, lower, upper, vel, acc, jerk))
    return out


def _station_poses(spec: CellSpec, file: Path) -> dict[str, np.ndarray]:
    """Resolve station frames, which may be given relative to other stations."""
    pending = {s.name: s for s in spec.stations}
    done: dict[str, np.ndarray] = {}
    while pending:
        progressed = False
        for name, s in list(pending.items()):
            f = s.pose.frame
            if f == "world" or f in done:
                parent = np.eye(4) if f == "world" else done[f]
                done[name] = parent @ s.pose.matrix()
                del pending[name]
                progressed = True
        if not progressed:
            name = next(iter(pending))
            raise ConfigError(
                file, f"stations.{name}.pose.frame", f"unknown frame {pending[name].pose.frame!r}"
            )
    return done


def load_cell(path: Path | str | None = None) -> Cell:
    """Load, validate and resolve a cell YAML (default: the UR5e cell)."""
    file = Path(path).resolve() if path is not None else DEFAULT_CELL
    spec = load_yaml_model(file, CellSpec)
    base = file.parent
    paths = {}
    for key in ("urdf", "srdf", "joint_limits"):
        p = getattr(spec.robot, key)
        p = p if p.is_absolute() else (base / p).resolve()
        if not p.is_file():
            raise ConfigError(file, f"robot.{key}", f"file not found: {p}")
        paths[key] = p
    chain = _joint_chain(paths["urdf"], spec.robot.base_link, spec.robot.flange_link)
    limits = _limits(file, paths["urdf"], paths["joint_limits"], chain)
    names = [lim.name for lim in limits]
    if len(spec.robot.home_rad) != len(names):
        raise ConfigError(
            file,
            "robot.home_rad",
            f"expected {len(names)} values (joints {names}), got {len(spec.robot.home_rad)}",
        )
    for lim, q in zip(limits, spec.robot.home_rad, strict=True):
        if not lim.lower <= q <= lim.upper:
            raise ConfigError(file, "robot.home_rad", f"{lim.name}={q} outside [{lim.lower}, {lim.upper}]")
    _check_srdf(paths["srdf"], spec.robot.planning_group)
    for i, o in enumerate(spec.obstacles):
        if o.pose.frame != "world":
            raise ConfigError(file, f"obstacles.{i}.pose.frame", "obstacles are placed in the world frame")
    if spec.robot.base_pose.frame != "world":
        raise ConfigError(file, "robot.base_pose.frame", "the robot base is placed in the world frame")
    return Cell(
        spec=spec,
        source=file,
        urdf_path=paths["urdf"],
        srdf_path=paths["srdf"],
        joint_limits_path=paths["joint_limits"],
        joint_names=names,
        limits=limits,
        T_world_base=spec.robot.base_pose.matrix(),
        station_poses=_station_poses(spec, file),
    )


def _check_srdf(srdf: Path, group: str) -> None:
    try:
        root = ET.parse(srdf).getroot()
    except ET.ParseError as e:
        raise ConfigError(srdf, "", f"not valid XML ({e})") from None
    if not any(g.get("name") == group for g in root.findall("group")):
        raise ConfigError(srdf, f"group {group!r}", "planning group not defined")
