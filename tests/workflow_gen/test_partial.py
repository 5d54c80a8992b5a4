"""Parts that cannot be planned get a reason, and the rest of the variant is still planned."""

from __future__ import annotations

import shutil
from pathlib import Path

from workflow_gen.pipeline import plan_variant

REPO = Path(__file__).resolve().parents[2]


def test_unreachable_kit_target_is_reported_and_the_rest_planned(tmp_path: Path, cell) -> None:
    d = tmp_path / "kit"
    d.mkdir()
    for f in ("cover.step", "bushing.stl"):
        shutil.copy(REPO / "cad_parts" / "oversize_kit" / f, d / f)
    (d / "variant.yaml").write_text(
        "parts:\n"
        "  - {name: cover, cad: cover.step, target: A1}\n"
        "  - {name: bushing, cad: bushing.stl, target: {frame: world, xyz_m: [2.5, 0.0, 0.0]}}\n"
    )
    o = plan_variant(d, cell)
    assert [t.part for t in o.workflow.tasks] == ["cover"]
    assert list(o.infeasible) == ["bushing"]
    assert "IK above the place pose" in o.infeasible["bushing"]


def test_parts_resting_on_an_infeasible_part_are_infeasible_too(tmp_path: Path, cell) -> None:
    d = tmp_path / "asm"
    d.mkdir()
    shutil.copy(REPO / "cad_parts" / "bracket_assembly" / "product.step", d / "product.step")
    # A plate of 500 t/m^3 weighs 45 kg: too heavy for a 140 N grip, so nothing can be built on it.
    (d / "variant.yaml").write_text(
        "assembly: product.step\nfixture: fixture\nfeed: feeder\nparts:\n  plate: {density_kg_m3: 500000}\n"
    )
    o = plan_variant(d, cell)
    assert o.workflow.tasks == []
    inf = o.infeasible
    assert sorted(inf) == ["bracket_1", "bracket_2", "pin_1", "pin_2", "plate"]
    assert inf["plate"].startswith("too heavy for the gripper")
    assert inf["bracket_1"] == "rests on plate, which could not be placed"
    assert inf["pin_2"] == "rests on bracket_2, which could not be placed"
