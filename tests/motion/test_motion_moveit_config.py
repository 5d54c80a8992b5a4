"""Generated MoveIt config files parse back with the keys MoveIt (Jazzy) reads; the planner reads them."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import yaml

from cell_config import Cell
from motion import MotionPlanner, write_moveit_config
from motion.moveit_config import CONFIG_FILES


def test_files_parse_back(tmp_path: Path, ur5e_cell: Cell) -> None:
    out = write_moveit_config(ur5e_cell, tmp_path / "cfg")
    assert sorted(p.name for p in out.iterdir()) == sorted(CONFIG_FILES)
    srdf = ET.parse(out / "robot.srdf").getroot()
    groups = {g.get("name") for g in srdf.findall("group")}
    assert groups == {"manipulator", "gripper"}
    assert srdf.find("end_effector") is not None and srdf.find("virtual_joint") is not None
    assert len(srdf.findall("disable_collisions")) >= 8

    kin = yaml.safe_load((out / "kinematics.yaml").read_text())
    assert set(kin["manipulator"]) == {
        "kinematics_solver",
        "kinematics_solver_search_resolution",
        "kinematics_solver_timeout",
    }

    jl = yaml.safe_load((out / "joint_limits.yaml").read_text())
    assert jl["default_velocity_scaling_factor"] == ur5e_cell.spec.planning.max_velocity_scaling
    for lim in ur5e_cell.limits:
        e = jl["joint_limits"][lim.name]
        assert e["has_velocity_limits"] and e["has_acceleration_limits"]
        assert e["max_velocity"] == lim.velocity and e["max_acceleration"] == lim.acceleration
        assert e["min_position"] == lim.lower and e["max_position"] == lim.upper

    ompl = yaml.safe_load((out / "ompl_planning.yaml").read_text())
    assert ompl["planning_plugins"] == ["ompl_interface/OMPLPlanner"]
    assert "default_planning_request_adapters/CheckStartStateCollision" in ompl["request_adapters"]
    assert "default_planning_response_adapters/AddTimeOptimalParameterization" in ompl["response_adapters"]
    assert "planning_plugin" not in ompl  # the pre-Jazzy key makes MoveItPy fail
    grp = ompl["manipulator"]
    assert grp["default_planner_config"] in ompl["planner_configs"]
    assert all(ompl["planner_configs"][n]["type"].startswith("geometric::") for n in grp["planner_configs"])

    ctl = yaml.safe_load((out / "moveit_controllers.yaml").read_text())
    scm = ctl["moveit_simple_controller_manager"]
    assert scm["controller_names"] == ["arm_controller", "gripper_controller"]
    arm = scm["arm_controller"]
    assert arm["type"] == "FollowJointTrajectory" and arm["action_ns"] == "follow_joint_trajectory"
    assert arm["joints"] == ur5e_cell.joint_names
    assert scm["gripper_controller"]["joints"] == ["finger_left_joint"]


def test_planner_reads_the_generated_files(tmp_path: Path, ur5e_cell: Cell) -> None:
    out = write_moveit_config(ur5e_cell, tmp_path / "cfg")
    # Edit the generated files: the embedded planner must follow them.
    jl_path = out / "joint_limits.yaml"
    jl = yaml.safe_load(jl_path.read_text())
    jl["joint_limits"]["elbow_joint"]["max_velocity"] = 1.0
    jl_path.write_text(yaml.safe_dump(jl))
    ompl_path = out / "ompl_planning.yaml"
    ompl = yaml.safe_load(ompl_path.read_text())
    ompl["manipulator"]["default_planner_config"] = "RRTkConfigDefault"
    ompl_path.write_text(yaml.safe_dump(ompl))
    p = MotionPlanner(ur5e_cell, profiles_path=out)
    i = p.joint_names.index("elbow_joint")
    np.testing.assert_allclose(p.vel_max[i], 1.0 * ur5e_cell.spec.planning.max_velocity_scaling)
    assert p.default_profile == "RRTkConfigDefault"


def test_cli_export_moveit(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "flexcell"
    r = subprocess.run(
        [str(exe), "export", "moveit", "--out", str(tmp_path / "m")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "m" / "ompl_planning.yaml").is_file()
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\n")
    r = subprocess.run(
        [str(exe), "export", "moveit", "--cell", str(bad), "--out", str(tmp_path / "n")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and "bad.yaml" in r.stderr
    assert not (tmp_path / "n").exists()
