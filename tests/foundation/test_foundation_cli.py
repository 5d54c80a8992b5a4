"""The flexcell CLI as a user runs it: bad input gives one line and exit 2, the demo works."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from cell_config.loader import CELLS_DIR

FLEXCELL = [sys.executable, "-m", "flexcell.cli"]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*FLEXCELL, *args], capture_output=True, text=True, timeout=120, env=env)


def test_cell_check_accepts_the_shipped_cells() -> None:
    r = run("cell", "check", *map(str, sorted(CELLS_DIR.glob("*.yaml"))))
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("ok ") == 2


def test_bad_cell_is_one_line_exit_2_no_traceback(tmp_path: Path) -> None:
    raw = yaml.safe_load((CELLS_DIR / "ur5e_cell.yaml").read_text())
    raw["robot"]["urdf"] = "missing/robot.urdf"
    bad = tmp_path / "bad_cell.yaml"
    bad.write_text(yaml.safe_dump(raw))
    r = run("cell", "check", str(bad))
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    assert str(bad) in lines[0] and "robot.urdf" in lines[0] and "file not found" in lines[0]


def test_malformed_yaml_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "broken.yaml"
    bad.write_text("name: x\nrobot: [unclosed\n")
    r = run("cell", "show", str(bad))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "broken.yaml" in r.stderr and "not valid YAML" in r.stderr


def test_demo_plans_simulates_and_brings_up_ros(tmp_path: Path, ros_domain_id: int) -> None:
    """`make demo`'s job: the default variant is planned, every task passes in physics, pictures are written."""
    import json
    import os

    out = tmp_path / "demo"
    r = run("demo", "--out", str(out), env=dict(os.environ))
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    report = json.loads((out / "validation.json").read_text())
    assert report["tasks_total"] >= 5 and report["tasks_passed"] == report["tasks_total"]
    assert (out / "workflow.yaml").is_file() and (out / "storyboard.png").stat().st_size > 10_000
    assert "runtime up: rmw rmw_fastrtps_cpp" in r.stdout.replace("\n", " ")
