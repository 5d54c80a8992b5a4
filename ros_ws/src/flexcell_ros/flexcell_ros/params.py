"""Node parameters: one strict pydantic schema per node, checked before a node creates any interface.

The YAML a person edits (``cell_config/ros_params.yaml``) is in the standard ROS 2 layout
(``<node>: {ros__parameters: {...}}``) so that ``--ros-args --params-file`` and ``ros2 launch`` read it
unchanged. Unknown keys and wrong types fail with one line naming the file or node, the key and the reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

REPO = Path(__file__).resolve().parents[4]
DEFAULT_PARAMS_FILE = REPO / "cell_config" / "ros_params.yaml"
DEFAULT_DB_PATH = str(REPO / "build" / "ros" / "runs.sqlite3")
# Parameters every rclpy node declares itself; not ours to validate.
ROS_BUILTIN_PARAMS = frozenset({"use_sim_time", "start_type_description_service"})


class ParamError(ValueError):
    """A node parameter is unknown or invalid; the message names where, the key and why."""


class _NodeParams(BaseModel):
    # strict: "5" is not a number and 1 is not a bool; ints are still accepted for floats.
    model_config = ConfigDict(extra="forbid", strict=True)


class SimCellParams(_NodeParams):
    """Parameters of the ``sim_cell`` node (MuJoCo cell behind the ros2_control topics)."""

    cell: str = Field(default="", description="cell YAML; empty = the default UR5e cell")
    workflow: str = Field(default="", description="workflow.yaml whose parts are spawned at start-up")
    real_time_factor: float = Field(default=1.0, gt=0.0, le=50.0, description="sim seconds per wall second")
    publish_rate_hz: float = Field(default=500.0, ge=250.0, le=2000.0, description="/joint_states wall rate")
    part_pose_rate_hz: float = Field(default=25.0, gt=0.0, le=500.0, description="/sim/part_poses wall rate")
    fault: str = Field(default="", description="fault injected into the simulation (CellSim fault spec)")
    foxglove_port: int = Field(
        default=0, ge=0, le=65535, description="live 3D for Foxglove on ws://127.0.0.1:<port>; 0 = off"
    )
    camera_rate_hz: float = Field(
        default=0.0,
        ge=0.0,
        le=10.0,
        description="cell camera JPEGs on /cell/camera/image/compressed; 0 = off",
    )


class WorkflowExecutorParams(_NodeParams):
    """Parameters of the ``workflow_executor`` node (the ``execute_workflow`` action server)."""

    db_path: str = Field(default=DEFAULT_DB_PATH, description="SQLite run store (progress per step)")
    goal_tolerance_rad: float = Field(default=0.01, gt=0.0, description="max |q - q_end| to call a move done")
    settle_velocity_rad_s: float = Field(default=0.05, gt=0.0, description="max |qd| to call a move done")
    timeout_factor: float = Field(
        default=1.5, ge=1.0, description="move timeout = factor * duration + margin"
    )
    timeout_margin_s: float = Field(default=2.0, ge=0.0, description="sim seconds added to every timeout")
    wall_timeout_s: float = Field(default=30.0, gt=0.0, description="fault when /joint_states stay silent")
    grip_tolerance_m: float = Field(default=0.004, gt=0.0, description="held part: |width - contact| bound")
    place_tolerance_m: float = Field(default=0.02, gt=0.0, description="placed part position error bound")
    check_part_poses: bool = Field(default=True, description="check placements on /sim/part_poses if present")
    rejoin_velocity_rad_s: float = Field(default=0.4, gt=0.0, description="joint speed to rejoin a plan")
    gripper_timeout_s: float = Field(default=3.0, gt=0.0, description="sim seconds for the jaws to settle")


class CellManagerParams(_NodeParams):
    """Parameters of the ``cell_manager`` node (operator state machine and run history)."""

    cell: str = Field(default="", description="cell YAML; empty = the default UR5e cell")
    db_path: str = Field(default=DEFAULT_DB_PATH, description="SQLite run history")
    variants_dir: str = Field(default=str(REPO / "cad_parts"), description="where variant names resolve")
    workflows_dir: str = Field(default=str(REPO / "build"), description="where planned workflows go")
    status_rate_hz: float = Field(default=10.0, gt=0.0, le=200.0, description="/cell/status rate")
    require_validation: bool = Field(default=True, description="refuse a variant whose sim validation failed")
    initial_variant: str = Field(default="", description="variant or workflow loaded at start-up")
    executor_timeout_s: float = Field(
        default=3.0, gt=0.0, description="FAULT after this long without feedback"
    )


NODE_PARAM_MODELS: dict[str, type[_NodeParams]] = {
    "sim_cell": SimCellParams,
    "workflow_executor": WorkflowExecutorParams,
    "cell_manager": CellManagerParams,
}


def validate_params(node_name: str, values: dict[str, Any], where: str) -> _NodeParams:
    """Check ``values`` against the node's schema; raises ParamError naming ``where``, the key and why."""
    model = NODE_PARAM_MODELS[node_name]
    values = {k: v for k, v in values.items() if k not in ROS_BUILTIN_PARAMS}
    try:
        return model.model_validate(values)
    except ValidationError as e:
        first = e.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        reason = "unknown parameter" if first["type"] == "extra_forbidden" else first["msg"]
        raise ParamError(f"{where}: {node_name}.{key}: {reason} (got {first.get('input')!r})") from None


def load_params_file(path: Path | str | None = None) -> dict[str, dict[str, Any]]:
    """Read and validate a ROS 2 parameter file; returns ``node -> {param: value}`` (validated values)."""
    path = Path(path) if path else DEFAULT_PARAMS_FILE
    if not path.is_file():
        raise ParamError(f"{path}: file not found")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ParamError(f"{path}: not valid YAML ({e})") from None
    if not isinstance(raw, dict):
        raise ParamError(f"{path}: top level must map node names to {{ros__parameters: ...}}")
    out: dict[str, dict[str, Any]] = {}
    for node_name, section in raw.items():
        if node_name not in NODE_PARAM_MODELS:
            raise ParamError(f"{path}: {node_name}: unknown node (known: {', '.join(NODE_PARAM_MODELS)})")
        if not isinstance(section, dict) or set(section) != {"ros__parameters"}:
            raise ParamError(f"{path}: {node_name}: needs exactly one key 'ros__parameters'")
        values = section["ros__parameters"] or {}
        if not isinstance(values, dict):
            raise ParamError(f"{path}: {node_name}.ros__parameters: must be a mapping")
        out[node_name] = validate_params(node_name, values, str(path)).model_dump()
    return out


def write_params_file(path: Path, params: dict[str, dict[str, Any]]) -> Path:
    """Write ``node -> {param: value}`` as a ROS 2 parameter file (used to hand overrides to processes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {node: {"ros__parameters": values} for node, values in params.items()}
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(yaml.safe_dump(doc, sort_keys=False))
    tmp.replace(path)
    return path
