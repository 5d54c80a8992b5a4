"""Planning benchmark: grasp synthesis time per part and end-to-end plan time per variant (JSON).

Besides the examples in ``cad_parts/`` (and a ten-part kit made from ``sensor_kit``), the benchmark plans
the held-out real-CAD corpus (``benchmarks/realcad_corpus.py``: assemblies drawn Y-up, lying on their side,
with exporter names and fasteners), generated into a temporary directory for each seed. Per variant it
reports the parts, robot tasks, worker tasks by reason kind, the parts nobody can do (with reasons), the
insertion directions used and the plan time; for a corpus assembly also how the plan compares with its
``expected.json`` (build orientation, fasteners, worker steps, insertion directions, sub-assemblies).
``totals`` sums them up (parts covered by the robot or a worker, robot share); ``flange_coupling_6_bolts``
(26 parts) is the assembly for the plan-time target of a 20-part assembly.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from cell_config import Cell, load_cell
from workflow_gen.cad_import import import_parts
from workflow_gen.grasps import GripperGeometry, synthesize_grasps
from workflow_gen.variant import load_variant

if TYPE_CHECKING:
    from workflow_gen.pipeline import PlanOutcome

REPO = Path(__file__).resolve().parents[1]
CAD_PARTS = REPO / "cad_parts"
CORPUS_SCRIPT = REPO / "benchmarks" / "realcad_corpus.py"
CORPUS_SEEDS = (0,)
TARGET_ASSEMBLY_PARTS = 20
TARGET_ASSEMBLY_PLAN_S = 20.0
CENTRE_TOL_M = 1e-3  # a part matches an expected.json entry by its bounding-box centre within this
DIR_COS_TOL = 0.99  # two insertion directions agree when their cosine is above this

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


def corpus_module() -> ModuleType:
    """``benchmarks/realcad_corpus.py`` as a module (``benchmarks`` is a directory of scripts, no package)."""
    spec = importlib.util.spec_from_file_location("flexcell_realcad_corpus", CORPUS_SCRIPT)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {CORPUS_SCRIPT}")
    mod = sys.modules.get(spec.name)
    if mod is None:
        mod = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = mod  # dataclasses look their module up while the module runs
        spec.loader.exec_module(mod)
    return mod


def make_corpus(out_dir: Path, seed: int = 0) -> list[Path]:
    """Write the held-out real-CAD corpus under ``out_dir`` (one variant directory per assembly)."""
    dirs: list[Path] = corpus_module().make_corpus(Path(out_dir), seed)
    return dirs


def make_large(out_dir: Path, seed: int = 0) -> Path:
    """Write the corpus's larger assembly for the plan-time target (26 parts, not one of the held-out six)."""
    d: Path = corpus_module().make_large(Path(out_dir), seed)
    return d


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


def _covered(p: Any) -> bool:
    from workflow_gen.stages.context import WorkerTask

    return bool(p.by_robot or isinstance(p.outcome, WorkerTask))


def _axis_label(v: np.ndarray) -> str:
    i = int(np.argmax(np.abs(v)))
    if abs(v[i]) > DIR_COS_TOL:
        return ("+" if v[i] > 0 else "-") + "xyz"[i]
    return "({:.2f}, {:.2f}, {:.2f})".format(*v)


def variant_record(o: PlanOutcome, wall_s: float, group: str) -> dict[str, Any]:
    """One variant's line of the benchmark, from ``o.summary()`` (its keys) and the parts nobody can do."""
    s = o.summary()
    write_s = float(o.timings_s.get("write", 0.0))
    impossible = {p.name: p.issue or "" for p in o.parts if not _covered(p)}
    return {
        "group": group,
        "parts_total": s["parts_total"],
        "parts_planned": s["parts_planned"],
        "robot_tasks": s["parts_planned"],
        "worker_tasks": s["operator_tasks"],
        "worker_tasks_by_reason": s["worker_tasks_by_reason"],
        "parts_covered": s["parts_covered"],
        "impossible": impossible,
        "insertion_directions": s["insertion_directions"],
        "plan_time_s": round(wall_s, 3),
        "plan_time_without_write_s": round(wall_s - write_s, 3),
        "stage_time_s": s["stage_time_s"],
        "cycle_time_s": s["cycle_time_s"],
    }


def compare_expected(o: PlanOutcome, expected: dict[str, Any], cell: Cell) -> dict[str, object]:
    """How a corpus plan compares with its ``expected.json`` (the intended answer per part).

    Parts are matched to the entries by their raw CAD names (the node names trimesh gives, the keys of
    ``expected.json``), else by the centre of their bounding box in the STEP frame. Returns the build
    orientation (expected and chosen up axis of the STEP frame) and lists of differences: fasteners missed
    or wrongly seen, parts the robot does that need a worker and the reverse, insertion directions that
    differ, sub-assemblies split into several parts and several entries merged into one part.
    """
    from workflow_gen.stages.context import WorkerTask

    entries: dict[str, dict[str, Any]] = expected["parts"]
    spec = load_variant(Path(o.workflow.variant_dir))
    R_world_fix = cell.T_world_station(spec.fixture)[:3, :3] if spec.kind == "assembly" else np.eye(3)
    R_fix_cad = None
    matched: dict[str, list[str]] = {}
    for p in o.parts:
        g = p.geom
        if g.T_cad_part is None or g.T_fixture_part is None:
            continue
        if R_fix_cad is None:
            R_fix_cad = (g.T_fixture_part @ np.linalg.inv(g.T_cad_part))[:3, :3]
        keys = [k for k in (g.cad_name or "").split(" + ") if k in entries]
        if not keys:
            placed = g.mesh.copy()
            placed.apply_transform(g.T_cad_part)
            c = placed.bounds.mean(axis=0)
            near = [
                k for k, e in entries.items() if np.linalg.norm(np.asarray(e["centre_m"]) - c) < CENTRE_TOL_M
            ]
            keys = near[:1]
        matched[p.name] = keys
    up_axis = str(expected.get("up_axis", "z"))
    want_up = np.eye(3)["xyz".index(up_axis)]
    got_up = R_fix_cad.T @ np.array([0.0, 0.0, 1.0]) if R_fix_cad is not None else np.array([0.0, 0.0, 1.0])
    diffs: dict[str, list[str]] = {
        "fastener_missed": [],
        "fastener_wrong": [],
        "robot_but_expected_worker": [],
        "worker_but_expected_robot": [],
        "insert_dir_differs": [],
        "sub_assembly_split": [],
        "merged": [],
        "unmatched": [],
    }
    by_name = {p.name: p for p in o.parts}
    seen: dict[str, list[str]] = {}
    for name, keys in matched.items():
        p = by_name[name]
        if not keys:
            diffs["unmatched"].append(name)
            continue
        for k in keys:
            seen.setdefault(k, []).append(name)
        e = entries[keys[0]]
        if len({entries[k]["sub_assembly"] or k for k in keys}) > 1:
            diffs["merged"].append(f"{name}: {' + '.join(keys)}")
        fast = p.ctx.fastener
        if e["fastener"] and not fast:
            diffs["fastener_missed"].append(f"{name} ({keys[0]}: {e['why'] or e['step_label']})")
        elif fast and not e["fastener"]:
            diffs["fastener_wrong"].append(
                f"{name} ({keys[0]}: {e['why'] or e['step_label']}) taken for a {fast}"
            )
        if p.by_robot and e["worker"]:
            diffs["robot_but_expected_worker"].append(f"{name} ({keys[0]}: {e['why']})")
        elif isinstance(p.outcome, WorkerTask) and not e["worker"]:
            diffs["worker_but_expected_robot"].append(f"{name} ({keys[0]}): {p.outcome.reason_kind.value}")
        if R_fix_cad is not None and _covered(p):
            d_cad = R_fix_cad.T @ R_world_fix.T @ np.asarray(p.ctx.insert_dir, float)
            want = np.asarray(e["insert_dir"], float)
            if float(d_cad @ want) < DIR_COS_TOL:
                diffs["insert_dir_differs"].append(
                    f"{name} ({keys[0]}): {_axis_label(d_cad)}, expected {_axis_label(want)}"
                )
    subs: dict[str, set[str]] = {}
    for k, e in entries.items():
        if e["sub_assembly"]:
            subs.setdefault(e["sub_assembly"], set()).update(seen.get(k, []))
    diffs["sub_assembly_split"] = [
        f"{s}: {', '.join(sorted(n))}" for s, n in sorted(subs.items()) if len(n) > 1
    ]
    missing = sorted(set(entries) - set(seen))
    return {
        "up_axis_expected": f"+{up_axis}",
        "up_axis_chosen": _axis_label(got_up),
        "build_ok": bool(float(got_up @ want_up) > DIR_COS_TOL),
        "entries_without_part": missing,
        **{k: v for k, v in diffs.items() if v},
    }


def _totals(plans: dict[str, dict[str, Any]]) -> dict[str, object]:
    parts = sum(int(r["parts_total"]) for r in plans.values())
    covered = sum(int(r["parts_covered"]) for r in plans.values())
    robot = sum(int(r["parts_planned"]) for r in plans.values())
    return {
        "variants": len(plans),
        "parts": parts,
        "parts_covered": covered,
        "parts_covered_pct": round(100.0 * covered / parts, 1) if parts else None,
        "robot_tasks": robot,
        "robot_pct": round(100.0 * robot / parts, 1) if parts else None,
        "worker_tasks": sum(int(r["worker_tasks"]) for r in plans.values()),
        "impossible": sum(len(r["impossible"]) for r in plans.values()),
        "plan_time_s_max": max((float(r["plan_time_s"]) for r in plans.values()), default=None),
        "plan_time_without_write_s_max": max(
            (float(r["plan_time_without_write_s"]) for r in plans.values()), default=None
        ),
    }


def _plan_all(
    jobs: Iterable[tuple[str, Path, str]], tmp: Path, cell: Cell
) -> tuple[dict[str, dict[str, Any]], dict[str, PlanOutcome]]:
    from workflow_gen.pipeline import plan_variant

    plans: dict[str, dict[str, Any]] = {}
    outcomes: dict[str, PlanOutcome] = {}
    for key, d, group in jobs:
        t0 = time.perf_counter()
        o = plan_variant(d, cell, out_dir=tmp / "out" / key)
        rec = variant_record(o, time.perf_counter() - t0, group)
        if (d / "expected.json").exists():
            rec["expected"] = compare_expected(o, json.loads((d / "expected.json").read_text()), cell)
        plans[key] = rec
        outcomes[key] = o
    return plans, outcomes


def run_bench(
    dirs: list[Path] | None = None, corpus: bool = True, corpus_seeds: Sequence[int] = CORPUS_SEEDS
) -> dict[str, object]:
    """Grasp times per part, and the plan of every variant, a ten-part kit and (``corpus``) the corpus.

    ``dirs`` defaults to every variant in ``cad_parts/``; ``corpus`` plans the held-out real-CAD corpus
    too (written for each of ``corpus_seeds`` into a temporary directory), keyed ``<name>@seed<n>``, and
    the corpus's larger assembly (26 parts) for the plan-time target of a 20-part assembly.
    """
    dirs = list(dirs) if dirs else variant_dirs()
    g = grasp_times(dirs)
    cell = load_cell()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        ten = tmp / "ten_part_kit"
        shutil.copytree(CAD_PARTS / "sensor_kit", ten)
        (ten / "variant.yaml").write_text(TEN_PART_KIT)
        jobs = [(d.name, d, "cad_parts") for d in [*dirs, ten]]
        if corpus:
            for seed in corpus_seeds:
                for d in make_corpus(tmp / f"corpus_seed{seed}", seed):
                    jobs.append((f"{d.name}@seed{seed}", d, f"corpus_seed{seed}"))
            big = make_large(tmp / "large", corpus_seeds[0] if corpus_seeds else 0)
            jobs.append((big.name, big, "large"))
        plans, _ = _plan_all(jobs, tmp, cell)
    groups = sorted({str(r["group"]) for r in plans.values()})
    assemblies = [(k, r) for k, r in plans.items() if int(r["parts_total"]) >= TARGET_ASSEMBLY_PARTS]
    largest = max(plans.items(), key=lambda kr: (int(kr[1]["parts_total"]), float(kr[1]["plan_time_s"])))
    vals = list(g.values())
    return {
        "grasp_synthesis_s_per_part_median": round(float(np.median(vals)), 4) if vals else None,
        "grasp_synthesis_s_per_part_max": round(float(np.max(vals)), 4) if vals else None,
        "grasp_synthesis_s": {k: round(v, 4) for k, v in g.items()},
        "target_grasp_s_per_part": 0.3,
        "plan": plans,
        "target_ten_part_plan_s": 20.0,
        "totals": {
            "all": _totals(plans),
            **{grp: _totals({k: r for k, r in plans.items() if r["group"] == grp}) for grp in groups},
        },
        "target_parts_covered_pct": 100.0,
        "largest_variant": {
            "variant": largest[0],
            "parts": largest[1]["parts_total"],
            "plan_time_s": largest[1]["plan_time_s"],
            "plan_time_without_write_s": largest[1]["plan_time_without_write_s"],
        },
        "target_assembly_parts": TARGET_ASSEMBLY_PARTS,
        "target_assembly_plan_s": TARGET_ASSEMBLY_PLAN_S,
        "assemblies_over_target_parts": {k: r["plan_time_s"] for k, r in assemblies},
    }
