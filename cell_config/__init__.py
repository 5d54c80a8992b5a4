"""flexcell cell model: schemas, loaders and generated descriptions of a robot cell."""

from cell_config.loader import DEFAULT_CELL, Cell, ConfigError, JointLimits, load_cell
from cell_config.schema import CellSpec, GripperSpec, ObstacleSpec, PoseSpec, StationSpec

__all__ = [
    "DEFAULT_CELL",
    "Cell",
    "CellSpec",
    "ConfigError",
    "GripperSpec",
    "JointLimits",
    "ObstacleSpec",
    "PoseSpec",
    "StationSpec",
    "load_cell",
]
