"""Numeric inverse kinematics on pinocchio Jacobians: damped least squares with random restarts.

Like TRAC-IK's restart strategy: the first attempt starts at the reference configuration, the next ones
at uniformly random configurations; iterates are clamped to the joint limits. A solution must be within
limits and collision-free (``is_valid``); among valid solutions the one closest to the reference wins,
after shifting revolute joints by multiples of 2*pi towards the reference where the limits allow.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pinocchio as pin

from motion.robot_model import RobotModel


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

    def _solve_once(self, M_base_goal: pin.SE3, q0: np.ndarray) -> np.ndarray | None:
        r = self.robot
        model, data, fid = r.model, r.data, r.tcp_frame
        lo, hi = r.limits.lower, r.limits.upper
        q = np.clip(q0, lo, hi)
        damping = 1e-6
        prev_err = np.inf
        eye6 = np.eye(6)
        tol_p, tol_r = self.tol_pos_m**2, self.tol_rot_rad**2
        for _ in range(self.max_iters):
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
            # Levenberg-Marquardt style damping: grow when the error got worse.
            damping = damping * 10.0 if en > prev_err else max(damping * 0.3, 1e-9)
            prev_err = min(prev_err, en)
            Je = pin.Jlog6(dM) @ pin.getFrameJacobian(model, data, fid, pin.LOCAL)
            dq = Je.T @ np.linalg.solve(Je @ Je.T + (damping + 1e-4 * en) * eye6, err)
            step = np.max(np.abs(dq))
            if step > 0.5:
                dq *= 0.5 / step  # keep steps inside the region where the linearisation holds
            q = np.clip(q + dq, lo, hi)
        return None

    def _wrap_towards(self, q: np.ndarray, ref: np.ndarray) -> np.ndarray:
        lo, hi = self.robot.limits.lower, self.robot.limits.upper
        out = q.copy()
        k = np.round((ref - q) / (2 * np.pi))
        cand = q + 2 * np.pi * k
        ok = (cand >= lo) & (cand <= hi)
        out[ok] = cand[ok]
        return out

    def solve(
        self,
        T_world_tcp: np.ndarray,
        reference: np.ndarray | None = None,
        is_valid: Callable[[np.ndarray], bool] | None = None,
        seeds: int = 8,
        max_attempts: int = 120,
        want: int = 1,
    ) -> np.ndarray | None:
        """Valid configuration ``(n,)`` reaching ``T_world_tcp (4, 4)``, closest to ``reference``.

        Parameters
        ----------
        reference : configuration to stay close to (default home); also the first seed
        is_valid : collision check; solutions it rejects are discarded
        seeds : random restarts tried after a failed reference seed before accepting any valid solution
        max_attempts : total attempts before giving up
        want : number of valid solutions to collect before picking the closest (1 = first found)
        """
        r = self.robot
        ref = r.home if reference is None else np.asarray(reference, dtype=float)
        T_base_tcp = np.linalg.solve(r.T_world_base, np.asarray(T_world_tcp, dtype=float))
        M_goal = pin.SE3(T_base_tcp[:3, :3].copy(), T_base_tcp[:3, 3].copy())
        found: list[np.ndarray] = []
        for attempt in range(max_attempts):
            seed = ref if attempt == 0 else r.random_q(self.rng)
            q = self._solve_once(M_goal, seed)
            if q is None:
                continue
            q = self._wrap_towards(q, ref)
            if is_valid is not None and not is_valid(q):
                continue
            found.append(q)
            if attempt == 0 or len(found) >= want or attempt >= seeds:
                break
        if not found:
            return None
        return min(found, key=lambda s: float(np.linalg.norm(s - ref)))
