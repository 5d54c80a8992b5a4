"""Start Gazebo Harmonic with a flexcell export and ros2_control (needs a full ROS 2 Jazzy install).

Usage (on a machine with ros-jazzy-ros-gz and ros-jazzy-gz-ros2-control; not this build machine)::

    flexcell export gazebo build/sensor_kit --out build/sensor_kit/gazebo
    ros2 launch launch/gazebo.launch.py export_dir:=$PWD/build/sensor_kit/gazebo

Wiring (as in gz_ros2_control_demos): robot_state_publisher publishes ``robot.urdf`` on
``robot_description``; ros_gz_sim starts Gazebo with ``world.sdf``; ``create`` spawns the robot from the
``robot_description`` topic; when it has spawned, the joint_state_broadcaster is started, then the
``arm_controller`` (JointTrajectoryController, ``/arm_controller/joint_trajectory``) and the
``gripper_controller`` (``/gripper_controller/commands``); ``/clock`` is bridged from Gazebo and every node
uses sim time. The export directory is put on ``GZ_SIM_RESOURCE_PATH`` so the world finds ``meshes/``.
"""

from __future__ import annotations

import os
from pathlib import Path

from launch.actions import (
    DeclareLaunchArgument,
    IncludeLaunchDescription,
    OpaqueFunction,
    RegisterEventHandler,
    SetEnvironmentVariable,
)
from launch.event_handlers import OnProcessExit
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from launch import LaunchContext, LaunchDescription


def _setup(context: LaunchContext) -> list[object]:
    export_dir = Path(LaunchConfiguration("export_dir").perform(context)).resolve()
    world = export_dir / "world.sdf"
    urdf = export_dir / "robot.urdf"
    controllers = export_dir / "controllers.yaml"
    for f in (world, urdf, controllers):
        if not f.is_file():
            raise RuntimeError(
                f"{f}: missing; run `flexcell export gazebo <variant> --out {export_dir}` first"
            )
    robot_description = {"robot_description": urdf.read_text(), "use_sim_time": True}
    gui = LaunchConfiguration("gui").perform(context).lower() in ("1", "true", "yes")
    gz_args = f"-r -v 3 {world}" + ("" if gui else " -s")

    resource_path = os.pathsep.join(
        p for p in (str(export_dir), os.environ.get("GZ_SIM_RESOURCE_PATH", "")) if p
    )
    gazebo = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(
            [FindPackageShare("ros_gz_sim").perform(context), "/launch/gz_sim.launch.py"]
        ),
        launch_arguments={"gz_args": gz_args, "on_exit_shutdown": "true"}.items(),
    )
    rsp = Node(
        package="robot_state_publisher",
        executable="robot_state_publisher",
        output="screen",
        parameters=[robot_description],
    )
    spawn = Node(
        package="ros_gz_sim",
        executable="create",
        output="screen",
        arguments=["-topic", "robot_description", "-name", "flexcell_robot", "-allow_renaming", "true"],
    )
    clock_bridge = Node(
        package="ros_gz_bridge",
        executable="parameter_bridge",
        arguments=["/clock@rosgraph_msgs/msg/Clock[gz.msgs.Clock"],
        output="screen",
    )

    def spawner(name: str) -> Node:
        return Node(
            package="controller_manager",
            executable="spawner",
            arguments=[name, "--param-file", str(controllers), "--controller-manager-timeout", "60"],
            output="screen",
        )

    jsb = spawner("joint_state_broadcaster")
    arm, gripper = spawner("arm_controller"), spawner("gripper_controller")
    return [
        SetEnvironmentVariable("GZ_SIM_RESOURCE_PATH", resource_path),
        gazebo,
        rsp,
        spawn,
        clock_bridge,
        RegisterEventHandler(OnProcessExit(target_action=spawn, on_exit=[jsb])),
        RegisterEventHandler(OnProcessExit(target_action=jsb, on_exit=[arm, gripper])),
    ]


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription(
        [
            DeclareLaunchArgument("export_dir", description="directory written by `flexcell export gazebo`"),
            DeclareLaunchArgument("gui", default_value="false", description="start the Gazebo GUI too"),
            OpaqueFunction(function=_setup),
        ]
    )
