"""The resting poses the generator lays the feeder out with are where the parts stay in MuJoCo.

Every part of every example variant is started at its planned feeder pose (a bin, a tray) and the cell is
stepped for 1 s with the arm at home: a part that was laid out in a pose that is not a stable rest, or
overlapping a neighbour, or with collision pieces that do not match its mesh, moves.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sim.cell_sim import CellSim
from workflow_gen.pipeline import plan_variant

REPO = Path(__file__).resolve().parents[2]
VARIANTS = sorted(p.parent for p in (REPO / "cad_parts").glob("*/variant.yaml"))


@pytest.mark.parametrize("vdir", VARIANTS, ids=[v.name for v in VARIANTS])
def test_parts_stay_where_the_feeder_layout_puts_them(vdir: Path, tmp_path: Path) -> None:
    out = tmp_path / vdir.name
    o = plan_variant(vdir, out_dir=out, write_report=False)
    sim = CellSim.from_workflow(out / "workflow.yaml")
    sim.reset(np.asarray(o.workflow.home_q))
    fed = [p for p in o.workflow.parts if not p.source.startswith("parts supply")]
    assert fed, "no part is fed"
    sim.step(round(1.0 / sim.dt_s))
    poses = sim.part_poses()
    for p in fed:
        T0, T1 = p.T_world_start.matrix(), poses[p.name]
        moved_mm = float(np.linalg.norm(T1[:3, 3] - T0[:3, 3])) * 1e3
        c = np.clip((np.trace(T0[:3, :3].T @ T1[:3, :3]) - 1) / 2, -1.0, 1.0)
        turned_deg = float(np.degrees(np.arccos(c)))
        assert moved_mm < 1.0 and turned_deg < 1.0, (
            f"{p.name} at {p.source}: {moved_mm:.2f} mm / {turned_deg:.2f} deg"
        )
