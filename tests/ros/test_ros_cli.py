"""``flexcell up`` / ``flexcell ros``: one command brings the graph up, introspection works, Ctrl-C stops all."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from flexcell_ros.client import CellClient

pytestmark = pytest.mark.ros
FLEXCELL = [sys.executable, "-m", "flexcell.cli"]


def _flexcell(*args: str, timeout_s: float = 60.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*FLEXCELL, *args], capture_output=True, text=True, timeout=timeout_s)


def test_up_introspection_and_clean_shutdown(ros_domain_id: int, tmp_path: Path, workflow_1: Path) -> None:
    dom = str(ros_domain_id)
    params = tmp_path / "params.yaml"
    db = tmp_path / "runs.sqlite3"
    params.write_text(
        "workflow_executor:\n  ros__parameters:\n    db_path: " + str(db) + "\n"
        "cell_manager:\n  ros__parameters:\n    db_path: " + str(db) + "\n    require_validation: false\n"
    )
    up = subprocess.Popen(
        [
            *FLEXCELL,
            "up",
            "--headless",
            "--domain-id",
            dom,
            "--variant",
            str(workflow_1),
            "--params",
            str(params),
            "--log-dir",
            str(tmp_path / "logs"),
            "--camera-hz",
            "2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # as from a shell: the test session's MUJOCO_GL is not inherited (sim_cell's camera must pick the
        # headless OpenGL backend itself)
        env={k: v for k, v in os.environ.items() if k != "MUJOCO_GL"},
    )
    try:
        deadline = time.monotonic() + 60.0
        status: dict[str, object] = {}
        while time.monotonic() < deadline:  # the variant given to `up` gets loaded: READY
            echo = _flexcell("ros", "echo", "/cell/status", "--domain-id", dom, "--timeout", "5")
            if echo.returncode == 0 and "state_name: READY" in echo.stdout:
                status = {"ok": True}
                break
            time.sleep(0.5)
        assert status, "the graph did not reach READY"
        expected = (
            "/joint_states",
            "/clock",
            "/arm_controller/joint_trajectory",
            "/cell/status",
            "/diagnostics",
        )
        # DDS discovery is eventually consistent: a loaded machine may need a second look, as an operator would.
        for _ in range(4):
            topics = _flexcell("ros", "topics", "--domain-id", dom)
            if all(name in topics.stdout for name in expected):
                break
        for name in expected:
            assert name in topics.stdout, topics.stdout
        # the cell camera (--camera-hz; on in the repository's parameters, for the dashboard): JPEGs arrive
        with CellClient(ros_domain_id, name="camera_check", motion=False, camera=True) as cam:
            cam.wait_for(lambda: cam.camera_image() is not None, 30.0, "a cell camera image")
            image = cam.camera_image()
            assert image is not None and image[1] == "jpeg" and image[0][:2] == b"\xff\xd8"
        call = _flexcell(
            "ros", "call", "/cell_manager/load_variant", "{variant: no_such_variant}", "--domain-id", dom
        )
        resp = json.loads(call.stdout)
        assert resp["success"] is False and "no_such_variant: no such variant directory" in resp["message"]
        bad = _flexcell("ros", "call", "/cell_manager/load_variant", "{varient: x}", "--domain-id", dom)
        assert bad.returncode == 2 and "request.varient: no such field" in bad.stderr
    finally:
        up.send_signal(signal.SIGINT)  # what Ctrl-C sends
        _out, err = up.communicate(timeout=30)
    assert up.returncode == 0, err
    assert "unclean exit" not in err
    # no node left behind
    ps = subprocess.run(["pgrep", "-f", f"params-file {tmp_path}"], capture_output=True, text=True)
    assert ps.stdout.strip() == ""


def test_up_refuses_a_bad_parameter_file_before_starting(tmp_path: Path) -> None:
    params = tmp_path / "params.yaml"
    params.write_text("sim_cell:\n  ros__parameters:\n    real_time_factor: fast\n")
    res = _flexcell("up", "--headless", "--params", str(params), "--log-dir", str(tmp_path / "logs"))
    assert res.returncode == 2
    assert "sim_cell.real_time_factor: Input should be a valid number" in res.stderr
    assert res.stderr.count("\n") == 1 and "Traceback" not in res.stderr
    assert not (tmp_path / "logs").exists()
