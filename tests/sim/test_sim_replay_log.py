"""The 3D recording of a validation run (run.mcap for Foxglove), read back with the mcap reader and decoded
with the schemas the file carries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from mcap.reader import make_reader

from cell_config import load_cell
from sim.cell_sim import CellSim
from sim.scripted_workflow import build_pick_place
from sim.validation_run import validate_to_dir
from workflow_gen.model import load_workflow


def _read(path: Path) -> dict[str, list[tuple[int, Any]]]:
    """topic -> [(log_time_ns, decoded protobuf message)] in file order."""
    pool = descriptor_pool.DescriptorPool()
    classes: dict[int, Any] = {}
    out: dict[str, list[tuple[int, Any]]] = {}
    with path.open("rb") as fh:
        reader = make_reader(fh)
        for schema, channel, msg in reader.iter_messages(log_time_order=False):
            assert schema is not None and channel.message_encoding == "protobuf"
            if schema.id not in classes:
                files = descriptor_pb2.FileDescriptorSet.FromString(schema.data)
                for f in files.file:
                    try:
                        pool.FindFileByName(f.name)
                    except KeyError:
                        pool.Add(f)
                classes[schema.id] = message_factory.GetMessageClass(pool.FindMessageTypeByName(schema.name))
            out.setdefault(channel.topic, []).append((msg.log_time, classes[schema.id].FromString(msg.data)))
    return out


def test_validation_run_records_the_cell_in_3d(tmp_path: Path) -> None:
    cell = load_cell()
    wf_path = build_pick_place(cell, tmp_path / "wf")
    wf, _ = load_workflow(wf_path)
    part = wf.parts[0].name
    result, report, _ = validate_to_dir(wf_path, tmp_path / "out")
    assert result.passed
    mcap = tmp_path / "out" / "run.mcap"
    assert report["recording"] == str(mcap)
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]  # no temporary left
    topics = _read(mcap)
    assert set(topics) == {"/scene", "/tf", "/events"}

    # the scene once: an entity per body, in the body's frame; the part as its mesh's triangles
    model = CellSim.from_workflow(wf_path).model
    [(_, scene)] = topics["/scene"]
    entities = {e.id: e for e in scene.entities}
    assert {"link1", "finger_left", f"part:{part}"} <= set(entities)
    part_entity = entities[f"part:{part}"]
    assert part_entity.frame_id == f"body/part:{part}" and part_entity.frame_locked
    [tri] = part_entity.triangles
    mid = int(model.geom_dataid[model.body(f"part:{part}").geomadr[0]])
    assert len(tri.points) == model.mesh_vertnum[mid] and len(tri.indices) == 3 * model.mesh_facenum[mid]

    # the poses at 25 Hz of sim time, every body in each message, time never going back
    tf = topics["/tf"]
    times = np.array([t for t, _ in tf])
    assert np.all(np.diff(times) >= 0)
    assert len(tf) >= 0.9 * result.cycle_time_s / 0.04
    assert all(len(m.transforms) == model.nbody - 1 for _, m in tf)
    # where the recording leaves the part is where the validation measured it: at its target
    last = {t.child_frame_id: t for t in tf[-1][1].transforms}[f"body/part:{part}"]
    at = np.array([last.translation.x, last.translation.y, last.translation.z])
    target = wf.parts[0].T_world_target.matrix()[:3, 3]
    assert np.linalg.norm(at - target) * 1e3 <= result.tasks[0].placement_error_mm + 0.5

    # the task's phases as log events, in order
    events = [m.message for _, m in topics["/events"]]
    assert events == [f"{wf.tasks[0].id}: {phase}" for phase in ("pick", "carry", "place")]


def test_no_recording_without_pictures(tmp_path: Path) -> None:
    wf_path = build_pick_place(load_cell(), tmp_path / "wf")
    _, report, _ = validate_to_dir(wf_path, tmp_path / "out", pictures=False)
    assert "recording" not in report and not (tmp_path / "out" / "run.mcap").exists()
