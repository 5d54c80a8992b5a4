"""Simulation benchmark: real-time factor of a pick-and-place with the control loop, render time per frame.

Targets: real-time factor >= 50 (validation at 2 ms steps, controllers and checks included) and <= 50 ms
per 640x480 frame. Run with ``flexcell bench sim --json`` or ``python benchmarks/sim_bench.py``.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

from cell_config import Cell, load_cell
from sim.scripted_workflow import build_pick_place
from sim.validate import validate_workflow

RTF_TARGET = 50.0
RENDER_MS_TARGET = 50.0


def run_sim_bench(cell: Cell | None = None, repeats: int = 3, frames: int = 20) -> dict[str, object]:
    """Measure and return a JSON-ready dict (medians over ``repeats`` runs / ``frames`` frames)."""
    from sim.cell_sim import CellSim
    from sim.render import Recorder, view_camera

    cell = cell or load_cell()
    with tempfile.TemporaryDirectory() as tmp:
        wf_path = build_pick_place(cell, Path(tmp) / "wf")
        rtfs, walls, cpus, sim_s = [], [], [], 0.0
        passed = True
        for _ in range(repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            res = validate_workflow(wf_path)
            walls.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
            rtfs.append(res.sim_real_time_factor)
            sim_s = res.cycle_time_s
            passed = passed and res.passed
        sim = CellSim.from_workflow(wf_path)
        with Recorder(sim.model, view_camera(cell), 640, 480, video=False) as rec:
            rec.render(sim)  # first frame pays for context and texture upload
            ms, cpu_ms = [], []
            for _ in range(frames):
                sim.step(5)
                t0, c0 = time.perf_counter(), time.process_time()
                rec.render(sim)
                ms.append((time.perf_counter() - t0) * 1e3)
                cpu_ms.append((time.process_time() - c0) * 1e3)
    rtf = float(np.median(rtfs))
    wall_rtf = sim_s / float(np.median(walls))
    render_ms = float(np.median(ms))
    return {
        "benchmark": "sim",
        "workflow": "scripted one-box pick-and-place (feeder A1 -> fixture), 2 ms steps, 250 Hz control",
        "sim_time_s": sim_s,
        "passed": passed,
        "sim_real_time_factor": round(rtf, 1),
        "sim_real_time_factor_incl_load": round(wall_rtf, 1),
        # Per CPU second of this process: what the machine gives when no one else is using the cores.
        "sim_real_time_factor_cpu_incl_load": round(sim_s / float(np.median(cpus)), 1),
        "load_avg_1min": round(os.getloadavg()[0], 2),
        "rtf_target": RTF_TARGET,
        "rtf_ok": rtf >= RTF_TARGET,
        "render_ms_per_frame_640x480": round(render_ms, 1),
        "render_ms_p95": round(float(np.percentile(ms, 95)), 1),
        "render_cpu_ms_per_frame": round(float(np.median(cpu_ms)), 1),
        "render_target_ms": RENDER_MS_TARGET,
        "render_ok": render_ms <= RENDER_MS_TARGET,
    }
