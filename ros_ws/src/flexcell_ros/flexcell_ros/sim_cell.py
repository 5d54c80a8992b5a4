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
Action servers (control_msgs, what ros2_control's controllers and MoveIt speak)
    ``/arm_controller/follow_joint_trajectory`` (control_msgs/action/FollowJointTrajectory), as
    joint_trajectory_controller runs it: the goal is checked first (every arm joint exactly once, else
    INVALID_JOINTS; points, sizes, finite values, increasing times, tolerances, else INVALID_GOAL; a header
    stamp whose trajectory has already ended: OLD_HEADER_TIMESTAMP; a stamp in the future delays the start).
    While it runs, feedback (desired = the reference now, actual, error) every FEEDBACK_PERIOD_S, and the
    path tolerances (the goal's, per joint; else 0.15 rad) are checked at every control tick: exceeded, the
    arm brakes and the goal aborts with PATH_TOLERANCE_VIOLATED. After the trajectory's time, the goal
    succeeds (error_code 0) once every joint is within its goal tolerance (else 0.005 rad) and slower than its
    goal velocity tolerance (else 0.01 rad/s); not so within goal_time_tolerance (else 1 s) of the end:
    GOAL_TOLERANCE_VIOLATED. A new goal (or a trajectory on the topic below) preempts the active one, which
    aborts with INVALID_GOAL and says so. Cancel brakes the arm within its acceleration limits; the goal
    ends CANCELED once the arm is at rest (at the latest CANCEL_STOP_TIMEOUT_S after the cancel). Goals the
    checks refuse are accepted and then aborted with the code (joint_trajectory_controller rejects them
    without a result, which would lose the reason).
    ``/gripper_controller/gripper_cmd`` (control_msgs/action/GripperCommand): ``position`` is the opening
    between the jaws (m), ``max_effort`` the grip force (N, <= 0 or above the rating: the rating). The goal
    succeeds with ``reached_goal`` once the jaws are within GRIPPER_REACHED_M of the (clipped) position and
    still, or with ``stalled`` once they have stood still short of it, pressing with at least
    STALL_EFFORT_FRACTION of max_effort, for GRIPPER_STALL_S: how a real gripper says it holds an object
    (the result's ``position`` is then the object's width). Neither within GRIPPER_TIMEOUT_S after the jaw
    travel time: aborted. A new goal or a command on the topic preempts it (aborted); cancel holds the
    jaws where they are.
Subscribes
    ``/arm_controller/joint_trajectory`` (trajectory_msgs/JointTrajectory): replaces the active trajectory,
    starting now; an empty one stops the arm (decelerates and holds), like joint_trajectory_controller.
    ``/gripper_controller/commands`` (std_msgs/Float64MultiArray): ``[width_m, force_n]`` (the older
    forward-command interface, kept for tools and tests that publish on it).
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
half a step, so the real-time factor does not drift. The action goals are judged in the physics thread,
right after the steps of each tick (the state the goal's tolerances are about); the result goes back to
the goal's execute coroutine in the ROS executor's thread, which ends the goal.
"""

from __future__ import annotations

import math
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rclpy
from control_msgs.action import FollowJointTrajectory, GripperCommand
from diagnostic_msgs.msg import DiagnosticArray
from flexcell_interfaces.srv import LoadVariant
from geometry_msgs.msg import PoseArray
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.action.server import ServerGoalHandle
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy
from rclpy.task import Future
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CompressedImage, JointState
from std_msgs.msg import Float64MultiArray, String
from std_srvs.srv import Trigger
from trajectory_msgs.msg import JointTrajectory as JointTrajectoryMsg

from cell_config import load_cell
from flexcell_ros import conversions as conv
from flexcell_ros.node_main import node_params, run_node
from flexcell_ros.params import ParamError, SimCellParams
from motion.trajectory import JointTrajectory
from sim.cell_sim import CellSim
from sim.controllers import Tolerances, TrajectoryStatus
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

# Action feedback period (wall s), both controllers (joint_trajectory_controller's action_monitor_rate is
# 20 Hz by default).
FEEDBACK_PERIOD_S = 0.02
# The gripper: at the goal within GRIPPER_REACHED_M and slower than GRIPPER_STILL_M_S; stalled once still
# short of it for GRIPPER_STALL_S (sim s) while pressing with STALL_EFFORT_FRACTION of max_effort; aborted
# GRIPPER_TIMEOUT_S (sim s) after the jaw travel time.
GRIPPER_REACHED_M = 5e-4
GRIPPER_STILL_M_S = 2e-3
GRIPPER_STALL_S = 0.02
STALL_EFFORT_FRACTION = 0.8
GRIPPER_TIMEOUT_S = 2.0
# A canceled arm goal ends once the arm is slower than the controller's stopped velocity, or at the latest
# CANCEL_STOP_TIMEOUT_S (sim s) after the cancel.
STOPPED_VELOCITY_RAD_S = Tolerances().stopped_velocity_rad_s
CANCEL_STOP_TIMEOUT_S = 2.0
FJT = FollowJointTrajectory.Result

Command = Callable[[CellSim], None]
# How a goal ends: the goal-handle method ("succeed", "abort", "canceled") and the result.
Outcome = tuple[str, Any]


@dataclass
class ArmGoal:
    """The active FollowJointTrajectory goal: its trajectory (started at sim time ``t0_s``), its bounds
    (``(n,)`` per joint, inf = none) and the future its execute coroutine awaits."""

    handle: ServerGoalHandle | None  # None until the acceptance callback, right after the start
    traj: JointTrajectory
    t0_s: float
    path_pos: np.ndarray
    path_vel: np.ndarray
    goal_pos: np.ndarray
    goal_vel: np.ndarray
    goal_time_s: float
    done: Future
    stopping: bool = False  # canceled: braking, ends CANCELED at rest
    stop_t0_s: float = 0.0  # sim time of the cancel
    next_feedback: float = 0.0


@dataclass
class GripperGoal:
    """The active GripperCommand goal: the (clipped) target width, the effort and the jaw travel time."""

    handle: ServerGoalHandle
    target_m: float
    effort_n: float
    t0_s: float
    travel_s: float
    done: Future
    cancel: bool = False
    still_since_s: float | None = None
    next_feedback: float = 0.0


def _finish(goal: ArmGoal | GripperGoal, outcome: Outcome) -> None:
    """Hand the outcome to the goal's execute coroutine (once)."""
    if not goal.done.done():
        goal.done.set_result(outcome)


def _delayed(traj: JointTrajectory, q_now: np.ndarray, delay_s: float) -> JointTrajectory:
    """``traj`` starting ``delay_s`` from now, holding ``q_now`` until then (a header stamp in the future)."""
    n = len(traj.joint_names)
    return JointTrajectory(
        list(traj.joint_names),
        np.concatenate([[0.0], traj.t_s - traj.t_s[0] + delay_s]),
        np.vstack([q_now, traj.q]),
        np.vstack([np.zeros(n), traj.qd]),
        np.vstack([np.zeros(n), traj.qdd]),
    )


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
        # The controllers' actions: execute coroutines in the executor's one thread, judged by the physics
        # thread (see the module docstring).
        self.arm_goal: ArmGoal | None = None
        self.grip_goal: GripperGoal | None = None
        # goal id -> the future of a goal started on acceptance, taken by its execute coroutine
        self.started: dict[bytes, Future] = {}
        self.starting: tuple[Future, ArmGoal | None] = (Future(), None)  # goal callback -> acceptance
        actions = ReentrantCallbackGroup()
        self.follow_server = ActionServer(
            self,
            FollowJointTrajectory,
            "/arm_controller/follow_joint_trajectory",
            execute_callback=self.execute_follow,
            goal_callback=self.on_follow_goal,
            handle_accepted_callback=self.accept_follow,
            cancel_callback=self.cancel_follow,
            callback_group=actions,
        )
        self.gripper_server = ActionServer(
            self,
            GripperCommand,
            "/gripper_controller/gripper_cmd",
            execute_callback=self.execute_gripper,
            handle_accepted_callback=self.accept_gripper,
            cancel_callback=self.cancel_gripper,
            callback_group=actions,
        )
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
        why = "stopped by an empty trajectory" if traj is None else "replaced by a trajectory"
        reason = f"{why} on /arm_controller/joint_trajectory"

        def command(sim: CellSim) -> None:
            self._end_arm_goal(("abort", conv.follow_result(FJT.INVALID_GOAL, reason)))
            if traj is None:
                sim.stop_arm()
            else:
                sim.follow(traj)

        self._command(command)

    def on_gripper(self, msg: Float64MultiArray) -> None:
        try:
            width_m, force_n = conv.gripper_command_from_msg(msg)
        except ValueError as e:
            self.get_logger().error(f"gripper command rejected: {e}")
            return

        def command(sim: CellSim) -> None:
            self._end_grip_goal("abort", "a command on /gripper_controller/commands")
            sim.set_gripper(width_m, force_n)

        self._command(command)

    def on_inject(self, msg: String) -> None:
        if msg.data != "drop":
            self.get_logger().error(f"unknown injected fault {msg.data!r} (known: drop)")
            return

        def drop(sim: CellSim) -> None:
            self._end_grip_goal("abort", "the injected drop")
            sim.set_gripper(sim.cell.spec.gripper.stroke_m, sim.cell.spec.gripper.force_n)

        self._command(drop)

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
            # the goals were about the simulation that is rebuilt or reset now
            self._end_arm_goal(("abort", conv.follow_result(FJT.INVALID_GOAL, "the simulation was reset")))
            self._end_grip_goal("abort", "the simulation reset")
            try:
                out = (True, fn())
            except Exception as e:  # reported to the caller, the node keeps running
                out = (False, f"{type(e).__name__}: {e}")
            self._restart_time_base()
        return out

    # --- FollowJointTrajectory --------------------------------------------------------------------------
    def on_follow_goal(self, request: FollowJointTrajectory.Goal) -> GoalResponse:
        """Every goal is accepted (a refused one is then aborted with its code) and started at once: rclpy
        sends the acceptance and the status message after this callback and runs the execute coroutine one
        executor round later, and the motion waits for none of them. The acceptance callback, which follows
        in the same task, hands the goal handle to what started here."""
        self.starting = self._start_follow(request)
        return GoalResponse.ACCEPT

    def accept_follow(self, handle: ServerGoalHandle) -> None:
        done, goal = self.starting
        if goal is not None:
            goal.handle = handle
        self.started[bytes(handle.goal_id.uuid)] = done
        handle.execute()

    async def execute_follow(self, handle: ServerGoalHandle) -> FollowJointTrajectory.Result:
        kind, result = await self.started.pop(bytes(handle.goal_id.uuid))
        getattr(handle, kind)()
        return result

    def _done_future(self) -> Future:
        done: Future = Future(executor=self.executor)
        done.add_done_callback(lambda _f: None)  # wakes the executor when the physics thread sets it
        return done

    def _start_follow(self, req: FollowJointTrajectory.Goal) -> tuple[Future, ArmGoal | None]:
        """Check the goal and start its trajectory now (preempting any other); the future gets the outcome
        (at once for a goal the checks refuse: no ArmGoal then)."""
        done = self._done_future()
        names = self.sim.joint_names
        tol = Tolerances()
        n = len(names)
        try:
            traj = conv.check_follow_goal(req, names)
            path_pos = conv.tolerance_array_from_msg(
                req.path_tolerance, names, "position", np.full(n, tol.path_rad)
            )
            path_vel = conv.tolerance_array_from_msg(
                req.path_tolerance, names, "velocity", np.full(n, math.inf)
            )
            goal_pos = conv.tolerance_array_from_msg(
                req.goal_tolerance, names, "position", np.full(n, tol.goal_rad)
            )
            goal_vel = conv.tolerance_array_from_msg(
                req.goal_tolerance, names, "velocity", np.full(n, tol.stopped_velocity_rad_s)
            )
        except conv.GoalError as e:
            self.get_logger().error(f"follow_joint_trajectory: {conv.FJT_ERROR_NAMES[e.code]}: {e}")
            done.set_result(("abort", conv.follow_result(e.code, str(e))))
            return done, None
        goal_time_s = conv.duration_from_msg(req.goal_time_tolerance) or tol.goal_time_s
        stamp_s = conv.time_from_msg(req.trajectory.header.stamp)
        with self.lock:
            now_s = self.sim.time_s
            if stamp_s > 0.0 and stamp_s + traj.duration_s < now_s:
                msg = (
                    f"trajectory stamped {stamp_s:.3f} s ended at {stamp_s + traj.duration_s:.3f} s,"
                    f" before now ({now_s:.3f} s)"
                )
                done.set_result(("abort", conv.follow_result(FJT.OLD_HEADER_TIMESTAMP, msg)))
                return done, None
            if stamp_s > now_s:
                traj = _delayed(traj, self.sim.joint_state()[1], stamp_s - now_s)
            self._end_arm_goal(("abort", conv.follow_result(FJT.INVALID_GOAL, "preempted by a new goal")))
            goal = ArmGoal(None, traj, now_s, path_pos, path_vel, goal_pos, goal_vel, goal_time_s, done)
            self.arm_goal = goal
            self.sim.follow(traj)
            self._advance(time.perf_counter(), command=True)
        return done, goal

    def cancel_follow(self, handle: ServerGoalHandle) -> CancelResponse:
        """Cancel = a controlled stop: brake within the acceleration limits; CANCELED once at rest."""
        with self.lock:
            goal = self.arm_goal
            if goal is None or goal.handle is not handle:
                return CancelResponse.REJECT
            if not goal.stopping:
                goal.stopping = True
                goal.stop_t0_s = self.sim.time_s
                self.sim.stop_arm()
                self._advance(time.perf_counter(), command=True)
        return CancelResponse.ACCEPT

    def _end_arm_goal(self, outcome: Outcome) -> None:
        """End the active arm goal (preempted, reset) with ``outcome`` (lock held)."""
        if self.arm_goal is not None:
            _finish(self.arm_goal, outcome)
            self.arm_goal = None

    def _judge_arm(self, wall: float) -> None:
        """The active arm goal against the state just stepped (physics thread, lock held)."""
        goal = self.arm_goal
        if goal is None:
            return
        sim = self.sim
        t_s = sim.time_s
        elapsed_s = t_s - goal.t0_s
        names, q, qd = sim.joint_state()
        q_ref, qd_ref, _ = sim.arm.reference(t_s)
        if wall >= goal.next_feedback and goal.handle is not None:
            goal.next_feedback = wall + FEEDBACK_PERIOD_S
            goal.handle.publish_feedback(
                conv.follow_feedback_to_msg(t_s, names, q_ref, qd_ref, q, qd, elapsed_s)
            )
        outcome: Outcome | None = None
        if goal.stopping:
            speed = float(np.max(np.abs(qd)))
            if sim.arm_done() and speed <= STOPPED_VELOCITY_RAD_S:
                outcome = ("canceled", conv.follow_result(FJT.SUCCESSFUL, "canceled: the arm stopped"))
            elif t_s - goal.stop_t0_s > CANCEL_STOP_TIMEOUT_S:  # never settles (pushed, shaking): say so
                outcome = (
                    "canceled",
                    conv.follow_result(
                        FJT.SUCCESSFUL,
                        f"canceled: braked, still {speed:.3f} rad/s {CANCEL_STOP_TIMEOUT_S:.0f} s later",
                    ),
                )
        elif sim.arm_status() == TrajectoryStatus.ABORTED:
            # the controller's own limit (it holds where it was)
            outcome = (
                "abort",
                conv.follow_result(
                    FJT.PATH_TOLERANCE_VIOLATED,
                    f"path error {sim.arm.max_path_error_rad:.5f} rad exceeded the controller's limit"
                    f" {sim.arm.tol.path_rad:.4f} rad at {elapsed_s:.3f} s",
                ),
            )
        elif elapsed_s <= goal.traj.duration_s:
            why = _tolerance_breach(names, q_ref - q, goal.path_pos, "position") or _tolerance_breach(
                names, qd_ref - qd, goal.path_vel, "velocity"
            )
            if why:
                sim.stop_arm()
                outcome = (
                    "abort",
                    conv.follow_result(
                        FJT.PATH_TOLERANCE_VIOLATED, f"{why} at {elapsed_s:.3f} s of the trajectory"
                    ),
                )
        else:
            q_end = goal.traj.q[-1]
            at_goal = bool(np.all(np.abs(q_end - q) <= goal.goal_pos) and np.all(np.abs(qd) <= goal.goal_vel))
            if at_goal:
                outcome = ("succeed", conv.follow_result(FJT.SUCCESSFUL, ""))
            elif elapsed_s > goal.traj.duration_s + goal.goal_time_s:
                why = _tolerance_breach(names, q_end - q, goal.goal_pos, "position") or _tolerance_breach(
                    names, -qd, goal.goal_vel, "velocity"
                )
                sim.stop_arm()
                outcome = (
                    "abort",
                    conv.follow_result(
                        FJT.GOAL_TOLERANCE_VIOLATED,
                        f"{why} {elapsed_s - goal.traj.duration_s:.3f} s after the trajectory's end"
                        f" (goal_time_tolerance {goal.goal_time_s:.3f} s)",
                    ),
                )
        if outcome is not None:
            _finish(goal, outcome)
            self.arm_goal = None

    # --- GripperCommand -----------------------------------------------------------------------------
    def accept_gripper(self, handle: ServerGoalHandle) -> None:
        """As :meth:`accept_follow`: the jaws get the command in the task that accepted the goal."""
        self.started[bytes(handle.goal_id.uuid)] = self._start_gripper(handle)
        handle.execute()

    async def execute_gripper(self, handle: ServerGoalHandle) -> GripperCommand.Result:
        kind, result = await self.started.pop(bytes(handle.goal_id.uuid))
        getattr(handle, kind)()
        return result

    def _start_gripper(self, handle: ServerGoalHandle) -> Future:
        """Command the jaws (preempting any other goal); the future gets the outcome."""
        done = self._done_future()
        spec = self.sim.cell.spec.gripper
        try:
            width_m, effort_n = conv.gripper_goal_from_msg(handle.request)
        except ValueError as e:
            self.get_logger().error(f"gripper_cmd: {e}")
            with self.lock:
                w, f = self.sim.gripper_state()
            done.set_result(("abort", conv.gripper_result(w, f, False, False)))
            return done
        effort_n = spec.force_n if effort_n <= 0.0 else min(effort_n, spec.force_n)
        with self.lock:
            self._end_grip_goal("abort", "a new goal")
            self.sim.set_gripper(width_m, effort_n)
            target_m = self.sim.gripper.target_m  # clipped to the jaws' range
            travel_s = abs(target_m - self.sim.gripper.setpoint_m) / spec.max_speed_m_s
            self.grip_goal = GripperGoal(handle, target_m, effort_n, self.sim.time_s, travel_s, done)
            self._advance(time.perf_counter(), command=True)
        return done

    def cancel_gripper(self, handle: ServerGoalHandle) -> CancelResponse:
        with self.lock:
            goal = self.grip_goal
            if goal is None or goal.handle is not handle:
                return CancelResponse.REJECT
            goal.cancel = True  # the next tick holds the jaws where they are and ends it CANCELED
        return CancelResponse.ACCEPT

    def _end_grip_goal(self, kind: str, by: str) -> None:
        """End the active gripper goal, preempted by ``by`` (lock held)."""
        goal = self.grip_goal
        if goal is not None:
            width_m, force_n = self.sim.gripper_state()
            self.get_logger().info(f"gripper goal preempted by {by}")
            _finish(goal, (kind, conv.gripper_result(width_m, force_n, False, False)))
            self.grip_goal = None

    def _judge_gripper(self, wall: float) -> None:
        """The active gripper goal against the state just stepped (physics thread, lock held)."""
        goal = self.grip_goal
        if goal is None:
            return
        sim = self.sim
        t_s = sim.time_s
        width_m, force_n = sim.gripper_state()
        speed = abs(float(sim.data.qvel[sim.cm.finger_dof].sum()))
        still = speed < GRIPPER_STILL_M_S
        reached = still and abs(width_m - goal.target_m) <= GRIPPER_REACHED_M
        pressing = still and not reached and force_n >= STALL_EFFORT_FRACTION * goal.effort_n
        if pressing:
            if goal.still_since_s is None:
                goal.still_since_s = t_s
        else:
            goal.still_since_s = None
        stalled = goal.still_since_s is not None and t_s - goal.still_since_s >= GRIPPER_STALL_S
        if wall >= goal.next_feedback:
            goal.next_feedback = wall + FEEDBACK_PERIOD_S
            goal.handle.publish_feedback(conv.gripper_feedback(width_m, force_n, stalled, reached))
        outcome: Outcome | None = None
        if goal.cancel:
            sim.set_gripper(width_m, goal.effort_n)
            outcome = ("canceled", conv.gripper_result(width_m, force_n, stalled, reached))
        elif reached or stalled:
            outcome = ("succeed", conv.gripper_result(width_m, force_n, stalled, reached))
        elif t_s - goal.t0_s > goal.travel_s + GRIPPER_TIMEOUT_S:
            outcome = ("abort", conv.gripper_result(width_m, force_n, False, False))
        if outcome is not None:
            _finish(goal, outcome)
            self.grip_goal = None

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
        if self.arm_goal is not None:
            self._judge_arm(now)
        if self.grip_goal is not None:
            self._judge_gripper(now)

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


def _tolerance_breach(names: Sequence[str], err: np.ndarray, bound: np.ndarray, what: str) -> str:
    """ "" when ``|err| <= bound`` for every joint, else which joint is out and by how much."""
    over = np.abs(err) - bound
    i = int(np.argmax(over))
    if over[i] <= 0.0:
        return ""
    return f"{names[i]}: {what} error {abs(float(err[i])):.4f} exceeds its tolerance {float(bound[i]):.4f}"


def main(argv: Sequence[str] | None = None) -> int:
    # The physics thread runs Python at every tick: hand the GIL over every 1 ms (default 5 ms) so that a
    # goal or command waiting in the executor's thread is taken within a tick.
    sys.setswitchinterval(0.001)
    return run_node(SimCellNode, argv, threads=1)


if __name__ == "__main__":
    sys.exit(main())
