"""The cell in 3D for Foxglove from its ROS topics alone: what a real cell needs for the live view.

``sim_cell`` serves its own physics state (``foxglove_port``); a real cell has no physics to read, so this
bridge rebuilds the picture from what any cell publishes: the cell's description gives the geometry (the same
MuJoCo model the simulator builds, used here for kinematics only), ``/joint_states`` the arm joints (by name)
and the jaw width, and ``/sim/part_poses`` the parts, where a simulated cell publishes them (a real cell shows
the parts at their start poses). Served with :class:`sim.replay_log.LiveScene`: the same topics as the
recordings and ``sim_cell``'s server.
"""

from __future__ import annotations

import time
from pathlib import Path

import mujoco

from cell_config import load_cell
from flexcell_ros.client import CellClient
from sim.cell_sim import CellSim
from sim.replay_log import LiveScene

FINGER_JOINT = "finger_left_joint"


class SceneBridge:
    """Mirrors a running cell into a kinematic copy of its model and serves it on ``ws://host:port``.

    Parameters
    ----------
    port : WebSocket port of the Foxglove server (0 = any free one, see ``.port``)
    workflow : a workflow.yaml whose parts are shown (None = the cell without parts)
    cell : cell YAML when no workflow is given (None = the default cell)
    domain_id : ROS domain of the cell (None = the environment's)
    """

    def __init__(
        self,
        port: int,
        workflow: Path | str | None = None,
        cell: Path | str | None = None,
        domain_id: int | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.twin = CellSim.from_workflow(workflow) if workflow else CellSim(load_cell(cell), [], Path("."))
        self.twin.reset()
        self.arm_index = {name: i for i, name in enumerate(self.twin.joint_names)}
        self.live = LiveScene(self.twin.model, port, host=host, name="flexcell cell (from ROS)")
        self.client = CellClient(domain_id, name="flexcell_scene_bridge", history=8)
        self.port = self.live.port
        self.frames = 0

    def step(self) -> bool:
        """Copy the latest joint state and part poses into the twin and send a frame; False before the first
        joint state."""
        samples = self.client.joint_samples()
        names = self.client.joint_names
        if not samples or not names:
            return False
        s = samples[-1]
        d, cm = self.twin.data, self.twin.cm
        arm = d.qpos[cm.arm_qpos]
        for name, value in zip(names, s.q, strict=True):
            if name in self.arm_index:
                arm[self.arm_index[name]] = value
        d.qpos[cm.arm_qpos] = arm
        if s.width_m == s.width_m:  # not NaN: the cell reports its jaws
            d.qpos[cm.finger_qpos] = s.width_m / 2.0
        for name, T in self.client.part_poses.items():
            if name in cm.part_qpos:
                self.twin.set_part_pose(name, T)
        d.time = s.stamp_s
        mujoco.mj_kinematics(self.twin.model, d)  # once, for the arm, the jaws and every part
        self.live.on_frame(self.twin, "", "tick")
        self.frames += 1
        return True

    def run(self, rate_hz: float = 30.0, scene_every_s: float = 2.0) -> None:
        """Send frames at ``rate_hz`` (and the whole scene every ``scene_every_s``) until interrupted."""
        next_scene = 0.0
        while True:
            t0 = time.monotonic()
            if t0 >= next_scene:
                next_scene = t0 + scene_every_s
                self.live.send_scene(self.twin.time_s)
            self.step()
            time.sleep(max(0.0, 1.0 / rate_hz - (time.monotonic() - t0)))

    def close(self) -> None:
        self.live.close()
        self.client.close()
