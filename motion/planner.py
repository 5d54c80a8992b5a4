"""The embedded motion planner: OMPL + pinocchio + coal + toppra behind a moveit_py-shaped API.

Pipeline of every request (like a MoveIt planning pipeline with its request/response adapters):
check start bounds and collision -> (pose goal: IK goal set) -> check goal -> direct edge or OMPL planner
(profile from the generated ompl_planning.yaml) -> path simplification -> toppra time parameterisation
(limits from the generated joint_limits.yaml, scaled by the cell's planning scaling factors) -> dense
re-check of the returned trajectory against the UNPADDED world.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pinocchio as pin
import trimesh
import yaml
from ompl import base as ob
from ompl import geometric as og
from ompl import util as ou

from cell_config import Cell
from motion.collision_world import CollisionWorld, WorldObject, convex_hull_geometry
from motion.ik import IkSolver
from motion.moveit_config import moveit_config_texts
from motion.result import Planner, PlanResult
from motion.retiming import densify, time_parameterize
from motion.robot_model import RobotModel
from motion.trajectory import JointTrajectory

ou.setLogLevel(ou.LogLevel.LOG_WARN)
_OMPL_SEEDED: list[int] = []  # OMPL's seed can only be set before its first random number

# Final check of returned trajectories: no joint moves more than this between checked states (rad).
RECHECK_STEP_RAD = 0.005

_PLANNERS: dict[str, Any] = {
    "geometric::RRTConnect": og.RRTConnect,
    "geometric::RRT": og.RRT,
    "geometric::RRTstar": og.RRTstar,
    "geometric::PRM": og.PRM,
    "geometric::PRMstar": og.PRMstar,
    "geometric::BKPIECE": og.BKPIECE1,
    "geometric::LBKPIECE": og.LBKPIECE1,
    "geometric::KPIECE": og.KPIECE1,
    "geometric::BITstar": og.BITstar,
}
# ompl_planning.yaml parameter -> (setter, type); OMPL's ParamSet is not usable from these bindings.
_SETTERS: dict[str, tuple[str, type]] = {
    "range": ("setRange", float),
    "goal_bias": ("setGoalBias", float),
    "border_fraction": ("setBorderFraction", float),
    "max_nearest_neighbors": ("setMaxNearestNeighbors", int),
    "delay_collision_checking": ("setDelayCC", bool),
    "failed_expansion_score_factor": ("setFailedExpansionCellScoreFactor", float),
    "min_valid_path_fraction": ("setMinValidPathFraction", float),
}


class _OmplSpace:
    """OMPL state space + space information bound to a validity function."""

    def __init__(self, robot: RobotModel, valid: Any, resolution_fraction: float) -> None:
        n = robot.n
        self.n = n
        self.space = ob.RealVectorStateSpace(n)
        b = ob.RealVectorBounds(n)
        for i in range(n):
            b.setLow(i, float(robot.limits.lower[i]))
            b.setHigh(i, float(robot.limits.upper[i]))
        self.space.setBounds(b)
        self.si = ob.SpaceInformation(self.space)
        self.si.setStateValidityChecker(valid)
        self.si.setStateValidityCheckingResolution(resolution_fraction)
        self.si.setup()  # must precede any state copy (see ENVIRONMENT.md)

    def state(self, q: np.ndarray) -> Any:
        s = self.si.allocState()
        for i in range(self.n):
            s[i] = float(q[i])
        return s

    def to_numpy(self, s: Any) -> np.ndarray:
        return np.array([s[i] for i in range(self.n)])


def _fail(
    code: str, message: str, t0: float, fraction: float = 0.0, traj: JointTrajectory | None = None
) -> PlanResult:
    return PlanResult(False, traj, code, message, time.perf_counter() - t0, fraction)


class MotionPlanner:
    """Embedded OMPL planner for one cell.

    Parameters
    ----------
    cell : the loaded cell
    padding_m : planning padding between robot and world (default ``cell.spec.planning.padding_m``)
    profiles_path : an ompl_planning.yaml (or a directory holding one plus joint_limits.yaml) to read
        instead of the config generated from the cell
    seed : seed of OMPL's and the IK's random generators (reproducible plans)
    """

    def __init__(
        self,
        cell: Cell,
        padding_m: float | None = None,
        profiles_path: Path | str | None = None,
        seed: int = 1,
    ) -> None:
        self.cell = cell
        self.robot = RobotModel(cell)
        self.joint_names = list(self.robot.joint_names)
        pad = cell.spec.planning.padding_m if padding_m is None else float(padding_m)
        self.world = CollisionWorld(self.robot, pad)
        self.ik_solver = IkSolver(self.robot)
        if not _OMPL_SEEDED:
            ou.RNG.setSeed(seed)
            _OMPL_SEEDED.append(seed)
        self.ik_solver.rng = np.random.default_rng(seed)
        self._load_config(profiles_path)
        # (padded, fine) -> space; "fine" (1/4 of the configured edge resolution) is the retry used when a
        # result fails the dense unpadded re-check.
        self.spaces = {
            (padded, fine): _OmplSpace(
                self.robot,
                self._valid_padded if padded else self._valid_exact,
                self.resolution_fraction / (4.0 if fine else 1.0),
            )
            for padded in (True, False)
            for fine in (False, True)
        }
        self.planning_time_s = 1.0

    # ----------------------------------------------------------------- configuration
    def _load_config(self, profiles_path: Path | str | None) -> None:
        texts = moveit_config_texts(self.cell)
        ompl_text, jl_text = texts["ompl_planning.yaml"], texts["joint_limits.yaml"]
        if profiles_path is not None:
            p = Path(profiles_path)
            ompl_file = p / "ompl_planning.yaml" if p.is_dir() else p
            ompl_text = ompl_file.read_text()
            if (ompl_file.parent / "joint_limits.yaml").exists():
                jl_text = (ompl_file.parent / "joint_limits.yaml").read_text()
        self.ompl_config: dict[str, Any] = yaml.safe_load(ompl_text)
        jl = yaml.safe_load(jl_text)
        group = self.cell.spec.robot.planning_group
        gcfg = self.ompl_config.get(group, {})
        self.default_profile = str(gcfg.get("default_planner_config", "RRTConnectkConfigDefault"))
        self.profiles: dict[str, dict[str, Any]] = dict(self.ompl_config.get("planner_configs", {}))
        self.resolution_fraction = float(gcfg.get("longest_valid_segment_fraction", 0.005))
        lims = jl["joint_limits"]
        vel = np.array([float(lims[j]["max_velocity"]) for j in self.joint_names])
        acc = np.array(
            [
                float(lims[j]["max_acceleration"])
                if lims[j].get("has_acceleration_limits", False)
                else np.inf
                for j in self.joint_names
            ]
        )
        if not np.all(np.isfinite(acc)):
            missing = [j for j, a in zip(self.joint_names, acc, strict=True) if not np.isfinite(a)]
            raise ValueError(f"joint_limits.yaml: no acceleration limit for {missing} (needed for retiming)")
        plan = self.cell.spec.planning
        vs = float(jl.get("default_velocity_scaling_factor", plan.max_velocity_scaling))
        as_ = float(jl.get("default_acceleration_scaling_factor", plan.max_acceleration_scaling))
        self.vel_max = vel * vs
        self.acc_max = acc * as_
        # Jerk is a hard limit of the drive, not a speed choice: the scaling factors do not apply (as in
        # MoveIt's Ruckig smoothing); joints without one are not jerk-limited.
        self.jerk_max = np.array(
            [
                float(lims[j]["max_jerk"]) if lims[j].get("has_jerk_limits", False) else np.inf
                for j in self.joint_names
            ]
        )

    # ----------------------------------------------------------------- model access
    @property
    def home(self) -> np.ndarray:
        return self.robot.home

    def fk(self, q: np.ndarray) -> np.ndarray:
        """``T_world_tcp (4, 4)`` at ``q (n,)``."""
        return self.robot.fk(np.asarray(q, dtype=float))

    def jacobian(self, q: np.ndarray) -> np.ndarray:
        """Tcp Jacobian ``(6, n)`` in the world frame."""
        return self.robot.jacobian(np.asarray(q, dtype=float))

    # ----------------------------------------------------------------- world
    def add_object(self, name: str, mesh: trimesh.Trimesh, T_world_obj: np.ndarray) -> None:
        """Add a part (convex hull of ``mesh``, metres, part frame) at ``T_world_obj (4, 4)``."""
        extent = float(np.max(np.linalg.norm(mesh.vertices, axis=1))) if len(mesh.vertices) else 0.0
        self.world.add(
            WorldObject(
                name,
                convex_hull_geometry(mesh),
                np.asarray(T_world_obj, float).copy(),
                "part",
                extent_m=extent,
            )
        )

    def add_box(self, name: str, size_m: tuple[float, float, float], T_world_obj: np.ndarray) -> None:
        """Add a box obstacle of ``size_m`` centred at ``T_world_obj``."""
        import coal

        self.world.add(
            WorldObject(name, coal.Box(*size_m), np.asarray(T_world_obj, float).copy(), "obstacle")
        )

    def remove_object(self, name: str) -> None:
        self.world.remove(name)

    def set_object_pose(self, name: str, T_world_obj: np.ndarray) -> None:
        if name not in self.world.objects:
            raise KeyError(f"no object {name!r} in the planning world")
        if self.world.objects[name].attached:
            raise ValueError(f"object {name!r} is attached; detach it first")
        self.world.set_pose(name, T_world_obj)

    def attach_object(self, name: str, q: np.ndarray) -> None:
        """Make ``name`` ride with the tcp, keeping its pose relative to the tcp at ``q``."""
        obj = self.world.objects[name]
        T_tcp_obj = np.linalg.solve(self.fk(q), obj.T_world_obj)
        self.world.attach(name, T_tcp_obj)

    def detach_object(self, name: str, q: np.ndarray) -> None:
        """Put ``name`` back into the world where it is with the robot at ``q``."""
        obj = self.world.objects[name]
        if obj.T_tcp_obj is None:
            raise ValueError(f"object {name!r} is not attached")
        self.world.detach(name, self.fk(q) @ obj.T_tcp_obj)

    def object_pose(self, name: str, q: np.ndarray | None = None) -> np.ndarray:
        """``T_world_obj`` of an object (attached objects need the robot configuration ``q``)."""
        obj = self.world.objects[name]
        if obj.T_tcp_obj is not None:
            if q is None:
                raise ValueError(f"object {name!r} is attached: give q")
            return self.fk(q) @ obj.T_tcp_obj
        return obj.T_world_obj.copy()

    def set_gripper_opening(self, width_m: float) -> None:
        """Finger opening (m) used by collision checks from now on."""
        if abs(width_m - self.robot.opening_m) < 1e-6:
            return
        self.robot.set_opening(width_m)
        self.world.robot_changed()
        self.ik_solver.robot = self.robot

    # ----------------------------------------------------------------- validity
    def _valid_padded(self, s: Any) -> bool:
        q = np.array([s[i] for i in range(self.robot.n)])
        return not self.world.in_collision(q, padded=True)

    def _valid_exact(self, s: Any) -> bool:
        q = np.array([s[i] for i in range(self.robot.n)])
        return not self.world.in_collision(q, padded=False)

    def is_valid(self, q: np.ndarray, padded: bool = True) -> bool:
        """Within limits and collision-free (with planning padding unless ``padded=False``)."""
        q = np.asarray(q, dtype=float)
        return self.robot.within_limits(q) and not self.world.in_collision(q, padded=padded)

    def collision_report(self, q: np.ndarray) -> str | None:
        """Why ``q`` is invalid (limits, colliding pair, padding), or None when valid."""
        q = np.asarray(q, dtype=float)
        if not self.robot.within_limits(q):
            bad = [
                f"{j}={v:.3f} outside [{lo:.3f}, {hi:.3f}]"
                for j, v, lo, hi in zip(
                    self.joint_names, q, self.robot.limits.lower, self.robot.limits.upper, strict=True
                )
                if v < lo - 1e-9 or v > hi + 1e-9
            ]
            return "joint limits: " + ", ".join(bad)
        return self.world.report(q)

    def min_distance(self, q: np.ndarray) -> tuple[float, str, str]:
        """Smallest robot-world / self distance (m) at ``q`` and the pair's names."""
        return self.world.min_distance(np.asarray(q, dtype=float))

    def path_valid(
        self, path_q: np.ndarray, padded: bool = False, step_rad: float = RECHECK_STEP_RAD
    ) -> tuple[bool, str]:
        """Check a joint path ``(N, n)`` densely (straight segments cut to ``step_rad``); returns (ok, reason)."""
        pts = densify(np.asarray(path_q, dtype=float), step_rad)
        lo, hi = self.robot.limits.lower - 1e-6, self.robot.limits.upper + 1e-6
        out = np.flatnonzero(np.any((pts < lo) | (pts > hi), axis=1))
        if out.size:
            return False, f"leaves joint limits at {np.round(pts[out[0]], 3).tolist()}"
        in_collision = self.world.in_collision
        for q in pts:
            if in_collision(q, padded):
                return False, f"{self.world.report(q)} at {np.round(q, 3).tolist()}"
        return True, ""

    # ----------------------------------------------------------------- IK
    def ik(self, T_world_tcp: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray | None:
        """Collision-free configuration (padded world) reaching ``T_world_tcp``: from the reference seed when
        it converges there, else from the nearest seeds of the IK seed table (see :mod:`motion.ik`)."""
        return self.ik_solver.solve(
            T_world_tcp, reference=reference, is_valid=lambda q: not self.world.in_collision(q, True)
        )

    def ik_goal_set(
        self, T_world_tcp: np.ndarray, reference: np.ndarray, count: int = 4, padded: bool = True
    ) -> list[np.ndarray]:
        """Up to ``count`` distinct valid IK solutions, closest to ``reference`` first."""
        return self.ik_solver.solutions(
            T_world_tcp,
            reference=reference,
            is_valid=lambda q: not self.world.in_collision(q, padded),
            count=count,
            max_attempts=3 * count + 4,
        )

    # ----------------------------------------------------------------- planning
    def _check_start(self, q: np.ndarray, t0: float) -> tuple[np.ndarray | None, PlanResult | None]:
        q = np.asarray(q, dtype=float).reshape(-1)
        if q.shape != (self.robot.n,):
            return None, _fail("PLANNING_FAILED", f"start has {q.size} values for {self.robot.n} joints", t0)
        lo, hi = self.robot.limits.lower, self.robot.limits.upper
        if np.any(q < lo - 1e-3) or np.any(q > hi + 1e-3):
            return None, _fail("START_IN_COLLISION", f"start state {self.collision_report(q)}", t0)
        q = np.clip(q, lo, hi)  # MoveIt's CheckStartStateBounds: tiny violations are fixed up
        if self.world.in_collision(q, padded=False):
            return None, _fail("START_IN_COLLISION", f"start state: {self.world.report(q)}", t0)
        return q, None

    def _profile(self, profile: str) -> dict[str, Any]:
        name = self.default_profile if profile == "default" else profile
        if name not in self.profiles:
            raise KeyError(
                f"unknown planning profile {profile!r}; known: default, {', '.join(self.profiles)}"
            )
        return self.profiles[name]

    def _make_planner(self, cfg: dict[str, Any], si: Any) -> Any:
        cls = _PLANNERS.get(str(cfg.get("type", "geometric::RRTConnect")))
        if cls is None:
            raise KeyError(f"planner type {cfg.get('type')!r} not supported by the embedded backend")
        planner = cls(si)
        for key, value in cfg.items():
            if key not in _SETTERS or (key == "range" and float(value) == 0.0):
                continue  # range 0 = let OMPL pick it from the space extent, as MoveIt does
            setter, cast = _SETTERS[key]
            if hasattr(planner, setter):
                getattr(planner, setter)(cast(value))
        return planner

    def _plan_goals(
        self, q_start: np.ndarray, goals: list[np.ndarray], profile: str, padded: bool, t0: float
    ) -> PlanResult:
        """Plan, retime and re-check; on a failed re-check plan once more with 4x finer edge checks."""
        res: PlanResult | None = None
        for fine in (False, True):
            path, err = self._solve(q_start, goals, profile, padded, t0, fine)
            if err is not None:
                return err
            assert path is not None
            res = self._finish(path, t0)
            if res.error_code != "INVALID_TRAJECTORY":
                return res
        assert res is not None
        return res

    def _solve(
        self,
        q_start: np.ndarray,
        goals: list[np.ndarray],
        profile: str,
        padded: bool,
        t0: float,
        fine: bool = False,
    ) -> tuple[np.ndarray | None, PlanResult | None]:
        """Geometric path ``(N, n)`` from start to one of ``goals``."""
        cfg = self._profile(profile)
        sp = self.spaces[(padded, fine)]
        si = sp.si
        start = sp.state(q_start)
        # A straight joint-space edge is the best path when it is free (no sampling needed).
        for g in goals:
            if si.checkMotion(start, sp.state(g)):
                return np.vstack([q_start, g]), None
        pdef = ob.ProblemDefinition(si)
        pdef.addStartState(start)
        gs = ob.GoalStates(si)
        for g in goals:
            gs.addState(sp.state(g))
        pdef.setGoal(gs)
        budget = float(cfg.get("planning_time", self.planning_time_s))
        # Like MoveIt's planning_attempts: a tree grown into a narrow corner rarely escapes, a fresh one often
        # does, so a timed-out attempt is retried from scratch (successful requests are unaffected).
        attempts = max(1, int(cfg.get("planning_attempts", 3)))
        for _ in range(attempts):
            planner = self._make_planner(cfg, si)
            planner.setProblemDefinition(pdef)
            planner.setup()
            status = planner.solve(budget)
            if pdef.hasExactSolution():
                break
            pdef.clearSolutionPaths()
        if not pdef.hasExactSolution():
            code = (
                "TIMED_OUT" if "Timeout" in str(status) or "Approximate" in str(status) else "PLANNING_FAILED"
            )
            return None, _fail(
                code, f"{cfg.get('type')} found no path in {attempts} x {budget:.3g} s ({status})", t0
            )
        path = pdef.getSolutionPath()
        # OMPL's full simplify() (what MoveIt runs) costs 5-10x the planning time in cluttered scenes;
        # vertex reduction + rope shortcutting gets most of the length gain for a fraction of it.
        simp = og.PathSimplifier(si)
        simp.reduceVertices(path)
        simp.ropeShortcutPath(path, 1.0, 0.1)
        simp.reduceVertices(path)
        return np.array([sp.to_numpy(s) for s in path.getStates()]), None

    def _finish(self, path_q: np.ndarray, t0: float, fraction: float = 1.0) -> PlanResult:
        """Time-parameterise and densely re-check against the unpadded world."""
        try:
            traj = time_parameterize(self.joint_names, path_q, self.vel_max, self.acc_max, self.jerk_max)
        except RuntimeError as e:
            return _fail("PLANNING_FAILED", f"time parameterisation: {e}", t0)
        traj.q = np.clip(traj.q, self.robot.limits.lower, self.robot.limits.upper)
        ok, why = self.path_valid(traj.q, padded=False)
        if not ok:
            # The spline through the densified path left the checked polyline: retime on a finer path.
            traj = time_parameterize(
                self.joint_names, path_q, self.vel_max, self.acc_max, self.jerk_max, densify_rad=0.01
            )
            traj.q = np.clip(traj.q, self.robot.limits.lower, self.robot.limits.upper)
            ok, why = self.path_valid(traj.q, padded=False)
            if not ok:
                return _fail("INVALID_TRAJECTORY", f"retimed trajectory collides: {why}", t0)
        return PlanResult(True, traj, "SUCCESS", "ok", time.perf_counter() - t0, fraction)

    def _padding_mode(self, qs: list[np.ndarray]) -> bool:
        """Plan with padding unless an endpoint is only valid without it (e.g. a grasp pose)."""
        return all(not self.world.in_collision(q, padded=True) for q in qs)

    def plan_to_joint(self, q_start: np.ndarray, q_goal: np.ndarray, profile: str = "default") -> PlanResult:
        """Collision-free, time-parameterised motion from ``q_start`` to ``q_goal`` (both ``(n,)`` rad)."""
        t0 = time.perf_counter()
        qs, err = self._check_start(q_start, t0)
        if err is not None:
            return err
        assert qs is not None
        qg = np.asarray(q_goal, dtype=float).reshape(-1)
        if qg.shape != qs.shape:
            return _fail("PLANNING_FAILED", f"goal has {qg.size} values for {qs.size} joints", t0)
        if not self.robot.within_limits(qg, tol=1e-6):
            return _fail("GOAL_IN_COLLISION", f"goal state {self.collision_report(qg)}", t0)
        qg = np.clip(qg, self.robot.limits.lower, self.robot.limits.upper)
        if self.world.in_collision(qg, padded=False):
            return _fail("GOAL_IN_COLLISION", f"goal state: {self.world.report(qg)}", t0)
        padded = self._padding_mode([qs, qg])
        return self._plan_goals(qs, [qg], profile, padded, t0)

    def plan_to_pose(
        self,
        q_start: np.ndarray,
        T_world_tcp: np.ndarray,
        profile: str = "default",
        reference: np.ndarray | None = None,
    ) -> PlanResult:
        """Motion to a tcp pose ``T_world_tcp (4, 4)``; the goal set holds IK solutions closest to ``reference``."""
        t0 = time.perf_counter()
        qs, err = self._check_start(q_start, t0)
        if err is not None:
            return err
        assert qs is not None
        ref = qs if reference is None else np.asarray(reference, dtype=float)
        goals = self.ik_goal_set(T_world_tcp, ref, count=3, padded=True)
        padded = True
        if not goals:
            goals = self.ik_goal_set(T_world_tcp, ref, count=2, padded=False)
            padded = False
        if not goals:
            any_q = self.ik_solver.solve(T_world_tcp, reference=ref, is_valid=None, max_attempts=16)
            p = np.asarray(T_world_tcp)[:3, 3]
            if any_q is None:
                return _fail("NO_IK_SOLUTION", f"tcp pose at {np.round(p, 3).tolist()} m is out of reach", t0)
            return _fail(
                "GOAL_IN_COLLISION",
                f"every IK solution for tcp at {np.round(p, 3).tolist()} collides, e.g. {self.world.report(any_q)}",
                t0,
            )
        padded = padded and self._padding_mode([qs])
        return self._plan_goals(qs, goals, profile, padded, t0)

    def plan_cartesian(
        self,
        q_start: np.ndarray,
        T_world_tcp_goal: np.ndarray,
        allowed_objects: tuple[str, ...] | list[str] = (),
        max_step_m: float = 0.005,
        max_step_rad: float = 0.02,
        jump_threshold_rad: float = 0.2,
    ) -> PlanResult:
        """Straight tcp line (position linear, orientation slerp) from the start pose to ``T_world_tcp_goal``.

        Collisions of any robot link or attached object with ``allowed_objects`` are ignored (the part being
        grasped, the station it is put on). Checked against the unpadded world. On a block the result has
        ``success=False``, ``error_code='CARTESIAN_BLOCKED'``, the achieved ``fraction`` and the achieved
        part as trajectory.
        """
        t0 = time.perf_counter()
        unknown = [o for o in allowed_objects if o not in self.world.objects]
        if unknown:
            return _fail("PLANNING_FAILED", f"allowed_objects not in the world: {unknown}", t0)
        self.world.set_allowed(set(allowed_objects))
        try:
            return self._cartesian(
                q_start, np.asarray(T_world_tcp_goal, float), max_step_m, max_step_rad, jump_threshold_rad, t0
            )
        finally:
            self.world.set_allowed(set())

    def _cartesian(
        self,
        q_start: np.ndarray,
        T_goal: np.ndarray,
        max_step_m: float,
        max_step_rad: float,
        jump_rad: float,
        t0: float,
    ) -> PlanResult:
        qs, err = self._check_start(q_start, t0)
        if err is not None:
            return err
        assert qs is not None
        T_start = self.fk(qs)
        M0 = pin.SE3(T_start[:3, :3].copy(), T_start[:3, 3].copy())
        M1 = pin.SE3(T_goal[:3, :3].copy(), T_goal[:3, 3].copy())
        delta = pin.log6(M0.actInv(M1)).vector
        dist_m = float(np.linalg.norm(T_goal[:3, 3] - T_start[:3, 3]))
        ang = float(np.linalg.norm(delta[3:]))
        steps = max(1, int(np.ceil(max(dist_m / max_step_m, ang / max_step_rad))))
        path = [qs]
        q = qs
        reason = ""
        solver = self.ik_solver
        for k in range(1, steps + 1):
            s = k / steps
            # Straight line of the position, slerp of the orientation (not the screw motion of exp6).
            T = np.eye(4)
            T[:3, 3] = (1 - s) * T_start[:3, 3] + s * T_goal[:3, 3]
            T[:3, :3] = T_start[:3, :3] @ pin.exp3(s * pin.log3(T_start[:3, :3].T @ T_goal[:3, :3]))
            T_base = np.linalg.solve(self.robot.T_world_base, T)
            q_next = solver._solve_once(pin.SE3(T_base[:3, :3].copy(), T_base[:3, 3].copy()), q)
            if q_next is None:
                reason = f"no IK solution near the line at {np.round(T[:3, 3], 3).tolist()} m"
                break
            if np.max(np.abs(q_next - q)) > jump_rad:
                reason = f"joint jump of {np.max(np.abs(q_next - q)):.2f} rad (singularity or limit) at {np.round(T[:3, 3], 3).tolist()} m"
                break
            ok, why = self.path_valid(np.vstack([q, q_next]), padded=False)
            if not ok:
                reason = why
                break
            path.append(q_next)
            q = q_next
        fraction = (len(path) - 1) / steps
        if fraction < 1.0:
            traj = None
            if len(path) > 1:
                res = self._finish(np.array(path), t0, fraction)
                traj = res.trajectory
            return _fail(
                "CARTESIAN_BLOCKED",
                f"straight line blocked after {fraction:.0%}: {reason}",
                t0,
                fraction,
                traj,
            )
        return self._finish(np.array(path), t0, 1.0)


def _as_planner(p: MotionPlanner) -> Planner:
    """Never called: makes mypy check that MotionPlanner still satisfies the Planner protocol."""
    return p
