"""Placement tolerances come from the station (a kit pocket is looser than a fixture) or a tighter variant."""

from __future__ import annotations

import shutil
from pathlib import Path

from workflow_gen.pipeline import plan_variant

REPO = Path(__file__).resolve().parents[2]


def test_tolerance_is_the_stations_and_a_variant_only_tightens_it(tmp_path: Path, cell, plan_of) -> None:
    kit = {
        t.part: (t.tolerance_mm, t.tolerance_deg)
        for t in plan_of(REPO / "cad_parts" / "sensor_kit").workflow.tasks
    }
    assert set(kit.values()) == {(5.0, 5.0)}  # kit tray pockets
    asm = plan_of(REPO / "cad_parts" / "bracket_assembly").workflow.tasks
    assert {(t.tolerance_mm, t.tolerance_deg) for t in asm} == {(2.0, 2.0)}  # the assembly fixture
    d = tmp_path / "kit"
    d.mkdir()
    for f in ("cover.step", "bushing.stl"):
        shutil.copy(REPO / "cad_parts" / "oversize_kit" / f, d / f)
    (d / "variant.yaml").write_text(
        "parts:\n"
        "  - {name: cover, cad: cover.step, target: A1, tolerance_mm: 1.0}\n"
        "  - {name: bushing, cad: bushing.stl, target: A2, tolerance_mm: 9.0, tolerance_deg: 3.0}\n"
    )
    tol = {t.part: (t.tolerance_mm, t.tolerance_deg) for t in plan_variant(d, cell).workflow.tasks}
    assert tol == {"cover": (1.0, 5.0), "bushing": (5.0, 3.0)}  # 9 mm would be looser than the pocket
    # A station can say its own tolerance in the cell file.
    spec = cell.spec.model_copy(deep=True)
    tray = next(s for s in spec.stations if s.name == "kit_tray")
    tray.placement_tolerance_mm = 3.0
    assert tray.placement_tolerance() == (3.0, 5.0)
