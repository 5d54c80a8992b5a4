"""Pydantic schemas of a flexcell robot cell.

Every model forbids unknown keys, so a typo in a cell YAML is an error that names the key.
Units are part of the field names (``_m``, ``_rad``, ``_deg``, ``_n``, ``_kg``, ``_m_s``).
Poses are ``xyz_m`` plus at most one orientation (``rpy_rad``, ``rpy_deg`` or ``quat_xyzw``),
expressed in a named ``frame`` (``world`` or the name of a station).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from scipy.spatial.transform import Rotation

Vec3 = tuple[float, float, float]
Quat = tuple[float, float, float, float]


class StrictModel(BaseModel):
    """Base of all cell schemas: unknown keys are rejected."""

    model_config = ConfigDict(extra="forbid")


class PoseSpec(StrictModel):
    """A rigid pose: position in metres and one optional orientation, in a named frame."""

    frame: str = "world"
    xyz_m: Vec3 = (0.0, 0.0, 0.0)
    rpy_rad: Vec3 | None = None
    rpy_deg: Vec3 | None = None
    quat_xyzw: Quat | None = None

    @model_validator(mode="after")
    def _one_orientation(self) -> PoseSpec:
        given = [k for k in ("rpy_rad", "rpy_deg", "quat_xyzw") if getattr(self, k) is not None]
        if len(given) > 1:
            raise ValueError(f"give one orientation, not {' and '.join(given)}")
        if self.quat_xyzw is not None and np.linalg.norm(self.quat_xyzw) < 1e-9:
            raise ValueError("quat_xyzw has zero length")
        return self

    def rotation(self) -> Rotation:
        if self.quat_xyzw is not None:
            return Rotation.from_quat(np.asarray(self.quat_xyzw) / np.linalg.norm(self.quat_xyzw))
        if self.rpy_deg is not None:
            return Rotation.from_euler("xyz", self.rpy_deg, degrees=True)
        if self.rpy_rad is not None:
            return Rotation.from_euler("xyz", self.rpy_rad)
        return Rotation.identity()

    def matrix(self) -> np.ndarray:
        """``T_frame_pose : (4, 4) float`` homogeneous transform."""
        T = np.eye(4)
        T[:3, :3] = self.rotation().as_matrix()
        T[:3, 3] = self.xyz_m
        return T


class RobotSpec(StrictModel):
    """The arm: its description files (paths relative to the cell YAML) and where it stands."""

    name: str
    urdf: Path
    srdf: Path
    joint_limits: Path = Field(description="MoveIt-style joint_limits.yaml")
    planning_group: str = "manipulator"
    base_link: str = "base_link"
    flange_link: str = "tool0"
    base_pose: PoseSpec = PoseSpec()
    home_rad: list[float] = Field(description="home configuration, one value per planning joint")


class FingerSpec(StrictModel):
    """One finger of a parallel-jaw gripper (both fingers are identical and mirror each other)."""

    length_m: float = Field(gt=0, description="along the approach axis (tool z)")
    width_m: float = Field(gt=0, description="along the tool x axis")
    thickness_m: float = Field(gt=0, description="along the closing axis (tool y)")
    pad_length_m: float = Field(gt=0, description="contact pad length at the finger tip")
    friction: float = Field(gt=0, le=2.0, description="Coulomb friction coefficient of the pads")


class GripperSpec(StrictModel):
    """A parallel-jaw gripper mounted on the flange; fingers close along tool y, approach along tool z."""

    name: str
    type: Literal["parallel_jaw"] = "parallel_jaw"
    stroke_m: float = Field(gt=0, description="maximum opening between the finger pads")
    min_opening_m: float = Field(default=0.0, ge=0)
    force_n: float = Field(gt=0, description="maximum grip force")
    max_speed_m_s: float = Field(default=0.15, gt=0)
    mass_kg: float = Field(gt=0)
    palm_size_m: Vec3 = Field(description="body box (x, y, z), from the flange along tool z")
    finger: FingerSpec

    @model_validator(mode="after")
    def _stroke(self) -> GripperSpec:
        if self.min_opening_m >= self.stroke_m:
            raise ValueError("min_opening_m must be below stroke_m")
        return self

    @property
    def tcp_z_m(self) -> float:
        """Distance from the flange to the tool centre point (centre of the finger pads)."""
        return self.palm_size_m[2] + self.finger.length_m - self.finger.pad_length_m / 2.0


class SlotSpec(StrictModel):
    name: str
    pose: PoseSpec = Field(description="in the station frame (top surface centre)")


class SlotGrid(StrictModel):
    """A regular grid of slots, named ``<prefix><row><col>`` (``A1``, ``A2``, ... ``B1`` ...)."""

    rows: int = Field(ge=1, le=26)
    cols: int = Field(ge=1)
    pitch_m: tuple[float, float]
    origin_xyz_m: Vec3 = (0.0, 0.0, 0.0)


# An assembly fixture locates parts tightly; a kit tray pocket is looser; a tray or bin only holds them.
PLACEMENT_TOLERANCE_BY_TYPE: dict[str, tuple[float, float]] = {
    "fixture": (2.0, 2.0),
    "kit_tray": (5.0, 5.0),
    "feeder_tray": (10.0, 10.0),
    "bin": (10.0, 10.0),
}


class StationSpec(StrictModel):
    """A station: a box body whose top-surface centre is the station frame.

    A ``bin`` is a tray that holds many identical parts (nuts, bolts), laid out in a row or grid by the
    workflow generator and picked one by one.
    """

    name: str
    type: Literal["feeder_tray", "fixture", "kit_tray", "bin"]
    pose: PoseSpec
    size_m: Vec3
    slots: list[SlotSpec] = []
    slot_grid: SlotGrid | None = None
    placement_tolerance_mm: float | None = Field(
        default=None,
        gt=0,
        description="how far a part placed on this station may rest from its target (default by type: "
        "fixture 2, kit_tray 5, feeder_tray / bin 10)",
    )
    placement_tolerance_deg: float | None = Field(
        default=None, gt=0, description="the same for its orientation (default by type: 2, 5, 10)"
    )
    feed_area_m: tuple[float, float] | None = Field(
        default=None,
        description="usable (x, y) area of the top surface for feeding, centred on the station frame "
        "(e.g. inside a tray's rim); default: the whole top, size_m[:2]",
    )

    @field_validator("size_m")
    @classmethod
    def _positive(cls, v: Vec3) -> Vec3:
        if min(v) <= 0:
            raise ValueError("all sizes must be positive")
        return v

    @model_validator(mode="after")
    def _feed_area(self) -> StationSpec:
        if self.feed_area_m is not None:
            x_m, y_m = self.feed_area_m
            if min(x_m, y_m) <= 0 or x_m > self.size_m[0] + 1e-9 or y_m > self.size_m[1] + 1e-9:
                raise ValueError(f"feed_area_m {self.feed_area_m} must be positive and within size_m")
        return self

    def placement_tolerance(self) -> tuple[float, float]:
        """``(mm, deg)`` a part placed here may rest from its target: the station's own, else its type's."""
        mm, deg = PLACEMENT_TOLERANCE_BY_TYPE[self.type]
        return (self.placement_tolerance_mm or mm, self.placement_tolerance_deg or deg)

    def slot_poses(self) -> dict[str, np.ndarray]:
        """``name -> T_station_slot (4, 4)``; grid slots first, then explicit ones."""
        out: dict[str, np.ndarray] = {}
        if self.slot_grid is not None:
            g = self.slot_grid
            for r in range(g.rows):
                for c in range(g.cols):
                    T = np.eye(4)
                    T[:3, 3] = (
                        g.origin_xyz_m[0] + (r - (g.rows - 1) / 2) * g.pitch_m[0],
                        g.origin_xyz_m[1] + (c - (g.cols - 1) / 2) * g.pitch_m[1],
                        g.origin_xyz_m[2],
                    )
                    out[f"{chr(ord('A') + r)}{c + 1}"] = T
        for s in self.slots:
            out[s.name] = s.pose.matrix()
        return out


class ObstacleSpec(StrictModel):
    """Static geometry of the cell: tables, fences, columns."""

    name: str
    shape: Literal["box", "cylinder", "sphere"]
    pose: PoseSpec
    size_m: Vec3 | None = None
    radius_m: float | None = Field(default=None, gt=0)
    length_m: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _dims(self) -> ObstacleSpec:
        if self.shape == "box" and self.size_m is None:
            raise ValueError("a box needs size_m")
        if self.shape == "cylinder" and (self.radius_m is None or self.length_m is None):
            raise ValueError("a cylinder needs radius_m and length_m")
        if self.shape == "sphere" and self.radius_m is None:
            raise ValueError("a sphere needs radius_m")
        if self.size_m is not None and min(self.size_m) <= 0:
            raise ValueError("all sizes must be positive")
        return self


class CameraSpec(StrictModel):
    name: str
    pose: PoseSpec
    fov_deg: float = Field(default=60.0, gt=1, lt=179)
    width_px: int = Field(default=640, ge=16)
    height_px: int = Field(default=480, ge=16)


class PlanningSpec(StrictModel):
    """Defaults of the motion layer for this cell."""

    padding_m: float = Field(default=0.01, ge=0, le=0.1)
    max_velocity_scaling: float = Field(default=0.5, gt=0, le=1)
    max_acceleration_scaling: float = Field(default=0.5, gt=0, le=1)
    approach_distance_m: float = Field(default=0.08, gt=0)
    retreat_distance_m: float = Field(default=0.08, gt=0)
    regrasp_area: PoseSpec | None = Field(
        default=None,
        description="where a part is put down to be taken another way (a regrasp), on a free surface; "
        "default: a free patch of a station top (else the table) chosen by the workflow generator",
    )


class CellSpec(StrictModel):
    """A whole cell, as written in ``cell_config/cells/<name>.yaml``."""

    name: str
    description: str = ""
    robot: RobotSpec
    gripper: GripperSpec
    stations: list[StationSpec]
    obstacles: list[ObstacleSpec] = []
    camera: CameraSpec | None = None
    planning: PlanningSpec = PlanningSpec()

    @model_validator(mode="after")
    def _unique_names(self) -> CellSpec:
        names = [s.name for s in self.stations] + [o.name for o in self.obstacles]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"duplicate station/obstacle names: {sorted(dup)}")
        if "world" in names:
            raise ValueError("'world' is reserved for the world frame")
        return self
