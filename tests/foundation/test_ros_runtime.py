"""Real ROS 2 Jazzy in the venv: two processes, the project's own interface types, an isolated domain."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

rclpy = pytest.importorskip("rclpy", reason="ROS 2 (rclpy) not installed: run make setup")
from flexcell_interfaces.action import ExecuteWorkflow  # noqa: E402
from flexcell_interfaces.msg import CellStatus  # noqa: E402
from flexcell_interfaces.srv import LoadVariant  # noqa: E402
from rclpy.action import ActionClient  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402

PEER = Path(__file__).with_name("ros_peer.py")


@pytest.fixture
def peer(ros_domain_id: int) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen([sys.executable, str(PEER)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    yield proc
    proc.terminate()
    try:
        rc = proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        rc = None
    proc.stdout.close()
    assert rc == 0, f"the peer node did not shut down cleanly on SIGTERM (exit {rc})"


def test_message_service_and_action_round_trip(peer: subprocess.Popen[str], ros_domain_id: int) -> None:
    ctx = rclpy.Context()
    rclpy.init(context=ctx, domain_id=ros_domain_id)
    try:
        node = rclpy.create_node("foundation_client", context=ctx)
        ex = SingleThreadedExecutor(context=ctx)
        ex.add_node(node)

        def spin_until(done, timeout_s: float = 20.0) -> None:  # type: ignore[no-untyped-def]
            end = time.monotonic() + timeout_s
            while not done() and time.monotonic() < end:
                ex.spin_once(timeout_sec=0.05)
            assert done(), "timed out waiting on the ROS graph"

        # 1. a message out and back through the other process
        got: list[CellStatus] = []
        node.create_subscription(CellStatus, "/test/status_echo", got.append, 10)
        pub = node.create_publisher(CellStatus, "/test/status", 10)
        spin_until(
            lambda: pub.get_subscription_count() > 0 and node.count_publishers("/test/status_echo") > 0
        )
        sent = CellStatus(
            state=CellStatus.RUNNING, state_name="RUNNING", variant="bracket", task_index=2, task_count=5
        )
        sent.cycle_time_s = 12.5
        stop = threading.Event()

        def republish() -> None:  # discovery may still be settling: resend until echoed
            while not stop.is_set():
                pub.publish(sent)
                stop.wait(0.1)

        threading.Thread(target=republish, daemon=True).start()
        spin_until(lambda: bool(got))
        stop.set()
        echo = got[0]
        assert (echo.state, echo.variant, echo.task_index, echo.task_count) == (
            CellStatus.RUNNING,
            "bracket",
            2,
            5,
        )
        assert echo.cycle_time_s == pytest.approx(12.5)

        # 2. a service call
        cli = node.create_client(LoadVariant, "/test/load_variant")
        assert cli.wait_for_service(timeout_sec=20.0)
        fut = cli.call_async(LoadVariant.Request(variant="bracket", force_replan=True))
        spin_until(fut.done)
        resp = fut.result()
        assert resp.success and resp.message == "loaded bracket" and resp.task_count == 7
        assert list(resp.infeasible_parts) == ["too_big"]

        # 3. an action goal with per-task feedback
        ac = ActionClient(node, ExecuteWorkflow, "/test/execute_workflow")
        assert ac.wait_for_server(timeout_sec=20.0)
        feedback: list[int] = []
        gfut = ac.send_goal_async(
            ExecuteWorkflow.Goal(workflow_path="w.yaml", run_id="r1"),
            feedback_callback=lambda fb: feedback.append(fb.feedback.task_index),
        )
        spin_until(gfut.done)
        handle = gfut.result()
        assert handle.accepted
        rfut = handle.get_result_async()
        spin_until(rfut.done)
        result = rfut.result().result
        assert result.success and result.tasks_completed == 3 and result.run_id == "r1"
        assert feedback == [0, 1, 2]
        node.destroy_node()
    finally:
        rclpy.try_shutdown(context=ctx)
