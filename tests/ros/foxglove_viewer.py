"""A minimal Foxglove WebSocket client for the tests (a uniquely named module)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from websockets.sync.client import ClientConnection


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


def link1_yaw(tf: Any) -> float:
    t = {x.child_frame_id: x for x in tf.transforms}["body/link1"]
    q = t.rotation
    return float(np.arctan2(2 * (q.w * q.z + q.x * q.y), 1 - 2 * (q.y**2 + q.z**2)))
