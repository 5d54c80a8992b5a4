"""Planning benchmark: grasp synthesis time per part and end-to-end plan time per variant (JSON)."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from cell_config import load_cell
from workflow_gen.cad_import import import_parts
from workflow_gen.grasps import GripperGeometry, synthesize_grasps
from workflow_gen.variant import load_variant

REPO = Path(__file__).resolve().parents[1]
CAD_PARTS = REPO / "cad_parts"

TEN_PART_KIT = """\
# Benchmark kit: ten parts (the feeder holds nine, so the tenth is reported infeasible).
parts:
  - {name: housing, cad: housing.step, quantity: 2, target: [A1, A2]}
  - {name: sleeve, cad: sleeve.step, quantity: 2, target: [A3, B1]}
  - {name: nut, cad: nut.step, quantity: 2, target: [B2, B3]}
  - {name: disc, cad: disc.stl, target: C1}
  - {name: spacer, cad: spacer.obj, units: m, target: C2}
  - {name: angle, cad: angle.step, quantity: 2, target: [C3, {frame: kit_tray, xyz_m: [0.0, 0.0, 0.0]}]}
"""


def variant_dirs() -> list[Path]:
    return sorted(p.parent for p in CAD_PARTS.glob("*/variant.yaml"))


def grasp_times(dirs: list[Path], repeats: int = 3) -> dict[str, float]:
    """Median wall time (s) of grasp synthesis per distinct part (median over repeats)."""
    cell = load_cell()
    gripper = GripperGeometry.from_spec(cell.spec.gripper)
    out: dict[str, float] = {}
    down = np.array([[0.0, 0.0, -1.0]])
    for d in dirs:
        for p in import_parts(d, load_variant(d), gripper.stroke_m):
            if p.issue is not None:
                continue
            ts = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                synthesize_grasps(
                    p.mesh, gripper, p.mass_kg, p.com_m, preferred_approach=down, max_candidates=5000
                )
                ts.append(time.perf_counter() - t0)
            out[f"{d.name}/{p.name}"] = float(np.median(ts))
    return out


def run_bench(dirs: list[Path] | None = None) -> dict[str, object]:
    """Grasp times per part, and plan time of every variant plus a ten-part kit."""
    from workflow_gen.pipeline import plan_variant

    dirs = dirs or variant_dirs()
    g = grasp_times(dirs)
    plans: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        ten = Path(tmp) / "ten_part_kit"
        shutil.copytree(CAD_PARTS / "sensor_kit", ten)
        (ten / "variant.yaml").write_text(TEN_PART_KIT)
        for d in [*dirs, ten]:
            t0 = time.perf_counter()
            o = plan_variant(d, out_dir=Path(tmp) / "out" / d.name)
            s = o.summary()
            plans[d.name] = {
                "parts_total": s["parts_total"],
                "parts_planned": s["parts_planned"],
                "plan_time_s": round(time.perf_counter() - t0, 3),
                "stage_time_s": s["stage_time_s"],
                "cycle_time_s": s["cycle_time_s"],
            }
    vals = list(g.values())
    return {
        "grasp_synthesis_s_per_part_median": round(float(np.median(vals)), 4) if vals else None,
        "grasp_synthesis_s_per_part_max": round(float(np.max(vals)), 4) if vals else None,
        "grasp_synthesis_s": {k: round(v, 4) for k, v in g.items()},
        "target_grasp_s_per_part": 0.3,
        "plan": plans,
        "target_ten_part_plan_s": 20.0,
    }
