"""The motion benchmark runs (quick mode, no peer) and reports the documented fields."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

FIELDS = (
    "success_rate",
    "valid_rate",
    "plan_ms_median",
    "plan_ms_p95",
    "path_length_median",
    "traj_duration_s_median",
    "ik_success_rate",
    "ik_ms_median",
)


def test_bench_motion_quick_json(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "flexcell"
    out = tmp_path / "motion.json"
    r = subprocess.run(
        [str(exe), "bench", "motion", "--quick", "--json", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    report = json.loads(out.read_text())
    assert json.loads(r.stdout) == report
    for f in FIELDS:
        assert f in report and f in report["ur5e"] and f in report["panda"]
    assert set(report["scenes"]) == {"ur5e_random", "ur5e_shelf_bin", "panda_random", "panda_shelf_bin"}
    assert report["peer"] is None and report["speedup_vs_peer"] is None and report["peer_reason"]
    # Every returned trajectory passed the dense unpadded re-check.
    assert report["valid_rate"] == 1.0
    assert report["success_rate"] >= 0.9
