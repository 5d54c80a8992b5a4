"""Gazebo export: the SDF world validates with `ign sdf -k`, the URDF carries correct ros2_control tags."""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from cell_config import Cell
from cell_config.compose import FINGER_JOINT, FINGER_MIMIC_JOINT
from sim.gazebo_export import export_gazebo
from workflow_gen.model import load_workflow

IGN = shutil.which("ign")
needs_ign = pytest.mark.skipif(
    IGN is None, reason="`ign` (Debian ignition-tools + sdformat-sdf) not installed"
)


@pytest.fixture(scope="module")
def exported(
    scripted_workflow: Path, cell: Cell, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    wf, _ = load_workflow(scripted_workflow)
    return export_gazebo(cell, wf.parts, scripted_workflow.parent, tmp_path_factory.mktemp("gz") / "export")


def _ign_check(path: Path) -> subprocess.CompletedProcess[str]:
    assert IGN is not None
    return subprocess.run([IGN, "sdf", "-k", str(path)], capture_output=True, text=True, timeout=60)


@needs_ign
def test_world_sdf_is_valid(exported: dict[str, Path]) -> None:
    r = _ign_check(exported["world"])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Valid" in r.stdout


@needs_ign
def test_ign_check_can_fail(exported: dict[str, Path], tmp_path: Path) -> None:
    broken = tmp_path / "broken.sdf"
    # Two links of one model with the same name: an error for libsdformat (exit 255).
    broken.write_text(exported["world"].read_text().replace('"station_fixture"', '"station_feeder"'))
    assert _ign_check(broken).returncode != 0


@needs_ign
def test_urdf_converts_to_sdf(exported: dict[str, Path]) -> None:
    r = subprocess.run([IGN, "sdf", "-p", str(exported["urdf"])], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "<joint name='shoulder_pan_joint' type='revolute'>" in r.stdout


def test_world_content(exported: dict[str, Path], cell: Cell) -> None:
    root = ET.parse(exported["world"]).getroot()
    world = root.find("world")
    assert world is not None
    models = {m.get("name"): m for m in world.findall("model")}
    assert set(models) == {"cell", "part_box"}
    links = {lk.get("name") for lk in models["cell"].findall("link")}
    assert {f"station_{s.name}" for s in cell.spec.stations} <= links
    assert {f"obstacle_{o.name}" for o in cell.spec.obstacles} <= links
    # The feeder box centre sits half its height below the station frame (top surface).
    feeder = next(lk for lk in models["cell"].findall("link") if lk.get("name") == "station_feeder")
    xyz = [float(v) for v in (feeder.findtext("pose") or "").split()[:3]]
    assert xyz == pytest.approx([0.40, 0.38, 0.01], abs=1e-9)
    part = models["part_box"]
    assert float(part.findtext("link/inertial/mass") or 0) == pytest.approx(0.072, rel=1e-3)
    assert part.findtext("link/collision/geometry/mesh/uri") == "meshes/box.stl"
    assert (exported["world"].parent / "meshes" / "box.stl").is_file()


def test_urdf_ros2_control_tags(exported: dict[str, Path], cell: Cell) -> None:
    root = ET.parse(exported["urdf"]).getroot()
    rc = root.find("ros2_control")
    assert rc is not None and rc.get("type") == "system"
    assert rc.findtext("hardware/plugin") == "gz_ros2_control/GazeboSimSystem"
    joints = {j.get("name"): j for j in rc.findall("joint")}
    assert set(joints) == {*cell.joint_names, FINGER_JOINT, FINGER_MIMIC_JOINT}
    for name in [*cell.joint_names, FINGER_JOINT]:
        assert [c.get("name") for c in joints[name].findall("command_interface")] == ["position"]
        assert [s.get("name") for s in joints[name].findall("state_interface")] == ["position", "velocity"]
    assert joints[FINGER_MIMIC_JOINT].findall("command_interface") == []
    mimic = next(j for j in root.findall("joint") if j.get("name") == FINGER_MIMIC_JOINT)
    assert mimic.find("mimic") is not None
    plugin = root.find("gazebo/plugin")
    assert plugin is not None
    assert plugin.get("filename") == "gz_ros2_control-system"
    assert plugin.get("name") == "gz_ros2_control::GazeboSimROS2ControlPlugin"
    assert Path(plugin.findtext("parameters") or "") == exported["controllers"]
    fix = next(j for j in root.findall("joint") if j.get("name") == "world_to_base")
    assert fix.find("parent").get("link") == "world"  # type: ignore[union-attr]


def test_controllers_yaml(exported: dict[str, Path], cell: Cell) -> None:
    cfg = yaml.safe_load(exported["controllers"].read_text())
    cm = cfg["controller_manager"]["ros__parameters"]
    assert cm["arm_controller"]["type"] == "joint_trajectory_controller/JointTrajectoryController"
    assert cm["joint_state_broadcaster"]["type"] == "joint_state_broadcaster/JointStateBroadcaster"
    assert cm["gripper_controller"]["type"] == "forward_command_controller/ForwardCommandController"
    arm = cfg["arm_controller"]["ros__parameters"]
    assert arm["joints"] == cell.joint_names
    assert arm["command_interfaces"] == ["position"]
    assert cfg["gripper_controller"]["ros__parameters"] == {
        "joints": [FINGER_JOINT],
        "interface_name": "position",
    }


def test_launch_file_names_the_exported_files(repo: Path) -> None:
    text = (repo / "launch" / "gazebo.launch.py").read_text()
    for needle in (
        "world.sdf",
        "robot.urdf",
        "controllers.yaml",
        "gz_sim.launch.py",
        "joint_state_broadcaster",
        "arm_controller",
        "gripper_controller",
        '"create"',
        "robot_description",
    ):
        assert needle in text
