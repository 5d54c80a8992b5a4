"""The planning benchmark on the held-out real-CAD corpus: one assembly planned end to end at test time."""

from __future__ import annotations

import json
from pathlib import Path

from cell_config import Cell
from workflow_gen.bench import compare_expected, make_corpus, variant_record


def test_the_smallest_corpus_assembly_is_covered_and_stands_as_intended(tmp_path: Path, cell: Cell) -> None:
    from workflow_gen.pipeline import plan_variant

    dirs = make_corpus(tmp_path / "corpus", seed=0)
    assert len(dirs) == 6
    expected = {d: json.loads((d / "expected.json").read_text()) for d in dirs}
    d = min(dirs, key=lambda d: (len(expected[d]["parts"]), d.name))
    want = expected[d]
    # The smallest is the Y-up pillow block: nothing in its variant.yaml says which way is up.
    assert want["up_axis"] == "y"
    assert "build_up" not in (d / "variant.yaml").read_text()

    o = plan_variant(d, cell, write_report=False)
    rec = variant_record(o, o.total_time_s, "corpus_seed0")
    assert rec["parts_total"] == len(want["parts"])
    assert rec["impossible"] == {}, rec["impossible"]
    assert rec["parts_covered"] == rec["parts_total"]
    assert rec["robot_tasks"] >= 1

    cmp = compare_expected(o, want, cell)
    assert cmp["build_ok"], cmp
    assert cmp["up_axis_chosen"] == "+y"
    assert cmp["entries_without_part"] == []
    assert "fastener_missed" not in cmp and "fastener_wrong" not in cmp, cmp
    # Stood up: every part's target lies on or above the fixture top, the base plate at the bottom.
    z_min = {}
    for p in o.parts:
        m = p.geom.mesh.copy()
        assert p.geom.T_fixture_part is not None
        m.apply_transform(p.geom.T_fixture_part)
        z_min[p.name] = float(m.bounds[0, 2])
    assert abs(min(z_min.values())) < 1e-6
    assert abs(z_min["Base_Plate-1"]) < 1e-6
    assert all(z > -1e-6 for z in z_min.values())
