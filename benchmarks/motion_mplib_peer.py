"""mplib peer of the motion benchmark; runs INSIDE build/bench-venvs/mplib (mplib needs numpy<2).

Usage: ``python motion_mplib_peer.py problems.json results.json``. The problem file (written by
motion_bench.py) holds, per scene: the URDF/SRDF paths, the obstacles as boxes/cylinders in the robot BASE
frame, the collision pairs to ignore (the same ones the embedded planner ignores), and the start/goal
pairs. Results: per problem success, wall time of ``plan_qpos`` at its default 0.1 s output step (RRTConnect +
simplification + mplib's own TOPP), the positions of a second run sampled every 10 ms (for the validity
check), the duration, and per goal pose the IK success and time.
"""

from __future__ import annotations

import json
import sys
import time

import mplib
import numpy as np
from mplib.collision_detection import fcl


def _pose(T: list[list[float]]) -> mplib.Pose:
    return mplib.Pose(np.asarray(T, dtype=float))


def run_scene(scene: dict) -> dict:
    planner = mplib.Planner(
        urdf=scene["urdf"],
        srdf=scene["srdf"],
        move_group="tcp",
        joint_vel_limits=np.asarray(scene["vel_max"]),
        joint_acc_limits=np.asarray(scene["acc_max"]),
    )
    pw = planner.planning_world
    for o in scene["obstacles"]:
        if o["shape"] == "box":
            geom = fcl.Box(*o["size_m"])
        elif o["shape"] == "cylinder":
            geom = fcl.Cylinder(o["radius_m"], o["length_m"])
        else:
            geom = fcl.Sphere(o["radius_m"])
        obj = fcl.FCLObject(o["name"], _pose(o["T_base_obj"]), [fcl.CollisionObject(geom)], [mplib.Pose()])
        pw.add_object(obj)
    acm = pw.get_allowed_collision_matrix()
    for a, b in scene["allowed_pairs"]:
        acm.set_entry(a, b, True)
    n_all = len(planner.robot.get_qpos())
    n = len(scene["problems"][0]["start"])
    extra = np.full(n_all - n, scene["finger_q"])
    out = []
    for pr in scene["problems"]:
        start = np.concatenate([pr["start"], extra])
        # Timed run with mplib's default output step (0.1 s) ...
        t0 = time.perf_counter()
        res = planner.plan_qpos([np.asarray(pr["goal"])], start, planning_time=1.0)
        ms = (time.perf_counter() - t0) * 1e3
        item = {"success_timed_run": res.get("status") == "Success", "plan_ms": ms}
        # ... and a second run sampled every 10 ms for the validity check (its TOPP spline between 0.1 s
        # samples is not what a linear re-check would see).
        res = planner.plan_qpos([np.asarray(pr["goal"])], start, planning_time=1.0, time_step=0.01)
        ok = res.get("status") == "Success"
        item.update(success=ok, status=str(res.get("status")))
        if ok:
            item["position"] = np.asarray(res["position"])[:, :n].tolist()
            item["duration_s"] = float(res["duration"])
        t0 = time.perf_counter()
        status, sols = planner.IK(_pose(pr["T_base_tcp_goal"]), start, n_init_qpos=20)
        item["ik_ms"] = (time.perf_counter() - t0) * 1e3
        item["ik_success"] = status == "Success" and sols is not None and len(sols) > 0
        out.append(item)
    return {"name": scene["name"], "results": out}


def main() -> None:
    problems = json.loads(open(sys.argv[1]).read())
    results = {"mplib_version": mplib.__version__, "numpy": np.__version__, "scenes": []}
    for scene in problems["scenes"]:
        results["scenes"].append(run_scene(scene))
    with open(sys.argv[2], "w") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main()
