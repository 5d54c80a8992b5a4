"""Robot descriptions written by the project from published DH tables and datasheet limits.

``cell_config/robots/<robot>/robot.yaml`` holds the facts (DH table, joint ranges, speeds, masses,
link radii for the simple collision geometry); :func:`generate` writes ``<robot>.urdf``,
``<robot>.srdf`` (adjacent-link pairs disabled) and ``joint_limits.yaml`` beside it.
The generated files are committed; a test regenerates them and fails on drift.

Standard DH (``convention: standard``): T_i = Rz(theta) Tz(d) Tx(a) Rx(alpha).
Modified DH (``convention: modified``, Craig): T_i = Rx(alpha_{i-1}) Tx(a_{i-1}) Rz(theta) Tz(d).
In URDF a joint rotates about z of its origin frame, so for standard DH the constant part
Tz(d) Tx(a) Rx(alpha) of joint i becomes the origin of joint i+1 (and of the flange).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Literal

import numpy as np
import yaml
from pydantic import Field
from scipy.spatial.transform import Rotation

from cell_config.schema import StrictModel

ROBOTS_DIR = Path(__file__).resolve().parent / "robots"


class DHJoint(StrictModel):
    name: str
    a_m: float
    d_m: float
    alpha_rad: float
    theta_offset_rad: float = 0.0
    lower_rad: float
    upper_rad: float
    max_velocity_rad_s: float = Field(gt=0)
    max_acceleration_rad_s2: float = Field(gt=0)
    max_jerk_rad_s3: float = Field(gt=0)
    max_effort_nm: float = Field(gt=0)
    link_mass_kg: float = Field(gt=0)
    link_radius_m: float = Field(gt=0, description="radius of the link's collision capsules")


class RobotDefinition(StrictModel):
    name: str
    convention: Literal["standard", "modified"]
    source: str = Field(description="where the DH table and limits were published")
    base_radius_m: float = 0.075
    base_height_m: float = 0.0
    flange_d_m: float = Field(default=0.0, description="modified DH only: flange offset along last z")
    flange_rpy_rad: tuple[float, float, float] = (0.0, 0.0, 0.0)
    joints: list[DHJoint]
    home_rad: list[float]
    planning_limits: dict[str, tuple[float, float]] = Field(
        default_factory=dict,
        description="cell-level tightening of joint ranges, written to joint_limits.yaml",
    )


def _T(
    xyz: tuple[float, float, float] | np.ndarray, rpy: tuple[float, float, float] | np.ndarray
) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3] = Rotation.from_euler("xyz", rpy).as_matrix()
    T[:3, 3] = xyz
    return T


def _origin(T: np.ndarray) -> str:
    xyz = " ".join(f"{v:.6g}" for v in T[:3, 3])
    with warnings.catch_warnings():  # gimbal lock at +-90 deg pitch is fine: any split is exact
        warnings.simplefilter("ignore", UserWarning)
        rpy = " ".join(f"{v:.6g}" for v in Rotation.from_matrix(T[:3, :3]).as_euler("xyz"))
    return f'<origin xyz="{xyz}" rpy="{rpy}"/>'


def _tz(d: float) -> np.ndarray:
    return _T((0, 0, d), (0, 0, 0))


def _tx(a: float) -> np.ndarray:
    return _T((a, 0, 0), (0, 0, 0))


def _rx(al: float) -> np.ndarray:
    return _T((0, 0, 0), (al, 0, 0))


def _segment_capsule(p0: np.ndarray, p1: np.ndarray, radius: float) -> str:
    """A cylinder from ``p0`` to ``p1`` (3,) in the link frame (URDF has no capsule)."""
    v = np.asarray(p1, float) - np.asarray(p0, float)
    length = float(np.linalg.norm(v))
    if length < 1e-6:
        return ""
    rot, _ = Rotation.align_vectors([v / length], [[0.0, 0.0, 1.0]])  # takes +z onto the segment
    T = np.eye(4)
    T[:3, :3] = rot.as_matrix()
    T[:3, 3] = (np.asarray(p0, float) + np.asarray(p1, float)) / 2
    geom = f'<geometry><cylinder radius="{radius:.4g}" length="{length:.6g}"/></geometry>'
    return f"    <collision>{_origin(T)}{geom}</collision>\n    <visual>{_origin(T)}{geom}</visual>\n"


def _joint_housing(radius: float) -> str:
    """A short cylinder around the joint axis at the link origin."""
    geom = f'<geometry><cylinder radius="{radius:.4g}" length="{2.2 * radius:.4g}"/></geometry>'
    o = '<origin xyz="0 0 0" rpy="0 0 0"/>'
    return f"    <collision>{o}{geom}</collision>\n    <visual>{o}{geom}</visual>\n"


def _inertial(mass: float, com: np.ndarray, radius: float, length: float) -> str:
    # Solid cylinder about its own axis, a fair stand-in for a tubular link.
    # Isotropic bound: the link may lie along any axis of its frame.
    ixx = izz = mass * max((3 * radius**2 + length**2) / 12, radius**2 / 2)
    return (
        f'    <inertial><origin xyz="{com[0]:.5g} {com[1]:.5g} {com[2]:.5g}" rpy="0 0 0"/>'
        f'<mass value="{mass:.5g}"/>'
        f'<inertia ixx="{ixx:.5g}" ixy="0" ixz="0" iyy="{ixx:.5g}" iyz="0" izz="{izz:.5g}"/></inertial>\n'
    )


def build_urdf(robot: RobotDefinition) -> str:
    n = len(robot.joints)
    # origins[i]: origin of joint i in the frame of link i-1 (link -1 = base_link);
    # origins[n]: the flange in the last link's frame.
    origins: list[np.ndarray] = []
    if robot.convention == "standard":
        origins.append(_tz(robot.base_height_m))
        for j in robot.joints:
            origins.append(_tz(j.d_m) @ _tx(j.a_m) @ _rx(j.alpha_rad))
    else:
        for j in robot.joints:
            origins.append(_rx(j.alpha_rad) @ _tx(j.a_m) @ _tz(j.d_m))
        origins[0] = _tz(robot.base_height_m) @ origins[0]
        origins.append(_tz(robot.flange_d_m))
    origins[n] = origins[n] @ _T((0, 0, 0), robot.flange_rpy_rad)

    lines = [
        '<?xml version="1.0"?>',
        f"<!-- {robot.name}: generated by cell_config/robot_description.py from robot.yaml; do not edit."
        f" Source of the facts: {robot.source} -->",
        f'<robot name="{robot.name}">',
        '  <link name="base_link">',
        _inertial(2.0, np.array([0, 0, 0.03]), robot.base_radius_m, 0.06).rstrip("\n"),
        _segment_capsule(
            np.zeros(3), np.array([0, 0, max(robot.base_height_m, 0.06)]), robot.base_radius_m
        ).rstrip("\n"),
        "  </link>",
    ]
    for i, j in enumerate(robot.joints):
        link = f"link{i + 1}"
        parent = "base_link" if i == 0 else f"link{i}"
        nxt = origins[i + 1]
        # Collision capsules along the DH offsets to the next joint: first along z (d), then x (a).
        body = _joint_housing(j.link_radius_m)
        o = np.zeros(3)
        if robot.convention == "standard":
            p_d = np.array([0.0, 0.0, j.d_m])
            body += _segment_capsule(o, p_d, j.link_radius_m * 0.85)
            body += _segment_capsule(p_d, nxt[:3, 3], j.link_radius_m * 0.85)
        else:
            body += _segment_capsule(o, nxt[:3, 3], j.link_radius_m * 0.85)
        com = nxt[:3, 3] / 2
        length = float(np.linalg.norm(nxt[:3, 3])) or 2 * j.link_radius_m
        lines += [
            f'  <joint name="{j.name}" type="revolute">',
            f'    <parent link="{parent}"/><child link="{link}"/>',
            f"    {_origin(origins[i])}",
            '    <axis xyz="0 0 1"/>',
            f'    <limit lower="{j.lower_rad:.6g}" upper="{j.upper_rad:.6g}" '
            f'velocity="{j.max_velocity_rad_s:.6g}" effort="{j.max_effort_nm:.6g}"/>',
            "  </joint>",
            f'  <link name="{link}">',
            _inertial(j.link_mass_kg, com, j.link_radius_m, length).rstrip("\n"),
            body.rstrip("\n"),
            "  </link>",
        ]
    lines += [
        '  <joint name="flange" type="fixed">',
        f'    <parent link="link{n}"/><child link="tool0"/>',
        f"    {_origin(origins[n])}",
        "  </joint>",
        '  <link name="tool0"/>',
        "</robot>",
    ]
    return "\n".join(x for x in lines if x) + "\n"


def build_srdf(robot: RobotDefinition) -> str:
    n = len(robot.joints)
    links = ["base_link"] + [f"link{i + 1}" for i in range(n)]
    pairs = [(links[i], links[i + 1], "Adjacent") for i in range(n)]
    # The spherical wrist's links are too close for the capsule model: they never meet in reality.
    pairs += [(links[i], links[i + 2], "Never") for i in range(max(0, n - 3), n - 1)]
    home = "\n".join(
        f'    <joint name="{j.name}" value="{q:.6g}"/>'
        for j, q in zip(robot.joints, robot.home_rad, strict=True)
    )
    lines = [
        '<?xml version="1.0"?>',
        "<!-- generated by cell_config/robot_description.py; do not edit -->",
        f'<robot name="{robot.name}">',
        '  <group name="manipulator">',
        '    <chain base_link="base_link" tip_link="tool0"/>',
        "  </group>",
        '  <group_state name="home" group="manipulator">',
        home,
        "  </group_state>",
        '  <virtual_joint name="world_joint" type="fixed" parent_frame="world" child_link="base_link"/>',
    ]
    lines += [f'  <disable_collisions link1="{a}" link2="{b}" reason="{r}"/>' for a, b, r in pairs]
    lines.append("</robot>")
    return "\n".join(lines) + "\n"


def build_joint_limits(robot: RobotDefinition) -> str:
    table: dict[str, dict[str, float | bool]] = {}
    for j in robot.joints:
        entry: dict[str, float | bool] = {}
        if j.name in robot.planning_limits:
            lo, hi = robot.planning_limits[j.name]
            entry.update(has_position_limits=True, min_position=lo, max_position=hi)
        entry.update(
            has_velocity_limits=True,
            max_velocity=j.max_velocity_rad_s,
            has_acceleration_limits=True,
            max_acceleration=j.max_acceleration_rad_s2,
            has_jerk_limits=True,
            max_jerk=j.max_jerk_rad_s3,
        )
        table[j.name] = entry
    head = "# MoveIt-style joint limits, generated by cell_config/robot_description.py; do not edit.\n"
    body = {
        "default_velocity_scaling_factor": 0.5,
        "default_acceleration_scaling_factor": 0.5,
        "joint_limits": table,
    }
    return head + yaml.safe_dump(body, sort_keys=False)


def load_definition(robot: str) -> RobotDefinition:
    path = ROBOTS_DIR / robot / "robot.yaml"
    return RobotDefinition.model_validate(yaml.safe_load(path.read_text()))


def generated_files(robot: str) -> dict[Path, str]:
    d = load_definition(robot)
    out = ROBOTS_DIR / robot
    return {
        out / f"{robot}.urdf": build_urdf(d),
        out / f"{robot}.srdf": build_srdf(d),
        out / "joint_limits.yaml": build_joint_limits(d),
    }


def generate(robot: str) -> list[Path]:
    files = generated_files(robot)
    for p, text in files.items():
        p.write_text(text)
    return list(files)


if __name__ == "__main__":
    for name in sorted(p.name for p in ROBOTS_DIR.iterdir() if (p / "robot.yaml").is_file()):
        for p in generate(name):
            print(p)
