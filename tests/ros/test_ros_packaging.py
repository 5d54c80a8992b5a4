"""Bring-up descriptions: ``flexcell up``, the launch file and the ament package list the same nodes."""

from __future__ import annotations

import ast
import importlib.util
import xml.etree.ElementTree as ET
from pathlib import Path

from flexcell_ros.bringup import node_command
from flexcell_ros.node_specs import NODES

REPO = Path(__file__).resolve().parents[2]
PKG = REPO / "ros_ws" / "src" / "flexcell_ros"


def test_launch_file_uses_the_same_node_list_as_flexcell_up() -> None:
    spec = importlib.util.spec_from_file_location("flexcell_launch", REPO / "launch" / "flexcell.launch.py")
    assert spec is not None and spec.loader is not None
    launch = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(launch)  # launch/launch_ros are imported only when generating a description
    assert [n.name for n in launch.launch_nodes(sim=True)] == [n.name for n in NODES]
    assert [n.name for n in launch.launch_nodes(sim=False)] == ["workflow_executor", "cell_manager"]
    # flexcell up runs each node as its module, named after its spec and with the shared parameter file
    for node in NODES:
        cmd = node_command(node, Path("p.yaml"))
        assert cmd[1:3] == ["-m", node.module] and f"__node:={node.name}" in cmd and "p.yaml" in cmd
        assert importlib.util.find_spec(node.module) is not None


def test_ament_package_installs_one_executable_per_node() -> None:
    tree = ast.parse((PKG / "setup.py").read_text())
    scripts = next(
        ast.literal_eval(n.value)
        for n in ast.walk(tree)
        if isinstance(n, ast.Assign) and any(getattr(t, "id", "") == "NODE_SCRIPTS" for t in n.targets)
    )
    assert scripts == {n.executable: f"{n.module}:main" for n in NODES}
    xml = ET.parse(PKG / "package.xml").getroot()
    assert xml.findtext("name") == "flexcell_ros"
    assert xml.find("export/build_type") is not None and xml.findtext("export/build_type") == "ament_python"
    assert (PKG / "resource" / "flexcell_ros").is_file()
    deps = {d.text for d in xml.iter() if d.tag.endswith("depend")}
    assert {"rclpy", "flexcell_interfaces", "trajectory_msgs", "std_srvs", "diagnostic_msgs"} <= deps
