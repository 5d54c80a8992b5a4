"""A planned workflow records what it was planned from; a changed input makes it stale."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from cell_config import load_cell
from workflow_gen.fingerprint import inputs_fingerprint, stale_reason
from workflow_gen.model import load_workflow
from workflow_gen.pipeline import plan_variant

REPO = Path(__file__).resolve().parents[2]


def test_plan_records_its_inputs_and_any_change_makes_it_stale(tmp_path: Path) -> None:
    vdir = tmp_path / "oversize_kit"
    shutil.copytree(REPO / "cad_parts" / "oversize_kit", vdir)
    cell = load_cell()
    out = tmp_path / "planned"
    plan_variant(vdir, cell, out, write_report=False)
    wf_path = out / "workflow.yaml"
    wf, _ = load_workflow(wf_path)
    assert wf.inputs_sha256 == inputs_fingerprint(vdir, cell, wf.seed)
    assert stale_reason(wf_path, vdir, cell) == ""

    # the seed, an edit of variant.yaml, a changed CAD file, another cell: each gives another fingerprint
    prints = {inputs_fingerprint(vdir, cell, 0), inputs_fingerprint(vdir, cell, 1)}
    spec = vdir / "variant.yaml"
    spec.write_text(spec.read_text() + "# moved the tray\n")
    assert "from other inputs" in stale_reason(wf_path, vdir, cell)
    prints.add(inputs_fingerprint(vdir, cell, 0))
    cad = vdir / "bushing.stl"
    cad.write_bytes(cad.read_bytes()[:-1] + b"\n")
    prints.add(inputs_fingerprint(vdir, cell, 0))
    prints.add(inputs_fingerprint(vdir, load_cell(REPO / "cell_config" / "cells" / "panda_cell.yaml"), 0))
    assert len(prints) == 5
    # files the planner never reads (editor swap files, dot-directories) do not count
    before = inputs_fingerprint(vdir, cell, 0)
    (vdir / ".variant.yaml.swp").write_text("x")
    (vdir / ".git").mkdir()
    (vdir / ".git" / "HEAD").write_text("ref")
    assert inputs_fingerprint(vdir, cell, 0) == before


def test_workflow_without_a_fingerprint_is_stale(tmp_path: Path) -> None:
    vdir = REPO / "cad_parts" / "oversize_kit"
    cell = load_cell()
    old = tmp_path / "workflow.yaml"
    old.write_text(yaml.safe_dump({"variant": "oversize_kit", "created_utc": "2026-11-20T10:00:00Z"}))
    assert "planned by an older generator" in stale_reason(old, vdir, cell)
    current = tmp_path / "current.yaml"
    current.write_text(yaml.safe_dump({"seed": 0, "inputs_sha256": inputs_fingerprint(vdir, cell, 0)}))
    assert stale_reason(current, vdir, cell) == ""
    broken = tmp_path / "broken.yaml"
    broken.write_text("variant: [unclosed\n")
    assert "unreadable" in stale_reason(broken, vdir, cell)
