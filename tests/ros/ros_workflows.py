"""Workflow fixtures for the ROS tests: scripted pick-and-place tasks (``sim.scripted_workflow``), merged.

The planner (``workflow_gen``) is exercised by its own tests; these fixtures keep the ROS tests fast and
independent of it. Each scripted task starts and ends at home, so tasks chain.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from cell_config import load_cell
from sim.scripted_workflow import build_pick_place
from workflow_gen.model import Workflow, load_workflow, save_workflow

# (source slot, target station) of each task; one box part per task.
TASKS: tuple[tuple[tuple[str, str], str], ...] = ((("feeder", "A1"), "fixture"), (("feeder", "C3"), "feeder"))


def build_workflow(out_dir: Path, n_tasks: int = 1, operator_tasks: tuple[int, ...] = ()) -> Path:
    """A workflow of ``n_tasks`` scripted box pick-and-places; returns its workflow.yaml. The tasks whose
    index is in ``operator_tasks`` are the worker's instead (no robot steps, instructions)."""
    cell = load_cell()
    merged: Workflow | None = None
    trajs = {}
    for i, (slot, target) in enumerate(TASKS[:n_tasks]):
        part_dir = out_dir / f"_task{i}"
        wf, tr = load_workflow(build_pick_place(cell, part_dir, source_slot=slot, target_station=target))
        name = f"box{i}"
        part = wf.parts[0].model_copy(update={"name": name, "mesh": f"parts/{name}.stl"})
        (out_dir / "parts").mkdir(parents=True, exist_ok=True)
        shutil.copy(part_dir / wf.parts[0].mesh, out_dir / part.mesh)
        task = wf.tasks[0]
        steps = []
        for s in task.steps:
            upd: dict[str, object] = {}
            if s.trajectory:
                upd["trajectory"] = f"t{i}_{s.trajectory}"
                trajs[f"t{i}_{s.trajectory}"] = tr[s.trajectory]
            if s.attach:
                upd["attach"] = name
            if s.detach:
                upd["detach"] = name
            steps.append(s.model_copy(update=upd))
        task = task.model_copy(update={"id": f"t{i}", "part": name, "steps": steps})
        if i in operator_tasks:
            task = task.model_copy(
                update={
                    "actor": "operator",
                    "grasp": None,
                    "steps": [],
                    "instructions": [f"Take {name} from {slot[0]} slot {slot[1]}.", f"Put it on {target}."],
                }
            )
        if merged is None:
            merged = wf.model_copy(update={"parts": [part], "tasks": [task], "variant": "scripted_boxes"})
        else:
            merged.parts.append(part)
            merged.tasks.append(task)
            merged.cycle_time_s += wf.cycle_time_s
        shutil.rmtree(part_dir)
    assert merged is not None
    return save_workflow(out_dir, merged, trajs)
