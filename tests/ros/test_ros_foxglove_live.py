"""The simulated cell live for Foxglove: sim_cell's WebSocket server, read with a plain WebSocket client
speaking Foxglove's protocol, the messages decoded with the schemas the server advertises."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from flexcell_ros.bringup import Graph
from flexcell_ros.client import CellClient
from foxglove_viewer import Viewer, link1_yaw
from websockets.sync.client import connect

from cell_config import load_cell
from motion import MotionPlanner

pytestmark = pytest.mark.ros

Start = Callable[..., tuple[Graph, CellClient]]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_live_scene_follows_the_cell(cell_graph: Start, workflow_1: Path) -> None:
    port = _free_port()
    _graph, client = cell_graph(sim_cell={"foxglove_port": port})
    with connect(f"ws://127.0.0.1:{port}", subprotocols=["foxglove.sdk.v1"]) as ws:
        viewer = Viewer(ws)
        # the cell as it is: the scene (re-sent every 2 s for viewers that come later) and the poses
        viewer.read_until(
            lambda: "/scene" in viewer.received and len(viewer.received.get("/tf", [])) >= 10,
            10.0,
            "the scene and the poses",
        )
        ids = {e.id for e in viewer.received["/scene"][-1].entities}
        assert {"link1", "finger_left", "finger_right"} <= ids and not any(i.startswith("part:") for i in ids)
        stamps = [
            t.transforms[0].timestamp.seconds + 1e-9 * t.transforms[0].timestamp.nanos
            for t in viewer.received["/tf"]
        ]
        assert np.all(np.diff(stamps) > 0)
        # a loaded workflow rebuilds the simulation: its parts appear in the scene
        assert client.load_variant(str(workflow_1)).success
        n = len(viewer.received["/scene"])
        viewer.read_until(lambda: len(viewer.received["/scene"]) > n, 10.0, "the new scene")
        assert "part:box0" in {e.id for e in viewer.received["/scene"][-1].entities}
        # the robot moving shows in the poses
        yaw0 = link1_yaw(viewer.received["/tf"][-1])
        assert client.trigger("start").success
        viewer.read_until(
            lambda: abs(link1_yaw(viewer.received["/tf"][-1]) - yaw0) > 0.2, 30.0, "link1 turning"
        )


def test_a_port_in_use_stops_sim_cell_before_it_offers_topics(tmp_path: Path, ros_domain_id: int) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = int(busy.getsockname()[1])
        graph = Graph(
            overrides={"sim_cell": {"foxglove_port": port}}, domain_id=ros_domain_id, log_dir=tmp_path
        )
        graph.start(["sim_cell"])
        try:
            proc = graph.procs["sim_cell"]
            assert proc.wait(timeout=60) == 2
            assert f"sim_cell.foxglove_port {port}: cannot serve" in graph.log("sim_cell")
        finally:
            graph.shutdown()


def test_bridge_from_ros_topics_mirrors_the_cell(
    cell_graph: Start, workflow_1: Path, ros_domain_id: int
) -> None:
    """flexcell ros foxglove: the view a real cell gets, built from /joint_states and the part poses only."""
    _graph, client = cell_graph()  # sim_cell's own server off: the bridge is the only one
    port = _free_port()
    assert client.load_variant(str(workflow_1)).success
    bridge = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flexcell.cli",
            "ros",
            "foxglove",
            "--port",
            str(port),
            "--workflow",
            str(workflow_1),
            "--domain-id",
            str(ros_domain_id),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30.0
        while True:  # the server is up once the port takes connections
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1.0).close()
                break
            except OSError:
                assert bridge.poll() is None and time.monotonic() < deadline, (
                    bridge.stderr.read() if bridge.stderr else ""
                )
                time.sleep(0.2)
        with connect(f"ws://127.0.0.1:{port}", subprotocols=["foxglove.sdk.v1"]) as ws:
            viewer = Viewer(ws)
            viewer.read_until(
                lambda: "/scene" in viewer.received and len(viewer.received.get("/tf", [])) >= 5,
                20.0,
                "the scene and the poses",
            )
            assert "part:box0" in {e.id for e in viewer.received["/scene"][-1].entities}
            # the poses are the cell's: the part where the simulator says it is, the arm where it is
            tf = {t.child_frame_id: t for t in viewer.received["/tf"][-1].transforms}
            box = tf["body/part:box0"].translation
            np.testing.assert_allclose([box.x, box.y, box.z], client.part_poses["box0"][:3, 3], atol=0.002)
            tcp = tf["body/tcp"].translation
            fk = MotionPlanner(load_cell()).fk(client.joint_samples()[-1].q)[:3, 3]
            np.testing.assert_allclose([tcp.x, tcp.y, tcp.z], fk, atol=0.002)
            yaw0 = link1_yaw(viewer.received["/tf"][-1])
            assert client.trigger("start").success
            viewer.read_until(
                lambda: abs(link1_yaw(viewer.received["/tf"][-1]) - yaw0) > 0.2, 30.0, "link1 turning"
            )
    finally:
        bridge.send_signal(signal.SIGINT)
        out, err = bridge.communicate(timeout=30)
    assert bridge.returncode == 0, err
    assert "stopped after" in out
