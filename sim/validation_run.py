"""A validation run as a person uses it: replay, pictures, ``validation.json`` written atomically."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from sim.cell_sim import CellSim
from sim.model_builder import SimFault
from sim.render import Recorder
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


def validate_to_dir(
    wf_path: Path, dest: Path, fault: SimFault | None = None, pictures: bool = True
) -> tuple[ValidationResult, dict[str, object], Path]:
    """Validate ``wf_path`` in MuJoCo; write storyboard PNG + GIF (with ``pictures``) and ``validation.json``.

    File names carry ``_fault-<kind>`` when a fault is injected, so a faulted run never overwrites the real one.
    Returns the result, the JSON report and the path of ``validation.json``.
    """
    dest.mkdir(parents=True, exist_ok=True)
    suffix = f"_fault-{fault.kind}" if fault else ""
    recorder = None
    if pictures:
        probe = CellSim.from_workflow(wf_path, fault)
        cam = probe.cell.spec.camera.name if probe.cell.spec.camera else None
        recorder = Recorder(probe.model, cam)
    try:
        result = validate_workflow(
            wf_path, fault=fault, on_frame=recorder.on_frame if recorder else None, tick_s=0.2
        )
        report = result.to_json()
        if recorder is not None:
            title = f"{result.variant}{suffix}: {result.tasks_line()}"
            board = recorder.write_storyboard(dest / f"storyboard{suffix}.png", title)
            video = recorder.write_video(dest / f"run{suffix}.gif", fps=10.0)
            report["pictures"] = [str(board)] + ([str(video)] if video else [])
    finally:
        if recorder is not None:
            recorder.close()
    json_path = dest / f"validation{suffix}.json"
    write_text_atomic(json_path, json.dumps(report, indent=2) + "\n")
    return result, report, json_path
