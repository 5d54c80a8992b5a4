"""``cell_manager`` node: the operator's state machine over one cell, and the run history.

States (flexcell_interfaces/msg/CellStatus): IDLE (nothing to run, or the last run finished), READY (a
variant is loaded), RUNNING, PAUSED (held at the next step boundary; also entered by itself at an operator
task, whose instructions are then the task description and whose confirmation is ``resume``), FAULT (a step
failed or the executor was lost; ``resume`` retries, ``reset`` abandons the run), ESTOP (``stop`` halted the
arm during a run; ``reset`` clears; outside a run ``stop`` only halts the arm).

Services
    ``/cell_manager/load_variant`` (flexcell_interfaces/srv/LoadVariant): resolve a variant (name under
    ``variants_dir``, directory, or workflow.yaml), plan it when no workflow exists (or ``force_replan``),
    refuse it when its simulation validation failed, and load its parts into a simulated cell.
    ``/cell_manager/start`` | ``pause`` | ``resume`` | ``stop`` | ``reset`` (std_srvs/Trigger).
Publishes
    ``/cell/status`` (flexcell_interfaces/msg/CellStatus) at ``status_rate_hz`` and on every change.
    ``/diagnostics`` (diagnostic_msgs/DiagnosticArray) at 1 Hz.
    ``/arm_controller/joint_trajectory``: only the empty (stop) trajectory, on ``stop``, so that a stop does
    not wait for the executor.
Action client
    ``execute_workflow`` (flexcell_interfaces/action/ExecuteWorkflow); its feedback doubles as a heartbeat.
Service clients
    ``/sim/load_workflow`` (when a simulated cell is up).
Parameters
    see :class:`flexcell_ros.params.CellManagerParams`.

Runs, tasks and faults go to the SQLite run store; a manager restarted during a run comes back in FAULT with
that run, so ``resume`` continues it where the executor left off.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import rclpy
from action_msgs.msg import GoalStatus
from diagnostic_msgs.msg import DiagnosticArray
from flexcell_interfaces.action import ExecuteWorkflow
from flexcell_interfaces.msg import CellStatus
from flexcell_interfaces.srv import LoadVariant
from rclpy.action import ActionClient
from rclpy.action.client import ClientGoalHandle
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.task import Future
from std_srvs.srv import Trigger
from trajectory_msgs.msg import JointTrajectory as JointTrajectoryMsg

from flexcell_ros import conversions as conv
from flexcell_ros.node_main import node_params, run_node
from flexcell_ros.params import CellManagerParams
from flexcell_ros.run_store import RunStore
from workflow_gen.model import WorkflowError, load_workflow

S = CellStatus


def allowed_commands(state_name: str, loaded: bool) -> dict[str, bool]:
    """The operator commands the manager accepts in ``state_name`` (``loaded``: a variant is loaded).

    The one table behind the manager's refusals and the dashboard's buttons. ``stop`` is always accepted
    (outside a run it halts the arm); ``resume`` from FAULT also needs the faulted run.
    """
    idle = state_name in ("IDLE", "READY")
    return {
        "load_variant": idle,
        "start": idle and loaded,
        "pause": state_name == "RUNNING",
        "resume": state_name in ("PAUSED", "FAULT"),
        "stop": True,
        "reset": state_name in ("IDLE", "READY", "FAULT", "ESTOP"),
    }


# Wall seconds to wait for the executor to accept a goal before sending it again, and how often.
GOAL_RESPONSE_TIMEOUT_S = 2.0
GOAL_RESENDS = 5


class VariantError(ValueError):
    """A variant cannot be loaded; the message says which and why."""


def plan_variant(variant_dir: Path, cell_path: Path | None, out_dir: Path) -> Path:
    """Plan ``variant_dir`` with the workflow generator's Python API; returns the written workflow.yaml."""
    from cell_config import ConfigError
    from workflow_gen.pipeline import plan_variant as plan

    try:
        plan(variant_dir, cell_path, out_dir)
    except ConfigError as e:
        raise VariantError(str(e)) from None
    return out_dir / "workflow.yaml"


def plan_stale_reason(wf_path: Path, variant_dir: Path, cell_path: Path | None) -> str:
    """Why the planned workflow no longer matches the variant's files or the cell ("" = current)."""
    from cell_config import ConfigError, load_cell
    from workflow_gen.fingerprint import stale_reason

    try:
        return stale_reason(wf_path, variant_dir, load_cell(cell_path))
    except ConfigError as e:
        raise VariantError(str(e)) from None


def validation_verdict(workflow_path: Path, run_if_missing: bool) -> tuple[bool | None, str]:
    """``(passed, reason)`` of the simulation validation of a workflow.

    Reads ``validation.json`` beside the workflow; without one, replays the workflow in MuJoCo
    (``sim.validate``) when ``run_if_missing``; ``(None, ...)`` when it was never validated.
    """
    report = workflow_path.parent / "validation.json"
    if report.is_file():
        try:
            data: dict[str, Any] = json.loads(report.read_text())
        except json.JSONDecodeError as e:
            return False, f"{report}: unreadable ({e})"
        failed = [str(t.get("task", "?")) for t in data.get("tasks", []) if not t.get("pass", True)]
        if data.get("passed") is True:
            return True, "validated in simulation"
        return False, f"{report}: validation failed" + (f" (tasks {', '.join(failed)})" if failed else "")
    if not run_if_missing:
        return None, "not validated in simulation"
    from sim.validate import validate_workflow

    result = validate_workflow(workflow_path)
    if result.passed:
        return True, f"validated in simulation ({result.tasks_passed}/{result.tasks_total} tasks)"
    failed = [f"{t.task}: {'; '.join(t.failures)}" for t in result.tasks if not t.passed]
    return False, f"{workflow_path}: validation failed ({' | '.join(failed)})"


class CellManagerNode(Node):
    """See the module docstring for the interfaces."""

    def __init__(self, context: rclpy.Context) -> None:
        super().__init__(
            "cell_manager", context=context, automatically_declare_parameters_from_overrides=True
        )
        self.params: CellManagerParams = node_params(self, "cell_manager")
        self.store = RunStore(self.params.db_path)
        self.lock = threading.RLock()
        self.state = S.IDLE
        self.variant = ""
        self.workflow_path = ""
        self.task_count = 0
        self.task_index = 0
        self.task_description = ""
        # (run, task) of the operator task the cell last paused for: each is paused for once
        self.operator_wait: tuple[str | None, int] | None = None
        self.joint_names: list[str] = []
        self.run_id: str | None = None
        self.cycle_time_s = 0.0
        self.cycle_base_s = 0.0  # sim seconds of earlier goals of the same run (before a fault or restart)
        self.last_fault = ""
        self.goal_seq = 0
        self.goal: ClientGoalHandle | None = None
        self.last_feedback_wall = 0.0
        self.goal_sent_wall = 0.0
        self.goal_resends = 0

        group = ReentrantCallbackGroup()
        self.pub_status = self.create_publisher(CellStatus, "/cell/status", 10)
        self.pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.pub_stop = self.create_publisher(JointTrajectoryMsg, "/arm_controller/joint_trajectory", 10)
        self.executor_client = ActionClient(self, ExecuteWorkflow, "execute_workflow", callback_group=group)
        self.sim_client = self.create_client(LoadVariant, "/sim/load_workflow", callback_group=group)
        self.create_service(
            LoadVariant, "/cell_manager/load_variant", self.on_load_variant, callback_group=group
        )
        handlers: dict[str, Callable[[], tuple[bool, str]]] = {
            "start": self.start,
            "pause": self.pause,
            "resume": self.resume,
            "stop": self.stop,
            "reset": self.reset,
        }
        for name, fn in handlers.items():
            self.create_service(Trigger, f"/cell_manager/{name}", self._trigger(fn), callback_group=group)
        self.create_timer(1.0 / self.params.status_rate_hz, self.publish_status, callback_group=group)
        self.create_timer(1.0, self.publish_diagnostics, callback_group=group)
        self.create_timer(0.2, self.watchdog, callback_group=group)
        self._recover_interrupted_run()
        if self.params.initial_variant:
            self._initial = self.create_timer(0.5, self._load_initial, callback_group=group)

    # --- status --------------------------------------------------------------------------------------
    def _set_state(self, state: int, fault: str | None = None) -> None:
        with self.lock:
            if fault is not None:
                self.last_fault = fault
                self.get_logger().error(f"FAULT: {fault}")
            if state != self.state:
                self.get_logger().info(f"{conv.STATE_NAMES[self.state]} -> {conv.STATE_NAMES[state]}")
            self.state = state
        self.publish_status()

    def publish_status(self) -> None:
        with self.lock:
            msg = conv.status_to_msg(
                time.time(),
                self.state,
                self.variant,
                self.task_index,
                self.task_count,
                self.task_description,
                self.cycle_time_s,
                self.store.last_cycle_time_s(),
                self.store.runs_completed(),
                self.last_fault,
            )
        self.pub_status.publish(msg)

    def publish_diagnostics(self) -> None:
        ready = self.executor_client.server_is_ready()
        self.pub_diag.publish(
            conv.diagnostics_to_msg(
                time.time(),
                "cell_manager",
                self.variant or "no variant",
                self.state not in (S.FAULT, S.ESTOP),
                f"{conv.STATE_NAMES[self.state]}" + (f": {self.last_fault}" if self.state == S.FAULT else ""),
                {"executor_connected": ready, "run_id": self.run_id or "", "workflow": self.workflow_path},
            )
        )

    # --- services ------------------------------------------------------------------------------------
    def _allowed(self, command: str) -> bool:
        """Whether ``command`` is accepted in the current state (call with the lock held)."""
        return allowed_commands(conv.STATE_NAMES[self.state], bool(self.workflow_path))[command]

    def _trigger(
        self, fn: Callable[[], tuple[bool, str]]
    ) -> Callable[[Trigger.Request, Trigger.Response], Trigger.Response]:
        def handle(_req: Trigger.Request, resp: Trigger.Response) -> Trigger.Response:
            resp.success, resp.message = fn()
            return resp

        return handle

    def on_load_variant(self, req: LoadVariant.Request, resp: LoadVariant.Response) -> LoadVariant.Response:
        with self.lock:
            if not self._allowed("load_variant"):
                resp.message = f"cannot load a variant in state {conv.STATE_NAMES[self.state]}"
                return resp
        try:
            wf_path, note = self.resolve_workflow(req.variant, req.cell, req.force_replan)
            wf, _ = load_workflow(wf_path)
        except (VariantError, WorkflowError) as e:
            resp.message = str(e)
            return resp
        ok, sim_note = self._load_into_sim(wf_path)
        if not ok:
            resp.message = f"simulated cell refused {wf_path}: {sim_note}"
            return resp
        with self.lock:
            self.variant, self.workflow_path = wf.variant, str(wf_path)
            self.joint_names = list(wf.joint_names)
            self.task_count, self.task_index = len(wf.tasks), 0
            self.task_description = wf.tasks[0].description if wf.tasks else ""
            self.cycle_time_s = 0.0
            self.last_fault = ""
        self._set_state(S.READY)
        resp.success = True
        resp.workflow_path = str(wf_path)
        resp.task_count = len(wf.tasks)
        resp.infeasible_parts = [i.part for i in wf.infeasible]
        resp.message = f"loaded {wf.variant}: {len(wf.tasks)} tasks, {note}" + (
            f", {sim_note}" if sim_note else ""
        )
        return resp

    def resolve_workflow(self, variant: str, cell: str, force_replan: bool) -> tuple[Path, str]:
        """The workflow.yaml to run for ``variant`` (planning it if needed) and a note on its validation."""
        v = variant.strip()
        if not v:
            raise VariantError("load_variant: empty variant")
        path = Path(v)
        stale = ""
        if path.suffix in (".yaml", ".yml") and path.name != "variant.yaml":
            wf_path = path if path.is_absolute() else Path.cwd() / path
        else:
            variant_dir = path if path.is_absolute() else Path(self.params.variants_dir) / v
            if variant_dir.name == "variant.yaml":
                variant_dir = variant_dir.parent
            if not variant_dir.is_dir():
                raise VariantError(f"{variant_dir}: no such variant directory")
            wf_path = Path(self.params.workflows_dir) / variant_dir.name / "workflow.yaml"
            cell_path = Path(cell or self.params.cell) if (cell or self.params.cell) else None
            if wf_path.is_file() and not force_replan:
                stale = plan_stale_reason(wf_path, variant_dir, cell_path)
                if stale:
                    self.get_logger().warning(f"re-planning {variant_dir.name}: {stale}")
            if force_replan or stale or not wf_path.is_file():
                wf_path = plan_variant(variant_dir, cell_path, wf_path.parent)
        if not wf_path.is_file():
            raise VariantError(f"{wf_path}: file not found")
        passed, note = validation_verdict(wf_path, self.params.require_validation)
        if passed is False and self.params.require_validation:
            raise VariantError(f"refused: {note}")
        return wf_path, (f"re-planned ({stale}), " if stale else "") + note

    def _load_into_sim(self, wf_path: Path) -> tuple[bool, str]:
        """Spawn the workflow's parts in a simulated cell, if one is up (a real cell has no such service)."""
        if not self.sim_client.wait_for_service(timeout_sec=1.0):
            return True, ""
        fut = self.sim_client.call_async(LoadVariant.Request(variant=str(wf_path)))
        res = self._wait(fut, 60.0)
        if res is None:
            return False, "no answer from /sim/load_workflow"
        return bool(res.success), str(res.message)

    @staticmethod
    def _wait(fut: Future, timeout_s: float) -> Any:
        done = threading.Event()
        fut.add_done_callback(lambda _f: done.set())
        if not done.wait(timeout_s):
            return None
        return fut.result()

    def start(self) -> tuple[bool, str]:
        # Right after bring-up the executor may still be in discovery: give it a moment.
        self.executor_client.wait_for_server(timeout_sec=5.0)
        with self.lock:
            if not self._allowed("start"):
                return False, f"cannot start in state {conv.STATE_NAMES[self.state]} (load a variant first)"
            if not self.executor_client.server_is_ready():
                return False, "workflow_executor is not available"
            self.run_id = self.store.new_run(self.variant, self.workflow_path, self.task_count)
            self.cycle_time_s = self.cycle_base_s = 0.0
            self.task_index, self.last_fault, self.goal_resends = 0, "", 0
            self._send_goal(start_task=0)
        self._set_state(S.RUNNING)
        return True, f"run {self.run_id} started"

    def pause(self) -> tuple[bool, str]:
        with self.lock:
            if not self._allowed("pause"):
                return False, f"cannot pause in state {conv.STATE_NAMES[self.state]}"
        self._set_state(S.PAUSED)
        return True, "pausing at the next step boundary"

    def resume(self) -> tuple[bool, str]:
        with self.lock:
            if not self._allowed("resume") or (self.state == S.FAULT and not self.run_id):
                return False, f"nothing to resume in state {conv.STATE_NAMES[self.state]}"
            if self.state == S.PAUSED:
                self.state = S.RUNNING
                msg = "resumed"
            else:
                if not self.executor_client.server_is_ready():
                    return False, "workflow_executor is not available"
                self.cycle_base_s = self.cycle_time_s
                self.goal_resends = 0
                self._send_goal(start_task=-1)
                self.state = S.RUNNING
                msg = f"retrying run {self.run_id} from its first unfinished step"
        self._set_state(S.RUNNING)
        return True, msg

    def stop(self) -> tuple[bool, str]:
        # Stop the arm first, directly: the cancel then reaches the executor, which stops it again.
        self.pub_stop.publish(conv.stop_trajectory_msg(self.joint_names))
        with self.lock:
            if self.state in (S.IDLE, S.READY):
                return True, "arm halted (no run)"
            goal = self.goal
            if self.run_id:
                self.store.set_run_state(self.run_id, "stopped")
        if goal is not None:
            goal.cancel_goal_async()
        self._set_state(S.ESTOP)
        return True, "arm stopped"

    def reset(self) -> tuple[bool, str]:
        with self.lock:
            if not self._allowed("reset"):
                return False, f"cannot reset while {conv.STATE_NAMES[self.state]} (stop first)"
            if self.run_id:
                self.store.set_run_state(self.run_id, "aborted")
            self.run_id, self.goal, self.last_fault = None, None, ""
            self.goal_seq += 1
            state = S.READY if self.workflow_path else S.IDLE
        self._set_state(state)
        return True, conv.STATE_NAMES[state]

    # --- the executor goal ---------------------------------------------------------------------------
    def _send_goal(self, start_task: int) -> None:
        """Send a goal for the current run (caller holds the lock)."""
        self.goal_seq += 1
        seq = self.goal_seq
        self.goal = None
        self.last_feedback_wall = self.goal_sent_wall = time.monotonic()
        goal = ExecuteWorkflow.Goal(
            workflow_path=self.workflow_path, start_task=start_task, run_id=self.run_id or ""
        )
        fut = self.executor_client.send_goal_async(
            goal, feedback_callback=lambda fb: self.on_feedback(seq, fb)
        )
        fut.add_done_callback(lambda f: self.on_goal_response(seq, f))

    def on_goal_response(self, seq: int, fut: Future) -> None:
        handle: ClientGoalHandle = fut.result()
        with self.lock:
            if seq != self.goal_seq:
                # An earlier send that arrived late: adopt it while no goal is running (the executor runs
                # one goal at a time and rejects the later copies); otherwise ignore it.
                if not (handle.accepted and self.goal is None and self.state in (S.RUNNING, S.PAUSED)):
                    return
                self.goal_seq = seq
            self.goal_resends = 0
            if not handle.accepted:
                self.goal = None
                fault = "workflow_executor rejected the run (busy?)"
            else:
                self.goal = handle
                self.last_feedback_wall = time.monotonic()
                handle.get_result_async().add_done_callback(lambda f: self.on_result(seq, f))
                return
        self._set_state(S.FAULT, fault)

    def on_feedback(self, seq: int, msg: Any) -> None:
        fb = msg.feedback
        with self.lock:
            if seq != self.goal_seq:
                return
            self.last_feedback_wall = time.monotonic()
            self.task_index, self.task_description = int(fb.task_index), str(fb.task_description)
            self.cycle_time_s = self.cycle_base_s + float(fb.elapsed_s)
            # An operator task: pause once for it, with its instructions as the task description; the
            # worker's resume confirms it (the executor waits for that pause and resume).
            operator_wait = (self.run_id, self.task_index)
            pause_for_operator = (
                fb.phase == "operator" and self.state == S.RUNNING and self.operator_wait != operator_wait
            )
            if pause_for_operator:
                self.operator_wait = operator_wait
        if pause_for_operator:
            self.get_logger().info(f"waiting for the operator: {self.task_description}")
            self._set_state(S.PAUSED)

    def on_result(self, seq: int, fut: Future) -> None:
        res = fut.result()
        status, result = res.status, res.result
        with self.lock:
            if seq != self.goal_seq:
                return
            self.goal = None
            run_id = self.run_id
            if status == GoalStatus.STATUS_SUCCEEDED and run_id:
                self.cycle_time_s = self.cycle_base_s + float(result.cycle_time_s)
                self.store.set_run_state(run_id, "completed", self.cycle_time_s)
                self.task_index = int(result.tasks_completed)
                self.run_id = None
                new_state, fault = S.IDLE, None
            elif status == GoalStatus.STATUS_CANCELED:
                return  # stop already moved to ESTOP
            else:
                if run_id:
                    self.store.set_run_state(run_id, "fault")
                    self.store.add_fault(run_id, int(result.tasks_completed), result.message or "aborted")
                new_state, fault = S.FAULT, result.message or f"executor ended the run (status {status})"
        self._set_state(new_state, fault)

    def watchdog(self) -> None:
        """Resend an unanswered goal; FAULT when the executor disappears or stops sending feedback."""
        with self.lock:
            if self.state not in (S.RUNNING, S.PAUSED) or self.run_id is None:
                return
            waited_s = time.monotonic() - self.goal_sent_wall
            if self.goal is None and waited_s > GOAL_RESPONSE_TIMEOUT_S and self.goal_resends < GOAL_RESENDS:
                # A restarted executor can look ready (its dead predecessor lingers in DDS discovery) before
                # its goal service is matched: the request is lost. Resending is safe: the goal resumes the
                # run at its first unfinished step.
                self.goal_resends += 1
                self.get_logger().warning(
                    f"no answer to the run goal after {waited_s:.1f} s: sending it again"
                )
                self._send_goal(start_task=-1)
                return
            if self.goal is None and waited_s <= GOAL_RESPONSE_TIMEOUT_S:
                return
            silent_s = time.monotonic() - self.last_feedback_wall
            if silent_s <= self.params.executor_timeout_s and self.executor_client.server_is_ready():
                return
            self.goal_seq += 1  # whatever the lost goal still reports is ignored
            self.goal = None
            self.store.set_run_state(self.run_id, "fault")
            fault = f"workflow_executor lost (no feedback for {silent_s:.1f} s); resume retries the run"
            self.store.add_fault(self.run_id, self.task_index, fault)
        self._set_state(S.FAULT, fault)

    def _recover_interrupted_run(self) -> None:
        run = self.store.unfinished_run()
        if run is None or run.state == "stopped":
            return
        try:
            wf, _ = load_workflow(run.workflow)
        except WorkflowError:
            return
        self.run_id, self.workflow_path, self.variant = run.run_id, run.workflow, wf.variant
        self.task_count = len(wf.tasks)
        self.last_fault = f"run {run.run_id} was interrupted; resume continues it, reset abandons it"
        self.state = S.FAULT

    def _load_initial(self) -> None:
        self._initial.cancel()
        req = LoadVariant.Request(variant=self.params.initial_variant)
        resp = self.on_load_variant(req, LoadVariant.Response())
        log = self.get_logger().info if resp.success else self.get_logger().error
        log(resp.message)

    def close(self) -> None:
        self.store.close()


def main(argv: Sequence[str] | None = None) -> int:
    return run_node(CellManagerNode, argv)


if __name__ == "__main__":
    sys.exit(main())
