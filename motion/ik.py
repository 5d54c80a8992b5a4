"""Numeric inverse kinematics on pinocchio Jacobians: damped least squares with seeded restarts.

Seeds, in order: the reference configuration; then configurations from a fixed table of sampled tcp poses
(an IK seed database): of the table entries whose pose is nearest the goal, those also nearest the
reference first (a near seed converges in a few iterations where a random one needs many or fails, and a
seed near the reference tends to converge to a solution near it); then uniformly random configurations
(TRAC-IK's restart strategy). Iterates are clamped to the joint limits and an attempt is abandoned once
its error stops shrinking. A solution must be within limits and collision-free (``is_valid``); revolute
joints are shifted by multiples of 2*pi towards the reference where the limits allow, and when several
solutions are collected the one closest to the reference comes first.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator

import numpy as np
import pinocchio as pin
from scipy.linalg.lapack import dposv

from motion.robot_model import RobotModel

STALL_ITERS = 6
_EYE6 = np.eye(6)
# Seed table: poses of SEED_TABLE_SIZE configurations sampled once per robot (fixed seed: reproducible).
SEED_TABLE_SIZE = 4096
SEED_TABLE_NEAREST = 16
# Its own seed, unrelated to any benchmark or test seed (a table holding the very goal configurations of a
# benchmark would make its IK look better than it is).
TABLE_SEED = 0x7AB1E
# Pose distance for ranking seeds: metres + ORIENTATION_WEIGHT * (3 - trace(R_seed^T R_goal)).
ORIENTATION_WEIGHT = 0.3
# Tie-break between seeds of similar pose: + JOINT_WEIGHT * joint distance (rad) to the reference.
JOINT_WEIGHT = 0.5
_TABLES: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def _seed_table(robot: RobotModel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(q (K, n), p (K, 3), R (K, 9))``: sampled configurations and their tcp poses (base frame, rotation
    matrices flattened row-major); built once per robot description (~0.1 s)."""
    key = hashlib.sha1(robot.urdf_text.encode()).hexdigest()
    if key not in _TABLES:
        rng = np.random.default_rng(TABLE_SEED)
        qs = rng.uniform(robot.limits.lower, robot.limits.upper, size=(SEED_TABLE_SIZE, robot.n))
        P = np.empty((SEED_TABLE_SIZE, 3))
        R = np.empty((SEED_TABLE_SIZE, 9))
        model, data, fid = robot.model, robot.data, robot.tcp_frame
        for i, q in enumerate(qs):
            pin.framesForwardKinematics(model, data, q)
            M = data.oMf[fid]
            P[i] = M.translation
            R[i] = M.rotation.reshape(9)
        _TABLES[key] = (qs, P, R)
    return _TABLES[key]


class IkSolver:
    """Damped-least-squares IK of the tcp frame.

    Parameters
    ----------
    robot : the kinematic model
    tol_pos_m, tol_rot_rad : convergence tolerances on the pose error
    max_iters : iterations per attempt
    """

    def __init__(
        self, robot: RobotModel, tol_pos_m: float = 1e-5, tol_rot_rad: float = 1e-4, max_iters: int = 25
    ) -> None:
        self.robot = robot
        self.tol_pos_m = tol_pos_m
        self.tol_rot_rad = tol_rot_rad
        self.max_iters = max_iters
        self.rng = np.random.default_rng(12345)
        self._table: tuple[RobotModel, np.ndarray, np.ndarray, np.ndarray] | None = None

    def _solve_once(self, M_base_goal: pin.SE3, q0: np.ndarray) -> np.ndarray | None:
        """One damped-least-squares descent from ``q0``; gives up once the error has not halved for
        STALL_ITERS iterations (stuck at a joint limit or in a local minimum: a fresh seed does better)."""
        r = self.robot
        model, data, fid = r.model, r.data, r.tcp_frame
        lo, hi = r.limits.lower, r.limits.upper
        q = np.clip(q0, lo, hi)
        damping = 1e-6
        prev_err = np.inf
        best_at = 0
        tol_p, tol_r = self.tol_pos_m**2, self.tol_rot_rad**2
        for it in range(self.max_iters):
            # One kinematics pass gives both the frame pose and the joint Jacobians.
            pin.computeJointJacobians(model, data, q)
            pin.updateFramePlacement(model, data, fid)
            dM = data.oMf[fid].actInv(M_base_goal)
            # Error in the tcp (LOCAL) frame: err = log(M^-1 * M_goal).
            err = pin.log6(dM).vector
            ep, er = float(err[:3] @ err[:3]), float(err[3:] @ err[3:])
            if ep < tol_p and er < tol_r:
                return q
            en = ep + er
            if en < 0.5 * prev_err:
                best_at = it
            elif it - best_at >= STALL_ITERS:
                return None
            # Levenberg-Marquardt style damping: grow when the error got worse.
            damping = damping * 10.0 if en > prev_err else max(damping * 0.3, 1e-9)
            prev_err = min(prev_err, en)
            Je = pin.Jlog6(dM) @ pin.getFrameJacobian(model, data, fid, pin.LOCAL)
            # (Je Je^T + lambda I) is symmetric positive definite: LAPACK's Cholesky solve, called directly
            # (numpy.linalg.solve's call overhead is ~10x the 6x6 solve itself).
            x, info = dposv(Je @ Je.T + (damping + 1e-4 * en) * _EYE6, err)[1:]
            if info != 0:
                return None
            dq = Je.T @ x
            step = np.abs(dq).max()
            if step > 0.5:
                dq *= 0.5 / step  # keep steps inside the region where the linearisation holds
            q = np.minimum(np.maximum(q + dq, lo), hi)
        return None

    def _wrap_towards(self, q: np.ndarray, ref: np.ndarray) -> np.ndarray:
        lo, hi = self.robot.limits.lower, self.robot.limits.upper
        out = q.copy()
        k = np.round((ref - q) / (2 * np.pi))
        cand = q + 2 * np.pi * k
        ok = (cand >= lo) & (cand <= hi)
        out[ok] = cand[ok]
        return out

    def _seeds(self, M_goal: pin.SE3, ref: np.ndarray, use_reference: bool) -> Iterator[np.ndarray]:
        """The reference (optional) and the table configurations nearest the goal pose, best score first,
        then the rest of the table by pose distance, then random ones. Score: pose distance to the goal + JOINT_WEIGHT * joint distance to the reference,
        so the reference comes first unless its pose is far from the goal, and among seeds of about the
        same pose the one near the reference (which converges to a solution near it) comes first."""
        if self._table is None or self._table[0] is not self.robot:
            self._table = (self.robot, *_seed_table(self.robot))
        _, qs, P, R9 = self._table
        p_goal, R_goal = M_goal.translation, M_goal.rotation.reshape(9)
        # pose distance: |p - p_goal| + ORIENTATION_WEIGHT * (3 - trace(R^T R_goal)); the trace is the sum of
        # the element-wise product, one mat-vec over the table
        diff = P - p_goal
        d = np.sqrt(np.einsum("ij,ij->i", diff, diff)) + ORIENTATION_WEIGHT * (3.0 - R9 @ R_goal)
        near = np.argpartition(d, SEED_TABLE_NEAREST)[:SEED_TABLE_NEAREST]
        cand = [qs[i] for i in near]
        score = list(d[near] + JOINT_WEIGHT * np.linalg.norm(qs[near] - ref, axis=1))
        if use_reference:
            M_ref = self.robot.fk_base(ref)
            d_ref = float(np.linalg.norm(M_ref.translation - p_goal))
            cand.append(ref)
            score.append(d_ref + ORIENTATION_WEIGHT * (3.0 - float(M_ref.rotation.reshape(9) @ R_goal)))
        for i in np.argsort(score, kind="stable"):
            yield cand[i]
        # Still nothing valid (e.g. most solutions collide): the rest of the table by pose distance, a
        # better spread of nearby seeds than uniform random ones; then random configurations.
        for i in np.argsort(d)[SEED_TABLE_NEAREST:]:
            yield qs[i]
        while True:
            yield self.robot.random_q(self.rng)

    def solutions(
        self,
        T_world_tcp: np.ndarray,
        reference: np.ndarray | None = None,
        is_valid: Callable[[np.ndarray], bool] | None = None,
        count: int = 1,
        max_attempts: int = 120,
        use_reference: bool = True,
        min_separation_rad: float = 1e-2,
    ) -> list[np.ndarray]:
        """Up to ``count`` distinct valid configurations reaching ``T_world_tcp``, closest to ``reference`` first."""
        r = self.robot
        ref = r.home if reference is None else np.asarray(reference, dtype=float)
        T_base_tcp = np.linalg.solve(r.T_world_base, np.asarray(T_world_tcp, dtype=float))
        M_goal = pin.SE3(T_base_tcp[:3, :3].copy(), T_base_tcp[:3, 3].copy())
        found: list[np.ndarray] = []
        seeds = self._seeds(M_goal, ref, use_reference)
        for _ in range(max_attempts):
            q = self._solve_once(M_goal, next(seeds))
            if q is None:
                continue
            q = self._wrap_towards(q, ref)
            if is_valid is not None and not is_valid(q):
                continue
            if all(np.max(np.abs(q - s)) > min_separation_rad for s in found):
                found.append(q)
            if len(found) >= count:
                break
        found.sort(key=lambda s: float(np.linalg.norm(s - ref)))
        return found

    def solve(
        self,
        T_world_tcp: np.ndarray,
        reference: np.ndarray | None = None,
        is_valid: Callable[[np.ndarray], bool] | None = None,
        max_attempts: int = 120,
    ) -> np.ndarray | None:
        """Valid configuration ``(n,)`` reaching ``T_world_tcp (4, 4)``: the first one found from the seeds
        (the reference first), or None after ``max_attempts``."""
        sols = self.solutions(T_world_tcp, reference, is_valid, count=1, max_attempts=max_attempts)
        return sols[0] if sols else None
