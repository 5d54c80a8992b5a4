"""``workflow_executor`` node: runs a planned workflow on the cell through the controllers' actions.

Action server
    ``execute_workflow`` (flexcell_interfaces/action/ExecuteWorkflow): one goal at a time; feedback at every
    step and at least every 0.25 s (a heartbeat the manager watches); cancel stops the arm at once.
Action clients (control_msgs, what ros2_control's controllers serve)
    ``/arm_controller/follow_joint_trajectory`` (FollowJointTrajectory): each planned motion, with the goal
    tolerances ``goal_tolerance_rad`` / ``settle_velocity_rad_s`` on every joint and a goal time tolerance
    of ``(timeout_factor - 1) x duration + timeout_margin_s``. The step is done when the result says
    SUCCEEDED with error_code 0; an aborted or rejected goal faults the task with the controller's error
    code and error_string.
    ``/gripper_controller/gripper_cmd`` (GripperCommand): each jaw move (``position`` = width, ``max_effort``
    = the step's force). A grasp (a step that attaches a part) holds when the result says ``stalled`` at a
    width within ``grip_tolerance_m`` of the part's contact width; jaws that reached the commanded width
    closed on nothing.
    The executor never decides from /joint_states that a step is over; while a goal runs it watches the
    joint states only for the held part (the jaw width), for cancel requests and as a watchdog (no result
    by the step's sim-time budget: the goal is canceled and the task faults).
Publishes
    ``/arm_controller/joint_trajectory`` (trajectory_msgs/JointTrajectory): an empty trajectory to stop the
    arm at once when a task faults or the run is canceled.
    ``/sim/operator_place`` (std_msgs/String): the part of a confirmed operator task, so that a simulated
    cell puts it where the worker did (a real cell has no subscriber).
Subscribes
    ``/joint_states`` (sensor_msgs/JointState): arm joints + ``finger_left_joint`` (width / 2): where the
    arm is (to rejoin a plan), the jaw width (a held part), and sim time for the watchdogs.
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
from typing import Any

import numpy as np
import rclpy
from action_msgs.msg import GoalStatus
from control_msgs.action import FollowJointTrajectory, GripperCommand
from flexcell_interfaces.action import ExecuteWorkflow
from flexcell_interfaces.msg import CellStatus
from geometry_msgs.msg import PoseArray
from rclpy.action import ActionClient, ActionServer, CancelResponse, GoalResponse
from rclpy.action.client import ClientGoalHandle
from rclpy.action.server import ServerGoalHandle
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy
from rclpy.task import Future
from sensor_msgs.msg import JointState
from std_msgs.msg import String
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
# The watchdog of a controller goal: sim seconds past the budget the goal itself carries (the controller's
# own verdict normally comes first), and how long a canceled goal may take to stop (wall s).
WATCHDOG_MARGIN_S = 1.0
CANCEL_WAIT_S = 3.0
# A controller goal that failed while the run was being canceled (the manager stops the arm first, then
# cancels): how long to wait for that cancel before calling it a fault (wall s).
CANCEL_GRACE_S = 0.2
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


class FilingActionClient(ActionClient):
    """An ActionClient whose requests (goal, result, cancel) may be made from any thread.

    rclpy's client sends a request first and files it (the future its answer completes) after: an answer
    taken by the executor's thread in between is dropped ("Ignoring unexpected goal response") and its
    future never completes. Here the answers wait for a request in progress to be filed.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.filing = threading.Lock()

    def send_goal_async(self, goal: Any, feedback_callback: Any = None, goal_uuid: Any = None) -> Future:
        with self.filing:
            return super().send_goal_async(goal, feedback_callback, goal_uuid)

    def _get_result_async(self, goal_handle: ClientGoalHandle) -> Future:
        with self.filing:
            return super()._get_result_async(goal_handle)

    def _cancel_goal_async(self, goal_handle: ClientGoalHandle) -> Future:
        with self.filing:
            return super()._cancel_goal_async(goal_handle)

    async def execute(self, taken_data: Any) -> None:
        with self.filing:
            pass  # a goal being sent is filed now
        await super().execute(taken_data)


@dataclass
class ControllerGoal:
    """A goal sent to a controller's action server; the executor's thread fills it in as answers come."""

    handle: ClientGoalHandle | None = None
    rejected: bool = False
    status: int | None = None
    result: Any = None
    finished_wall: float = 0.0

    @property
    def finished(self) -> bool:
        return self.rejected or self.status is not None


STATUS_WORDS = {
    GoalStatus.STATUS_SUCCEEDED: "succeeded",
    GoalStatus.STATUS_ABORTED: "aborted",
    GoalStatus.STATUS_CANCELED: "canceled",
}


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
        self.traj_goals: dict[str, FollowJointTrajectory.Goal] = {}
        # Wall time between the controller result that completed a step (its receipt by this node) and the
        # next goal going out (dispatch overhead).
        self.step_done_wall: float | None = None
        self.task_overhead_s = 0.0

        group = ReentrantCallbackGroup()
        # Subscriptions in one mutually exclusive group: messages are handled one at a time, in order.
        topics = MutuallyExclusiveCallbackGroup()
        latched = QoSProfile(
            depth=1, reliability=QoSReliabilityPolicy.RELIABLE, durability=QoSDurabilityPolicy.TRANSIENT_LOCAL
        )
        self.pub_traj = self.create_publisher(JointTrajectoryMsg, "/arm_controller/joint_trajectory", 10)
        self.arm_client = FilingActionClient(
            self, FollowJointTrajectory, "/arm_controller/follow_joint_trajectory", callback_group=group
        )
        self.grip_client = FilingActionClient(
            self, GripperCommand, "/gripper_controller/gripper_cmd", callback_group=group
        )
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
        # Goals built once per run, not between steps: a 144-point trajectory takes ~1 ms to build.
        self.traj_goals = {key: self._follow_goal(t) for key, t in trajs.items()}
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
            self._wait_servers()
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
                    self.traj_goals.get(step.trajectory),
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

    # --- the controllers' actions ----------------------------------------------------------------------
    def _wait_servers(self) -> None:
        """StepFault when the arm or gripper controller offers no action server within wall_timeout_s."""
        for name, client in (
            ("/arm_controller/follow_joint_trajectory", self.arm_client),
            ("/gripper_controller/gripper_cmd", self.grip_client),
        ):
            if not client.wait_for_server(timeout_sec=self.params.wall_timeout_s):
                raise StepFault(f"no controller action server {name}")

    def _follow_goal(self, traj: JointTrajectory) -> FollowJointTrajectory.Goal:
        """The arm goal of a planned motion: the executor's goal tolerances and time budget."""
        p = self.params
        return conv.follow_goal_to_msg(
            traj,
            goal_tolerance=conv.joint_tolerances_to_msg(
                traj.joint_names, position=p.goal_tolerance_rad, velocity=p.settle_velocity_rad_s
            ),
            goal_time_tolerance_s=(p.timeout_factor - 1.0) * traj.duration_s + p.timeout_margin_s,
        )

    def _send(self, client: ActionClient, goal_msg: Any) -> ControllerGoal:
        """Send ``goal_msg`` now, from the run thread; the answers fill in the returned ControllerGoal."""
        cg = ControllerGoal()

        def on_result(fut: Future) -> None:
            res = fut.result()
            with self.cond:
                cg.status, cg.result = res.status, res.result
                cg.finished_wall = time.monotonic()
                self.cond.notify_all()

        def on_goal_response(fut: Future) -> None:
            handle = fut.result()
            if not handle.accepted:
                with self.cond:
                    cg.rejected = True
                    cg.finished_wall = time.monotonic()
                    self.cond.notify_all()
                return
            cg.handle = handle
            handle.get_result_async().add_done_callback(on_result)

        if self.step_done_wall is not None:  # the hand-off since the previous step's result
            self.task_overhead_s += time.monotonic() - self.step_done_wall
            self.step_done_wall = None
        client.send_goal_async(goal_msg).add_done_callback(on_goal_response)
        return cg

    def _cancel(self, cg: ControllerGoal) -> None:
        if cg.handle is not None and not cg.finished:
            cg.handle.cancel_goal_async()

    def _wait_finished(self, cg: ControllerGoal, wall_s: float) -> bool:
        deadline = time.monotonic() + wall_s
        with self.cond:
            while not cg.finished and time.monotonic() < deadline:
                self.cond.wait(0.05)
        return cg.finished

    def _await(
        self,
        cg: ControllerGoal,
        goal: ServerGoalHandle,
        fb: ExecuteWorkflow.Feedback,
        sim_t0: float,
        what: str,
        budget_s: float,
        held: str | None = None,
        contact_m: float | None = None,
    ) -> ControllerGoal:
        """Wait for the controller's answer to ``cg``; meanwhile watch cancel requests, the held part (jaw
        width) and the sim-time budget, and send the heartbeat feedback."""
        st0 = self.wait_state()
        next_beat = time.monotonic() + HEARTBEAT_S
        while True:
            with self.cond:
                if not cg.finished:
                    self.cond.wait(HEARTBEAT_S)  # woken by every joint state and by the answer
                st = self.state
            if cg.finished:
                if cg.status != GoalStatus.STATUS_SUCCEEDED and self._cancel_coming(goal):
                    raise Canceled()
                return cg
            if goal.is_cancel_requested:
                self._cancel(cg)
                self._wait_finished(cg, CANCEL_WAIT_S)
                raise Canceled()
            assert st is not None
            if time.monotonic() - st.received_wall_s > self.params.wall_timeout_s:
                raise StepFault(f"no /joint_states for {self.params.wall_timeout_s:.0f} s")
            if held is not None:
                self.check_held(held, contact_m, st)
            if st.stamp_s - st0.stamp_s > budget_s + WATCHDOG_MARGIN_S:
                self._cancel(cg)
                raise StepFault(
                    f"{what}: no result from the controller after {st.stamp_s - st0.stamp_s:.2f} s"
                )
            if time.monotonic() >= next_beat:
                next_beat = time.monotonic() + HEARTBEAT_S
                self._feedback(goal, fb, sim_t0)

    @staticmethod
    def _cancel_coming(goal: ServerGoalHandle) -> bool:
        """A cancel of the run is on its way (or here): the manager stops the arm before it cancels."""
        deadline = time.monotonic() + CANCEL_GRACE_S
        while not goal.is_cancel_requested and time.monotonic() < deadline:
            time.sleep(0.01)
        return bool(goal.is_cancel_requested)

    def _completed(self, cg: ControllerGoal) -> None:
        self.step_done_wall = cg.finished_wall

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
        goal_msg: FollowJointTrajectory.Goal | None = None,
    ) -> None:
        st = self.wait_state()
        order = [traj.joint_names.index(j) for j in self.joint_names] if self.joint_names else None
        start = traj.start if order is None else traj.start[order]
        if np.max(np.abs(st.q - start)) > REJOIN_THRESHOLD_RAD:
            # Away from the plan (resumed run, stopped arm): a slow joint move back to where it starts.
            rejoin = rejoin_trajectory(self.joint_names, st.q, start, self.params.rejoin_velocity_rad_s)
            self.get_logger().info(f"rejoining the plan before {name} ({rejoin.duration_s:.2f} s)")
            self._move(goal, fb, sim_t0, rejoin, f"rejoin before {name}", task, held)
        self._move(goal, fb, sim_t0, traj, name, task, held, goal_msg)

    def _move(
        self,
        goal: ServerGoalHandle,
        fb: ExecuteWorkflow.Feedback,
        sim_t0: float,
        traj: JointTrajectory,
        name: str,
        task: Task,
        held: str | None,
        goal_msg: FollowJointTrajectory.Goal | None = None,
    ) -> None:
        """Send ``traj`` to the arm controller and wait for its result (``goal_msg``: built beforehand)."""
        names = [s.name for s in task.steps]
        width_m = held_width_m(task, names.index(name)) if name in names else None
        cg = self._send(self.arm_client, goal_msg if goal_msg is not None else self._follow_goal(traj))
        # Feedback after the command, not before it: it is not on the path to the cell.
        self._feedback(goal, fb, sim_t0)
        budget_s = self.params.timeout_factor * traj.duration_s + self.params.timeout_margin_s
        self._await(cg, goal, fb, sim_t0, name, budget_s, held, width_m)
        if cg.rejected:
            raise StepFault(f"{name}: the arm controller rejected the goal")
        res = cg.result
        if (
            cg.status != GoalStatus.STATUS_SUCCEEDED
            or res.error_code != FollowJointTrajectory.Result.SUCCESSFUL
        ):
            code = conv.FJT_ERROR_NAMES.get(res.error_code, str(res.error_code))
            word = STATUS_WORDS.get(cg.status or 0, f"ended ({cg.status})")
            raise StepFault(f"{name}: the arm controller {word} the goal: {code}: {res.error_string}")
        self._completed(cg)

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
        """Send the jaw move to the gripper controller and wait for its result; check a grasp by it."""
        if step.gripper_width_m is None:
            raise StepFault(f"step {step.name}: gripper step without a width")
        force_n = (
            step.gripper_force_n
            if step.gripper_force_n is not None
            else (task.grasp.force_n if task.grasp else 50.0)
        )
        width0_m = self.state.width_m if self.state is not None else step.gripper_width_m
        cg = self._send(self.grip_client, conv.gripper_goal_to_msg(step.gripper_width_m, force_n))
        self._feedback(goal, fb, sim_t0)
        travel_s = abs(step.gripper_width_m - width0_m) / self.gripper_speed_m_s
        self._await(cg, goal, fb, sim_t0, step.name, travel_s + self.params.gripper_timeout_s)
        if cg.rejected:
            raise StepFault(f"{step.name}: the gripper controller rejected the goal")
        res = cg.result
        if cg.status != GoalStatus.STATUS_SUCCEEDED:
            word = STATUS_WORDS.get(cg.status or 0, f"ended ({cg.status})")
            raise StepFault(
                f"{step.name}: the gripper controller {word} the goal: jaws at {res.position * 1000:.1f} mm,"
                f" neither at {step.gripper_width_m * 1000:.1f} mm nor stalled"
            )
        self._completed(cg)
        contact_m = held_width_m(task, task.steps.index(step)) if step.attach else None
        if step.attach and contact_m is not None:
            if not res.stalled or abs(res.position - contact_m) > self.params.grip_tolerance_m:
                how = "stalled at" if res.stalled else "closed to"
                raise StepFault(
                    f"{step.attach} not held: the jaws {how} {res.position * 1000:.1f} mm, "
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
