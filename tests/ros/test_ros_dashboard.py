"""The operator web dashboard: a real uvicorn server (thread, free port) over a real node graph, via httpx.

The dashboard reaches the cell only through ROS (its own ``CellClient``) and reads the run history from the
manager's SQLite file; the test's own ROS client cross-checks what the dashboard reports.
"""

from __future__ import annotations

import io
import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from flexcell_ros.bringup import Graph
from flexcell_ros.cell_manager import allowed_commands
from flexcell_ros.client import CellClient
from PIL import Image

from cell_config import load_cell
from workflow_gen.fingerprint import inputs_fingerprint

pytestmark = pytest.mark.ros

Start = Callable[..., tuple[Graph, CellClient]]
Serve = Callable[..., httpx.Client]
FLEXCELL = [sys.executable, "-m", "flexcell.cli"]
BUTTONS = ("btn-start", "btn-pause", "btn-resume", "btn-stop", "btn-reset", "btn-load")


def _status(http: httpx.Client) -> dict[str, Any]:
    r = http.get("/api/status")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _poll(http: httpx.Client, until: Callable[[dict[str, Any]], bool], timeout_s: float, what: str) -> Any:
    """Poll /api/status (every 50 ms, as a browser would, only faster) until ``until(status)``."""
    deadline = time.monotonic() + timeout_s
    seen: list[str] = []
    while True:
        r = http.get("/api/status")
        if r.status_code == 200:
            st = r.json()
            if not seen or seen[-1] != st["state"]:
                seen.append(st["state"])
            if until(st):
                return st
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}; states seen {seen}")
        time.sleep(0.05)


def _load_and_start(http: httpx.Client, client: CellClient, wf_path: Path) -> None:
    r = http.post("/api/load_variant", json={"variant": str(wf_path)})
    assert r.status_code == 200, r.text
    assert r.json()["task_count"] == 1 and r.json()["workflow_path"] == str(wf_path)
    st = _poll(http, lambda s: s["state"] == "READY", 10.0, "READY")
    assert st["variant"] == "scripted_boxes" and st["allowed"]["start"] and not st["allowed"]["pause"]
    # the sim has spawned the part before the run starts (as the graph tests do)
    client.wait_for(lambda: set(client.part_poses) == {"box0"}, 10.0, "part poses")
    r = http.post("/api/start")
    assert r.status_code == 200 and "started" in r.json()["message"], r.text


def test_page_and_errors_without_a_manager(dashboard: Serve) -> None:
    """No graph on the domain: the page is served, the API says 503 (not a hang), bad bodies 422."""
    http = dashboard(service_timeout_s=0.5)
    page = http.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    for button in BUTTONS:
        assert f'id="{button}"' in html, button
    assert 'id="state"' in html and 'id="bar-fill"' in html and 'id="runs"' in html
    assert "/api/status" in html and "setInterval(pollStatus, 500)" in html
    # self-contained: nothing fetched from elsewhere
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)

    r = http.get("/api/status")
    assert r.status_code == 503 and "cell manager not reachable" in r.json()["detail"], r.text
    t0 = time.monotonic()
    r = http.post("/api/start")
    assert r.status_code == 503, r.text
    assert "/cell_manager/start not available" in r.json()["detail"]
    assert time.monotonic() - t0 < 5.0  # the 0.5 s service timeout, plus the request
    r = http.post("/api/load_variant", json={"variant": "bracket_assembly"})
    assert r.status_code == 503 and "/cell_manager/load_variant not available" in r.json()["detail"]

    for bad in ({}, {"variant": ""}, {"varient": "x"}, {"variant": 3}, {"variant": "x", "extra": 1}):
        r = http.post("/api/load_variant", json=bad)
        assert r.status_code == 422, (bad, r.text)
    r = http.post("/api/load_variant", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert http.get("/api/runs").json()["runs"] == []  # no database yet: no history, not an error
    assert http.get("/api/runs", params={"limit": 0}).status_code == 422
    assert http.post("/api/status").status_code == 405
    assert http.post("/api/launch").status_code == 404


def _variant_tree(root: Path) -> tuple[Path, Path]:
    """Variants ``a_ok`` (planned, validation passed), ``b_failed`` (planned, validation failed),
    ``c_new`` (not planned), ``d_unchecked`` (planned, never validated), ``e_edited`` (planned from other
    inputs: out of date) and a directory without variant.yaml."""
    variants, workflows = root / "variants", root / "workflows"
    for name in ("a_ok", "b_failed", "c_new", "d_unchecked", "e_edited"):
        (variants / name).mkdir(parents=True)
        (variants / name / "variant.yaml").write_text("parts: []\n")
    (variants / "notes").mkdir()
    cell = load_cell()
    for name, verdict in (("a_ok", True), ("b_failed", False), ("d_unchecked", None), ("e_edited", True)):
        (workflows / name).mkdir(parents=True)
        head = {"variant": name, "seed": 0, "inputs_sha256": inputs_fingerprint(variants / name, cell, 0)}
        (workflows / name / "workflow.yaml").write_text(json.dumps(head))
        if verdict is not None:
            tasks = [{"task": "t0", "pass": verdict}]
            (workflows / name / "validation.json").write_text(json.dumps({"passed": verdict, "tasks": tasks}))
    (variants / "e_edited" / "variant.yaml").write_text("parts: []  # edited after planning\n")
    return variants, workflows


def test_variant_list_says_what_is_planned_and_validated(dashboard: Serve, tmp_path: Path) -> None:
    variants, workflows = _variant_tree(tmp_path)
    http = dashboard(service_timeout_s=0.5, variants_dir=variants, workflows_dir=workflows)
    body = http.get("/api/variants").json()
    assert body["variants_dir"] == str(variants)
    by_name = {v["name"]: v for v in body["variants"]}
    assert list(by_name) == ["a_ok", "b_failed", "c_new", "d_unchecked", "e_edited"]  # sorted, no "notes"
    assert by_name["a_ok"]["planned"] and by_name["a_ok"]["current"] and by_name["a_ok"]["validated"] is True
    assert (
        by_name["b_failed"]["validated"] is False
        and "validation failed (tasks t0)" in by_name["b_failed"]["note"]
    )
    assert not by_name["c_new"]["planned"] and by_name["c_new"]["validated"] is None
    assert by_name["d_unchecked"]["planned"] and by_name["d_unchecked"]["validated"] is None
    assert not by_name["c_new"]["current"] and by_name["d_unchecked"]["current"]
    edited = by_name["e_edited"]
    assert edited["planned"] and not edited["current"] and "from other inputs" in edited["note"], edited
    # no variants directory configured (or missing): an empty list, not an error
    assert dashboard().get("/api/variants").json() == {"variants_dir": None, "variants": []}
    missing = dashboard(variants_dir=tmp_path / "nowhere").get("/api/variants").json()
    assert missing == {"variants_dir": str(tmp_path / "nowhere"), "variants": []}


def test_allowed_commands_follow_the_manager_state_machine() -> None:
    assert allowed_commands("IDLE", False) == {
        "load_variant": True,
        "start": False,
        "pause": False,
        "resume": False,
        "stop": True,
        "reset": True,
    }
    assert allowed_commands("IDLE", True)["start"]  # after a run: the variant is still loaded
    running = allowed_commands("RUNNING", True)
    assert [c for c, ok in running.items() if ok] == ["pause", "stop"]
    assert [c for c, ok in allowed_commands("PAUSED", True).items() if ok] == ["resume", "stop"]
    assert [c for c, ok in allowed_commands("FAULT", True).items() if ok] == ["resume", "stop", "reset"]
    assert [c for c, ok in allowed_commands("ESTOP", True).items() if ok] == ["stop", "reset"]


def test_run_a_workflow_through_the_dashboard(cell_graph: Start, dashboard: Serve, workflow_1: Path) -> None:
    _graph, client = cell_graph()
    http = dashboard()
    st = _poll(http, lambda s: s["state"] == "IDLE", 20.0, "IDLE")
    assert st["variant"] == "" and st["runs_completed"] == 0 and not st["allowed"]["start"]
    assert st["age_s"] < 3.0
    # this graph's sim_cell has its camera off: no image, and the page is told so
    assert st["camera"] is False
    r = http.get("/api/camera.jpg")
    assert r.status_code == 404 and "camera_rate_hz is 0" in r.json()["detail"], r.text

    # refusals come back as 409 with the manager's reason
    r = http.post("/api/start")
    assert r.status_code == 409, r.text
    assert r.json()["detail"] == "cannot start in state IDLE (load a variant first)"
    r = http.post("/api/load_variant", json={"variant": "no_such_variant"})
    assert r.status_code == 409 and "no_such_variant: no such variant directory" in r.json()["detail"]

    _load_and_start(http, client, workflow_1)
    running = _poll(http, lambda s: s["state"] == "RUNNING", 5.0, "RUNNING")
    assert running["task_count"] == 1 and running["task_index"] == 0
    assert running["allowed"]["pause"] and running["allowed"]["stop"] and not running["allowed"]["start"]
    r = http.post("/api/load_variant", json={"variant": str(workflow_1)})
    assert r.status_code == 409 and r.json()["detail"] == "cannot load a variant in state RUNNING"
    # the cycle time counts up while the run goes on
    later = _poll(http, lambda s: s["cycle_time_s"] > 1.0 or s["state"] != "RUNNING", 30.0, "cycle time")
    assert later["state"] in ("RUNNING", "IDLE")
    done = _poll(http, lambda s: s["state"] == "IDLE", 90.0, "the run to complete")
    assert done["runs_completed"] == 1 and done["last_fault"] == ""
    assert done["task_index"] == 1 and done["task_count"] == 1
    # the same numbers as the manager publishes on /cell/status (seen by the test's own ROS client)
    ros = client.status
    assert ros is not None and ros.state_name == "IDLE"
    assert done["last_cycle_time_s"] == pytest.approx(ros.last_cycle_time_s, abs=1e-9)
    assert 5.0 < done["last_cycle_time_s"] < 30.0  # the ~9.3 s sim pick-and-place (see test_ros_graph)

    runs = http.get("/api/runs").json()["runs"]
    assert len(runs) == 1, runs
    run = runs[0]
    assert run["state"] == "completed" and run["variant"] == "scripted_boxes"
    assert run["workflow"] == str(workflow_1)
    assert run["cycle_time_s"] == pytest.approx(done["last_cycle_time_s"], abs=1e-9)
    assert run["task_count"] == 1 and run["tasks_finished"] == 1 and run["places"] == 1
    assert run["faults"] == [] and run["finished_utc"] >= run["started_utc"]


def test_cell_camera_images_through_the_dashboard(
    cell_graph: Start, dashboard: Serve, workflow_1: Path
) -> None:
    _graph, client = cell_graph(sim_cell={"camera_rate_hz": 4.0})
    http = dashboard()
    _poll(http, lambda s: s["camera"], 30.0, "a camera image")

    def image() -> np.ndarray:
        r = http.get("/api/camera.jpg")
        assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg", r.text
        assert r.headers["cache-control"] == "no-store"
        with Image.open(io.BytesIO(r.content)) as img:
            assert img.format == "JPEG" and img.size == (640, 480)
            return np.asarray(img.convert("L"), dtype=float)

    before = image()
    assert before.std() > 10.0  # a picture of the cell, not a blank frame
    _load_and_start(http, client, workflow_1)
    client.wait_for(
        lambda: np.max(np.abs(client.joint_samples()[-1].q - client.joint_samples()[0].q)) > 0.5,
        60.0,
        "the arm away from where it was",
    )
    time.sleep(0.6)  # the next images (4 per second)
    after = image()
    # the arm moved (and the part appeared): the pictures differ where the robot is
    assert np.mean(np.abs(after - before) > 25) > 0.005


def test_pause_resume_stop_reset_through_the_dashboard(
    cell_graph: Start, dashboard: Serve, workflow_1: Path
) -> None:
    # half the test real-time factor: the run lasts long enough (~5 s wall) to pause, resume and stop it
    _graph, client = cell_graph(rtf=2.0)
    http = dashboard()
    _poll(http, lambda s: s["state"] == "IDLE", 20.0, "IDLE")
    _load_and_start(http, client, workflow_1)
    _poll(http, lambda s: s["state"] == "RUNNING", 5.0, "RUNNING")

    r = http.post("/api/pause")
    assert r.status_code == 200 and r.json()["message"] == "pausing at the next step boundary", r.text
    paused = _poll(http, lambda s: s["state"] == "PAUSED", 5.0, "PAUSED")
    assert paused["allowed"]["resume"] and not paused["allowed"]["pause"] and not paused["allowed"]["reset"]
    r = http.post("/api/pause")
    assert r.status_code == 409 and r.json()["detail"] == "cannot pause in state PAUSED"
    r = http.post("/api/reset")
    assert r.status_code == 409 and r.json()["detail"] == "cannot reset while PAUSED (stop first)"

    r = http.post("/api/resume")
    assert r.status_code == 200 and r.json()["message"] == "resumed", r.text
    _poll(http, lambda s: s["state"] == "RUNNING", 5.0, "RUNNING again")
    # the arm moves again before the stop
    client.wait_for(lambda: np.max(np.abs(client.joint_samples()[-1].qd)) > 0.1, 20.0, "the arm moving")
    r = http.post("/api/stop")
    assert r.status_code == 200 and r.json()["message"] == "arm stopped", r.text
    estop = _poll(http, lambda s: s["state"] == "ESTOP", 5.0, "ESTOP")
    assert [c for c, ok in estop["allowed"].items() if ok] == ["stop", "reset"]
    time.sleep(1.0)
    speed = max(float(np.max(np.abs(s.qd))) for s in client.joint_samples()[-50:])
    assert speed < 0.01, f"the arm still moves at {speed:.3f} rad/s after the stop"
    r = http.post("/api/start")
    assert r.status_code == 409 and r.json()["detail"].startswith("cannot start in state ESTOP")

    r = http.post("/api/reset")
    assert r.status_code == 200 and r.json()["message"] == "READY", r.text
    ready = _poll(http, lambda s: s["state"] == "READY", 5.0, "READY after reset")
    assert ready["runs_completed"] == 0 and ready["last_fault"] == ""
    runs = http.get("/api/runs").json()["runs"]
    assert [r["state"] for r in runs] == ["aborted"] and runs[0]["cycle_time_s"] is None
    assert runs[0]["tasks_finished"] == 0


def test_flexcell_dashboard_cli_serves_and_stops_on_ctrl_c(ros_domain_id: int, tmp_path: Path) -> None:
    """``flexcell dashboard`` on a free port with no graph: the page and a 503, then Ctrl-C ends it cleanly."""
    proc = subprocess.Popen(
        [
            *FLEXCELL,
            "dashboard",
            "--port",
            "0",
            "--domain-id",
            str(ros_domain_id),
            "--db",
            str(tmp_path / "x.db"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        m = re.search(r"dashboard on (http://127\.0\.0\.1:\d+)", line)
        assert m, f"no URL in the first line of output: {line!r}"
        with httpx.Client(base_url=m.group(1), timeout=10.0) as http:
            deadline = time.monotonic() + 30.0
            while True:  # the URL is printed when the socket is bound, just before uvicorn serves it
                try:
                    page = http.get("/")
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, "the dashboard never answered"
                    time.sleep(0.1)
            assert page.status_code == 200 and 'id="btn-start"' in page.text
            assert http.get("/api/status").status_code == 503
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20.0)
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err
    assert out.rstrip().endswith("dashboard stopped")


def test_flexcell_up_with_dashboard(ros_domain_id: int, tmp_path: Path, workflow_1: Path) -> None:
    """``flexcell up --dashboard``: the graph and the dashboard in one command, on the graph's run database."""
    db = tmp_path / "runs.sqlite3"
    params = tmp_path / "params.yaml"
    params.write_text(
        f"workflow_executor:\n  ros__parameters:\n    db_path: {db}\n"
        f"cell_manager:\n  ros__parameters:\n    db_path: {db}\n    require_validation: false\n"
    )
    args = ["--headless", "--dashboard", "--dashboard-port", "0", "--domain-id", str(ros_domain_id)]
    args += ["--variant", str(workflow_1), "--params", str(params), "--log-dir", str(tmp_path / "logs")]
    up = subprocess.Popen(
        [*FLEXCELL, "up", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert up.stdout is not None
        url = None
        for _ in range(20):  # "flexcell graph up (...)" comes first, possibly wrapped over lines
            line = up.stdout.readline()
            if m := re.search(r"dashboard on (http://127\.0\.0\.1:\d+)", line):
                url = m.group(1)
                break
        assert url, "flexcell up did not print the dashboard URL"
        with httpx.Client(base_url=url, timeout=10.0) as http:
            # the variant given to `up` gets loaded: READY, seen through the dashboard
            st = _poll(http, lambda s: s["state"] == "READY", 60.0, "READY")
            assert st["variant"] == "scripted_boxes" and st["task_count"] == 1
            runs = http.get("/api/runs").json()
            assert runs["db_path"] == str(db) and runs["runs"] == []
    finally:
        up.send_signal(signal.SIGINT)  # what Ctrl-C sends
        _out, err = up.communicate(timeout=30.0)
    assert up.returncode == 0, err
    assert "unclean exit" not in err and "Traceback" not in err, err
