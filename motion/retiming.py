"""Time parameterisation of geometric joint paths with toppra (time-optimal under velocity/acceleration limits).

The path is densified first (straight joint-space segments cut to <= ``densify_rad``) so the cubic spline
toppra fits through the waypoints stays within a few milliradians of the collision-checked polyline.
Jerk limits are not enforced by toppra; see docs/motion.md.
"""

from __future__ import annotations

import logging

import numpy as np
import toppra
import toppra.algorithm as ta_algo
import toppra.constraint as ta_con

from motion.trajectory import JointTrajectory

logging.getLogger("toppra").setLevel(logging.WARNING)

# toppra satisfies the limits at its grid points; between them (at the corners of the path, where the
# spline's curvature peaks) it can exceed them, so it gets slightly tighter limits and the result is
# then stretched uniformly in time until every sample is within the real limits.
LIMIT_MARGIN = 0.97


def densify(path_q: np.ndarray, max_step_rad: float) -> np.ndarray:
    """Insert points on each straight segment so no joint moves more than ``max_step_rad`` per step.

    ``path_q (N, n)`` -> ``(M, n)`` with the original points kept.
    """
    path_q = np.asarray(path_q, dtype=float)
    if len(path_q) < 2:
        return path_q.copy()
    diff = np.diff(path_q, axis=0)
    k = np.maximum(1, np.ceil(np.max(np.abs(diff), axis=1) / max_step_rad).astype(int))
    seg = np.repeat(np.arange(len(k)), k)
    # fraction along each segment of every inserted point: 1/k, 2/k, ..., 1
    offs = np.arange(len(seg)) - np.repeat(np.cumsum(k) - k, k) + 1
    frac = (offs / np.repeat(k, k))[:, None]
    return np.vstack([path_q[:1], path_q[seg] + frac * diff[seg]])


def _dedupe(path_q: np.ndarray, eps: float = 1e-9) -> np.ndarray:
    keep = [0]
    for i in range(1, len(path_q)):
        if np.max(np.abs(path_q[i] - path_q[keep[-1]])) > eps:
            keep.append(i)
    return path_q[keep]


def time_parameterize(
    joint_names: list[str],
    path_q: np.ndarray,
    vel_max: np.ndarray,
    acc_max: np.ndarray,
    densify_rad: float = 0.05,
    dt_s: float = 0.01,
) -> JointTrajectory:
    """Time-optimal trajectory along ``path_q (N, n)`` within ``vel_max (n,)`` rad/s, ``acc_max (n,)`` rad/s^2.

    Returns a :class:`JointTrajectory` sampled every ``dt_s`` (plus the exact end), starting and ending at
    rest. A single-point path gives a one-point trajectory.
    """
    path_q = _dedupe(np.asarray(path_q, dtype=float))
    if len(path_q) < 2:
        z = np.zeros_like(path_q[:1])
        return JointTrajectory(list(joint_names), np.zeros(1), path_q[:1], z, z)
    dense = densify(path_q, densify_rad)
    seg = np.linalg.norm(np.diff(dense, axis=0), axis=1)
    ss = np.concatenate([[0.0], np.cumsum(seg)])
    ss /= ss[-1]
    geom_path = toppra.SplineInterpolator(ss, dense, bc_type="not-a-knot")
    v = np.asarray(vel_max, dtype=float) * LIMIT_MARGIN
    a = np.asarray(acc_max, dtype=float) * LIMIT_MARGIN
    cons = [
        ta_con.JointVelocityConstraint(np.column_stack([-v, v])),
        ta_con.JointAccelerationConstraint(
            np.column_stack([-a, a]), discretization_scheme=ta_con.DiscretizationType.Interpolation
        ),
    ]
    # A straight segment has no curvature for the spline to overshoot: a coarse grid is exact enough.
    n_grid = 60 if len(path_q) == 2 else int(np.clip(4 * len(dense), 100, 2000))
    algo = ta_algo.TOPPRA(cons, geom_path, gridpoints=np.linspace(0.0, 1.0, n_grid))
    traj = algo.compute_trajectory(0.0, 0.0)
    if traj is None:
        raise RuntimeError("toppra found no feasible time parameterisation")
    T = float(traj.duration)
    # Sample at the output rate, then stretch time uniformly if a corner overshoots a limit there.
    n_out = max(2, int(np.ceil(T / dt_s)) + 1)
    t_path = np.linspace(0.0, T, n_out)
    q = traj(t_path)
    qd = traj(t_path, 1)
    qdd = traj(t_path, 2)
    k = max(1.0, float(np.max(np.abs(qd) / vel_max)), float(np.sqrt(np.max(np.abs(qdd) / acc_max))))
    qd /= k
    qdd /= k * k
    q[0], q[-1] = path_q[0], path_q[-1]
    qd[0] = qd[-1] = 0.0
    return JointTrajectory(list(joint_names), t_path * k, q, qd, qdd)
