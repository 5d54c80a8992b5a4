"""The simulated cell live for Foxglove: sim_cell's WebSocket server, read with a plain WebSocket client
speaking Foxglove's protocol, the messages decoded with the schemas the server advertises."""

from __future__ import annotations

import base64
import json
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from flexcell_ros.bringup import Graph
from flexcell_ros.client import CellClient
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from websockets.sync.client import ClientConnection, connect

pytestmark = pytest.mark.ros

Start = Callable[..., tuple[Graph, CellClient]]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Viewer:
    """A minimal Foxglove client: subscribes to every advertised channel and decodes what arrives."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.pool = descriptor_pool.DescriptorPool()
        self.topics: dict[int, str] = {}  # subscription id (= channel id) -> topic
        self.classes: dict[int, Any] = {}
        self.received: dict[str, list[Any]] = {}

    def _advertised(self, channels: list[dict[str, Any]]) -> None:
        subs = []
        for ch in channels:
            assert ch["encoding"] == "protobuf" and ch["schemaEncoding"] == "protobuf"
            for f in descriptor_pb2.FileDescriptorSet.FromString(base64.b64decode(ch["schema"])).file:
                try:
                    self.pool.FindFileByName(f.name)
                except KeyError:
                    self.pool.Add(f)
            desc = self.pool.FindMessageTypeByName(ch["schemaName"])
            self.topics[ch["id"]], self.classes[ch["id"]] = ch["topic"], message_factory.GetMessageClass(desc)
            subs.append({"id": ch["id"], "channelId": ch["id"]})
        self.ws.send(json.dumps({"op": "subscribe", "subscriptions": subs}))

    def read_until(self, done: Callable[[], bool], timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while not done():
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {what}; got {sorted(self.received)}")
            try:
                msg = self.ws.recv(timeout=left)
            except TimeoutError:
                continue
            if isinstance(msg, str):
                op = json.loads(msg)
                if op["op"] == "advertise":
                    self._advertised(op["channels"])
                continue
            assert msg[0] == 0x01  # message data: opcode, subscription id, log time, payload
            sub = int.from_bytes(msg[1:5], "little")
            self.received.setdefault(self.topics[sub], []).append(self.classes[sub].FromString(msg[13:]))


def _link1_yaw(tf: Any) -> float:
    t = {x.child_frame_id: x for x in tf.transforms}["body/link1"]
    q = t.rotation
    return float(np.arctan2(2 * (q.w * q.z + q.x * q.y), 1 - 2 * (q.y**2 + q.z**2)))


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
        yaw0 = _link1_yaw(viewer.received["/tf"][-1])
        assert client.trigger("start").success
        viewer.read_until(
            lambda: abs(_link1_yaw(viewer.received["/tf"][-1]) - yaw0) > 0.2, 30.0, "link1 turning"
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
