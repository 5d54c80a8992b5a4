"""A validation run as a person uses it: replay, pictures, ``validation.json`` written atomically."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from sim.cell_sim import CellSim
from sim.model_builder import SimFault
from sim.render import Recorder, view_camera
from sim.replay_log import McapReplayLog
from sim.validate import ValidationResult, validate_workflow


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a temporary sibling, then rename it over ``path``: readers never see half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# The 3D recording takes the body poses every RECORD_TICK_S of sim time (25 Hz), the GIF every
# VIDEO_EVERY-th of those (5 Hz).
RECORD_TICK_S = 0.04
VIDEO_EVERY = 5


def validate_to_dir(
    wf_path: Path, dest: Path, fault: SimFault | None = None, pictures: bool = True
) -> tuple[ValidationResult, dict[str, object], Path]:
    """Validate ``wf_path`` in MuJoCo; write storyboard PNG + GIF + the 3D recording ``run.mcap`` (with
    ``pictures``) and ``validation.json``.

    File names carry ``_fault-<kind>`` when a fault is injected, so a faulted run never overwrites the real one.
    Returns the result, the JSON report and the path of ``validation.json``.
    """
    dest.mkdir(parents=True, exist_ok=True)
    suffix = f"_fault-{fault.kind}" if fault else ""
    recorder = log = None
    ticks = [0]

    def on_frame(sim: CellSim, task: str, phase: str) -> None:
        assert recorder is not None and log is not None
        log.on_frame(sim, task, phase)
        if phase == "tick":
            ticks[0] += 1
            if ticks[0] % VIDEO_EVERY:
                return
        recorder.on_frame(sim, task, phase)

    if pictures:
        probe = CellSim.from_workflow(wf_path, fault)
        recorder = Recorder(probe.model, view_camera(probe.cell))
        log = McapReplayLog(dest / f"run{suffix}.mcap", probe.model)
    kept = False
    try:
        result = validate_workflow(
            wf_path, fault=fault, on_frame=on_frame if pictures else None, tick_s=RECORD_TICK_S
        )
        report = result.to_json()
        if recorder is not None and log is not None:
            title = f"{result.variant}{suffix}: {result.tasks_line()}"
            board = recorder.write_storyboard(dest / f"storyboard{suffix}.png", title)
            video = recorder.write_video(dest / f"run{suffix}.gif", fps=10.0)
            report["pictures"] = [str(board)] + ([str(video)] if video else [])
            recording = log.close(keep=True)
            kept = True
            report["recording"] = str(recording) if recording else None
    finally:
        if recorder is not None:
            recorder.close()
        if log is not None and not kept:
            log.close(keep=False)
    json_path = dest / f"validation{suffix}.json"
    write_text_atomic(json_path, json.dumps(report, indent=2) + "\n")
    return result, report, json_path
