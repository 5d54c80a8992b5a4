"""ROS 2 benchmark (``flexcell bench ros --json``): the real graph on loopback, on its own domain.

Measures
--------
joint_states_rate_hz, joint_states_jitter_ms (std and p99 of the wall-clock inter-arrival time) at
real-time factor 1; command_to_motion_ms: wall time from sending a FollowJointTrajectory goal to
``/arm_controller/follow_joint_trajectory`` (what the executor and MoveIt do) to the first ``/joint_states``
that shows the arm moving (median, p95 of 20 moves; target <= 5 ms median); the same from publishing on
``/arm_controller/joint_trajectory`` as ``topic_command_to_motion_ms`` (the goal adds the action's request /
accept round trip). The probe is a node of its own, spun in the benchmark's main thread
while no other client spins in the process, and it waits a random time of up to one controller period
(4 ms) before each command: without that wait every command came a fixed number of physics steps after the
previous move was seen, i.e. at the same phase of the 250 Hz controller cycle in all 20 moves of a run
(a different phase from run to run, so medians jumped by a controller step between runs). Executor
overhead per task: the one-task scripted pick-and-place run through the whole graph (load, start, IDLE) at
real-time factor 1: ``executor_overhead_ms_per_task`` is the executor's own wall time from the controller
result that completes a step (its receipt by the executor's action client) to the moment the next step's
goal is sent, summed over the task (persisted by the executor in ``tasks.overhead_s``; target <= 20 ms).
The span covers the hand-over to the run thread, the step's SQLite commit, the pause/cancel checks and the
hand-back to the executor's thread that sends the goal; the workflow's feedback goes out after the goal
and is not in it, and the trajectory goals are built once when the run starts (a few ms per workflow,
before its first command, which no span covers). ``cycle_time_vs_inprocess_ms_per_task`` compares the sim cycle time with the same workflow
replayed in-process by ``sim.validate`` (its settle checks are stricter, so this difference mixes transport
latency with different settle criteria).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import rclpy
from control_msgs.action import FollowJointTrajectory
from flexcell_ros import conversions as conv
from flexcell_ros.bringup import Graph
from flexcell_ros.client import CellClient
from flexcell_ros.run_store import RunStore
from rclpy.action import ActionClient
from rclpy.executors import SingleThreadedExecutor
from sensor_msgs.msg import JointState
from trajectory_msgs.msg import JointTrajectory as JointTrajectoryMsg

from cell_config import load_cell
from motion.trajectory import JointTrajectory
from sim.cell_sim import CONTROL_EVERY
from sim.scripted_workflow import build_pick_place
from sim.validate import validate_workflow

# The sim's controllers update every CONTROL_EVERY physics steps of 2 ms (250 Hz).
CONTROL_PERIOD_S = CONTROL_EVERY * 0.002


def _latency(domain: int, joint_names: list[str], n: int = 20, action: bool = True) -> list[float]:
    """Wall ms from a FollowJointTrajectory goal sent (``action``) or a trajectory published on the
    controller topic to the first joint state showing the arm moving.

    A lean probe: its own context and a single-threaded executor spun in this thread (the goal is sent from
    it too), so that the measurement does not include a busy client's thread hand-offs.
    """
    ctx = rclpy.Context()
    rclpy.init(context=ctx, domain_id=domain)
    try:
        node = rclpy.create_node("flexcell_latency_probe", context=ctx)
        ex = SingleThreadedExecutor(context=ctx)
        ex.add_node(node)
        last: list[JointState] = []
        moving_at: list[float] = []
        armed = [False]

        def on_js(msg: JointState) -> None:
            last[:] = [msg]
            if armed[0] and abs(msg.velocity[0]) > 1e-3:
                moving_at.append(time.perf_counter())
                armed[0] = False

        node.create_subscription(JointState, "/joint_states", on_js, 10)
        pub = node.create_publisher(JointTrajectoryMsg, "/arm_controller/joint_trajectory", 10)
        arm = ActionClient(node, FollowJointTrajectory, "/arm_controller/follow_joint_trajectory")

        def ready() -> bool:
            return bool(last) and (arm.server_is_ready() if action else pub.get_subscription_count() > 0)

        end = time.monotonic() + 20.0
        while not ready() and time.monotonic() < end:
            ex.spin_once(timeout_sec=0.01)
        rng = np.random.default_rng(0)
        out: list[float] = []
        for i in range(n):
            rest_end = time.monotonic() + 0.4  # back at rest after the previous move
            while time.monotonic() < rest_end:
                ex.spin_once(timeout_sec=0.01)
            # The rest ends just after a joint state, a fixed number of steps after the previous move was
            # seen: that locks every command to one phase of the 250 Hz controller cycle (the same in all
            # 20 moves, different from run to run). A random wait of up to one controller period spreads
            # the commands over the cycle, as commands from a client arrive.
            time.sleep(float(rng.uniform(0.0, CONTROL_PERIOD_S)))
            _, q0, _ = conv.joint_state_from_msg(last[0], joint_names)
            v = 0.2 if i % 2 == 0 else -0.2
            # A velocity step on the first joint: the controller's feed-forward moves the arm at once.
            q1 = q0.copy()
            q1[0] += v * 0.2
            qd = np.zeros((2, len(q0)))
            qd[:, 0] = v
            traj = JointTrajectory(joint_names, np.array([0.0, 0.2]), np.vstack([q0, q1]), qd)
            goal = conv.follow_goal_to_msg(traj, goal_time_tolerance_s=1.0)
            msg = goal.trajectory
            moving_at.clear()
            armed[0] = True
            t_pub = time.perf_counter()
            if action:
                arm.send_goal_async(goal)
            else:
                pub.publish(msg)
            stop = time.monotonic() + 2.0
            while not moving_at and time.monotonic() < stop:
                ex.spin_once(timeout_sec=0.001)
            if moving_at:
                out.append((moving_at[0] - t_pub) * 1000.0)
        ex.shutdown()
        arm.destroy()
        node.destroy_node()
        return out
    finally:
        rclpy.try_shutdown(context=ctx)


def run(seconds: float = 5.0) -> dict[str, Any]:
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    domain = 200 + os.getpid() % 30
    tmp = Path(tempfile.mkdtemp(prefix="flexcell_ros_bench_"))
    wf_path = build_pick_place(load_cell(), tmp / "wf")
    db = str(tmp / "runs.sqlite3")
    overrides: dict[str, dict[str, Any]] = {
        "sim_cell": {"real_time_factor": 1.0, "workflow": str(wf_path)},
        "workflow_executor": {"db_path": db},
        "cell_manager": {"db_path": db, "require_validation": False},
    }
    report: dict[str, Any] = {"bench": "ros", "rmw": "rmw_fastrtps_cpp", "domain_id": domain}
    with Graph(overrides=overrides, domain_id=domain, log_dir=tmp / "logs") as graph:
        # the cell as flexcell up runs it: the camera thread (cell_config/ros_params.yaml) included
        report["sim_cell_camera_rate_hz"] = graph.params["sim_cell"].get("camera_rate_hz", 0.0)
        with CellClient(domain) as client:
            client.wait_graph(60.0)
            # 1. /joint_states rate and jitter at real time
            time.sleep(1.0)
            t0 = time.perf_counter()
            time.sleep(seconds)
            samples = [s for s in client.joint_samples() if t0 <= s.wall_s <= t0 + seconds]
        wall = np.array([s.wall_s for s in samples])
        dt_ms = np.diff(wall) * 1000.0
        report["joint_states_rate_hz"] = round(len(samples) / seconds, 1)
        report["joint_states_period_ms_median"] = round(float(np.median(dt_ms)), 3)
        report["joint_states_jitter_ms_std"] = round(float(np.std(dt_ms)), 3)
        report["joint_states_jitter_ms_p99"] = round(float(np.percentile(dt_ms, 99)), 3)
        # 2. command-to-motion latency, with no other client spinning in this process: the client above
        # takes /joint_states and /clock (1000 messages/s) in a thread that would compete with the
        # probe for the GIL.
        joints = list(load_cell().joint_names)
        lat = _latency(domain, joints, action=True)
        report["command_to_motion_ms_median"] = round(float(np.median(lat)), 3) if lat else None
        report["command_to_motion_ms_p95"] = round(float(np.percentile(lat, 95)), 3) if lat else None
        report["command_to_motion_samples"] = len(lat)
        lat_topic = _latency(domain, joints, action=False)
        report["topic_command_to_motion_ms_median"] = (
            round(float(np.median(lat_topic)), 3) if lat_topic else None
        )
        report["topic_command_to_motion_ms_p95"] = (
            round(float(np.percentile(lat_topic, 95)), 3) if lat_topic else None
        )
        # 3. executor overhead: the scripted task through ROS vs the in-process replay
        with CellClient(domain) as client:
            client.wait_graph(60.0)
            resp = client.load_variant(str(wf_path))
            if not resp.success:
                raise RuntimeError(resp.message)
            client.wait_state("READY", 10.0)
            start = client.trigger("start")
            if not start.success:
                raise RuntimeError(start.message)
            t_wall = time.perf_counter()
            client.wait_for(
                lambda: client.status is not None and client.status.runs_completed >= 1,
                120.0,
                "the run to finish",
            )
            run_wall_s = time.perf_counter() - t_wall
            st = client.status
            assert st is not None
            ros_cycle_s = float(st.last_cycle_time_s)
    store = RunStore(db)
    run_id = store.latest_run_id()
    overheads = store.task_overheads_s(run_id) if run_id else []
    store.close()
    replay = validate_workflow(wf_path)
    tasks = max(1, replay.tasks_total)
    report["task_count"] = tasks
    report["ros_cycle_time_s"] = round(ros_cycle_s, 4)
    report["ros_run_wall_s"] = round(run_wall_s, 3)
    report["inprocess_cycle_time_s"] = round(float(replay.cycle_time_s), 4)
    report["cycle_time_vs_inprocess_ms_per_task"] = round(
        (ros_cycle_s - float(replay.cycle_time_s)) / tasks * 1000.0, 2
    )
    report["executor_overhead_ms_per_task"] = (
        round(1000.0 * float(np.mean(overheads)), 2) if overheads else None
    )
    report["targets"] = {"command_to_motion_ms_median": 5.0, "executor_overhead_ms_per_task": 20.0}
    return report


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
