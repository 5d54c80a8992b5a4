"""``flexcell plan`` through the real CLI: exit codes, JSON summary, bad input, atomic output."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from cell_config import ConfigError

REPO = Path(__file__).resolve().parents[2]
FLEXCELL = REPO / ".venv" / "bin" / "flexcell"
KIT = REPO / "cad_parts" / "oversize_kit"


def run_plan(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(FLEXCELL), "plan", *map(str, args)], capture_output=True, text=True, timeout=300, cwd=REPO
    )


def test_json_summary_and_exit_3_when_a_part_is_infeasible(tmp_path: Path) -> None:
    r = run_plan(KIT, "--out", tmp_path / "out", "--json", "--no-report")
    assert r.returncode == 3, r.stderr
    s = json.loads(r.stdout)
    assert s["parts_total"] == 3 and s["parts_planned"] == 2
    assert list(s["infeasible"]) == ["big_block"] and "stroke" in s["infeasible"]["big_block"]
    assert s["cycle_time_s"] > 0 and s["plan_time_s"] > 0
    assert (tmp_path / "out" / "workflow.yaml").is_file()


def _variant(tmp_path: Path, yaml_text: str, files: dict[str, bytes] | None = None) -> Path:
    d = tmp_path / "v"
    d.mkdir()
    shutil.copy(KIT / "cover.step", d / "cover.step")
    shutil.copy(KIT / "bushing.stl", d / "bushing.stl")
    for k, v in (files or {}).items():
        (d / k).write_bytes(v)
    (d / "variant.yaml").write_text(yaml_text)
    return d


BAD = {
    "unknown_key": (
        "parts:\n  - {name: cover, cad: cover.step, target: A1, colour: red}\n",
        "parts.0.colour: unknown key",
    ),
    "wrong_units": (
        "parts:\n  - {name: bushing, cad: bushing.stl, units: furlong, target: A1}\n",
        "parts.0.units",
    ),
    "units_absurd_for_the_file": (
        "parts:\n  - {name: bushing, cad: bushing.stl, units: m, target: A1}\n",
        "parts.0.units: part 'bushing' is 30 m across with units m",
    ),
    "missing_cad": (
        "parts:\n  - {name: lid, cad: lid.step, target: A1}\n",
        "parts.0.cad: file not found",
    ),
    "malformed_cad": (
        "parts:\n  - {name: junk, cad: junk.stl, target: A1}\n",
        "parts.0.cad",
    ),
    "slot_not_in_cell": (
        "parts:\n  - {name: cover, cad: cover.step, target: Z9}\n",
        "parts.0.target: no kit slot 'Z9'",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_exits_2_with_one_line_naming_the_key(tmp_path: Path, case: str) -> None:
    text, expected = BAD[case]
    d = _variant(tmp_path, text, {"junk.stl": b"solid junk\n  facet normal oops\nendsolid\n"})
    r = run_plan(d, "--out", tmp_path / "out")
    assert r.returncode == 2, (r.stdout, r.stderr)
    msg = " ".join(r.stderr.split())
    assert "variant.yaml" in msg and expected in msg, msg
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "out").exists()


def test_three_line_assembly_variant_is_enough(tmp_path: Path) -> None:
    from workflow_gen.variant import load_variant

    d = tmp_path / "asm"
    d.mkdir()
    shutil.copy(REPO / "cad_parts" / "bracket_assembly" / "product.step", d / "product.step")
    (d / "variant.yaml").write_text("assembly: product.step\nfixture: fixture\nfeed: feeder\n")
    spec = load_variant(d)
    assert spec.kind == "assembly" and spec.feed == "feeder" and spec.fixture == "fixture"
    (d / "variant.yaml").write_text("assembly: product.step\nparts:\n  nosuch: {source: feeder}\n")
    from cell_config import load_cell
    from workflow_gen.pipeline import plan_variant

    with pytest.raises(ConfigError, match=r"parts\.nosuch: no part named 'nosuch'"):
        plan_variant(d, load_cell())


def test_failed_run_leaves_no_workflow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cell) -> None:
    import workflow_gen.report
    from workflow_gen.pipeline import plan_variant

    def broken(out: Path, outcome: object) -> None:
        (out / "report").mkdir()
        (out / "report" / "half.png").write_bytes(b"x")
        raise RuntimeError("disk full while drawing")

    monkeypatch.setattr(workflow_gen.report, "write_report", broken)
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="disk full"):
        plan_variant(KIT, cell, out)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [], "temporary output left behind"
    # A previous good workflow survives a failed re-run untouched.
    monkeypatch.undo()
    plan_variant(KIT, cell, out, write_report=False)
    before = (out / "workflow.yaml").read_text()
    monkeypatch.setattr(workflow_gen.report, "write_report", broken)
    with pytest.raises(RuntimeError):
        plan_variant(KIT, cell, out)
    assert (out / "workflow.yaml").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
