"""A second ROS 2 process for the foundation test: echoes CellStatus, serves LoadVariant and ExecuteWorkflow."""

from __future__ import annotations

import sys
import time

import rclpy
from flexcell_interfaces.action import ExecuteWorkflow
from flexcell_interfaces.msg import CellStatus
from flexcell_interfaces.srv import LoadVariant
from flexcell_ros.node_main import run_node
from rclpy.action import ActionServer
from rclpy.node import Node


class Peer(Node):
    def __init__(self, context: rclpy.Context) -> None:
        super().__init__("foundation_peer", context=context)
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
    # The nodes' own entry point: SIGTERM sets a flag that its spin loop polls, then a clean exit (rclpy's
    # signal handler alone was seen to leave a spin waiting forever after SIGTERM).
    def factory(context: rclpy.Context) -> Peer:
        node = Peer(context)
        print("ready", flush=True)
        return node

    return run_node(factory, sys.argv, threads=1)


if __name__ == "__main__":
    sys.exit(main())
