"""A client of a running cell graph, over ROS only: operator services, status, joint states, part poses.

Used by the CLI (``flexcell up`` status line), the ROS benchmark and the end-to-end tests. It owns its own
rclpy context and spins it in a background thread, so callers just call methods.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import rclpy
from flexcell_interfaces.msg import CellStatus
from flexcell_interfaces.srv import LoadVariant
from geometry_msgs.msg import PoseArray
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CompressedImage, JointState
from std_msgs.msg import String
from std_srvs.srv import Trigger

from flexcell_ros import conversions as conv

FINGER_JOINT = "finger_left_joint"


@dataclass
class JointSample:
    """One ``/joint_states`` message: ``stamp_s`` sim time, ``wall_s`` receive time (perf_counter),
    ``q (n,)``, ``qd (n,)`` arm joints, ``width_m`` jaw opening."""

    stamp_s: float
    wall_s: float
    q: np.ndarray
    qd: np.ndarray
    width_m: float


class CellClient:
    """Operator-side view of a cell graph on the current ROS_DOMAIN_ID (or ``domain_id``)."""

    def __init__(
        self,
        domain_id: int | None = None,
        name: str = "flexcell_client",
        history: int = 200_000,
        motion: bool = True,
        status_history: int | None = None,
        camera: bool = False,
    ) -> None:
        """``motion=False`` skips the joint-state, clock and part-pose subscriptions (an operator view
        that only needs /cell/status and the services: no 500 Hz callbacks); ``status_history`` bounds the
        kept /cell/status messages (None = all of them, for tests that look back); ``camera`` keeps the
        latest image of ``/cell/camera/image/compressed`` (:meth:`camera_image`)."""
        self.context = rclpy.Context()
        if domain_id is None:
            rclpy.init(context=self.context)
        else:
            rclpy.init(context=self.context, domain_id=domain_id)
        self.node = rclpy.create_node(name, context=self.context)
        self.lock = threading.Lock()
        self.statuses: deque[CellStatus] = deque(maxlen=status_history)
        self.status_received_s = -1.0  # time.monotonic() of the last /cell/status
        self.joints: deque[JointSample] = deque(maxlen=history)
        self.joint_names: list[str] = []  # the arm joints of the last /joint_states, in its order (q's order)
        self.part_names: list[str] = []
        self.part_poses: dict[str, np.ndarray] = {}
        self.sim_time_s = -1.0
        self._image: tuple[bytes, str, float] | None = None  # (data, format, time.monotonic() received)
        latched = QoSProfile(
            depth=1, reliability=QoSReliabilityPolicy.RELIABLE, durability=QoSDurabilityPolicy.TRANSIENT_LOCAL
        )
        self.node.create_subscription(CellStatus, "/cell/status", self._on_status, 50)
        if motion:
            self.node.create_subscription(JointState, "/joint_states", self._on_joints, 100)
            self.node.create_subscription(Clock, "/clock", self._on_clock, 10)
            self.node.create_subscription(String, "/sim/part_names", self._on_names, latched)
            self.node.create_subscription(PoseArray, "/sim/part_poses", self._on_poses, 10)
        if camera:
            self.node.create_subscription(CompressedImage, "/cell/camera/image/compressed", self._on_image, 2)
        self.triggers = {
            n: self.node.create_client(Trigger, f"/cell_manager/{n}")
            for n in ("start", "pause", "resume", "stop", "reset")
        }
        self.load_client = self.node.create_client(LoadVariant, "/cell_manager/load_variant")
        # One thread: messages are handled in arrival order (the tests compare consecutive joint states).
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self._spin, daemon=True)
        self.thread.start()

    def _spin(self) -> None:
        try:
            self.executor.spin()
        except ExternalShutdownException:
            pass

    def close(self) -> None:
        self.executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)
        self.thread.join(timeout=2.0)

    def __enter__(self) -> CellClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # --- subscriptions -------------------------------------------------------------------------------
    def _on_status(self, msg: CellStatus) -> None:
        with self.lock:
            self.statuses.append(msg)
            self.status_received_s = time.monotonic()

    def _on_joints(self, msg: JointState) -> None:
        wall = time.perf_counter()
        names = [n for n in msg.name if n != FINGER_JOINT]
        stamp, q, qd = conv.joint_state_from_msg(msg, names)
        width = (
            2.0 * msg.position[list(msg.name).index(FINGER_JOINT)]
            if FINGER_JOINT in msg.name
            else float("nan")
        )
        with self.lock:
            self.joints.append(JointSample(stamp, wall, q, qd, width))
            self.joint_names = names

    def _on_image(self, msg: CompressedImage) -> None:
        image = (bytes(msg.data), str(msg.format), time.monotonic())
        with self.lock:
            self._image = image

    def camera_image(self) -> tuple[bytes, str, float] | None:
        """The latest camera image: ``(data, format, age_s)``, or None before the first one."""
        with self.lock:
            if self._image is None:
                return None
            data, fmt, received = self._image
        return data, fmt, time.monotonic() - received

    def _on_clock(self, msg: Clock) -> None:
        self.sim_time_s = conv.time_from_msg(msg.clock)

    def _on_names(self, msg: String) -> None:
        self.part_names = conv.part_names_from_msg(msg)

    def _on_poses(self, msg: PoseArray) -> None:
        poses = conv.part_poses_from_msg(msg, self.part_names)
        if poses:
            self.part_poses = poses

    # --- queries -------------------------------------------------------------------------------------
    @property
    def status(self) -> CellStatus | None:
        with self.lock:
            return self.statuses[-1] if self.statuses else None

    def status_age_s(self) -> float:
        """Seconds since the last /cell/status arrived (infinite before the first one)."""
        with self.lock:
            return time.monotonic() - self.status_received_s if self.statuses else float("inf")

    def joint_samples(self) -> list[JointSample]:
        with self.lock:
            return list(self.joints)

    def wait_for(self, predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
        """Poll ``predicate`` every 10 ms; TimeoutError naming ``what`` after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}")
            time.sleep(0.01)

    def wait_state(self, state_name: str, timeout_s: float) -> CellStatus:
        """Wait for ``state_name`` on /cell/status; a FAULT (when not the state waited for) fails at once.

        A FAULT in the first 0.5 s is not held against the wait: a status sent before the service call that
        started this wait (e.g. a resume) may still be in flight.
        """
        t0 = time.monotonic()

        def reached() -> bool:
            st = self.status
            late = time.monotonic() - t0 > 0.5
            if st is not None and st.state_name == "FAULT" and state_name != "FAULT" and late:
                raise AssertionError(f"cell went to FAULT while waiting for {state_name}: {st.last_fault}")
            return st is not None and st.state_name == state_name

        self.wait_for(
            reached,
            timeout_s,
            f"/cell/status {state_name} (last: {self.status.state_name if self.status else 'none'}"
            f"{', ' + self.status.last_fault if self.status and self.status.last_fault else ''})",
        )
        status = self.status
        assert status is not None
        return status

    def wait_graph(self, timeout_s: float = 30.0) -> None:
        """Until the manager's services, /joint_states and /cell/status are all there."""
        self.wait_for(
            lambda: (
                all(c.service_is_ready() for c in self.triggers.values())
                and self.load_client.service_is_ready()
                and bool(self.joints)
                and self.status is not None
                and self.node.count_publishers("/execute_workflow/_action/status") > 0
            ),
            timeout_s,
            "the cell graph (manager services, /joint_states, /cell/status, the executor's action)",
        )

    # --- services ------------------------------------------------------------------------------------
    def _call(self, client: Any, request: Any, timeout_s: float) -> Any:
        if not client.wait_for_service(timeout_sec=timeout_s):
            raise TimeoutError(f"service {client.srv_name} not available")
        fut = client.call_async(request)
        done = threading.Event()
        fut.add_done_callback(lambda _f: done.set())
        if not done.wait(timeout_s):
            raise TimeoutError(f"no answer from {client.srv_name} within {timeout_s} s")
        return fut.result()

    def trigger(self, name: str, timeout_s: float = 10.0) -> Trigger.Response:
        return self._call(self.triggers[name], Trigger.Request(), timeout_s)

    def load_variant(
        self, variant: str, force_replan: bool = False, timeout_s: float = 120.0
    ) -> LoadVariant.Response:
        return self._call(
            self.load_client, LoadVariant.Request(variant=variant, force_replan=force_replan), timeout_s
        )

    def publish(self, topic: str, msg: Any) -> None:
        """Publish one message (waits up to 5 s for a subscriber so that it is not lost)."""
        pub = self.node.create_publisher(type(msg), topic, 10)
        deadline = time.monotonic() + 5.0
        while pub.get_subscription_count() == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        pub.publish(msg)
