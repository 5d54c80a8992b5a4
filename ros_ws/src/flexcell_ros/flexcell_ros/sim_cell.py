"""``sim_cell`` node: the MuJoCo cell (:class:`sim.cell_sim.CellSim`) behind the ros2_control topics.

Publishes
    ``/joint_states`` (sensor_msgs/JointState): arm joints + ``finger_left_joint`` (pad distance from the
    centre = width / 2; its effort is the grip force in N), stamped in sim time, at ``publish_rate_hz``.
    ``/clock`` (rosgraph_msgs/Clock): sim time, with every joint state.
    ``/sim/part_poses`` (geometry_msgs/PoseArray): true ``T_world_part`` of every part, sorted by name.
    ``/sim/part_names`` (std_msgs/String, latched): the part names, one per line, in the same order.
    ``/diagnostics`` (diagnostic_msgs/DiagnosticArray): real-time factor achieved, unexpected contacts.
    ``/cell/camera/image/compressed`` (sensor_msgs/CompressedImage, JPEG 640x480, stamped in sim time): the
    cell camera at ``camera_rate_hz`` (off at 0), what a real cell's camera would publish.
Subscribes
    ``/arm_controller/joint_trajectory`` (trajectory_msgs/JointTrajectory): replaces the active trajectory,
    starting now; an empty one stops the arm (decelerates and holds), like joint_trajectory_controller.
    ``/gripper_controller/commands`` (std_msgs/Float64MultiArray): ``[width_m, force_n]``.
    ``/sim/return_part`` (std_msgs/String): put the named part back at its start pose (what an operator
    does with a dropped part before a retry).
    ``/sim/operator_place`` (std_msgs/String): put the named part at its target pose (what the worker does
    for an operator task, once confirmed).
    ``/sim/inject`` (std_msgs/String): ``drop`` opens the jaws at once (a lost gripper, for fault tests).
Services
    ``/sim/load_workflow`` (flexcell_interfaces/srv/LoadVariant, ``variant`` = workflow.yaml): rebuild the
    simulation with that workflow's cell and parts, arm at the workflow's home.
    ``/sim/reset`` (std_srvs/Trigger): parts back at their start poses, arm at home, gripper open.
Parameters
    see :class:`flexcell_ros.params.SimCellParams` (cell, workflow, real_time_factor, publish_rate_hz,
    part_pose_rate_hz, fault, foxglove_port).
Foxglove (``foxglove_port`` > 0)
    a WebSocket server on 127.0.0.1 (Foxglove's protocol) with ``/scene``, ``/tf`` (30 Hz) and
    ``/events``, from :class:`sim.replay_log.LiveScene`: connect Foxglove to watch the cell in 3D.

Physics runs in its own thread: each wall tick (``1 / publish_rate_hz``) it steps until sim time catches
up with ``real_time_factor`` x wall time, then publishes. Commands are applied by the executor's thread as
they arrive, under the lock that the physics thread takes for each tick (CellSim is not thread-safe). A
motion command (trajectory, gripper) also starts a tick at once: the step that first acts on it is taken
and published without waiting for the next tick, and the tick schedule restarts from there. Sim time may
then lead the wall clock by up to two steps; the next regular tick is skipped while it leads by more than
half a step, so the real-time factor does not drift.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from flexcell_interfaces.srv import LoadVariant
from geometry_msgs.msg import PoseArray
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CompressedImage, JointState
from std_msgs.msg import Float64MultiArray, String
from std_srvs.srv import Trigger
from trajectory_msgs.msg import JointTrajectory as JointTrajectoryMsg

from cell_config import load_cell
from flexcell_ros import conversions as conv
from flexcell_ros.node_main import node_params, run_node
from flexcell_ros.params import ParamError, SimCellParams
from sim.cell_sim import CellSim
from sim.render import StateCamera
from sim.replay_log import LiveScene
from workflow_gen.model import load_workflow

FINGER_JOINT = "finger_left_joint"
LATCHED = QoSProfile(
    depth=1, reliability=QoSReliabilityPolicy.RELIABLE, durability=QoSDurabilityPolicy.TRANSIENT_LOCAL
)
# The live 3D server (foxglove_port): body poses every LIVE_PERIOD_S, the whole scene every
# LIVE_SCENE_PERIOD_S (wall seconds).
LIVE_PERIOD_S = 1.0 / 30.0
LIVE_SCENE_PERIOD_S = 2.0
# The cell camera's JPEGs (camera_rate_hz > 0): size and JPEG quality.
CAMERA_WIDTH_PX, CAMERA_HEIGHT_PX = 640, 480
CAMERA_JPEG_QUALITY = 80
# Wall seconds the physics may fall behind before the loop stops trying to catch up (drops the debt).
MAX_LAG_WALL_S = 0.25

Command = Callable[[CellSim], None]


class SimCellNode(Node):
    """See the module docstring for the interfaces."""

    def __init__(self, context: rclpy.Context) -> None:
        super().__init__("sim_cell", context=context, automatically_declare_parameters_from_overrides=True)
        self.params: SimCellParams = node_params(self, "sim_cell")
        self.home_q: np.ndarray | None = None
        self.sim = self._build_sim(self.params.workflow)
        # before any topic is offered: a port that cannot be served stops the node like a bad parameter
        self.live: LiveScene | None = None
        if self.params.foxglove_port:
            try:
                self.live = LiveScene(self.sim.model, self.params.foxglove_port, name="flexcell sim_cell")
            except Exception as e:  # the SDK's own error type: a port in use, no permission
                raise ParamError(
                    f"sim_cell.foxglove_port {self.params.foxglove_port}: cannot serve ({e})"
                ) from e
            self.get_logger().info(f"live 3D for Foxglove on ws://127.0.0.1:{self.live.port}")
        # Guards self.sim and the tick schedule: CellSim is not thread-safe, and both the physics thread and
        # the executor's thread (applying a command) step it.
        self.lock = threading.Lock()
        self.wake = threading.Event()  # set on close: the physics thread stops at once
        self.running = True
        self.period_s = 1.0 / self.params.publish_rate_hz
        # Time base: sim time self.sim0 at wall (perf_counter) self.wall0, advancing at real_time_factor.
        self.wall0 = self.sim0 = self.next_tick = 0.0
        self._restart_time_base()

        self.pub_js = self.create_publisher(JointState, "/joint_states", 10)
        self.pub_clock = self.create_publisher(Clock, "/clock", 10)
        self.pub_parts = self.create_publisher(PoseArray, "/sim/part_poses", 10)
        self.pub_names = self.create_publisher(String, "/sim/part_names", LATCHED)
        self.pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        group = MutuallyExclusiveCallbackGroup()
        self.create_subscription(
            JointTrajectoryMsg,
            "/arm_controller/joint_trajectory",
            self.on_trajectory,
            10,
            callback_group=group,
        )
        self.create_subscription(
            Float64MultiArray, "/gripper_controller/commands", self.on_gripper, 10, callback_group=group
        )
        self.create_subscription(String, "/sim/return_part", self.on_return_part, 10, callback_group=group)
        self.create_subscription(
            String, "/sim/operator_place", self.on_operator_place, 10, callback_group=group
        )
        self.create_subscription(String, "/sim/inject", self.on_inject, 10, callback_group=group)
        self.create_service(LoadVariant, "/sim/load_workflow", self.on_load_workflow)
        self.create_service(Trigger, "/sim/reset", self.on_reset)
        self.pub_names.publish(conv.part_names_to_msg(list(self.sim.part_poses())))
        self.pub_camera = self.create_publisher(CompressedImage, "/cell/camera/image/compressed", 2)
        self.thread = threading.Thread(target=self.physics_loop, name="sim_cell_physics", daemon=True)
        self.thread.start()
        self.camera_thread: threading.Thread | None = None
        if self.params.camera_rate_hz > 0.0:
            self.camera_thread = threading.Thread(
                target=self.camera_loop, name="sim_cell_camera", daemon=True
            )
            self.camera_thread.start()

    def _build_sim(self, workflow: str) -> CellSim:
        fault = self.params.fault or None
        if workflow:
            sim = CellSim.from_workflow(workflow, fault=fault)
            wf, _ = load_workflow(workflow)
            self.home_q = np.asarray(wf.home_q, dtype=float)
            sim.reset(self.home_q)
            return sim
        self.home_q = None
        cell = load_cell(self.params.cell or None)
        return CellSim(cell, [], Path("."), fault=fault)

    # --- callbacks (the ROS executor's thread) ------------------------------------------------------
    def _command(self, cmd: Command) -> None:
        """Apply a motion command (arm or jaws) to the sim now and start a physics tick."""
        with self.lock:
            cmd(self.sim)
            self._advance(time.perf_counter(), command=True)

    def on_trajectory(self, msg: JointTrajectoryMsg) -> None:
        try:
            traj = conv.trajectory_from_msg(msg, self.sim.joint_names)
        except ValueError as e:
            self.get_logger().error(f"trajectory rejected: {e}")
            return
        if traj is None:
            self._command(lambda sim: sim.stop_arm())
        else:
            self._command(lambda sim: sim.follow(traj))

    def on_gripper(self, msg: Float64MultiArray) -> None:
        try:
            width_m, force_n = conv.gripper_command_from_msg(msg)
        except ValueError as e:
            self.get_logger().error(f"gripper command rejected: {e}")
            return
        self._command(lambda sim: sim.set_gripper(width_m, force_n))

    def on_inject(self, msg: String) -> None:
        if msg.data != "drop":
            self.get_logger().error(f"unknown injected fault {msg.data!r} (known: drop)")
            return
        self._command(
            lambda sim: sim.set_gripper(sim.cell.spec.gripper.stroke_m, sim.cell.spec.gripper.force_n)
        )

    def on_return_part(self, msg: String) -> None:
        self._put_part("/sim/return_part", msg.data, target=False)

    def on_operator_place(self, msg: String) -> None:
        self._put_part("/sim/operator_place", msg.data, target=True)

    def _put_part(self, topic: str, name: str, target: bool) -> None:
        """Put a part at its start or target pose of the loaded workflow, as a worker's hand does."""
        with self.lock:
            poses = {
                p.name: (p.T_world_target if target else p.T_world_start).matrix() for p in self.sim.parts
            }
            if name not in poses:
                self.get_logger().error(f"{topic}: no part {name!r}")
                return
            self.sim.place_part(name, poses[name])

    def _call_locked(self, fn: Callable[[], str]) -> tuple[bool, str]:
        """Run ``fn`` between physics ticks (services that rebuild or reset the sim); restart the time base."""
        with self.lock:
            try:
                out = (True, fn())
            except Exception as e:  # reported to the caller, the node keeps running
                out = (False, f"{type(e).__name__}: {e}")
            self._restart_time_base()
        return out

    def on_load_workflow(self, req: LoadVariant.Request, resp: LoadVariant.Response) -> LoadVariant.Response:
        def load() -> str:
            self.sim = self._build_sim(req.variant)
            if self.live is not None:
                self.live.set_model(self.sim.model)
            self.pub_names.publish(conv.part_names_to_msg(list(self.sim.part_poses())))
            return f"simulating {req.variant} with {len(self.sim.parts)} parts"

        resp.success, resp.message = self._call_locked(load)
        resp.workflow_path = req.variant
        return resp

    def on_reset(self, _req: Trigger.Request, resp: Trigger.Response) -> Trigger.Response:
        def reset() -> str:
            self.sim.reset(self.home_q)
            return "parts at their start poses, arm at home"

        resp.success, resp.message = self._call_locked(reset)
        return resp

    # --- physics thread ------------------------------------------------------------------------------
    def physics_loop(self) -> None:
        try:
            self._physics_loop()
        except Exception:
            if self.context.ok() and self.running:
                raise
            # shutting down: the context went away under a publish

    def _physics_loop(self) -> None:
        part_period_s = 1.0 / self.params.part_pose_rate_hz
        next_parts = next_diag = next_live = next_scene = time.perf_counter()
        while self.running:
            with self.lock:
                now = time.perf_counter()
                if now >= self.next_tick:
                    self.next_tick = max(self.next_tick + self.period_s, now)
                    self._advance(now, command=False)
                if now >= next_parts:
                    next_parts = now + part_period_s
                    self.pub_parts.publish(conv.part_poses_to_msg(self.sim.time_s, self.sim.part_poses()))
                if now >= next_diag:
                    next_diag = now + 1.0
                    self.publish_diagnostics(now - self.wall0, self.sim.time_s - self.sim0)
                if self.live is not None and now >= next_live:
                    next_live = now + LIVE_PERIOD_S
                    if now >= next_scene:  # again and again, for a viewer that connects later
                        next_scene = now + LIVE_SCENE_PERIOD_S
                        self.live.send_scene(self.sim.time_s)
                    self.live.on_frame(self.sim, "", "tick")
                wait_s = self.next_tick - time.perf_counter()
            self.wake.wait(max(0.0, wait_s))

    def _restart_time_base(self) -> None:
        """Sim time now = wall time now (start, rebuild, reset); the next tick is due at once."""
        self.wall0 = self.next_tick = time.perf_counter()
        self.sim0 = self.sim.time_s

    def _advance(self, now: float, command: bool) -> None:
        """Step the sim up to ``real_time_factor`` x wall time and publish its state (lock held).

        A regular tick always advances (unless over half a step ahead), so the rate holds at RTF 1. A
        motion command starts a tick at once instead of waiting up to a period for the next one: the step
        that first acts on it is taken and published now, and the tick schedule restarts from there. The
        time base stays, so sim time may lead the wall clock by up to two steps after such a tick; the
        next regular tick is skipped while it leads by over half a step, and the real-time factor does
        not drift.
        """
        rtf = self.params.real_time_factor
        dt_s = self.sim.dt_s
        steps_behind = (self.sim0 + rtf * (now - self.wall0) - self.sim.time_s) / dt_s
        n = int(steps_behind)
        if command:
            if steps_behind <= -1.0:
                return  # already a step ahead: the next regular tick takes the step
            n = max(n, 1)
            self.next_tick = now + self.period_s
        elif steps_behind > -0.5:
            n = max(n, 1)
        if n <= 0:
            return
        max_n = int(rtf * MAX_LAG_WALL_S / dt_s)
        if n > max_n:  # too slow for this factor: do not spiral, shift the time base instead
            self.wall0, self.sim0 = now, self.sim.time_s
            n = max(1, int(rtf * self.period_s / dt_s))
        self.sim.step(n)
        # Published only after a step: stamps are strictly increasing.
        self.publish_state()

    def publish_state(self) -> None:
        names, q, qd = self.sim.joint_state()
        width_m, force_n = self.sim.gripper_state()
        t_s = self.sim.time_s
        effort = np.zeros(len(names) + 1)
        effort[-1] = force_n
        self.pub_js.publish(
            conv.joint_state_to_msg(
                t_s, [*names, FINGER_JOINT], np.append(q, width_m / 2), np.append(qd, 0.0), effort
            )
        )
        self.pub_clock.publish(conv.clock_to_msg(t_s))

    def publish_diagnostics(self, wall_s: float, sim_s: float) -> None:
        contacts = self.sim.contacts()
        self.pub_diag.publish(
            conv.diagnostics_to_msg(
                self.sim.time_s,
                "sim_cell",
                self.sim.cell.name,
                not contacts,
                "unexpected contacts" if contacts else "ok",
                {
                    "real_time_factor": f"{sim_s / wall_s:.2f}" if wall_s > 0 else "0",
                    "parts": len(self.sim.parts),
                    "contacts": "; ".join(f"{a}-{b}" for a, b in contacts),
                },
            )
        )

    # --- camera thread ------------------------------------------------------------------------------
    def camera_loop(self) -> None:
        """JPEGs of the cell camera at ``camera_rate_hz`` (wall), rendered in this thread (its own OpenGL
        context) from a copy of the state: the physics thread waits only for the copy."""
        period_s = 1.0 / self.params.camera_rate_hz
        camera: StateCamera | None = None
        shown: CellSim | None = None
        try:
            while self.running:
                t0 = time.perf_counter()
                with self.lock:
                    sim, qpos, stamp_s = self.sim, self.sim.data.qpos.copy(), self.sim.time_s
                if sim is not shown:  # first image, or the simulation was rebuilt (another workflow)
                    if camera is not None:
                        camera.close()
                        camera = None
                    try:
                        camera = StateCamera(sim, CAMERA_WIDTH_PX, CAMERA_HEIGHT_PX)
                    except RuntimeError as e:  # no OpenGL here (headless without EGL or OSMesa)
                        self.get_logger().error(f"cell camera off: {e}")
                        return
                    shown = sim
                assert camera is not None
                jpeg = camera.jpeg(qpos, CAMERA_JPEG_QUALITY)
                self.pub_camera.publish(conv.jpeg_to_msg(stamp_s, jpeg, "cell_camera"))
                self.wake.wait(max(0.0, period_s - (time.perf_counter() - t0)))
        except Exception:
            if self.context.ok() and self.running:
                raise
        finally:
            if camera is not None:
                camera.close()

    def close(self) -> None:
        self.running = False
        self.wake.set()
        self.thread.join(timeout=2.0)
        if self.camera_thread is not None:
            self.camera_thread.join(timeout=5.0)
        if self.live is not None:
            self.live.close()


def main(argv: Sequence[str] | None = None) -> int:
    return run_node(SimCellNode, argv, threads=1)


if __name__ == "__main__":
    sys.exit(main())
