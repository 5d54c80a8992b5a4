"""Variant cases shared by the workflow_gen and sim tests of operator tasks (a uniquely named module)."""

from __future__ import annotations

import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def plate_left_to_the_operator(tmp_path: Path) -> tuple[Path, Path]:
    """The bracket assembly and a cell whose gripper opens only 50 mm: the 60 mm wide plate is the operator's.

    Returns (variant directory, cell YAML).
    """
    d = tmp_path / "narrow_gripper"
    d.mkdir()
    shutil.copy(REPO / "cad_parts" / "bracket_assembly" / "product.step", d / "product.step")
    (d / "variant.yaml").write_text("assembly: product.step\nfixture: fixture\nfeed: feeder\n")
    robots = REPO / "cell_config" / "robots"
    text = (REPO / "cell_config" / "cells" / "ur5e_cell.yaml").read_text()
    assert "stroke_m: 0.085" in text
    text = text.replace("../robots/", f"{robots}/").replace("stroke_m: 0.085", "stroke_m: 0.05")
    (d / "cell50.yaml").write_text(text)
    return d, d / "cell50.yaml"
