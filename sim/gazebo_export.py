"""Export a cell and a variant's parts for Gazebo Harmonic with gz_ros2_control (ROS 2 Jazzy).

Writes, into one directory (``launch/gazebo.launch.py`` reads them from there):

``world.sdf``          SDFormat 1.9 world: physics and the usual gz-sim systems, a light, the cell as one
                       static model (stations as boxes with their top-surface centre at the station frame,
                       obstacles as boxes/cylinders/spheres) and every part as a model at its start pose
                       (mesh visual and collision, mass properties from the workflow).
``meshes/<part>.stl``  part meshes, referenced from the world as ``meshes/<part>.stl`` (the launch file puts
                       the export directory on ``GZ_SIM_RESOURCE_PATH``).
``robot.urdf``         the arm + gripper of :func:`cell_config.compose.cell_urdf`, fixed to the ``world``
                       link at ``cell.T_world_base``, with a ``<ros2_control>`` system
                       (``gz_ros2_control/GazeboSimSystem``): position command interfaces on the arm joints and
                       the left finger; the mimic right finger has state interfaces only; and the
                       ``gz_ros2_control::GazeboSimROS2ControlPlugin`` pointing at ``controllers.yaml``.
``controllers.yaml``   controller_manager with joint_state_broadcaster, ``arm_controller``
                       (JointTrajectoryController, position command) and ``gripper_controller``
                       (ForwardCommandController on the left finger's position: one value, the pad distance
                       from the centre = width / 2; the MuJoCo sim node instead takes ``[width_m, force_n]``).
"""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import yaml
from scipy.spatial.transform import Rotation

from cell_config import Cell
from cell_config.compose import FINGER_JOINT, FINGER_MIMIC_JOINT, cell_urdf
from workflow_gen.model import PartInfo

SDF_VERSION = "1.9"
CONTROLLER_RATE_HZ = 250


def _pose_text(T: np.ndarray) -> str:
    r, p, y = Rotation.from_matrix(T[:3, :3]).as_euler("xyz")
    x, yy, z = T[:3, 3]
    return f"{x:.6g} {yy:.6g} {z:.6g} {r:.6g} {p:.6g} {y:.6g}"


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrib: str) -> ET.Element:
    e = ET.SubElement(parent, tag, attrib)
    if text is not None:
        e.text = text
    return e


def _geometry(parent: ET.Element, shape: str, dims: dict[str, object]) -> None:
    geo = _sub(parent, "geometry")
    if shape == "box":
        size = dims["size"]
        assert isinstance(size, tuple | list)
        b = _sub(geo, "box")
        _sub(b, "size", " ".join(f"{v:.6g}" for v in size))
    elif shape == "cylinder":
        c = _sub(geo, "cylinder")
        _sub(c, "radius", f"{dims['radius']:.6g}")
        _sub(c, "length", f"{dims['length']:.6g}")
    elif shape == "sphere":
        s = _sub(geo, "sphere")
        _sub(s, "radius", f"{dims['radius']:.6g}")
    else:
        m = _sub(geo, "mesh")
        _sub(m, "uri", str(dims["uri"]))


def _shape_link(
    model: ET.Element, name: str, T: np.ndarray, shape: str, dims: dict[str, object], rgba: str
) -> None:
    link = _sub(model, "link", name=name)
    _sub(link, "pose", _pose_text(T))
    col = _sub(link, "collision", name="collision")
    _geometry(col, shape, dims)
    vis = _sub(link, "visual", name="visual")
    _geometry(vis, shape, dims)
    mat = _sub(vis, "material")
    _sub(mat, "ambient", rgba)
    _sub(mat, "diffuse", rgba)


def world_sdf(cell: Cell, parts: list[PartInfo]) -> str:
    """SDFormat world text of the cell with ``parts`` at their start poses (meshes at ``meshes/<name>.stl``)."""
    sdf = ET.Element("sdf", version=SDF_VERSION)
    world = _sub(sdf, "world", name=cell.name)
    phys = _sub(world, "physics", name="1ms", type="ignored")
    _sub(phys, "max_step_size", "0.001")
    _sub(phys, "real_time_factor", "1.0")
    for fname, cls in (
        ("gz-sim-physics-system", "gz::sim::systems::Physics"),
        ("gz-sim-user-commands-system", "gz::sim::systems::UserCommands"),
        ("gz-sim-scene-broadcaster-system", "gz::sim::systems::SceneBroadcaster"),
        ("gz-sim-contact-system", "gz::sim::systems::Contact"),
    ):
        _sub(world, "plugin", filename=fname, name=cls)
    _sub(world, "gravity", "0 0 -9.81")
    light = _sub(world, "light", type="directional", name="sun")
    _sub(light, "cast_shadows", "true")
    _sub(light, "pose", "0 0 3 0 0 0")
    _sub(light, "diffuse", "0.8 0.8 0.8 1")
    _sub(light, "direction", "-0.3 0.2 -0.9")

    cell_model = _sub(world, "model", name="cell")
    _sub(cell_model, "static", "true")
    for st in cell.spec.stations:
        T = cell.T_world_station(st.name).copy()
        T[:3, 3] -= T[:3, 2] * st.size_m[2] / 2  # box centre below the top-surface frame
        _shape_link(cell_model, f"station_{st.name}", T, "box", {"size": st.size_m}, "0.55 0.6 0.7 1")
    for ob in cell.spec.obstacles:
        T = cell.resolve_pose(ob.pose)
        dims: dict[str, object] = {"size": ob.size_m, "radius": ob.radius_m, "length": ob.length_m}
        _shape_link(cell_model, f"obstacle_{ob.name}", T, ob.shape, dims, "0.75 0.75 0.72 1")

    for p in parts:
        m = _sub(world, "model", name=f"part_{p.name}")
        _sub(m, "pose", _pose_text(p.T_world_start.matrix()))
        link = _sub(m, "link", name="link")
        inertial = _sub(link, "inertial")
        _sub(inertial, "pose", " ".join(f"{v:.6g}" for v in p.com_m) + " 0 0 0")
        _sub(inertial, "mass", f"{p.mass_kg:.6g}")
        ixx, iyy, izz, ixy, ixz, iyz = p.inertia_kg_m2
        inertia = _sub(inertial, "inertia")
        for tag, v in (("ixx", ixx), ("ixy", ixy), ("ixz", ixz), ("iyy", iyy), ("iyz", iyz), ("izz", izz)):
            _sub(inertia, tag, f"{v:.6g}")
        uri = f"meshes/{p.name}.stl"
        col = _sub(link, "collision", name="collision")
        _geometry(col, "mesh", {"uri": uri})
        surface = _sub(_sub(col, "surface"), "friction")
        ode = _sub(surface, "ode")
        _sub(ode, "mu", "0.6")
        _sub(ode, "mu2", "0.6")
        vis = _sub(link, "visual", name="visual")
        _geometry(vis, "mesh", {"uri": uri})
        mat = _sub(vis, "material")
        _sub(mat, "diffuse", "0.85 0.45 0.15 1")
    ET.indent(sdf, space="  ")
    return '<?xml version="1.0"?>\n' + ET.tostring(sdf, encoding="unicode") + "\n"


def ros2_control_urdf(cell: Cell, controllers_yaml: Path) -> str:
    """The cell URDF fixed to ``world`` with ``<ros2_control>`` tags and the gz_ros2_control plugin."""
    root = ET.fromstring(cell_urdf(cell))
    base = cell.spec.robot.base_link
    # The world link makes gz fix the robot to the ground at T_world_base (spawned at the origin).
    root.insert(0, ET.Element("link", name="world"))
    fix = ET.SubElement(root, "joint", name="world_to_base", type="fixed")
    ET.SubElement(fix, "parent", link="world")
    ET.SubElement(fix, "child", link=base)
    r, p, y = Rotation.from_matrix(cell.T_world_base[:3, :3]).as_euler("xyz")
    ET.SubElement(
        fix,
        "origin",
        xyz=" ".join(f"{v:.6g}" for v in cell.T_world_base[:3, 3]),
        rpy=f"{r:.6g} {p:.6g} {y:.6g}",
    )
    rc = ET.SubElement(root, "ros2_control", name="FlexcellGazeboSystem", type="system")
    hw = ET.SubElement(rc, "hardware")
    _sub(hw, "plugin", "gz_ros2_control/GazeboSimSystem")

    def position_joint(name: str, lower: float, upper: float, initial: float) -> None:
        j = _sub(rc, "joint", name=name)
        ci = _sub(j, "command_interface", name="position")
        _sub(ci, "param", f"{lower:.6g}", name="min")
        _sub(ci, "param", f"{upper:.6g}", name="max")
        sp = _sub(j, "state_interface", name="position")
        _sub(sp, "param", f"{initial:.6g}", name="initial_value")
        _sub(j, "state_interface", name="velocity")

    for lim, q0 in zip(cell.limits, cell.home, strict=True):
        position_joint(lim.name, lim.lower, lim.upper, q0)
    g = cell.spec.gripper
    position_joint(FINGER_JOINT, g.min_opening_m / 2, g.stroke_m / 2, g.stroke_m / 2)
    # The mimic finger follows in gz_ros2_control; a command interface on it is an error there.
    mj = _sub(rc, "joint", name=FINGER_MIMIC_JOINT)
    _sub(mj, "state_interface", name="position")
    _sub(mj, "state_interface", name="velocity")
    gz = ET.SubElement(root, "gazebo")
    plugin = _sub(
        gz, "plugin", filename="gz_ros2_control-system", name="gz_ros2_control::GazeboSimROS2ControlPlugin"
    )
    _sub(plugin, "parameters", str(controllers_yaml))
    _sub(plugin, "controller_manager_name", "controller_manager")
    ET.indent(root, space="  ")
    return '<?xml version="1.0"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def controllers_yaml(cell: Cell) -> dict[str, object]:
    """ros2_control controllers configuration (joint_state_broadcaster, arm and gripper controllers)."""
    constraints: dict[str, object] = {"stopped_velocity_tolerance": 0.01, "goal_time": 1.0}
    for j in cell.joint_names:
        constraints[j] = {"trajectory": 0.15, "goal": 0.005}
    return {
        "controller_manager": {
            "ros__parameters": {
                "update_rate": CONTROLLER_RATE_HZ,
                "joint_state_broadcaster": {"type": "joint_state_broadcaster/JointStateBroadcaster"},
                "arm_controller": {"type": "joint_trajectory_controller/JointTrajectoryController"},
                "gripper_controller": {"type": "forward_command_controller/ForwardCommandController"},
            }
        },
        "arm_controller": {
            "ros__parameters": {
                "joints": list(cell.joint_names),
                "command_interfaces": ["position"],
                "state_interfaces": ["position", "velocity"],
                "allow_nonzero_velocity_at_trajectory_end": False,
                "constraints": constraints,
            }
        },
        "gripper_controller": {"ros__parameters": {"joints": [FINGER_JOINT], "interface_name": "position"}},
    }


def export_gazebo(cell: Cell, parts: list[PartInfo], parts_dir: Path, out_dir: Path) -> dict[str, Path]:
    """Write world.sdf, robot.urdf, controllers.yaml and the part meshes to ``out_dir``.

    Files are written to a temporary sibling directory and moved into place at the end, so a failed
    export leaves nothing half-written. Returns the paths by kind.
    """
    out_dir = Path(out_dir).resolve()
    tmp = out_dir.with_name(f".{out_dir.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "meshes").mkdir(parents=True)
    try:
        for p in parts:
            src = Path(parts_dir) / p.mesh
            if not src.is_file():
                src = Path(parts_dir) / Path(p.mesh).name
            if not src.is_file():
                raise FileNotFoundError(f"{Path(parts_dir) / p.mesh}: part {p.name!r} mesh not found")
            shutil.copyfile(src, tmp / "meshes" / f"{p.name}.stl")
        (tmp / "world.sdf").write_text(world_sdf(cell, parts))
        (tmp / "controllers.yaml").write_text(
            "# ros2_control controllers for Gazebo (generated by flexcell export gazebo)\n"
            + yaml.safe_dump(controllers_yaml(cell), sort_keys=False)
        )
        (tmp / "robot.urdf").write_text(ros2_control_urdf(cell, out_dir / "controllers.yaml"))
        out_dir.mkdir(parents=True, exist_ok=True)
        for item in tmp.iterdir():
            dest = out_dir / item.name
            if dest.is_dir():
                shutil.rmtree(dest)
            item.replace(dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {
        k: out_dir / f
        for k, f in (("world", "world.sdf"), ("urdf", "robot.urdf"), ("controllers", "controllers.yaml"))
    }
