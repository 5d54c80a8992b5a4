"""The real node graph (one process per node, real DDS on loopback, own domain per test), checked over ROS.

Runs use scripted pick-and-place workflows (tests/ros/workflows.py) at a high sim real-time factor.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from flexcell_ros.bringup import Graph
from flexcell_ros.client import CellClient
from flexcell_ros.run_store import RunStore
from std_msgs.msg import String

from cell_config import load_cell
from workflow_gen.model import load_workflow

pytestmark = pytest.mark.ros

# Placement tolerance through the whole ROS path (the in-process validation allows 2 mm; the executor's
# waits differ a little, and the part settles on a station after release).
PLACE_TOL_M = 0.005

Start = Callable[..., tuple[Graph, CellClient]]


def _targets(wf_path: Path) -> dict[str, np.ndarray]:
    wf, _ = load_workflow(wf_path)
    return {p.name: p.T_world_target.matrix()[:3, 3] for p in wf.parts}


def _load_and_start(client: CellClient, wf_path: Path) -> None:
    resp = client.load_variant(str(wf_path))
    assert resp.success, resp.message
    assert resp.task_count == len(load_workflow(wf_path)[0].tasks)
    client.wait_state("READY", 10.0)
    # the sim spawned the workflow's parts
    client.wait_for(lambda: set(client.part_poses) == set(_targets(wf_path)), 10.0, "part poses")
    started = client.trigger("start")
    assert started.success, started.message


def _assert_placed_once(db: Path, n_tasks: int) -> None:
    """The run store's latest run released each task's part exactly once (no place repeated or missing)."""
    store = RunStore(db)
    try:
        run_id = store.latest_run_id()
        assert run_id is not None
        places = store.task_places(run_id)
    finally:
        store.close()
    assert places == dict.fromkeys(range(n_tasks), 1), f"places per task {places}: one repeated or missing"


def _assert_placed(client: CellClient, wf_path: Path) -> None:
    for name, target in _targets(wf_path).items():
        err_m = float(np.linalg.norm(client.part_poses[name][:3, 3] - target))
        assert err_m < PLACE_TOL_M, f"{name} ended {err_m * 1000:.1f} mm from its target"


def test_run_variant_end_to_end(cell_graph: Start, workflow_1: Path) -> None:
    graph, client = cell_graph()
    home = load_cell().home
    status = client.wait_state("IDLE", 10.0)
    assert status.runs_completed == 0
    _load_and_start(client, workflow_1)
    client.wait_state("RUNNING", 5.0)
    status = client.wait_state("IDLE", 90.0)
    assert status.runs_completed == 1, status
    assert status.last_fault == ""
    _wf, trajs = load_workflow(workflow_1)
    planned_s = sum(t.duration_s for t in trajs.values())
    # cycle time in sim seconds: the planned motions plus jaw moves (3 x ~0.2 s), settling and the hand-off
    # between steps; at real-time factor 4 every wall millisecond the executor lags costs 4 sim ms, and
    # this 2-core machine is shared, hence the loose bound (the in-process replay takes ~1.2 x planned)
    assert planned_s < status.last_cycle_time_s < 2.5 * planned_s, (status.last_cycle_time_s, planned_s)
    samples = client.joint_samples()
    q = np.array([s.q for s in samples])
    # the arm moved far from home (the carry swings the base) and came back home
    assert np.max(np.abs(q - home).max(axis=1)) > 0.5
    assert np.allclose(samples[-1].q, home, atol=0.01)
    stamps = np.array([s.stamp_s for s in samples])
    # loading a workflow rebuilds the simulation and sim time restarts near 0 (it may be loaded more than once);
    # anywhere else the stamps must strictly increase
    d = np.diff(stamps)
    restart = (d <= 0) & (stamps[1:] < 0.1)
    bad = np.flatnonzero((d <= 0) & ~restart)
    assert bad.size == 0, f"joint states out of order at {[(stamps[i], stamps[i + 1]) for i in bad[:5]]}"
    time.sleep(0.2)
    _assert_placed(client, workflow_1)
    assert graph.dead() == {}


def test_dropped_part_faults_and_retry_recovers(cell_graph: Start, workflow_1: Path) -> None:
    _graph, client = cell_graph()
    wf, _ = load_workflow(workflow_1)
    grasp = wf.tasks[0].grasp
    assert grasp is not None
    _load_and_start(client, workflow_1)
    # wait until the part is held (jaws at the part's width), then into the lift/carry
    client.wait_for(
        lambda: abs(client.joint_samples()[-1].width_m - grasp.contact_width_m) < 0.002, 60.0, "the grasp"
    )
    # the arm lifting the part: the executor has checked the grasp and moved on
    client.wait_for(lambda: np.max(np.abs(client.joint_samples()[-1].qd)) > 0.2, 30.0, "the lift")
    client.publish("/sim/inject", String(data="drop"))
    status = client.wait_state("FAULT", 20.0)
    assert "box0 dropped: jaw width" in status.last_fault, status.last_fault
    # the arm stopped: no motion a moment later
    time.sleep(0.5)
    assert np.max(np.abs(client.joint_samples()[-1].qd)) < 0.01
    # the operator puts the part back in its feeder slot and retries
    time.sleep(0.3)
    client.publish("/sim/return_part", String(data="box0"))
    start = wf.parts[0].T_world_start.matrix()[:3, 3]
    client.wait_for(
        lambda: float(np.linalg.norm(client.part_poses["box0"][:3, 3] - start)) < 0.003, 10.0, "box0 back"
    )
    resumed = client.trigger("resume")
    assert resumed.success, resumed.message
    status = client.wait_state("IDLE", 90.0)
    assert status.runs_completed == 1
    time.sleep(0.2)
    _assert_placed(client, workflow_1)


def test_stop_halts_motion_within_100ms_sim(cell_graph: Start, workflow_1: Path) -> None:
    # real time x2 so that the sim-time bound is not eaten by wall-clock transport latency
    _graph, client = cell_graph(rtf=2.0)
    # a first stop outside a run only halts the arm (the state stays): it also gets the service
    # connection past DDS matching, which can delay the very first request of a client by ~1 s
    assert client.trigger("stop").success
    assert client.status is not None and client.status.state_name == "IDLE"
    _load_and_start(client, workflow_1)
    client.wait_for(lambda: np.max(np.abs(client.joint_samples()[-1].qd)) > 0.4, 30.0, "the arm at speed")
    t_req = client.sim_time_s
    n_req = len(client.joint_samples())  # (earlier samples include the sim before the load rebuilt it)
    speed_req = float(np.max(np.abs(client.joint_samples()[-1].qd)))
    stopped = client.trigger("stop")
    assert stopped.success
    client.wait_state("ESTOP", 5.0)
    time.sleep(1.0)
    after = [s for s in client.joint_samples()[n_req - 1 :] if s.stamp_s >= t_req]
    speed = np.array([np.max(np.abs(s.qd)) for s in after])
    t = np.array([s.stamp_s for s in after]) - t_req
    # braking began within 100 ms of sim time (speed down 10 % and falling from there on) ...
    braking = np.flatnonzero(speed < 0.9 * speed_req)
    assert braking.size, "the arm never slowed down"
    assert t[braking[0]] <= 0.100, f"braking began {t[braking[0]] * 1000:.0f} ms after the stop request"
    # ... and the arm is at rest within its braking time at the rated deceleration (6 rad/s^2) + 100 ms
    halted = np.flatnonzero(speed < 0.05)
    assert halted.size and t[halted[0]] <= speed_req / 6.0 + 0.1, (
        f"halted after {t[halted[0]] if halted.size else None} s"
    )
    # it stays stopped (the run does not go on): at rest over the last 0.5 s of sim time
    assert np.max(speed[t > t[-1] - 0.5]) < 0.005


def test_executor_crash_resumes_without_repeating_a_place(
    cell_graph: Start, workflow_2: Path, tmp_path: Path
) -> None:
    graph, client = cell_graph()
    targets = _targets(workflow_2)
    _load_and_start(client, workflow_2)
    # kill the executor once the second task is under way (the first part is placed)
    client.wait_for(lambda: client.status is not None and client.status.task_index == 1, 90.0, "task 1")
    time.sleep(0.3)
    graph.kill("workflow_executor")
    assert float(np.linalg.norm(client.part_poses["box0"][:3, 3] - targets["box0"])) < PLACE_TOL_M
    status = client.wait_state("FAULT", 10.0)
    assert "workflow_executor lost" in status.last_fault
    n_box0 = len(client.joint_samples())
    graph.start(["workflow_executor"])
    client.wait_for(lambda: client.trigger("resume").success, 30.0, "resume accepted by a new executor")
    status = client.wait_state("IDLE", 90.0)
    assert status.runs_completed == 1
    time.sleep(0.2)
    _assert_placed(client, workflow_2)
    _assert_placed_once(tmp_path / "runs.sqlite3", 2)
    # the resumed run never went back to box0: the jaws never closed on a part again after the restart
    widths = np.array([s.width_m for s in client.joint_samples()[n_box0:]])
    closings = np.count_nonzero(np.diff((widths < 0.04).astype(int)) == 1)
    assert closings <= 1, f"the gripper closed {closings} times after the restart (one pick of box1 at most)"


def test_cell_manager_crash_is_offered_for_resume_and_nothing_is_placed_twice(
    cell_graph: Start, workflow_2: Path, tmp_path: Path
) -> None:
    graph, client = cell_graph()
    _load_and_start(client, workflow_2)
    client.wait_for(lambda: client.status is not None and client.status.task_index == 1, 90.0, "task 1")
    graph.kill("cell_manager")
    # The executor finishes the goal it holds (as a real controller finishes its move); the run stays
    # unfinished in the store until a manager sees its result.
    graph.start(["cell_manager"])
    client.wait_for(
        lambda: (
            client.status is not None
            and client.status.state_name == "FAULT"
            and "was interrupted" in client.status.last_fault
        ),
        30.0,
        "the restarted manager offering the interrupted run",
    )
    assert client.status is not None and client.status.runs_completed == 0
    client.wait_for(lambda: client.trigger("resume").success, 30.0, "resume of the interrupted run")
    status = client.wait_state("IDLE", 90.0)
    assert status.runs_completed == 1 and status.task_index == 2, status
    time.sleep(0.2)
    _assert_placed(client, workflow_2)
    _assert_placed_once(tmp_path / "runs.sqlite3", 2)


def test_operator_task_pauses_the_cell_until_the_worker_confirms(
    cell_graph: Start, workflow_operator: Path, tmp_path: Path
) -> None:
    _graph, client = cell_graph()
    _load_and_start(client, workflow_operator)
    # the robot's task, then the cell pauses by itself and shows the worker what to do
    client.wait_for(
        lambda: client.status is not None and client.status.state_name == "PAUSED", 90.0, "the operator pause"
    )
    status = client.status
    assert status is not None and status.task_index == 1, status
    assert status.task_description == "operator: Take box1 from feeder slot C3.\nPut it on feeder."
    targets = _targets(workflow_operator)
    assert float(np.linalg.norm(client.part_poses["box0"][:3, 3] - targets["box0"])) < PLACE_TOL_M
    # it stays paused, the arm at rest, until the worker confirms (nothing confirms it for them)
    time.sleep(1.5)
    assert client.status is not None and client.status.state_name == "PAUSED"
    assert np.max(np.abs(client.joint_samples()[-1].qd)) < 0.01
    assert client.trigger("resume").success
    status = client.wait_state("IDLE", 30.0)
    assert status.runs_completed == 1 and status.task_index == 2, status
    time.sleep(0.2)
    _assert_placed(client, workflow_operator)  # box1 where the worker put it (the sim did it for them)
    _assert_placed_once(tmp_path / "runs.sqlite3", 2)


def test_manager_restarted_during_an_operator_task_does_not_leave_the_run_stuck(
    cell_graph: Start, workflow_operator: Path, tmp_path: Path
) -> None:
    """The executor waits for the worker's pause/resume; a restarted manager comes back in FAULT with no goal
    of its own: the executor must give the goal up (else the resume's goal is refused as busy, for ever)."""
    graph, client = cell_graph()
    _load_and_start(client, workflow_operator)
    client.wait_for(
        lambda: client.status is not None and client.status.state_name == "PAUSED", 90.0, "the operator pause"
    )
    graph.kill("cell_manager")
    graph.start(["cell_manager"])
    client.wait_for(
        lambda: client.status is not None and "was interrupted" in client.status.last_fault,
        30.0,
        "the restarted manager offering the interrupted run",
    )
    time.sleep(2.0)  # the executor stops its goal once FAULT has lasted 1 s
    assert client.trigger("resume").success
    # the run continues at the operator task: the cell pauses for the worker again
    client.wait_for(
        lambda: client.status is not None and client.status.state_name == "PAUSED", 30.0, "the operator pause"
    )
    assert client.status is not None and client.status.task_description.startswith("operator: Take box1")
    assert client.trigger("resume").success
    status = client.wait_state("IDLE", 30.0)
    assert status.runs_completed == 1 and status.task_index == 2, status
    time.sleep(0.2)
    _assert_placed(client, workflow_operator)
    _assert_placed_once(tmp_path / "runs.sqlite3", 2)


def test_planned_variant_end_to_end(cell_graph: Start, repo: Path) -> None:
    """The example kit planned by workflow_gen (planned on first use, then reused from build/)."""
    _graph, client = cell_graph(
        rtf=6.0, cell_manager={"require_validation": True, "workflows_dir": str(repo / "build")}
    )
    resp = client.load_variant("sensor_kit", timeout_s=600.0)
    assert resp.success, resp.message
    assert "validated in simulation" in resp.message  # the manager checked the sim validation first
    wf_path = Path(resp.workflow_path)
    wf, _ = load_workflow(wf_path)
    robot_tasks = [t for t in wf.tasks if t.actor == "robot"]
    assert len(robot_tasks) >= 5
    client.wait_for(lambda: set(client.part_poses) == {p.name for p in wf.parts}, 10.0, "part poses")
    assert client.trigger("start").success
    status = client.wait_state("IDLE", 180.0)
    assert status.runs_completed == 1 and status.task_index == len(wf.tasks), status
    time.sleep(0.2)
    placed = {t.part for t in robot_tasks}
    for p in wf.parts:
        if p.name in placed:
            err_m = float(np.linalg.norm(client.part_poses[p.name][:3, 3] - p.T_world_target.matrix()[:3, 3]))
            assert err_m < PLACE_TOL_M, f"{p.name} ended {err_m * 1000:.1f} mm from its target"


def test_planned_variant_with_an_operator_task_end_to_end(
    cell_graph: Start, repo: Path, tmp_path: Path
) -> None:
    """oversize_kit: big_block is too wide for the gripper, so the plan gives it to the worker; planned and
    validated by the manager (into this test's own directory), run through the graph, confirmed by Resume."""
    variants = tmp_path / "variants"
    shutil.copytree(repo / "cad_parts" / "oversize_kit", variants / "oversize_kit")
    _graph, client = cell_graph(
        rtf=6.0,
        cell_manager={
            "require_validation": True,
            "variants_dir": str(variants),
            "workflows_dir": str(tmp_path / "planned"),
        },
    )
    resp = client.load_variant("oversize_kit", timeout_s=600.0)
    assert resp.success, resp.message
    assert list(resp.infeasible_parts) == ["big_block"]
    wf, _ = load_workflow(Path(resp.workflow_path))
    operator = [t for t in wf.tasks if t.actor == "operator"]
    assert [t.part for t in operator] == ["big_block"]
    client.wait_for(lambda: set(client.part_poses) == {p.name for p in wf.parts}, 10.0, "part poses")
    assert client.trigger("start").success
    client.wait_for(
        lambda: client.status is not None and client.status.state_name == "PAUSED",
        120.0,
        "the operator pause",
    )
    assert client.status is not None and "big_block" in client.status.task_description
    assert client.trigger("resume").success
    status = client.wait_state("IDLE", 120.0)
    assert status.runs_completed == 1 and status.task_index == len(wf.tasks), status
    time.sleep(0.2)
    for p in wf.parts:
        err_m = float(np.linalg.norm(client.part_poses[p.name][:3, 3] - p.T_world_target.matrix()[:3, 3]))
        assert err_m < PLACE_TOL_M, f"{p.name} ended {err_m * 1000:.1f} mm from its target"
    # loaded again unchanged: the plan is reused; after an edit of variant.yaml it is planned again
    created = wf.created_utc
    resp = client.load_variant("oversize_kit", timeout_s=600.0)
    assert resp.success and "re-planned" not in resp.message, resp.message
    spec = variants / "oversize_kit" / "variant.yaml"
    spec.write_text(spec.read_text() + "# edited\n")
    time.sleep(1.0)  # created_utc has whole seconds
    resp = client.load_variant("oversize_kit", timeout_s=600.0)
    assert resp.success, resp.message
    assert "re-planned" in resp.message and "from other inputs" in resp.message, resp.message
    assert load_workflow(Path(resp.workflow_path))[0].created_utc != created
