"""The cell's node list: the single source for ``flexcell up`` and ``launch/flexcell.launch.py``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NodeSpec:
    """One node of the graph.

    Attributes
    ----------
    name : ROS node name (also its section in ``cell_config/ros_params.yaml``)
    module : Python module whose ``main(argv)`` runs the node in its own process
    executable : console-script name a colcon build installs (``ros2 run flexcell <executable>``)
    sim_only : started only when the cell is simulated (a real site runs ros2_control instead)
    """

    name: str
    module: str
    executable: str
    sim_only: bool = False


NODES: tuple[NodeSpec, ...] = (
    NodeSpec("sim_cell", "flexcell_ros.sim_cell", "sim_cell", sim_only=True),
    NodeSpec("workflow_executor", "flexcell_ros.workflow_executor", "workflow_executor"),
    NodeSpec("cell_manager", "flexcell_ros.cell_manager", "cell_manager"),
)


def node_spec(name: str) -> NodeSpec:
    for spec in NODES:
        if spec.name == name:
            return spec
    raise KeyError(f"no node {name!r} (known: {', '.join(s.name for s in NODES)})")
