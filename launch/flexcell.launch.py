"""ros2 launch file of the flexcell cell, for sites with a full ROS 2 install (``ros2 launch flexcell flexcell.launch.py``).

It starts the same nodes as ``flexcell up``, from the same list (:data:`flexcell_ros.node_specs.NODES`) and
the same parameter file (``cell_config/ros_params.yaml``). ``launch`` / ``launch_ros`` are not available as
wheels, so they are imported only inside :func:`generate_launch_description`; the node list can be read
without them (:func:`launch_nodes`).

Arguments: ``params_file`` (default: the repository's cell_config/ros_params.yaml), ``sim`` (true: start
``sim_cell``; false on a real cell or Gazebo, where ros2_control provides the controller topics).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flexcell_ros.node_specs import NODES, NodeSpec
from flexcell_ros.params import DEFAULT_PARAMS_FILE


def launch_nodes(sim: bool = True) -> list[NodeSpec]:
    """The nodes this launch file starts (all of them in simulation; without ``sim_cell`` otherwise)."""
    return [spec for spec in NODES if sim or not spec.sim_only]


def generate_launch_description() -> Any:
    from launch.actions import DeclareLaunchArgument
    from launch.conditions import IfCondition
    from launch.substitutions import LaunchConfiguration
    from launch_ros.actions import Node

    from launch import LaunchDescription  # type: ignore[attr-defined]  # (mypy sees the repo's launch/ here)

    params_file = LaunchConfiguration("params_file")
    sim = LaunchConfiguration("sim")
    actions: list[Any] = [
        DeclareLaunchArgument("params_file", default_value=str(Path(DEFAULT_PARAMS_FILE))),
        DeclareLaunchArgument("sim", default_value="true"),
    ]
    for spec in launch_nodes(sim=True):
        actions.append(
            Node(
                package="flexcell_ros",
                executable=spec.executable,
                name=spec.name,
                parameters=[params_file],
                output="screen",
                condition=IfCondition(sim) if spec.sim_only else None,
            )
        )
    return LaunchDescription(actions)
