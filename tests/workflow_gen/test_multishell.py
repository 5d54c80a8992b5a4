"""A part exported as several overlapping shells plans like any other part (united on import)."""

from __future__ import annotations

from pathlib import Path

from workflow_gen.object_set import make_objects
from workflow_gen.pipeline import plan_variant


def test_a_multi_shell_part_is_planned(tmp_path: Path, cell) -> None:
    name, mesh = next((n, m) for n, m in make_objects(60, seed=0) if len(m.split(only_watertight=False)) > 1)
    mesh.apply_scale(1000.0)  # written in mm, as the variant says
    mesh.export(tmp_path / "part.stl")
    (tmp_path / "variant.yaml").write_text("parts:\n  - {name: part, cad: part.stl, units: mm, target: A1}\n")
    o = plan_variant(tmp_path, cell)
    assert len(o.parts) == 1 and o.parts[0].geom.mesh.is_watertight, name
    assert "united" in " ".join(o.parts[0].geom.repair_notes), o.parts[0].geom.repair_notes
    assert [t.actor for t in o.workflow.tasks] == ["robot"], (name, o.infeasible)
