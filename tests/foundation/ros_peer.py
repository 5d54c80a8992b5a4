"""A second ROS 2 process for the foundation test: echoes CellStatus, serves LoadVariant and ExecuteWorkflow."""

from __future__ import annotations

import sys
import time

import rclpy
from flexcell_interfaces.action import ExecuteWorkflow
from flexcell_interfaces.msg import CellStatus
from flexcell_interfaces.srv import LoadVariant
from rclpy.action import ActionServer
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node


class Peer(Node):
    def __init__(self) -> None:
        super().__init__("foundation_peer")
        self.echo = self.create_publisher(CellStatus, "/test/status_echo", 10)
        self.create_subscription(CellStatus, "/test/status", self.echo.publish, 10)
        self.create_service(LoadVariant, "/test/load_variant", self.on_load)
        ActionServer(self, ExecuteWorkflow, "/test/execute_workflow", self.on_execute)

    def on_load(self, req: LoadVariant.Request, resp: LoadVariant.Response) -> LoadVariant.Response:
        resp.success = req.variant != ""
        resp.message = f"loaded {req.variant}"
        resp.task_count = len(req.variant)
        resp.infeasible_parts = ["too_big"] if req.force_replan else []
        return resp

    def on_execute(self, goal_handle) -> ExecuteWorkflow.Result:  # type: ignore[no-untyped-def]
        n = 3
        for i in range(n):
            fb = ExecuteWorkflow.Feedback(task_index=i, task_count=n, task_id=f"t{i}", phase="place")
            goal_handle.publish_feedback(fb)
            time.sleep(0.02)
        goal_handle.succeed()
        return ExecuteWorkflow.Result(
            success=True, tasks_completed=n, task_count=n, run_id=goal_handle.request.run_id
        )


def main() -> int:
    rclpy.init()
    node = Peer()
    ex = SingleThreadedExecutor()  # one thread: the multi-threaded pool was seen to hang on SIGTERM
    ex.add_node(node)
    print("ready", flush=True)
    try:
        ex.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
