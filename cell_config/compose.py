"""The arm + gripper description of a cell, generated from the cell model.

One source for every consumer: the embedded planner (pinocchio/coal), the MuJoCo model builder,
the MoveIt config generator and the Gazebo export all read :func:`cell_urdf` / :func:`cell_srdf`.

Gripper frames (all named, all children of the robot flange ``tool0``):

``gripper_base``  the palm box, from the flange along tool z.
``finger_left`` / ``finger_right``  prismatic along +y / -y; joint value = pad distance from
    the centre line (m), so the opening between the pads is ``2 * q``; the right finger mimics the left.
``tcp``  the tool centre point, between the pads at ``GripperSpec.tcp_z_m`` from the flange.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from cell_config.loader import Cell
from cell_config.schema import GripperSpec

GRIPPER_LINKS = ("gripper_base", "finger_left", "finger_right", "tcp")
FINGER_JOINT = "finger_left_joint"
FINGER_MIMIC_JOINT = "finger_right_joint"
TCP_LINK = "tcp"


def _box(size: tuple[float, float, float], xyz: tuple[float, float, float]) -> str:
    o = f'<origin xyz="{xyz[0]:.6g} {xyz[1]:.6g} {xyz[2]:.6g}" rpy="0 0 0"/>'
    g = f'<geometry><box size="{size[0]:.6g} {size[1]:.6g} {size[2]:.6g}"/></geometry>'
    return f"<collision>{o}{g}</collision><visual>{o}{g}</visual>"


def _inertia_box(mass: float, size: tuple[float, float, float], xyz: tuple[float, float, float]) -> str:
    x, y, z = size
    ixx, iyy, izz = (mass * (y * y + z * z) / 12, mass * (x * x + z * z) / 12, mass * (x * x + y * y) / 12)
    return (
        f'<inertial><origin xyz="{xyz[0]:.6g} {xyz[1]:.6g} {xyz[2]:.6g}" rpy="0 0 0"/><mass value="{mass:.6g}"/>'
        f'<inertia ixx="{ixx:.6g}" ixy="0" ixz="0" iyy="{iyy:.6g}" iyz="0" izz="{izz:.6g}"/></inertial>'
    )


def gripper_urdf_fragment(g: GripperSpec, flange: str = "tool0") -> str:
    """URDF links and joints of a parallel-jaw gripper attached to ``flange``."""
    px, py, pz = g.palm_size_m
    f = g.finger
    finger_mass = 0.1 * g.mass_kg
    palm_mass = g.mass_kg - 2 * finger_mass
    half_stroke = g.stroke_m / 2
    # Finger body in the finger frame: its inner (pad) face is the frame's y = 0 plane.
    finger_size = (f.width_m, f.thickness_m, f.length_m)
    left_xyz = (0.0, f.thickness_m / 2, f.length_m / 2)
    right_xyz = (0.0, -f.thickness_m / 2, f.length_m / 2)
    effort = g.force_n
    vel = g.max_speed_m_s / 2
    return f"""
  <joint name="gripper_mount" type="fixed">
    <parent link="{flange}"/><child link="gripper_base"/><origin xyz="0 0 0" rpy="0 0 0"/>
  </joint>
  <link name="gripper_base">{_inertia_box(palm_mass, (px, py, pz), (0, 0, pz / 2))}{_box((px, py, pz), (0, 0, pz / 2))}</link>
  <joint name="{FINGER_JOINT}" type="prismatic">
    <parent link="gripper_base"/><child link="finger_left"/>
    <origin xyz="0 0 {pz:.6g}" rpy="0 0 0"/><axis xyz="0 1 0"/>
    <limit lower="{g.min_opening_m / 2:.6g}" upper="{half_stroke:.6g}" velocity="{vel:.6g}" effort="{effort:.6g}"/>
  </joint>
  <link name="finger_left">{_inertia_box(finger_mass, finger_size, left_xyz)}{_box(finger_size, left_xyz)}</link>
  <joint name="{FINGER_MIMIC_JOINT}" type="prismatic">
    <parent link="gripper_base"/><child link="finger_right"/>
    <origin xyz="0 0 {pz:.6g}" rpy="0 0 0"/><axis xyz="0 -1 0"/>
    <limit lower="{g.min_opening_m / 2:.6g}" upper="{half_stroke:.6g}" velocity="{vel:.6g}" effort="{effort:.6g}"/>
    <mimic joint="{FINGER_JOINT}" multiplier="1" offset="0"/>
  </joint>
  <link name="finger_right">{_inertia_box(finger_mass, finger_size, right_xyz)}{_box(finger_size, right_xyz)}</link>
  <joint name="tcp_joint" type="fixed">
    <parent link="{flange}"/><child link="{TCP_LINK}"/><origin xyz="0 0 {g.tcp_z_m:.6g}" rpy="0 0 0"/>
  </joint>
  <link name="{TCP_LINK}"/>
"""


def cell_urdf(cell: Cell) -> str:
    """URDF text of the cell's arm with its gripper (robot base at the URDF origin)."""
    text = cell.urdf_path.read_text()
    frag = gripper_urdf_fragment(cell.spec.gripper, cell.spec.robot.flange_link)
    idx = text.rindex("</robot>")
    return text[:idx] + frag + text[idx:]


def cell_srdf(cell: Cell) -> str:
    """SRDF of arm + gripper: the robot's SRDF plus the gripper group, end effector and pairs."""
    root = ET.parse(cell.srdf_path).getroot()
    flange = cell.spec.robot.flange_link
    # Last arm link (parent of the flange) touches the palm; fingers touch palm and each other.
    urdf = ET.parse(cell.urdf_path).getroot()
    last_link = next(
        str(j.find("parent").get("link"))  # type: ignore[union-attr]
        for j in urdf.findall("joint")
        if j.find("child").get("link") == flange  # type: ignore[union-attr]
    )
    grp = ET.SubElement(root, "group", name="gripper")
    for link in ("gripper_base", "finger_left", "finger_right"):
        ET.SubElement(grp, "link", name=link)
    for name, value in (
        ("open", cell.spec.gripper.stroke_m / 2),
        ("closed", cell.spec.gripper.min_opening_m / 2),
    ):
        gs = ET.SubElement(root, "group_state", name=name, group="gripper")
        ET.SubElement(gs, "joint", name=FINGER_JOINT, value=f"{value:.6g}")
    ET.SubElement(
        root, "end_effector", name="gripper", parent_link=flange, group="gripper", parent_group="manipulator"
    )
    ET.SubElement(root, "passive_joint", name=FINGER_MIMIC_JOINT)
    pairs = [
        (last_link, "gripper_base", "Adjacent"),
        ("gripper_base", "finger_left", "Adjacent"),
        ("gripper_base", "finger_right", "Adjacent"),
        ("finger_left", "finger_right", "Never"),
        (last_link, "finger_left", "Never"),
        (last_link, "finger_right", "Never"),
    ]
    for a, b, reason in pairs:
        ET.SubElement(root, "disable_collisions", link1=a, link2=b, reason=reason)
    ET.indent(root, space="  ")
    return '<?xml version="1.0"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
