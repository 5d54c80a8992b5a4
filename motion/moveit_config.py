"""MoveIt 2 (Jazzy) configuration files generated from a cell.

:func:`moveit_config_texts` builds the file texts (SRDF, kinematics.yaml, joint_limits.yaml,
ompl_planning.yaml, moveit_controllers.yaml, the URDF); :func:`write_moveit_config` writes them into a
directory (default ``build/<cell>/moveit_config/``). The embedded planner parses the very same
ompl_planning.yaml and joint_limits.yaml texts, so MoveIt and the embedded backend cannot drift apart.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from cell_config import Cell
from cell_config.compose import FINGER_JOINT, cell_srdf, cell_urdf

CONFIG_FILES = (
    "robot.urdf",
    "robot.srdf",
    "kinematics.yaml",
    "joint_limits.yaml",
    "ompl_planning.yaml",
    "moveit_controllers.yaml",
)

# Planner configurations offered as profiles; names follow MoveIt's default ompl_planning.yaml.
_PLANNER_CONFIGS: dict[str, dict[str, Any]] = {
    "RRTConnectkConfigDefault": {"type": "geometric::RRTConnect", "range": 0.0},
    "RRTkConfigDefault": {"type": "geometric::RRT", "range": 0.0, "goal_bias": 0.05},
    "RRTstarkConfigDefault": {
        "type": "geometric::RRTstar",
        "range": 0.0,
        "goal_bias": 0.05,
        "delay_collision_checking": 1,
    },
    "PRMkConfigDefault": {"type": "geometric::PRM", "max_nearest_neighbors": 10},
    "BKPIECEkConfigDefault": {
        "type": "geometric::BKPIECE",
        "range": 0.0,
        "border_fraction": 0.9,
        "failed_expansion_score_factor": 0.5,
        "min_valid_path_fraction": 0.5,
    },
    "KPIECEkConfigDefault": {
        "type": "geometric::KPIECE",
        "range": 0.0,
        "goal_bias": 0.05,
        "border_fraction": 0.9,
    },
}


def default_config_dir(cell: Cell) -> Path:
    return Path("build") / cell.name / "moveit_config"


def kinematics_dict(cell: Cell) -> dict[str, Any]:
    return {
        cell.spec.robot.planning_group: {
            "kinematics_solver": "kdl_kinematics_plugin/KDLKinematicsPlugin",
            "kinematics_solver_search_resolution": 0.005,
            "kinematics_solver_timeout": 0.05,
        }
    }


def joint_limits_dict(cell: Cell) -> dict[str, Any]:
    """MoveIt joint_limits.yaml content from ``cell.limits`` (already the tightened limits)."""
    jl: dict[str, Any] = {}
    for lim in cell.limits:
        entry: dict[str, Any] = {
            "has_position_limits": True,
            "min_position": float(lim.lower),
            "max_position": float(lim.upper),
            "has_velocity_limits": True,
            "max_velocity": float(lim.velocity),
            "has_acceleration_limits": lim.acceleration is not None,
            "max_acceleration": float(lim.acceleration or 0.0),
            "has_jerk_limits": lim.jerk is not None,
            "max_jerk": float(lim.jerk or 0.0),
        }
        jl[lim.name] = entry
    g = cell.spec.gripper
    jl[FINGER_JOINT] = {
        "has_position_limits": True,
        "min_position": g.min_opening_m / 2,
        "max_position": g.stroke_m / 2,
        "has_velocity_limits": True,
        "max_velocity": g.max_speed_m_s / 2,
        "has_acceleration_limits": True,
        "max_acceleration": 1.0,
    }
    p = cell.spec.planning
    return {
        "default_velocity_scaling_factor": p.max_velocity_scaling,
        "default_acceleration_scaling_factor": p.max_acceleration_scaling,
        "joint_limits": jl,
    }


def ompl_planning_dict(cell: Cell) -> dict[str, Any]:
    """Jazzy-format ompl_planning.yaml (planning_plugins list, request/response adapter lists)."""
    group = cell.spec.robot.planning_group
    return {
        "planning_plugins": ["ompl_interface/OMPLPlanner"],
        "request_adapters": [
            "default_planning_request_adapters/ResolveConstraintFrames",
            "default_planning_request_adapters/ValidateWorkspaceBounds",
            "default_planning_request_adapters/CheckStartStateBounds",
            "default_planning_request_adapters/CheckStartStateCollision",
        ],
        "response_adapters": [
            "default_planning_response_adapters/AddTimeOptimalParameterization",
            "default_planning_response_adapters/ValidateSolution",
            "default_planning_response_adapters/DisplayMotionPath",
        ],
        "start_state_max_bounds_error": 0.1,
        "planner_configs": {k: dict(v) for k, v in _PLANNER_CONFIGS.items()},
        group: {
            "default_planner_config": "RRTConnectkConfigDefault",
            "planner_configs": list(_PLANNER_CONFIGS),
            "projection_evaluator": f"joints({cell.joint_names[0]},{cell.joint_names[1]})",
            # MoveIt checks edges every fraction * max extent of the joint space (about 0.058 rad on
            # the UR5e, 0.052 rad on the Panda; MoveIt's default is 0.005); the padding absorbs most of
            # what such a step can miss, and the embedded planner re-checks every result densely
            # against the unpadded world (and re-plans with 4x finer edges if that fails).
            "longest_valid_segment_fraction": 0.004,
            "enforce_joint_model_state_space": False,
        },
    }


def moveit_controllers_dict(cell: Cell) -> dict[str, Any]:
    return {
        "moveit_controller_manager": "moveit_simple_controller_manager/MoveItSimpleControllerManager",
        "moveit_simple_controller_manager": {
            "controller_names": ["arm_controller", "gripper_controller"],
            "arm_controller": {
                "type": "FollowJointTrajectory",
                "action_ns": "follow_joint_trajectory",
                "default": True,
                "joints": list(cell.joint_names),
            },
            "gripper_controller": {
                "type": "GripperCommand",
                "action_ns": "gripper_cmd",
                "default": True,
                "joints": [FINGER_JOINT],
                "max_effort": float(cell.spec.gripper.force_n),
                "parallel": True,
            },
        },
        "trajectory_execution": {
            "allowed_execution_duration_scaling": 1.2,
            "allowed_goal_duration_margin": 0.5,
            "allowed_start_tolerance": 0.01,
            "execution_duration_monitoring": True,
        },
    }


def _dump(d: dict[str, Any]) -> str:
    return yaml.safe_dump(d, sort_keys=False, default_flow_style=False)


def moveit_config_texts(cell: Cell) -> dict[str, str]:
    """File name -> text of every generated MoveIt config file."""
    return {
        "robot.urdf": cell_urdf(cell),
        "robot.srdf": cell_srdf(cell),
        "kinematics.yaml": "# generated by flexcell motion/moveit_config.py from the cell; do not edit\n"
        + _dump(kinematics_dict(cell)),
        "joint_limits.yaml": "# generated by flexcell motion/moveit_config.py from the cell; do not edit\n"
        + _dump(joint_limits_dict(cell)),
        "ompl_planning.yaml": "# generated by flexcell motion/moveit_config.py from the cell; do not edit\n"
        + _dump(ompl_planning_dict(cell)),
        "moveit_controllers.yaml": "# generated by flexcell motion/moveit_config.py from the cell; do not edit\n"
        + _dump(moveit_controllers_dict(cell)),
    }


def write_moveit_config(cell: Cell, out_dir: Path | str | None = None) -> Path:
    """Write the MoveIt config files of ``cell`` into ``out_dir`` (atomically per file); returns the dir."""
    out = Path(out_dir) if out_dir is not None else default_config_dir(cell)
    texts = moveit_config_texts(cell)  # build everything first: nothing half-written on error
    out.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        fd, tmp = tempfile.mkstemp(dir=out, prefix=f".{name}.")
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, out / name)
    return out
