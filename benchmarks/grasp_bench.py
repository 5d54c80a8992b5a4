"""Grasp benchmark on novel parts: pick each generated object from the feeder, place it in the kit tray.

The objects come from :mod:`workflow_gen.object_set` (our own procedure: unions of primitives, extrusions,
revolves, several overlapping shells per mesh; 15-90 mm; fixed seed). Each is written as STL (mm) into a
kit variant of its own (``obj`` from the feeder to kit slot A1), so every result belongs to one object.
Per object, both generators run in the same process on the same files:

``new``   :func:`workflow_gen.pipeline.plan_variant` as it is (grasps from any side, regrasp fallback)
``peer``  the same with ``top_down_only=True`` (the generator before grasps from any side)

and every workflow the robot got is replayed in MuJoCo (:func:`sim.validate.validate_workflow`). Each trial
runs in a forked child of a warm parent: nothing one trial caches in memory (hulls, convex pieces) reaches
the next, so neither generator profits from the other, and a crash or hang is that object's failure.
Pieces the motion layer caches on disk (``motion.convex``) do carry over; ``new`` runs first.

Figures per generator: ``fit_gripper`` (objects whose narrowest width is within the stroke), ``robot_planned``,
``physics_passed``, ``planned_rate`` = robot_planned / fit_gripper, ``physics_rate`` = physics_passed /
robot_planned, median plan time per object (import to written workflow) and grasp synthesis time per part,
and ``failures``: one ``{object, stage: plan|physics, reason}`` per failed object. The top-level keys are the
new generator's; ``peer`` holds the same keys for the peer.

Run: ``flexcell bench grasp --json [--objects N] [--seed S] [--quick]`` or
``python benchmarks/grasp_bench.py [--objects N] [--seed S] [--quick]``. Takes ~10-20 s per object.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from cell_config import Cell, load_cell
from workflow_gen.cad_import import import_parts, min_width_m
from workflow_gen.object_set import FAMILIES, make_objects, shell_count, write_kit
from workflow_gen.variant import load_variant

QUICK_OBJECTS = 8
TARGETS = {"planned_rate": 0.95, "physics_rate": 0.97, "grasp_time_s_per_part": 0.3}
GENERATORS = {
    "new": "plan_variant: grasps from any side, regrasp fallback",
    "peer": "plan_variant(top_down_only=True): tool within 30 deg of down, no regrasp",
}
PART = "obj"
TRIAL_TIMEOUT_S = 300.0

Step = Callable[[str], None]


def _crash(e: BaseException) -> str:
    """``TypeError: ... (at motion/convex.py:204 _to_manifold)``: the error and where it was raised."""
    tb = traceback.extract_tb(e.__traceback__)
    where = ""
    if tb:
        f = tb[-1]
        parts = Path(f.filename).parts
        short = "/".join(parts[-2:]) if len(parts) >= 2 else f.filename
        where = f" (at {short}:{f.lineno} {f.name})"
    msg = str(e).splitlines()[0] if str(e) else ""
    return f"crash: {type(e).__name__}: {msg[:200]}{where}"


def _fit(vdir: Path, stroke_m: float) -> tuple[bool, float, str]:
    """(fits the gripper, narrowest width mm, import issue) of the kit's one part."""
    g = import_parts(vdir, load_variant(vdir), stroke_m)[0]
    w = min_width_m(g.mesh)[0] * 1000.0 if g.mesh.is_watertight else float("nan")
    fits = g.issue is None or not g.issue.startswith("too large")
    return fits, round(w, 1), g.issue or ""


def _record(**fields: Any) -> dict[str, Any]:
    """One trial's result: planned, passed in physics, times, the robot task, and why it failed."""
    rec: dict[str, Any] = {
        "planned": False,
        "physics": False,
        "plan_s": None,
        "grasp_s": None,
        "physics_s": None,
        "task": None,
        "grasp_width_mm": None,
        "stage": None,
        "kind": None,
        "reason": None,
    }
    rec.update(fields)
    return rec


def run_generator(vdir: Path, out: Path, cell: Cell, top_down_only: bool, say: Step) -> dict[str, Any]:
    """Plan one object's kit with one generator and replay what the robot got; one result record."""
    from sim.validate import validate_workflow
    from workflow_gen.pipeline import plan_variant

    rec = _record()
    say("plan")
    t0 = time.perf_counter()
    try:
        o = plan_variant(vdir, cell, out_dir=out, write_report=False, top_down_only=top_down_only)
    except Exception as e:  # one object's crash is that object's failure, the run goes on
        rec.update(stage="plan", kind="crash", reason=_crash(e), plan_s=round(time.perf_counter() - t0, 3))
        return rec
    rec["plan_s"] = round(o.total_time_s, 3)
    p = next(pp for pp in o.parts if pp.name == PART)
    if p.ctx.grasps is not None and not p.ctx.grasps_cached:
        rec["grasp_s"] = round(p.ctx.grasp_time_s, 4)
    robot = [t for t in o.workflow.tasks if t.actor == "robot" and t.part == PART]
    if not robot:
        inf = next((i for i in o.workflow.infeasible if i.part == PART), None)
        op = next((t for t in o.workflow.tasks if t.part == PART), None)
        kind = inf.kind.value if inf is not None and inf.kind is not None else None
        if kind is None and op is not None and op.reason_kind is not None:
            kind = op.reason_kind.value
        reason = inf.reason if inf is not None else (op.description if op is not None else "no task")
        rec.update(stage="plan", kind=kind or "unknown", reason=reason)
        return rec
    rec["planned"] = True
    rec["task"] = robot[-1].kind
    g = robot[0].grasp
    rec["grasp_width_mm"] = round(g.contact_width_m * 1000.0, 1) if g is not None else None
    say("physics")
    t0 = time.perf_counter()
    try:
        v = validate_workflow(out / "workflow.yaml")
    except Exception as e:
        rec.update(stage="physics", kind="crash", reason=_crash(e))
        return rec
    finally:
        rec["physics_s"] = round(time.perf_counter() - t0, 3)
    mine = [r for r in v.tasks if r.part == PART and r.actor == "robot"]
    bad = [f for r in mine for f in r.failures]
    if mine and not bad:
        rec["physics"] = True
    else:
        rec.update(
            stage="physics", kind=_physics_kind(bad), reason="; ".join(bad) or "no robot task replayed"
        )
    return rec


def _physics_kind(failures: list[str]) -> str:
    """The first failed check of a replay, as a word (placed, slip, lift, collision, tracking)."""
    for f in failures:
        for word, kind in (
            ("not lifted", "not_lifted"),
            ("slipped", "slip"),
            ("placed", "placed_off_target"),
            ("collisions", "collision"),
            ("trajectory", "tracking"),
        ):
            if f.startswith(word):
                return kind
    return "other"


def _median(xs: list[float]) -> float | None:
    return round(float(np.median(xs)), 4) if xs else None


def summarise(objects: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """The figures of one generator (``new`` or ``peer``) over the per-object records."""
    fit = [o for o in objects if o["fit_gripper"]]
    res = [o[key] for o in fit]
    planned = [r for r in res if r["planned"]]
    passed = [r for r in planned if r["physics"]]
    failures = [
        {"object": o["name"], "stage": o[key]["stage"], "kind": o[key]["kind"], "reason": o[key]["reason"]}
        for o in fit
        if not o[key]["physics"]
    ]
    groups: dict[str, list[str]] = {}
    for f in failures:
        groups.setdefault(f"{f['stage']}: {f['kind']}", []).append(f["object"])
    grasp = [r["grasp_s"] for r in res if r["grasp_s"] is not None]
    tasks: dict[str, int] = {}
    for r in planned:
        tasks[r["task"]] = tasks.get(r["task"], 0) + 1
    by_family: dict[str, dict[str, int]] = {}
    for o in fit:
        fam = by_family.setdefault(o["family"], {"fit": 0, "planned": 0, "passed": 0})
        fam["fit"] += 1
        fam["planned"] += int(o[key]["planned"])
        fam["passed"] += int(o[key]["physics"])
    return {
        "generator": GENERATORS[key],
        "fit_gripper": len(fit),
        "robot_planned": len(planned),
        "physics_passed": len(passed),
        "planned_rate": round(len(planned) / len(fit), 4) if fit else None,
        "physics_rate": round(len(passed) / len(planned), 4) if planned else None,
        "end_to_end_rate": round(len(passed) / len(fit), 4) if fit else None,
        "plan_time_s_per_object_median": _median([r["plan_s"] for r in res if r["plan_s"] is not None]),
        "grasp_time_s_per_part_median": _median(grasp),
        "grasp_time_s_per_part_max": round(max(grasp), 4) if grasp else None,
        "physics_time_s_per_object_median": _median(
            [r["physics_s"] for r in res if r["physics_s"] is not None]
        ),
        "robot_tasks_by_kind": tasks,
        "by_family": by_family,
        "failures": failures,
        "failure_groups": {k: groups[k] for k in sorted(groups)},
    }


def _meets(s: dict[str, Any]) -> dict[str, bool | None]:
    def at_least(v: float | None, t: float) -> bool | None:
        return None if v is None else v >= t

    g = s["grasp_time_s_per_part_median"]
    return {
        "planned_rate": at_least(s["planned_rate"], TARGETS["planned_rate"]),
        "physics_rate": at_least(s["physics_rate"], TARGETS["physics_rate"]),
        "grasp_time_s_per_part": None if g is None else g <= TARGETS["grasp_time_s_per_part"],
    }


def _child(conn: Connection, vdir: Path, out: Path, cell: Cell, top_down_only: bool) -> None:
    def say(stage: str) -> None:
        conn.send(("stage", stage))

    try:
        rec = run_generator(vdir, out, cell, top_down_only, say)
    except BaseException as e:  # run_generator catches the planner's and simulator's errors already
        rec = _record(stage="plan", kind="crash", reason=_crash(e))
    conn.send(("done", rec))
    conn.close()


def run_isolated(
    vdir: Path, out: Path, cell: Cell, top_down_only: bool, say: Step, timeout_s: float = TRIAL_TIMEOUT_S
) -> dict[str, Any]:
    """:func:`run_generator` in a forked child: what one trial caches in memory (convex pieces, hulls, grasps)
    does not reach the next, the generators are compared on equal terms, and a hard crash or a hang is that
    object's failure, not the run's end."""
    ctx = mp.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(send, vdir, out, cell, top_down_only), daemon=True)
    t0 = time.perf_counter()
    proc.start()
    send.close()
    rec: dict[str, Any] | None = None
    try:
        while rec is None:
            left = timeout_s - (time.perf_counter() - t0)
            if left <= 0 or not recv.poll(left):
                break
            kind, payload = recv.recv()
            if kind == "stage":
                say(payload)
            else:
                rec = payload
    except EOFError:
        pass
    if rec is None:
        stage = "plan"
        if proc.is_alive():
            proc.kill()
            why = f"timeout: no result in {timeout_s:.0f} s"
        else:
            why = f"crash: the process died (exit code {proc.exitcode})"
        rec = _record(stage=stage, kind=why.split(":")[0], reason=why)
    proc.join()
    recv.close()
    return rec


def run(
    n_objects: int = 60,
    seed: int = 0,
    quick: bool = False,
    progress: bool = True,
    keep_dir: Path | None = None,
) -> dict[str, Any]:
    """Run the benchmark (``quick``: the first :data:`QUICK_OBJECTS` objects); returns the JSON-able report.

    ``keep_dir`` keeps the variants and workflows there (default: a temporary directory, removed).
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    import motion  # noqa: F401  (imported once here, so that every forked trial starts warm)
    import sim.validate  # noqa: F401
    import workflow_gen.pipeline  # noqa: F401

    n = min(n_objects, QUICK_OBJECTS) if quick else n_objects
    t_all = time.perf_counter()
    cell = load_cell()
    stroke_m = float(cell.spec.gripper.stroke_m)
    objs = make_objects(n, seed)
    root = Path(tempfile.mkdtemp(prefix="grasp_bench-")) if keep_dir is None else Path(keep_dir)
    root.mkdir(parents=True, exist_ok=True)
    records: list[dict[str, Any]] = []
    try:
        with Progress(
            TextColumn("[bold]grasp bench"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
            disable=not progress,
        ) as bar:
            task = bar.add_task("", total=2 * len(objs))
            for name, mesh in objs:
                vdir = write_kit(root / "variants" / name, name, mesh)
                fits, width_mm, issue = _fit(vdir, stroke_m)
                rec: dict[str, Any] = {
                    "name": name,
                    "family": name.rsplit("_", 1)[0],
                    "size_mm": [round(float(x) * 1000.0, 1) for x in mesh.extents],
                    "shells": shell_count(mesh),
                    "narrowest_width_mm": width_mm,
                    "fit_gripper": fits,
                    "import_issue": issue or None,
                }
                for key in ("new", "peer"):

                    def say(stage: str, key: str = key, name: str = name) -> None:
                        bar.update(task, description=f"{name} {key} {stage}")

                    if fits:
                        say("start")
                        out = root / "out" / key / name
                        rec[key] = run_isolated(vdir, out, cell, key == "peer", say)
                    bar.advance(task)
                records.append(rec)
    finally:
        if keep_dir is None:
            shutil.rmtree(root, ignore_errors=True)
    new, peer = summarise(records, "new"), summarise(records, "peer")
    return {
        "objects": len(records),
        "seed": seed,
        "quick": quick,
        "families": {f: sum(r["family"] == f for r in records) for f in FAMILIES},
        "objects_with_several_shells": sum(r["shells"] > 1 for r in records),
        "size_mm_range": [
            round(min(max(r["size_mm"]) for r in records), 1) if records else None,
            round(max(max(r["size_mm"]) for r in records), 1) if records else None,
        ],
        "too_large": [r["name"] for r in records if not r["fit_gripper"]],
        **new,
        "meets_targets": _meets(new),
        "peer": {**peer, "meets_targets": _meets(peer)},
        "targets": TARGETS,
        "per_object": records,
        "bench_time_s": round(time.perf_counter() - t_all, 1),
    }


def table(report: dict[str, Any]) -> str:
    """A short plain-text table of the report (new vs peer)."""

    def pct(v: float | None) -> str:
        return "-" if v is None else f"{v * 100:.1f} %"

    def s(v: float | None) -> str:
        return "-" if v is None else f"{v:.3f} s"

    rows = [("", "new", "peer (top-down)")]
    for label, k, fmt in (
        ("fit gripper", "fit_gripper", str),
        ("robot planned", "robot_planned", str),
        ("physics passed", "physics_passed", str),
        ("planned rate", "planned_rate", pct),
        ("physics rate", "physics_rate", pct),
        ("plan time / object (median)", "plan_time_s_per_object_median", s),
        ("grasp time / part (median)", "grasp_time_s_per_part_median", s),
        ("grasp time / part (max)", "grasp_time_s_per_part_max", s),
    ):
        rows.append((label, fmt(report[k]), fmt(report["peer"][k])))  # type: ignore[operator]
    w = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [f"{r[0]:<{w[0]}}  {r[1]:>{w[1]}}  {r[2]:>{w[2]}}" for r in rows]
    for key, title in (("new", "new"), ("peer", "peer")):
        groups = report["failure_groups"] if key == "new" else report["peer"]["failure_groups"]
        if groups:
            lines.append(f"failures ({title}):")
            lines += [f"  {g}: {', '.join(objs)}" for g, objs in groups.items()]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--objects", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--keep", type=Path, default=None, help="keep variants and workflows in this directory")
    a = ap.parse_args()
    print(json.dumps(run(a.objects, a.seed, a.quick, keep_dir=a.keep), indent=2))


if __name__ == "__main__":
    main()
