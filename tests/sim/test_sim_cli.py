"""The `flexcell validate` / `flexcell export gazebo` commands: outputs, exit codes, bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from flexcell.cli import app

runner = CliRunner()


@pytest.fixture
def wf_copy(scripted_workflow: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "wf"
    shutil.copytree(scripted_workflow.parent, dst)
    return dst / "workflow.yaml"


def test_validate_writes_json_and_pictures(wf_copy: Path) -> None:
    r = runner.invoke(app, ["validate", str(wf_copy), "--json"])
    assert r.exit_code == 0, r.output
    report = json.loads((wf_copy.parent / "validation.json").read_text())
    assert report["tasks_total"] == 1 and report["tasks_passed"] == 1
    task = report["tasks"][0]
    for key in (
        "pass",
        "placement_error_mm",
        "placement_error_deg",
        "max_slip_mm",
        "collisions",
    ):
        assert key in task
    for key in ("cycle_time_s", "sim_real_time_factor"):
        assert report[key] > 0
    with Image.open(wf_copy.parent / "storyboard.png") as board:
        assert board.size == (960, 28 + 240)
        pixels = np.asarray(board.convert("L"), dtype=float)
    assert pixels.std() > 10  # a picture, not a blank sheet
    with Image.open(wf_copy.parent / "run.gif") as gif:
        assert gif.n_frames >= 20


def test_validate_fault_exits_1(wf_copy: Path) -> None:
    r = runner.invoke(app, ["validate", str(wf_copy.parent), "--fault", "part_offset", "--no-pictures"])
    assert r.exit_code == 1, r.output
    report = json.loads((wf_copy.parent / "validation_fault-part_offset.json").read_text())
    assert report["fault"] == "part_offset" and report["tasks_passed"] == 0


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["validate", "/nonexistent/wf.yaml"], "not found"),
        (["validate", "WF", "--fault", "gremlins"], "unknown fault"),
        (["validate", "BAD"], "workflow.yaml"),
        (["export", "gazebo", "/nonexistent"], "not found"),
    ],
)
def test_bad_input_exits_2(wf_copy: Path, tmp_path: Path, args: list[str], needle: str) -> None:
    bad = tmp_path / "bad" / "workflow.yaml"
    bad.parent.mkdir()
    bad.write_text("schema_version: 1\nvariant: x\n")
    args = [str(wf_copy) if a == "WF" else str(bad) if a == "BAD" else a for a in args]
    r = runner.invoke(app, args)
    assert r.exit_code == 2, r.output
    assert needle in r.output
    assert "Traceback" not in r.output
    assert not (bad.parent / "validation.json").exists()


def test_export_gazebo_cli(wf_copy: Path, tmp_path: Path) -> None:
    r = runner.invoke(app, ["export", "gazebo", str(wf_copy), "--out", str(tmp_path / "gz")])
    assert r.exit_code == 0, r.output
    assert {p.name for p in (tmp_path / "gz").iterdir()} == {
        "world.sdf",
        "robot.urdf",
        "controllers.yaml",
        "meshes",
    }
