"""Motion-planning benchmark (``flexcell bench motion``): the embedded planner vs mplib on the same problems.

Scenes (fixed seed): for the UR5e cell and the 7-DOF Panda cell, (1) random valid start/goal pairs in the
cell as configured and (2) a shelf/bin scene: a shelf (open towards the robot) and an open-top bin are
added as obstacles and every start and goal has the tool inside the shelf or the bin.

Every returned trajectory (ours and the peer's) is re-checked against the UNPADDED world of the embedded
planner with a 0.002 rad step (finer than the planner's own 0.005 rad final check).
The peer (mplib 0.2.x, needs numpy<2) runs in its own venv ``build/bench-venvs/mplib`` as a subprocess on
the problems exported as JSON + URDF/SRDF files; if it cannot be installed or fails, ``peer`` is null and
``peer_reason`` says why.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from cell_config import Cell, load_cell
from cell_config.compose import cell_srdf, cell_urdf
from motion import MotionPlanner

REPO = Path(__file__).resolve().parents[1]
PEER_VENV = REPO / "build" / "bench-venvs" / "mplib"
PROBLEM_DIR = REPO / "build" / "bench" / "motion_problems"
SEED = 20261125
CHECK_STEP_RAD = 0.002

# Shelf / bin placement per cell (world frame): away from the stations, within reach.
SCENES: dict[str, dict[str, Any]] = {
    "ur5e_cell": {
        "shelf": {
            "center_xy": (-0.15, 0.52),
            "open_dir": (0.0, -1.0),
            "w": 0.36,
            "depth": 0.26,
            "h": 0.28,
            "z0": 0.25,
        },
        "bin": {"center_xy": (0.0, -0.5), "inner": 0.26, "height": 0.15},
    },
    "panda_cell": {
        "shelf": {
            "center_xy": (0.05, 0.52),
            "open_dir": (0.0, -1.0),
            "w": 0.34,
            "depth": 0.24,
            "h": 0.26,
            "z0": 0.22,
        },
        "bin": {"center_xy": (0.05, -0.45), "inner": 0.30, "height": 0.14},
    },
}


def _T(xyz: tuple[float, float, float] | np.ndarray, R: np.ndarray | None = None) -> np.ndarray:
    T = np.eye(4)
    if R is not None:
        T[:3, :3] = R
    T[:3, 3] = xyz
    return T


def _rot_z(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def shelf_bin_boxes(spec: dict[str, Any]) -> list[tuple[str, tuple[float, float, float], np.ndarray]]:
    """Boxes ``(name, size_m, T_world_box)`` of the shelf and the bin."""
    boxes: list[tuple[str, tuple[float, float, float], np.ndarray]] = []
    sh = spec["shelf"]
    t = 0.02
    d = np.array([*sh["open_dir"], 0.0])
    into = -d  # local x points into the shelf
    yaw = float(np.arctan2(into[1], into[0]))
    R = _rot_z(yaw)
    cx, cy = sh["center_xy"]
    w, D, H, z0 = sh["w"], sh["depth"], sh["h"], sh["z0"]

    def local(x: float, y: float, z: float) -> np.ndarray:
        return np.array([cx, cy, 0.0]) + R @ np.array([x, y, z])

    boxes.append(("shelf_base", (D, w + 2 * t, z0), _T(local(0, 0, z0 / 2), R)))
    boxes.append(("shelf_top", (D, w + 2 * t, t), _T(local(0, 0, z0 + H + t / 2), R)))
    boxes.append(("shelf_back", (t, w + 2 * t, H), _T(local(D / 2 + t / 2, 0, z0 + H / 2), R)))
    boxes.append(("shelf_left", (D, t, H), _T(local(0, w / 2 + t / 2, z0 + H / 2), R)))
    boxes.append(("shelf_right", (D, t, H), _T(local(0, -w / 2 - t / 2, z0 + H / 2), R)))
    b = spec["bin"]
    bx, by = b["center_xy"]
    L, h, wt = b["inner"], b["height"], 0.01
    boxes.append(("bin_floor", (L + 2 * wt, L + 2 * wt, wt), _T((bx, by, wt / 2))))
    for name, off, size in (
        ("bin_px", (L / 2 + wt / 2, 0), (wt, L + 2 * wt, h)),
        ("bin_nx", (-L / 2 - wt / 2, 0), (wt, L + 2 * wt, h)),
        ("bin_py", (0, L / 2 + wt / 2), (L, wt, h)),
        ("bin_ny", (0, -L / 2 - wt / 2), (L, wt, h)),
    ):
        boxes.append((name, size, _T((bx + off[0], by + off[1], h / 2))))
    return boxes


def inside_poses(spec: dict[str, Any], rng: np.random.Generator, n: int) -> list[np.ndarray]:
    """Random tcp poses with the tool inside the shelf (pointing in) or the bin (pointing down)."""
    out: list[np.ndarray] = []
    sh, b = spec["shelf"], spec["bin"]
    d = np.array([*sh["open_dir"], 0.0])
    into = -d
    yaw = float(np.arctan2(into[1], into[0]))
    R_sh = _rot_z(yaw)
    cx, cy = sh["center_xy"]
    for i in range(n):
        if i % 2 == 0:
            x = rng.uniform(-sh["depth"] / 2 + 0.06, sh["depth"] / 2 - 0.07)
            y = rng.uniform(-sh["w"] / 2 + 0.08, sh["w"] / 2 - 0.08)
            z = sh["z0"] + rng.uniform(0.08, sh["h"] - 0.08)
            p = np.array([cx, cy, 0.0]) + R_sh @ np.array([x, y, z])
            # tool z along "into", roll 0 or 90 deg (+-15 deg)
            roll = rng.choice([0.0, np.pi / 2]) + rng.uniform(-0.26, 0.26)
            z_axis = into
            x0 = np.array([0.0, 0.0, 1.0])
            y0 = np.cross(z_axis, x0)
            R0 = np.column_stack([x0, y0, z_axis])
            R = R0 @ _rot_z(roll)
            out.append(_T(p, R))
        else:
            L = b["inner"]
            x = b["center_xy"][0] + rng.uniform(-L / 2 + 0.08, L / 2 - 0.08)
            y = b["center_xy"][1] + rng.uniform(-L / 2 + 0.08, L / 2 - 0.08)
            z = 0.01 + rng.uniform(0.035, 0.07)
            R = np.diag([1.0, -1.0, -1.0]) @ _rot_z(rng.uniform(-np.pi, np.pi))
            out.append(_T((x, y, z), R))
    return out


def make_problems(
    cell: Cell, scene: str, n_pairs: int, rng: np.random.Generator
) -> tuple[
    MotionPlanner,
    list[tuple[np.ndarray, np.ndarray]],
    list[tuple[str, tuple[float, float, float], np.ndarray]],
]:
    """Planner (with the scene's extra obstacles) and ``n_pairs`` valid start/goal pairs."""
    p = MotionPlanner(cell, seed=SEED)
    extra: list[tuple[str, tuple[float, float, float], np.ndarray]] = []
    if scene == "random":
        qs: list[np.ndarray] = []
        while len(qs) < 2 * n_pairs:
            q = p.robot.random_q(rng)
            if p.is_valid(q):
                qs.append(q)
        return p, [(qs[2 * i], qs[2 * i + 1]) for i in range(n_pairs)], extra
    spec = SCENES[cell.name]
    extra = shelf_bin_boxes(spec)
    for name, size, T in extra:
        p.add_box(name, size, T)
    configs: list[np.ndarray] = []
    tries = 0
    while len(configs) < n_pairs + 1 and tries < 40 * n_pairs:
        for T_goal in inside_poses(spec, rng, 2):
            tries += 1
            q_goal = p.ik(T_goal, reference=p.home)
            if q_goal is not None and p.is_valid(q_goal):
                configs.append(q_goal)
    # Consecutive inside configurations (they alternate shelf / bin, plus shuffled same-place pairs).
    order = rng.permutation(len(configs))
    pairs = [(configs[order[i]], configs[order[(i + 1) % len(configs)]]) for i in range(n_pairs)]
    return p, pairs, extra


def _stats(vals: list[float], q: float) -> float | None:
    return float(np.percentile(vals, q)) if vals else None


def _summary(
    n: int,
    ok: int,
    valid: int,
    ms: list[float],
    lengths: list[float],
    durs: list[float],
    ik_ok: int,
    ik_ms: list[float],
) -> dict[str, Any]:
    """The benchmark's per-scene fields, the same for ours and the peer (``_ms`` lists are kept for pooling)."""
    return {
        "n": n,
        "success_rate": ok / n,
        "valid_rate": valid / ok if ok else None,
        "plan_ms_median": _stats(ms, 50),
        "plan_ms_p95": _stats(ms, 95),
        "path_length_median": _stats(lengths, 50),
        "traj_duration_s_median": _stats(durs, 50),
        "ik_success_rate": ik_ok / n,
        "ik_ms_median": _stats(ik_ms, 50),
    }


def evaluate_ours(p: MotionPlanner, pairs: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, Any]:
    ok = valid = 0
    ms: list[float] = []
    lengths: list[float] = []
    durs: list[float] = []
    ik_ok = 0
    ik_ms: list[float] = []
    failures: dict[str, int] = {}
    for a, b in pairs:
        t0 = time.perf_counter()
        r = p.plan_to_joint(a, b)
        ms.append((time.perf_counter() - t0) * 1e3)
        if r.success and r.trajectory is not None:
            ok += 1
            v, _ = p.path_valid(r.trajectory.q, padded=False, step_rad=CHECK_STEP_RAD)
            valid += int(v)
            lengths.append(r.trajectory.path_length())
            durs.append(r.trajectory.duration_s)
        else:
            failures[r.error_code] = failures.get(r.error_code, 0) + 1
        T = p.fk(b)
        t0 = time.perf_counter()
        sol = p.ik(T, reference=a)
        ik_ms.append((time.perf_counter() - t0) * 1e3)
        ik_ok += int(sol is not None and np.allclose(p.fk(sol), T, atol=1e-4))
    summary = _summary(len(pairs), ok, valid, ms, lengths, durs, ik_ok, ik_ms)
    return summary | {"failures": failures, "_ms": ms, "_ik_ms": ik_ms}


# ----------------------------------------------------------------------------------------------- peer
def ensure_peer_venv(log: Callable[[str], None]) -> tuple[Path | None, str]:
    """The mplib venv's python, created on first use (python3 -m venv + pip install mplib 'numpy<2')."""
    py = PEER_VENV / "bin" / "python"
    if py.exists() and subprocess.run([str(py), "-c", "import mplib"], capture_output=True).returncode == 0:
        return py, ""
    log(f"creating the mplib peer venv at {PEER_VENV} ...")
    PEER_VENV.parent.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["python3", "-m", "venv", str(PEER_VENV)], capture_output=True, text=True)
    if r.returncode != 0:
        return None, f"python3 -m venv failed: {r.stderr.strip()[-300:]}"
    r = subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "mplib", "numpy<2"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if r.returncode != 0:
        return None, f"pip install mplib 'numpy<2' failed: {r.stderr.strip()[-300:]}"
    return py, ""


def export_scene(
    name: str,
    p: MotionPlanner,
    pairs: list[tuple[np.ndarray, np.ndarray]],
    extra: list[tuple[str, tuple[float, float, float], np.ndarray]],
) -> dict[str, Any]:
    """The scene as the peer sees it: files + obstacles in the robot base frame."""
    cell = p.cell
    d = PROBLEM_DIR / name
    d.mkdir(parents=True, exist_ok=True)
    (d / "robot.urdf").write_text(cell_urdf(cell))
    (d / "robot.srdf").write_text(cell_srdf(cell))
    T_base_world = np.linalg.inv(cell.T_world_base)
    obstacles: list[dict[str, Any]] = []
    for o in cell.spec.obstacles:
        obstacles.append(
            {
                "name": o.name,
                "shape": o.shape,
                "size_m": list(o.size_m) if o.size_m else None,
                "radius_m": o.radius_m,
                "length_m": o.length_m,
                "T_base_obj": (T_base_world @ cell.resolve_pose(o.pose)).tolist(),
            }
        )
    for s in cell.spec.stations:
        obstacles.append(
            {
                "name": s.name,
                "shape": "box",
                "size_m": list(s.size_m),
                "T_base_obj": (T_base_world @ p.world.objects[s.name].T_world_obj).tolist(),
            }
        )
    for n, size, T in extra:
        obstacles.append(
            {"name": n, "shape": "box", "size_m": list(size), "T_base_obj": (T_base_world @ T).tolist()}
        )
    # The same pairs the embedded planner never checks: "always colliding" ones and the fixed base
    # against the world (it stands on the table).
    base = cell.spec.robot.base_link
    allowed = sorted(
        p.world._always_world | p.world._always_self | {(base, str(o["name"])) for o in obstacles}
    )
    return {
        "name": name,
        "urdf": str(d / "robot.urdf"),
        "srdf": str(d / "robot.srdf"),
        "obstacles": obstacles,
        "allowed_pairs": [list(x) for x in allowed],
        "finger_q": p.robot.opening_m / 2,
        "vel_max": p.vel_max.tolist(),
        "acc_max": p.acc_max.tolist(),
        "problems": [
            {"start": a.tolist(), "goal": b.tolist(), "T_base_tcp_goal": (T_base_world @ p.fk(b)).tolist()}
            for a, b in pairs
        ],
    }


def evaluate_peer(p: MotionPlanner, results: list[dict[str, Any]]) -> dict[str, Any]:
    ok = valid = 0
    ms, lengths, durs, ik_ms = [], [], [], []
    ik_ok = 0
    for r in results:
        ms.append(r["plan_ms"])
        ik_ms.append(r["ik_ms"])
        ik_ok += int(r["ik_success"])
        if r["success"]:
            ok += 1
            q = np.asarray(r["position"])
            v, _ = p.path_valid(q, padded=False, step_rad=CHECK_STEP_RAD)
            valid += int(v)
            lengths.append(float(np.linalg.norm(np.diff(q, axis=0), axis=1).sum()))
            durs.append(r["duration_s"])
    summary = _summary(len(results), ok, valid, ms, lengths, durs, ik_ok, ik_ms)
    return summary | {"_ms": ms, "_ik_ms": ik_ms}


def _merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """Pooled metrics over several scenes (medians over all problems)."""
    n = sum(x["n"] for x in parts)
    ok = sum(x["success_rate"] * x["n"] for x in parts)
    valid = sum((x["valid_rate"] or 0.0) * x["success_rate"] * x["n"] for x in parts)
    ms = [v for x in parts for v in x["_ms"]]
    ik = [v for x in parts for v in x["_ik_ms"]]
    return {
        "n": n,
        "success_rate": ok / n,
        "valid_rate": valid / ok if ok else None,
        "plan_ms_median": _stats(ms, 50),
        "plan_ms_p95": _stats(ms, 95),
        "path_length_median": float(
            np.median([x["path_length_median"] for x in parts if x["path_length_median"]])
        ),
        "traj_duration_s_median": float(
            np.median([x["traj_duration_s_median"] for x in parts if x["traj_duration_s_median"]])
        ),
        "ik_success_rate": sum(x["ik_success_rate"] * x["n"] for x in parts) / n,
        "ik_ms_median": _stats(ik, 50),
    }


def _public(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if not k.startswith("_")}


def run(quick: bool = False, peer: bool = True, log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the benchmark; returns the JSON-able report."""
    say = log or (lambda s: None)
    rng = np.random.default_rng(SEED)
    n_pairs = 8 if quick else 60
    cells = {"ur5e": load_cell(), "panda": load_cell(REPO / "cell_config" / "cells" / "panda_cell.yaml")}
    scenes: dict[str, Any] = {}
    ours: dict[str, dict[str, Any]] = {}
    planners: dict[str, MotionPlanner] = {}
    exported: list[dict[str, Any]] = []
    for robot, cell in cells.items():
        for scene in ("random", "shelf_bin"):
            name = f"{robot}_{scene}"
            p, pairs, extra = make_problems(cell, scene, n_pairs, rng)
            say(f"{name}: {len(pairs)} problems")
            ours[name] = evaluate_ours(p, pairs)
            planners[name] = p
            if peer:
                exported.append(export_scene(name, p, pairs, extra))
    peer_res: dict[str, dict[str, Any]] = {}
    peer_reason = "skipped (--quick or --no-peer)" if not peer else ""
    peer_version = None
    if peer:
        py, why = ensure_peer_venv(say)
        if py is None:
            peer_reason = why
        else:
            PROBLEM_DIR.mkdir(parents=True, exist_ok=True)
            prob_file = PROBLEM_DIR / "problems.json"
            res_file = PROBLEM_DIR / "mplib_results.json"
            prob_file.write_text(json.dumps({"scenes": exported}))
            say("running the mplib peer ...")
            env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
            r = subprocess.run(
                [
                    str(py),
                    str(Path(__file__).with_name("motion_mplib_peer.py")),
                    str(prob_file),
                    str(res_file),
                ],
                capture_output=True,
                text=True,
                timeout=1800,
                env=env,
            )
            if r.returncode != 0 or not res_file.exists():
                peer_reason = f"mplib peer failed (exit {r.returncode}): {r.stderr.strip()[-400:]}"
            else:
                data = json.loads(res_file.read_text())
                peer_version = data.get("mplib_version")
                for sc in data["scenes"]:
                    peer_res[sc["name"]] = evaluate_peer(planners[sc["name"]], sc["results"])
    for name, o in ours.items():
        pr = peer_res.get(name)
        scenes[name] = {
            **_public(o),
            "peer": _public(pr) if pr else None,
            "speedup_vs_peer": (pr["plan_ms_median"] / o["plan_ms_median"]) if pr else None,
        }
    report: dict[str, Any] = {
        "benchmark": "motion",
        "seed": SEED,
        "quick": quick,
        "machine": f"{platform.machine()} {os.cpu_count()} cpus, python {sys.version.split()[0]}",
        "recheck_step_rad": CHECK_STEP_RAD,
        # the machine is shared: the load during the run puts the wall-clock numbers in context
        "load_average_1min_at_end": round(os.getloadavg()[0], 2),
        **_merge(list(ours.values())),
        "peer": _merge(list(peer_res.values())) if peer_res else None,
        "peer_name": f"mplib {peer_version}" if peer_version else "mplib",
        "peer_reason": peer_reason or None,
    }
    report["speedup_vs_peer"] = (
        report["peer"]["plan_ms_median"] / report["plan_ms_median"] if report["peer"] else None
    )
    for robot in cells:
        parts = [ours[n] for n in ours if n.startswith(robot)]
        pparts = [peer_res[n] for n in peer_res if n.startswith(robot)]
        m = _merge(parts)
        pm = _merge(pparts) if pparts else None
        report[robot] = {
            **m,
            "peer": pm,
            "speedup_vs_peer": pm["plan_ms_median"] / m["plan_ms_median"] if pm else None,
        }
    report["scenes"] = scenes
    return report


def table(report: dict[str, Any]) -> str:
    """Plain-text table of a report."""
    cols = (
        "success_rate",
        "valid_rate",
        "plan_ms_median",
        "plan_ms_p95",
        "path_length_median",
        "traj_duration_s_median",
        "ik_success_rate",
        "ik_ms_median",
    )
    head = f"{'scene':22s} " + " ".join(f"{c[:12]:>12s}" for c in cols) + f" {'speedup':>8s}"
    lines = [head]

    def fmt(v: Any) -> str:
        return f"{v:12.3f}" if isinstance(v, float) else f"{'-':>12s}"

    for name, s in report["scenes"].items():
        sp = s.get("speedup_vs_peer")
        lines.append(
            f"{name:22s} "
            + " ".join(fmt(s[c]) for c in cols)
            + f" {sp if sp is None else round(sp, 1)!s:>8s}"
        )
        if s.get("peer"):
            lines.append(f"{'  mplib':22s} " + " ".join(fmt(s["peer"][c]) for c in cols))
    lines.append(f"{'ALL':22s} " + " ".join(fmt(report[c]) for c in cols))
    if report.get("peer_reason"):
        lines.append(f"peer: {report['peer_reason']}")
    return "\n".join(lines)


if __name__ == "__main__":
    rep = run(
        quick="--quick" in sys.argv, peer="--no-peer" not in sys.argv and "--quick" not in sys.argv, log=print
    )
    print(table(rep))
