"""ROS 2 runtime helpers: a quick self-check of rclpy, DDS and the project's interface types."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import rclpy
from flexcell_interfaces.msg import CellStatus
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy


def runtime_check(cell_name: str, timeout_s: float = 10.0) -> dict[str, Any]:
    """Bring up a node, publish a CellStatus and receive it back through DDS.

    Returns the ROS distro, the RMW implementation, the node name and the round-trip time.
    Raises ``RuntimeError`` if the message does not come back within ``timeout_s``.
    """
    qos = QoSProfile(
        depth=1, reliability=QoSReliabilityPolicy.RELIABLE, durability=QoSDurabilityPolicy.TRANSIENT_LOCAL
    )
    got = threading.Event()
    t_recv: list[float] = []
    context = rclpy.Context()
    rclpy.init(args=None, context=context)
    try:
        node = rclpy.create_node("flexcell_demo", context=context)

        def on_status(_msg: CellStatus) -> None:
            t_recv.append(time.perf_counter())
            got.set()

        node.create_subscription(CellStatus, "/cell/status", on_status, qos)
        pub = node.create_publisher(CellStatus, "/cell/status", qos)
        ex = SingleThreadedExecutor(context=context)
        ex.add_node(node)
        msg = CellStatus(state=CellStatus.IDLE, state_name="IDLE", variant="", last_fault="")
        msg.stamp = node.get_clock().now().to_msg()
        t0 = time.perf_counter()
        pub.publish(msg)
        deadline = t0 + timeout_s
        while not got.is_set() and time.perf_counter() < deadline:
            ex.spin_once(timeout_sec=0.05)
        ex.shutdown()
        node.destroy_node()
    finally:
        rclpy.try_shutdown(context=context)
    if not got.is_set():
        raise RuntimeError(f"/cell/status did not round-trip within {timeout_s} s")
    return {
        "distro": os.environ.get("ROS_DISTRO", "jazzy"),
        "rmw": rclpy.get_rmw_implementation_identifier(),
        "node": "/flexcell_demo",
        "roundtrip_ms": (t_recv[0] - t0) * 1000.0,
        "cell": cell_name,
    }
