"""``workflow_executor`` node: runs a planned workflow on the cell through the ros2_control topics.

Action server
    ``execute_workflow`` (flexcell_interfaces/action/ExecuteWorkflow): one goal at a time; feedback at every
    step and at least every 0.25 s (a heartbeat the manager watches); cancel stops the arm at once.
Publishes
    ``/arm_controller/joint_trajectory`` (trajectory_msgs/JointTrajectory): each planned motion, and an empty
    trajectory to stop.
    ``/gripper_controller/commands`` (std_msgs/Float64MultiArray): ``[width_m, force_n]``.
    ``/sim/operator_place`` (std_msgs/String): the part of a confirmed operator task, so that a simulated
    cell puts it where the worker did (a real cell has no subscriber).
Subscribes
    ``/joint_states`` (sensor_msgs/JointState): arm joints + ``finger_left_joint`` (width / 2); its stamps
    (sim time on the simulated cell) time every wait.
    ``/sim/part_poses`` + ``/sim/part_names``: true part poses, when a simulated cell provides them, to check
    placements.
    ``/cell/status`` (flexcell_interfaces/msg/CellStatus): PAUSED holds execution at the next step boundary.
Parameters
    see :class:`flexcell_ros.params.WorkflowExecutorParams`.

An operator task (``actor: operator``, a part the robot cannot handle) is reported as feedback with phase
``operator`` and the instructions as the task description; the manager pauses the cell and shows them, and
the worker's Resume confirms the task (see :meth:`WorkflowExecutorNode._run_operator_task`).

Progress goes to the SQLite run store (:mod:`flexcell_ros.run_store`) after every step, so a goal with
``start_task = -1`` resumes a run at its first unfinished step. A step is never repeated once recorded, in
particular a gripper release (a place). Resuming inside a task whose part should be held but is not (a
drop, or a crash before the grasp), restarts that task from its first step; the arm first rejoins the
plan with a slow joint-space move when it is away from the next trajectory's start.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import rclpy
from flexcell_interfaces.action import ExecuteWorkflow
from flexcell_interfaces.msg import CellStatus
from geometry_msgs.msg import PoseArray
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.action.server import ServerGoalHandle
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy
from rclpy.serialization import serialize_message
from rclpy.task import Future
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray, String
from trajectory_msgs.msg import JointTrajectory as JointTrajectoryMsg

from cell_config import ConfigError, load_cell
from flexcell_ros import conversions as conv
from flexcell_ros.node_main import node_params, run_node
from flexcell_ros.params import WorkflowExecutorParams
from flexcell_ros.run_store import RunStore
from motion.trajectory import JointTrajectory
from workflow_gen.model import MotionStep, Task, Workflow, WorkflowError, load_workflow

FINGER_JOINT = "finger_left_joint"
HEARTBEAT_S = 0.25
# Farther than this (rad, any joint) from a trajectory's start, the arm first rejoins the plan.
REJOIN_THRESHOLD_RAD = 0.02
# The jaws count as still below GRIPPER_STILL_SPEED_M_S, measured over at least GRIPPER_STILL_S (sim s);
# within GRIPPER_STILL_M of the commanded width they are there.
GRIPPER_STILL_M = 5e-4
GRIPPER_STILL_S = 0.02
GRIPPER_STILL_SPEED_M_S = 0.01
GRIPPER_NO_MOVE_MARGIN_S = 0.5
# An operator task: how often the pause / resume that confirms it is looked at (wall s, also the feedback
# heartbeat), and how long the simulated part is given after the worker's place before it is checked (sim s).
OPERATOR_POLL_S = 0.1
OPERATOR_SETTLE_S = 0.2
# A goal stops at its next step boundary once /cell/status has said FAULT or ESTOP for this long (wall s).
MANAGER_HALT_S = 1.0


class StepFault(RuntimeError):
    """A step failed on the cell (timeout, part not held, misplaced part); the message says which."""


class Canceled(RuntimeError):
    """The goal was canceled while a step ran."""


@dataclass
class CellState:
    """Latest measured state: ``stamp_s`` sim time, ``q (n,)``, ``qd (n,)``, jaw ``width_m``."""

    stamp_s: float
    q: np.ndarray
    qd: np.ndarray
    width_m: float
    received_wall_s: float


def phase_of(step: MotionStep) -> str:
    """The feedback phase of a step: the step's own :class:`workflow_gen.phases.Phase` (no name guessing)."""
    return step.phase.value


def held_width_m(task: Task, step_index: int) -> float | None:
    """The width of the part between the pads while step ``step_index`` runs (the last grasp before it)."""
    width = task.grasp.contact_width_m if task.grasp is not None else None
    for step in task.steps[: step_index + 1]:
        if step.attach and step.contact_width_m is not None:
            width = step.contact_width_m
    return width


def held_part_before(task: Task, step_index: int) -> str | None:
    """The part the gripper should hold when step ``step_index`` of ``task`` starts."""
    held: str | None = None
    for step in task.steps[:step_index]:
        if step.attach:
            held = step.attach
        if step.detach:
            held = None
    return held


def rejoin_trajectory(
    joint_names: list[str], q_from: np.ndarray, q_to: np.ndarray, velocity_rad_s: float
) -> JointTrajectory:
    """A straight joint-space move ``q_from -> q_to`` with a quintic time law, peak speed ``velocity_rad_s``."""
    dist = float(np.max(np.abs(q_to - q_from)))
    total_s = max(0.2, 1.875 * dist / velocity_rad_s)
    tau = np.linspace(0.0, 1.0, 21)
    s = 10 * tau**3 - 15 * tau**4 + 6 * tau**5
    ds = (30 * tau**2 - 60 * tau**3 + 30 * tau**4) / total_s
    dds = (60 * tau - 180 * tau**2 + 120 * tau**3) / total_s**2
    delta = q_to - q_from
    return JointTrajectory(
        joint_names,
        tau * total_s,
        q_from + np.outer(s, delta),
        np.outer(ds, delta),
        np.outer(dds, delta),
    )


def gripper_speed(wf: Workflow) -> float:
    """Rated jaw speed (m/s) of the workflow's cell (0.1 m/s when the cell file cannot be read)."""
    try:
        return float(load_cell(wf.cell).spec.gripper.max_speed_m_s)
    except (ConfigError, OSError):
        return 0.1


class WorkflowExecutorNode(Node):
    """See the module docstring for the interfaces."""

    def __init__(self, context: rclpy.Context) -> None:
        super().__init__(
            "workflow_executor", context=context, automatically_declare_parameters_from_overrides=True
        )
        self.params: WorkflowExecutorParams = node_params(self, "workflow_executor")
        self.store = RunStore(self.params.db_path)
        self.cond = threading.Condition()
        self.state: CellState | None = None
        self.joint_names: list[str] = []
        self.part_names: list[str] = []
        self.part_poses: dict[str, np.ndarray] = {}
        self.part_stamp_s = -1.0
        self.paused = False
        self.pauses = 0
        self.resumed_pause = 0
        # Since when /cell/status has said FAULT or ESTOP without a break (None: it does not).
        self.halted_since: float | None = None
        self.busy = False
        self.gripper_speed_m_s = 0.1
        self.traj_msgs: dict[str, bytes] = {}
        # Wall time between the joint state that completed a step and the next command (dispatch overhead).
        self.step_done_wall: float | None = None
        self.task_overhead_s = 0.0

        group = ReentrantCallbackGroup()
        # Subscriptions in one mutually exclusive group: messages are handled one at a time, in order.
        topics = MutuallyExclusiveCallbackGroup()
        latched = QoSProfile(
            depth=1, reliability=QoSReliabilityPolicy.RELIABLE, durability=QoSDurabilityPolicy.TRANSIENT_LOCAL
        )
        self.pub_traj = self.create_publisher(JointTrajectoryMsg, "/arm_controller/joint_trajectory", 10)
        self.pub_grip = self.create_publisher(Float64MultiArray, "/gripper_controller/commands", 10)
        self.pub_operator_place = self.create_publisher(String, "/sim/operator_place", 10)
        self.create_subscription(JointState, "/joint_states", self.on_joint_state, 10, callback_group=topics)
        self.create_subscription(PoseArray, "/sim/part_poses", self.on_part_poses, 10, callback_group=topics)
        self.create_subscription(
            String, "/sim/part_names", self.on_part_names, latched, callback_group=topics
        )
        self.create_subscription(CellStatus, "/cell/status", self.on_status, 10, callback_group=topics)
        self.server = ActionServer(
            self,
            ExecuteWorkflow,
            "execute_workflow",
            execute_callback=self.execute,
            goal_callback=self.on_goal,
            cancel_callback=lambda _goal: CancelResponse.ACCEPT,
            callback_group=group,
        )

    # --- subscriptions -------------------------------------------------------------------------------
    def on_joint_state(self, msg: JointState) -> None:
        names = [n for n in msg.name if n != FINGER_JOINT]
        try:
            stamp_s, q, qd = conv.joint_state_from_msg(msg, names)
            width_m = 2.0 * conv.joint_state_from_msg(msg, [FINGER_JOINT])[1][0]
        except (KeyError, ValueError):
            width_m = float("nan")
        with self.cond:
            self.joint_names = names
            self.state = CellState(stamp_s, q, qd, width_m, time.monotonic())
            self.cond.notify_all()

    def on_part_names(self, msg: String) -> None:
        self.part_names = conv.part_names_from_msg(msg)

    def on_part_poses(self, msg: PoseArray) -> None:
        self.part_poses = conv.part_poses_from_msg(msg, self.part_names)
        self.part_stamp_s = conv.time_from_msg(msg.header.stamp)

    def on_status(self, msg: CellStatus) -> None:
        paused = msg.state == CellStatus.PAUSED
        # Counted here, message by message: a pause and resume quicker than a poll is still seen.
        if paused and not self.paused:
            self.pauses += 1
        if msg.state == CellStatus.RUNNING and self.paused:
            self.resumed_pause = self.pauses  # that pause ended with a resume (not a FAULT, a restart, ...)
        self.paused = paused
        if msg.state in (CellStatus.FAULT, CellStatus.ESTOP):
            if self.halted_since is None:
                self.halted_since = time.monotonic()
        else:
            self.halted_since = None

    def on_goal(self, _goal: ExecuteWorkflow.Goal) -> GoalResponse:
        """One goal at a time: taken here, atomically, so two goals arriving together cannot both run."""
        with self.cond:
            if self.busy:
                return GoalResponse.REJECT
            self.busy = True
            return GoalResponse.ACCEPT

    # --- waiting on the cell -------------------------------------------------------------------------
    def wait_state(self, after_stamp_s: float | None = None) -> CellState:
        """The next joint state (newer than ``after_stamp_s``); StepFault when they stop coming."""
        deadline = time.monotonic() + self.params.wall_timeout_s
        with self.cond:
            while True:
                st = self.state
                if st is not None and (after_stamp_s is None or st.stamp_s > after_stamp_s):
                    return st
                if time.monotonic() > deadline:
                    raise StepFault(f"no /joint_states for {self.params.wall_timeout_s:.0f} s")
                self.cond.wait(0.1)

    # --- one run -------------------------------------------------------------------------------------
    async def execute(self, goal: ServerGoalHandle) -> ExecuteWorkflow.Result:
        """Run the goal in a thread of its own; the executor's one thread keeps taking /joint_states."""
        finished: Future = Future(executor=self.executor)
        # A done callback makes the result set from the run thread wake the executor (as a task), which
        # then resumes this coroutine at once instead of at its next unrelated wake-up.
        finished.add_done_callback(lambda _f: None)

        def run() -> None:
            try:
                result = self._execute(goal)
            except Exception as e:  # handed to the action server, which aborts the goal
                with self.cond:
                    self.busy = False
                finished.set_exception(e)
                return
            with self.cond:
                self.busy = False
            finished.set_result(result)

        threading.Thread(target=run, name="workflow_run", daemon=True).start()
        result: ExecuteWorkflow.Result = await finished
        return result

    def _execute(self, goal: ServerGoalHandle) -> ExecuteWorkflow.Result:
        req = goal.request
        result = ExecuteWorkflow.Result(run_id=req.run_id)
        try:
            wf, trajs = load_workflow(req.workflow_path)
        except WorkflowError as e:
            result.message = str(e)
            goal.abort()
            return result
        # Messages built and serialized once per goal, not between steps: a 144-point trajectory takes
        # ~1 ms to build and ~0.3 ms to serialize at publish, its serialized bytes 0.01 ms to publish.
        self.traj_msgs = {key: serialize_message(conv.trajectory_to_msg(t)) for key, t in trajs.items()}
        self.gripper_speed_m_s = gripper_speed(wf)
        run_id = req.run_id or self.store.new_run(wf.variant, req.workflow_path, len(wf.tasks))
        result.run_id, result.task_count = run_id, len(wf.tasks)
        step_counts = [len(t.steps) if t.actor == "robot" else 1 for t in wf.tasks]
        if req.start_task >= 0:
            task_i, step_i = min(int(req.start_task), len(wf.tasks)), 0
        else:
            task_i, step_i = self.store.resume_point(run_id, step_counts)
        t0_wall = time.monotonic()
        try:
            st = self.wait_state()
            sim_t0 = st.stamp_s
            if task_i < len(wf.tasks) and step_i > 0:
                step_i = self._check_resume(wf.tasks[task_i], step_i, st)
            for ti in range(task_i, len(wf.tasks)):
                self._run_task(goal, wf, trajs, run_id, ti, step_i if ti == task_i else 0, sim_t0, t0_wall)
                result.tasks_completed = ti + 1
        except Canceled:
            self.stop_arm()
            result.message = "canceled"
            result.tasks_completed = self.store.resume_point(run_id, step_counts)[0]
            goal.canceled()
            return result
        except StepFault as e:
            self.stop_arm()
            done_tasks = self.store.resume_point(run_id, step_counts)[0]
            result.tasks_completed = done_tasks
            result.message = f"task {done_tasks} ({wf.tasks[min(done_tasks, len(wf.tasks) - 1)].id}): {e}"
            self.store.add_fault(run_id, done_tasks, str(e))
            self.get_logger().error(result.message)
            goal.abort()
            return result
        st = self.wait_state()
        result.success = True
        result.tasks_completed = len(wf.tasks)
        result.cycle_time_s = st.stamp_s - sim_t0
        result.message = f"{len(wf.tasks)} tasks done"
        goal.succeed()
        return result

    def _check_resume(self, task: Task, step_i: int, st: CellState) -> int:
        """Restart the task from its first step when its part should be held but is not."""
        held = held_part_before(task, step_i)
        width = held_width_m(task, step_i - 1) if step_i > 0 else None
        if held is None or width is None:
            return step_i
        if abs(st.width_m - width) <= self.params.grip_tolerance_m:
            return step_i
        self.get_logger().warning(
            f"{held} is not in the gripper: task {task.id} restarts from its first step"
        )
        return 0

    def _run_task(
        self,
        goal: ServerGoalHandle,
        wf: Workflow,
        trajs: dict[str, JointTrajectory],
        run_id: str,
        ti: int,
        first_step: int,
        sim_t0: float,
        t0_wall: float,
    ) -> None:
        task = wf.tasks[ti]
        self.store.start_task(run_id, ti, task.id)
        fb = ExecuteWorkflow.Feedback(
            task_index=ti, task_count=len(wf.tasks), task_id=task.id, task_description=task.description
        )
        if task.actor != "robot":
            task_start = self.wait_state().stamp_s
            self._run_operator_task(goal, fb, sim_t0, t0_wall, task)
            self.store.finish_step(run_id, ti, 0, "operator", released=True)
            self.store.finish_task(run_id, ti, self.wait_state().stamp_s - task_start)
            return
        held = held_part_before(task, first_step)
        task_start = self.wait_state().stamp_s
        self.task_overhead_s = 0.0
        for si in range(first_step, len(task.steps)):
            step = task.steps[si]
            self._wait_while_paused(goal, fb, sim_t0, t0_wall)
            fb.phase = phase_of(step)
            fb.task_progress = si / max(1, len(task.steps))
            if step.kind == "trajectory":
                if step.trajectory is None or step.trajectory not in trajs:
                    raise StepFault(f"step {step.name}: trajectory {step.trajectory!r} missing")
                self.run_trajectory(
                    goal,
                    fb,
                    sim_t0,
                    trajs[step.trajectory],
                    step.name,
                    task,
                    held,
                    self.traj_msgs.get(step.trajectory),
                )
            else:
                self.run_gripper(goal, fb, sim_t0, step, task)
            if step.attach:
                held = step.attach
            if step.detach:
                held = None
            self.store.finish_step(run_id, ti, si, step.name, released=step.detach is not None)
        # Checked once the task is over: the part has settled and the gripper has left it.
        if any(step.detach for step in task.steps):
            self.check_placement(task)
        fb.phase, fb.task_progress = "done", 1.0
        self._feedback(goal, fb, sim_t0)
        self.step_done_wall = None
        self.store.finish_task(run_id, ti, self.wait_state().stamp_s - task_start, self.task_overhead_s)

    def _run_operator_task(
        self, goal: ServerGoalHandle, fb: ExecuteWorkflow.Feedback, sim_t0: float, t0_wall: float, task: Task
    ) -> None:
        """A task for the worker at the cell: wait for the cell to pause and be resumed.

        The feedback (phase ``operator``, the instructions as the description) makes the manager pause the
        cell and show the instructions; the worker does the task and presses Resume, which is the
        confirmation: a pause that began after this task did and then went back to RUNNING (a pause that
        ends in FAULT, or a manager restarted meanwhile, confirms nothing). The arm stands still meanwhile
        (it is at the end of the previous task). On a simulated cell the part is then put at its target
        (``/sim/operator_place``, what the worker did) and checked.
        """
        fb.phase, fb.task_progress = "operator", 0.0
        fb.task_description = conv.OPERATOR_PREFIX + "\n".join(task.instructions or [task.description])
        self.get_logger().info(f"operator task {task.id}: {fb.task_description}")
        pauses_before = self.pauses
        while self.resumed_pause <= pauses_before:
            if goal.is_cancel_requested:
                raise Canceled()
            self._check_manager(t0_wall)
            self._feedback(goal, fb, sim_t0)
            time.sleep(OPERATOR_POLL_S)
        if goal.is_cancel_requested:
            raise Canceled()
        self.pub_operator_place.publish(String(data=task.part))
        # the place reaches the sim on its own topic: give it a few sim steps before checking the pose
        t_pub = self.wait_state().stamp_s
        while self.wait_state(t_pub).stamp_s < t_pub + OPERATOR_SETTLE_S:
            pass
        self.check_placement(task)
        fb.phase, fb.task_progress = "done", 1.0
        fb.task_description = task.description
        self._feedback(goal, fb, sim_t0)

    def _feedback(self, goal: ServerGoalHandle, fb: ExecuteWorkflow.Feedback, sim_t0: float) -> None:
        st = self.state
        fb.elapsed_s = (st.stamp_s - sim_t0) if st is not None else 0.0
        goal.publish_feedback(fb)

    def _wait_while_paused(
        self, goal: ServerGoalHandle, fb: ExecuteWorkflow.Feedback, sim_t0: float, t0_wall: float
    ) -> None:
        while self.paused:
            if goal.is_cancel_requested:
                raise Canceled()
            fb.phase = "paused"
            self._feedback(goal, fb, sim_t0)
            time.sleep(HEARTBEAT_S)
        if goal.is_cancel_requested:
            raise Canceled()
        self._check_manager(t0_wall)

    def _check_manager(self, t0_wall: float) -> None:
        """Before a step: hold while the manager says FAULT or ESTOP (since this goal began); StepFault once
        that has lasted MANAGER_HALT_S.

        The manager cancels the goals it stops itself; this covers a manager restarted during a run, which
        comes back in FAULT with no goal of its own: the robot must not start another step (nor an operator
        task wait for ever) while the operator's screen says FAULT. A FAULT that was there before the goal
        (a resume's goal arrives just before its RUNNING) does not count.
        """
        while (since := self.halted_since) is not None and since >= t0_wall:
            if time.monotonic() - since >= MANAGER_HALT_S:
                raise StepFault(
                    "the cell manager reports FAULT/ESTOP for this cell (restarted?): run stopped"
                )
            time.sleep(0.02)

    # --- steps ---------------------------------------------------------------------------------------
    def stop_arm(self) -> None:
        self.pub_traj.publish(conv.stop_trajectory_msg(self.joint_names))

    def run_trajectory(
        self,
        goal: ServerGoalHandle,
        fb: ExecuteWorkflow.Feedback,
        sim_t0: float,
        traj: JointTrajectory,
        name: str,
        task: Task,
        held: str | None,
        msg: bytes | None = None,
    ) -> None:
        st = self.wait_state()
        order = [traj.joint_names.index(j) for j in self.joint_names] if self.joint_names else None
        start = traj.start if order is None else traj.start[order]
        if np.max(np.abs(st.q - start)) > REJOIN_THRESHOLD_RAD:
            # Away from the plan (resumed run, stopped arm): a slow joint move back to where it starts.
            rejoin = rejoin_trajectory(self.joint_names, st.q, start, self.params.rejoin_velocity_rad_s)
            self.get_logger().info(f"rejoining the plan before {name} ({rejoin.duration_s:.2f} s)")
            self._move(goal, fb, sim_t0, rejoin, f"rejoin before {name}", task, held)
        self._move(goal, fb, sim_t0, traj, name, task, held, msg)

    def _move(
        self,
        goal: ServerGoalHandle,
        fb: ExecuteWorkflow.Feedback,
        sim_t0: float,
        traj: JointTrajectory,
        name: str,
        task: Task,
        held: str | None,
        msg: bytes | None = None,
    ) -> None:
        """Send ``traj`` and wait until the arm is at its end and at rest, within tolerance and timeout.

        ``msg`` is the trajectory's serialized message when it was built beforehand.
        """
        names = [s.name for s in task.steps]
        width_m = held_width_m(task, names.index(name)) if name in names else None
        st = self.wait_state()
        t_send = st.stamp_s
        self.pub_traj.publish(msg if msg is not None else conv.trajectory_to_msg(traj))
        self._dispatched(goal, fb, sim_t0)
        order = [traj.joint_names.index(j) for j in self.joint_names]
        q_end = traj.end[order]
        timeout_s = self.params.timeout_factor * traj.duration_s + self.params.timeout_margin_s
        next_beat = time.monotonic() + HEARTBEAT_S
        while True:
            st = self.wait_state(after_stamp_s=st.stamp_s)
            if goal.is_cancel_requested:
                raise Canceled()
            elapsed_s = st.stamp_s - t_send
            if held is not None:
                self.check_held(held, width_m, st)
            err = float(np.max(np.abs(st.q - q_end)))
            if (
                elapsed_s >= traj.duration_s
                and err <= self.params.goal_tolerance_rad
                and float(np.max(np.abs(st.qd))) <= self.params.settle_velocity_rad_s
            ):
                self._completed(st)
                return
            if elapsed_s > timeout_s:
                raise StepFault(f"{name}: not at its end after {elapsed_s:.2f} s (error {err:.3f} rad)")
            if time.monotonic() >= next_beat:
                next_beat = time.monotonic() + HEARTBEAT_S
                self._feedback(goal, fb, sim_t0)

    def _completed(self, st: CellState) -> None:
        self.step_done_wall = st.received_wall_s

    def _dispatched(self, goal: ServerGoalHandle, fb: ExecuteWorkflow.Feedback, sim_t0: float) -> None:
        """A command is out: count the hand-off since the previous step, then report the step's phase."""
        if self.step_done_wall is not None:
            self.task_overhead_s += time.monotonic() - self.step_done_wall
            self.step_done_wall = None
        # Feedback after the command, not before it: it is not on the path to the cell.
        self._feedback(goal, fb, sim_t0)

    def check_held(self, part: str, contact_m: float | None, st: CellState) -> None:
        """StepFault when the jaw width says ``part`` (``contact_m`` wide) is no longer between the pads."""
        if contact_m is None:
            return
        if abs(st.width_m - contact_m) > self.params.grip_tolerance_m:
            raise StepFault(
                f"{part} dropped: jaw width {st.width_m * 1000:.1f} mm, part is {contact_m * 1000:.1f} mm wide"
            )

    def run_gripper(
        self,
        goal: ServerGoalHandle,
        fb: ExecuteWorkflow.Feedback,
        sim_t0: float,
        step: MotionStep,
        task: Task,
    ) -> None:
        """Command the jaws and wait until they stop (at the width or on the part); check a grasp."""
        if step.gripper_width_m is None:
            raise StepFault(f"step {step.name}: gripper step without a width")
        force_n = (
            step.gripper_force_n
            if step.gripper_force_n is not None
            else (task.grasp.force_n if task.grasp else 50.0)
        )
        st = self.wait_state()
        t_send = st.stamp_s
        self.pub_grip.publish(conv.gripper_command_to_msg(step.gripper_width_m, force_n))
        self._dispatched(goal, fb, sim_t0)
        # The jaws ramp at their rated speed; after that they are done once still (at the width or on a part).
        width0_m = st.width_m
        ramp_s = abs(step.gripper_width_m - width0_m) / self.gripper_speed_m_s
        moved = False
        history: list[tuple[float, float]] = []
        next_beat = time.monotonic() + HEARTBEAT_S
        while True:
            st = self.wait_state(after_stamp_s=st.stamp_s)
            if goal.is_cancel_requested:
                raise Canceled()
            elapsed_s = st.stamp_s - t_send
            history.append((st.stamp_s, st.width_m))
            # Jaw speed against the newest state at least GRIPPER_STILL_S old (a busy executor skips
            # messages, so never judge from a single state, and allow any gap).
            older = [(t, w) for t, w in history if t <= st.stamp_s - GRIPPER_STILL_S]
            still = bool(older) and (
                abs(st.width_m - older[-1][1]) / (st.stamp_s - older[-1][0]) < GRIPPER_STILL_SPEED_M_S
            )
            # Still jaws only count once they were seen moving: the command may reach the cell late. Jaws
            # that never move (already on the part) are done after the ramp time plus a margin.
            moved = moved or abs(st.width_m - width0_m) > 2 * GRIPPER_STILL_M
            settled = still and (moved or elapsed_s >= ramp_s + GRIPPER_NO_MOVE_MARGIN_S)
            if abs(st.width_m - step.gripper_width_m) < GRIPPER_STILL_M or (elapsed_s >= ramp_s and settled):
                break
            if elapsed_s > self.params.gripper_timeout_s + ramp_s:
                raise StepFault(f"{step.name}: gripper still moving after {elapsed_s:.2f} s")
            if time.monotonic() >= next_beat:
                next_beat = time.monotonic() + HEARTBEAT_S
                self._feedback(goal, fb, sim_t0)
        self._completed(st)
        contact = held_width_m(task, task.steps.index(step)) if step.attach else None
        if step.attach and contact is not None:
            contact_m = contact
            if abs(st.width_m - contact_m) > self.params.grip_tolerance_m:
                raise StepFault(
                    f"{step.attach} not held: jaws at {st.width_m * 1000:.1f} mm, "
                    f"part is {contact_m * 1000:.1f} mm wide"
                )

    def check_placement(self, task: Task) -> None:
        """StepFault when the simulated part came to rest away from its planned place pose."""
        if not self.params.check_part_poses or task.part not in self.part_poses:
            return
        now_s = self.wait_state().stamp_s
        deadline = time.monotonic() + 1.0
        while self.part_stamp_s < now_s and time.monotonic() < deadline:
            time.sleep(
                0.005
            )  # the pose topic runs slower than /joint_states: take one from after the release
        err_m = float(
            np.linalg.norm(self.part_poses[task.part][:3, 3] - task.T_world_part_place.matrix()[:3, 3])
        )
        if err_m > self.params.place_tolerance_m:
            raise StepFault(f"{task.part} placed {err_m * 1000:.0f} mm from its target")

    def close(self) -> None:
        self.store.close()


def main(argv: Sequence[str] | None = None) -> int:
    # The run thread waits on joint states taken by the executor's thread: hand the GIL over every 1 ms
    # (default 5 ms) so that it reacts to a finished step within a few ms.
    sys.setswitchinterval(0.001)
    return run_node(WorkflowExecutorNode, argv, threads=1)


if __name__ == "__main__":
    sys.exit(main())
