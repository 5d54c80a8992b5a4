"""Every variant in cad_parts/ is planned; its outputs are checked against geometry and the cell."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trimesh

from motion import MotionPlanner
from workflow_gen.model import load_workflow
from workflow_gen.variant import load_variant

REPO = Path(__file__).resolve().parents[2]
VARIANT_DIRS = sorted(p.parent for p in (REPO / "cad_parts").glob("*/variant.yaml"))
IDS = [d.name for d in VARIANT_DIRS]


def test_examples_exist() -> None:
    names = set(IDS)
    assert {"bracket_assembly", "sensor_kit", "oversize_kit"} <= names


@pytest.mark.parametrize("vdir", VARIANT_DIRS, ids=IDS)
def test_infeasible_parts_are_the_expected_ones(vdir: Path, plan_of) -> None:
    o = plan_of(vdir)
    spec = load_variant(vdir)
    assert sorted(o.infeasible) == sorted(spec.expect_infeasible), o.infeasible
    robot = [t for t in o.workflow.tasks if t.actor == "robot"]
    assert len(robot) == len(o.parts) - len(spec.expect_infeasible)
    # Nothing dropped: every part the robot does not do is placed by the worker, once, with a typed reason.
    placing = [t for t in o.workflow.tasks if t.actor == "operator" and t.kind != "fasten"]
    assert sorted(t.part for t in placing) == sorted(spec.expect_infeasible)
    assert all(t.reason_kind is not None and len(t.instructions) >= 5 for t in placing)
    assert sorted(t.part for t in robot + placing) == sorted(p.name for p in o.parts)
    for name, reason in o.infeasible.items():
        assert len(reason) > 20, f"{name}: reason too short: {reason!r}"
    assert all(i.kind is not None for i in o.workflow.infeasible)
    # A fastening task follows the placing of each fastener it fastens, the robot parked.
    order = [t.id for t in o.workflow.tasks]
    for t in o.workflow.tasks:
        if t.kind == "fasten":
            placed_at = next(
                i for i, x in enumerate(o.workflow.tasks) if x.part == t.part and x.kind != "fasten"
            )
            assert placed_at < order.index(t.id), t.id


@pytest.mark.parametrize("vdir", VARIANT_DIRS, ids=IDS)
def test_workflow_round_trips_and_trajectories_chain(vdir: Path, plan_of) -> None:
    o = plan_of(vdir)
    wf, trajs = load_workflow(o.out_dir / "workflow.yaml")
    assert wf.model_dump() == o.workflow.model_dump()
    for p in wf.parts:
        assert (o.out_dir / p.mesh).is_file()
    for t in wf.tasks:
        assert (o.out_dir / t.pictures[0]).is_file()
    assert (o.out_dir / "report" / "storyboard.png").is_file()
    assert (o.out_dir / "report.md").is_file()
    keys = [s.trajectory for t in wf.tasks for s in t.steps if s.kind == "trajectory"]
    assert keys and set(keys) == set(trajs)
    q = np.asarray(wf.home_q)
    for k in keys:
        tr = trajs[k]
        assert np.max(np.abs(tr.q[0] - q)) < 1e-3, f"{k} does not start where the previous step ended"
        q = tr.q[-1]
    assert np.max(np.abs(q - np.asarray(wf.home_q))) < 1e-3, "the last task does not return home"
    assert wf.cycle_time_s == pytest.approx(sum(t.duration_s for t in wf.tasks), abs=1e-3)
    attach = [s.attach for t in wf.tasks for s in t.steps if s.attach]
    detach = [s.detach for t in wf.tasks for s in t.steps if s.detach]
    picks = [t.part for t in wf.tasks if t.actor == "robot" for _ in range(2 if t.kind == "regrasp" else 1)]
    assert attach == detach == picks
    # Every step says what it does; the phases of a robot task come in the order of a pick and place.
    for t in wf.tasks:
        phases = [s.phase.value for s in t.steps]
        if t.actor == "robot":
            assert phases[:4] == ["open", "transit", "approach", "pick"], (t.id, phases)
            assert ["insert", "release", "retreat"] == phases[
                phases.index("insert") : phases.index("insert") + 3
            ]


@pytest.mark.parametrize("vdir", VARIANT_DIRS, ids=IDS)
def test_parts_start_resting_on_their_station(vdir: Path, plan_of, cell) -> None:
    o = plan_of(vdir)
    wf = o.workflow
    boxes = []
    stations = {s.name for s in cell.spec.stations}
    for p in wf.parts:
        station = p.source.split("/")[0]
        if station not in stations:
            assert p.source.startswith("parts supply"), p.source  # handed to the cell: no feeder place
            continue
        mesh = trimesh.load(o.out_dir / p.mesh)
        m = mesh.copy()
        m.apply_transform(p.T_world_start.matrix())
        surface_z = cell.T_world_station(station)[2, 3]
        gap = m.bounds[0, 2] - surface_z
        assert 0.0 <= gap <= 5e-4, f"{p.name} starts {gap * 1000:.3f} mm above its station"
        # Resting: the centre of mass lies over the footprint (the hull of the lowest points).
        com = m.center_mass
        low = m.vertices[m.vertices[:, 2] < m.bounds[0, 2] + 1e-4][:, :2]
        lo, hi = low.min(axis=0), low.max(axis=0)
        assert np.all(com[:2] > lo - 1e-6) and np.all(com[:2] < hi + 1e-6), p.name
        boxes.append((p.name, m.bounds))
    for i, (a, ba) in enumerate(boxes):
        for b, bb in boxes[i + 1 :]:
            overlap = np.all(ba[0] < bb[1]) and np.all(bb[0] < ba[1])
            assert not overlap, f"{a} and {b} overlap in the feeder"


@pytest.mark.parametrize("vdir", VARIANT_DIRS, ids=IDS)
def test_grasp_width_is_the_part_width_at_the_pads(vdir: Path, plan_of, cell) -> None:
    o = plan_of(vdir)
    g = cell.spec.gripper
    for t in o.workflow.tasks:
        if t.actor == "operator":
            assert t.grasp is None and t.steps == []
            continue
        assert t.grasp is not None
        mesh = trimesh.load(o.out_dir / o.workflow.part(t.part).mesh)
        T_tcp_part = np.linalg.inv(t.grasp.T_part_tcp.matrix())
        pts = np.vstack([mesh.vertices, trimesh.sample.sample_surface(mesh, 4000, seed=3)[0]])
        local = trimesh.transform_points(pts, T_tcp_part)
        in_pad = (np.abs(local[:, 0]) < g.finger.width_m / 2) & (
            np.abs(local[:, 2]) < g.finger.pad_length_m / 2
        )
        span = local[in_pad, 1].max() - local[in_pad, 1].min()
        assert span == pytest.approx(t.grasp.contact_width_m, abs=5e-4), t.part
        assert t.grasp.contact_width_m < t.grasp.pregrasp_width_m <= g.stroke_m + 1e-9


@pytest.mark.parametrize("vdir", VARIANT_DIRS, ids=IDS)
def test_trajectories_reach_the_grasp_and_place_poses(vdir: Path, plan_of, cell) -> None:
    o = plan_of(vdir)
    p = MotionPlanner(cell)
    wf, trajs = load_workflow(o.out_dir)
    for t in wf.tasks:
        if t.actor == "operator":
            continue
        assert t.grasp is not None
        G = t.grasp.T_part_tcp.matrix()
        steps = {s.name: s for s in t.steps}
        # A regrasp's grasp is its second leg's: it is checked at the place (its pick is the put-down pose).
        tag = "_2" if t.kind == "regrasp" else ""
        T_pick = p.fk(trajs[steps["approach" + tag].trajectory].q[-1])
        T_place = p.fk(trajs[steps["insert" + tag].trajectory].q[-1])
        checks = [(T_place, t.T_world_part_place.matrix() @ G)]
        if not tag:
            checks.append((T_pick, t.T_world_part_pick.matrix() @ G))
        for T, want in checks:
            assert np.linalg.norm(T[:3, 3] - want[:3, 3]) < 1e-3, t.id
            assert np.linalg.norm(T[:3, :3] - want[:3, :3]) < 1e-2, t.id
        # The tool never comes from below (at most 15 deg above horizontal), at the pick and the place.
        assert T_pick[2, 2] <= 0.26 and T_place[2, 2] <= 0.26, t.id
        # The insertion runs straight along the part's insertion direction (within 1 mm over its length).
        assert t.insert_dir is not None
        ins = trajs[steps["insert" + tag].trajectory]
        a, b = p.fk(ins.q[0])[:3, 3], p.fk(ins.q[-1])[:3, 3]
        d = np.asarray(t.insert_dir)
        along = b - a
        assert np.dot(along, d) > 0.05 and np.linalg.norm(along - np.dot(along, d) * d) < 1e-3, t.id
