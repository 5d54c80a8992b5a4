"""Time parameterisation of geometric joint paths with toppra (time-optimal under velocity/acceleration limits).

The path is densified first (straight joint-space segments cut to <= ``densify_rad``) so the cubic spline
toppra fits through the waypoints stays within a few milliradians of the collision-checked polyline.
toppra bounds velocity and acceleration; jerk is bounded by smoothing its path-parameter profile (see
:func:`time_parameterize`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import ruckig
import toppra
import toppra.algorithm as ta_algo
import toppra.constraint as ta_con
from scipy.interpolate import CubicSpline

from motion.trajectory import JointTrajectory

logging.getLogger("toppra").setLevel(logging.WARNING)

# toppra satisfies the limits at its grid points; between them (at the corners of the path, where the
# spline's curvature peaks) it can exceed them, so it gets slightly tighter limits and the result is
# then stretched uniformly in time until every sample is within the real limits.
LIMIT_MARGIN = 0.97
# Share of a joint's jerk limit the path's curvature term may take at toppra's grid points.
JERK_PATH_SHARE = 0.5
# toppra grid points per densified path point (more: closer to time-optimal at corners, slower).
GRID_PER_POINT = 4


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


def _path_timing(gridpoints: np.ndarray, sd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Times ``t (M,)`` of toppra's grid points and the constant path acceleration ``sdd (M-1,)`` between them."""
    ds = np.diff(gridpoints)
    sdd = (sd[1:] ** 2 - sd[:-1] ** 2) / (2.0 * ds)
    dt = 2.0 * ds / np.maximum(sd[1:] + sd[:-1], 1e-12)
    return np.concatenate([[0.0], np.cumsum(dt)]), sdd


class _CappedVelocityConstraint(ta_con.JointVelocityConstraint):
    """Joint velocity limits plus, optionally, a cap on the path speed: ``sd <= sd_cap(s)`` at every grid
    point."""

    def __init__(self, vlim: np.ndarray, sd_cap: Callable[[np.ndarray], np.ndarray] | None = None) -> None:
        super().__init__(vlim)
        self.sd_cap = sd_cap

    def _assert_valid_limits(self) -> None:
        # toppra's version also formats the limits into a description string (~0.5 ms per plan).
        if self.vlim.shape[1] != 2 or np.any(self.vlim[:, 0] >= self.vlim[:, 1]):
            raise ValueError(f"bad velocity limits {self.vlim.tolist()}")

    def compute_constraint_params(self, path: Any, gridpoints: np.ndarray) -> tuple[Any, ...]:
        params = super().compute_constraint_params(path, gridpoints)
        if self.sd_cap is None:
            return params
        xbound = params[-1]
        xbound[:, 1] = np.minimum(xbound[:, 1], self.sd_cap(gridpoints) ** 2)
        return (*params[:-1], xbound)


class _PathProfile:
    """toppra's path parameter ``s(t)``: piecewise constant acceleration between its grid points.

    ``at(t)`` gives, with one interval lookup, the integral of s from 0 to t, s, its velocity and its
    acceleration; before the start s holds 0, after the end 1.
    """

    def __init__(self, gridpoints: np.ndarray, sd: np.ndarray) -> None:
        self.s0 = np.asarray(gridpoints, dtype=float)
        self.v0 = np.asarray(sd, dtype=float)
        self.t0, self.a = _path_timing(self.s0, self.v0)
        self.T = float(self.t0[-1])
        h = np.diff(self.t0)
        # integral of s over each whole interval, accumulated
        whole = self.s0[:-1] * h + self.v0[:-1] * h**2 / 2.0 + self.a * h**3 / 6.0
        self.S0 = np.concatenate([[0.0], np.cumsum(whole)])

    def at(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(integral of s, s, sd, sdd)`` at the times ``t``."""
        tc = np.clip(t, 0.0, self.T)
        i = np.clip(np.searchsorted(self.t0, tc, side="right") - 1, 0, len(self.a) - 1)
        u = tc - self.t0[i]
        s0, v0, a = self.s0[i], self.v0[i], self.a[i]
        before, after = t < 0.0, t > self.T
        integral = np.where(before, 0.0, self.S0[i] + s0 * u + v0 * u**2 / 2.0 + a * u**3 / 6.0)
        integral += np.maximum(t - self.T, 0.0)
        s = np.where(before, 0.0, np.where(after, 1.0, s0 + v0 * u + 0.5 * a * u**2))
        moving = ~before & ~after
        return integral, s, np.where(moving, v0 + a * u, 0.0), np.where(moving & (t < self.T), a, 0.0)


def _straight_line(
    joint_names: list[str],
    q0: np.ndarray,
    q1: np.ndarray,
    vel_max: np.ndarray,
    acc_max: np.ndarray,
    jerk_max: np.ndarray,
    dt_s: float,
) -> JointTrajectory:
    """Rest-to-rest motion along the straight joint-space line ``q0 -> q1``: Ruckig's time-optimal
    jerk-limited profile of the line parameter ``s`` in [0, 1], whose limits are the tightest joint's
    (``q = q0 + s (q1 - q0)``, so every joint's velocity, acceleration and jerk is ``|dq_j|`` times s's)."""
    dq = q1 - q0
    mag = np.abs(dq)
    moving = mag > 1e-12
    inp = ruckig.InputParameter(1)
    inp.current_position, inp.target_position = [0.0], [1.0]
    inp.max_velocity = [float(np.min(vel_max[moving] / mag[moving]))]
    inp.max_acceleration = [float(np.min(acc_max[moving] / mag[moving]))]
    inp.max_jerk = [float(np.min(jerk_max[moving] / mag[moving]))]
    traj = ruckig.Trajectory(1)
    result = ruckig.Ruckig(1).calculate(inp, traj)
    if result not in (ruckig.Result.Working, ruckig.Result.Finished):
        raise RuntimeError(f"ruckig found no profile ({result})")
    T = float(traj.duration)
    t = np.linspace(0.0, T, max(2, int(np.ceil(T / dt_s)) + 1))
    s = np.array([traj.at_time(float(ti)) for ti in t])[:, :, 0]  # (N, 3): s, sd, sdd
    q = q0 + s[:, :1] * dq
    q[-1] = q1
    qd = s[:, 1:2] * dq
    qdd = s[:, 2:3] * dq
    qd[[0, -1]] = 0.0
    qdd[[0, -1]] = 0.0
    return JointTrajectory(list(joint_names), t, q, qd, qdd)


def time_parameterize(
    joint_names: list[str],
    path_q: np.ndarray,
    vel_max: np.ndarray,
    acc_max: np.ndarray,
    jerk_max: np.ndarray | None = None,
    densify_rad: float = 0.05,
    dt_s: float = 0.01,
) -> JointTrajectory:
    """Time-optimal trajectory along ``path_q (N, n)`` within ``vel_max (n,)`` rad/s, ``acc_max (n,)``
    rad/s^2 and, when given, ``jerk_max (n,)`` rad/s^3.

    Velocity and acceleration: toppra along a cubic spline through the densified path. Jerk: toppra's path
    acceleration is bang-bang (a jump at every switch), so its path parameter ``s(t)`` is smoothed by a
    moving average over ``tau = max_j 2 a_j / j_j`` (the FIR jerk filter of CNC controllers): the path stays
    exactly the same, the acceleration ramps over ``tau`` and the motion lasts ``tau`` longer. Whatever the
    path's own curvature still adds is removed by stretching time uniformly until every sample on a 2 ms
    grid is within all limits (velocity scales with 1/k, acceleration 1/k^2, jerk 1/k^3).

    A path of one straight segment with jerk limits for every joint is instead timed by Ruckig
    (:func:`_straight_line`: time-optimal under all three limits, exactly on the line).

    Returns a :class:`JointTrajectory` sampled every ``dt_s`` (plus the exact end), starting and ending at
    rest. A single-point path gives a one-point trajectory.
    """
    path_q = _dedupe(np.asarray(path_q, dtype=float))
    if len(path_q) < 2:
        z = np.zeros_like(path_q[:1])
        return JointTrajectory(list(joint_names), np.zeros(1), path_q[:1], z, z)
    vel_max = np.asarray(vel_max, dtype=float)
    acc_max = np.asarray(acc_max, dtype=float)
    if len(path_q) == 2 and jerk_max is not None and np.all(np.isfinite(jerk_max)):
        return _straight_line(joint_names, path_q[0], path_q[1], vel_max, acc_max, np.asarray(jerk_max), dt_s)
    dense = densify(path_q, densify_rad)
    seg = np.linalg.norm(np.diff(dense, axis=0), axis=1)
    ss = np.concatenate([[0.0], np.cumsum(seg)])
    ss /= ss[-1]
    geom_path = toppra.SplineInterpolator(ss, dense, bc_type="not-a-knot")
    spline: CubicSpline = geom_path.cspl  # toppra's own scipy spline of the path (>= 2 waypoints)
    v = vel_max * LIMIT_MARGIN
    a = acc_max * LIMIT_MARGIN
    jerk = None if jerk_max is None else np.asarray(jerk_max, dtype=float)
    jerk_limited = jerk is not None and bool(np.any(np.isfinite(jerk)))
    vel_con = _CappedVelocityConstraint(np.column_stack([-v, v]))
    if jerk is not None and jerk_limited:
        j_lim = np.where(np.isfinite(jerk), jerk, 1e12)

        def sd_cap(grid: np.ndarray) -> np.ndarray:
            # The path's own jerk term (third derivative * sd^3) may take JERK_PATH_SHARE of the budget; the
            # third derivative is constant between knots, so a grid point takes the larger of its two sides.
            lo, hi = np.clip(grid - 1e-9, 0.0, 1.0), np.clip(grid + 1e-9, 0.0, 1.0)
            d3 = np.maximum(np.abs(spline(lo, 3)), np.abs(spline(hi, 3)))
            return np.min(np.cbrt(JERK_PATH_SHARE * j_lim / np.maximum(d3, 1e-12)), axis=1)

        vel_con = _CappedVelocityConstraint(np.column_stack([-v, v]), sd_cap)
    cons = [
        vel_con,
        ta_con.JointAccelerationConstraint(
            np.column_stack([-a, a]), discretization_scheme=ta_con.DiscretizationType.Interpolation
        ),
    ]
    # A straight segment has no curvature for the spline to overshoot: a coarse grid is exact enough.
    n_grid = 60 if len(path_q) == 2 else int(np.clip(GRID_PER_POINT * len(dense), 100, 2000))
    algo = ta_algo.TOPPRA(cons, geom_path, gridpoints=np.linspace(0.0, 1.0, n_grid))
    # Only the path velocities at the grid points are needed (not toppra's own output trajectory).
    sd_vec = algo.compute_parameterization(0.0, 0.0)[1]
    if sd_vec is None or not np.all(np.isfinite(sd_vec)):
        raise RuntimeError("toppra found no feasible time parameterisation")
    prof = _PathProfile(np.asarray(algo.problem_data.gridpoints), np.asarray(sd_vec))
    tau = 0.0
    if jerk is not None and jerk_limited:
        tau = float(np.max(np.where(np.isfinite(jerk), 2.0 * acc_max / jerk, 0.0)))
    T = prof.T + tau

    def derivatives(t: np.ndarray) -> tuple[np.ndarray, ...]:
        """Path parameter and its first three derivatives at ``t``, after the moving average over tau."""
        now = prof.at(t)
        if tau == 0.0:
            return now[1], now[2], now[3], np.zeros_like(t)
        # the moving average of a derivative is its antiderivative's difference over the window
        s, sd, sdd, sddd = ((x - y) / tau for x, y in zip(now, prof.at(t - tau), strict=True))
        return np.clip(s, 0.0, 1.0), sd, sdd, sddd

    def joint_space(t: np.ndarray, with_jerk: bool) -> tuple[np.ndarray, ...]:
        s, sd, sdd, sddd = (x[:, None] for x in derivatives(t))
        d1, d2 = spline(s[:, 0], 1), spline(s[:, 0], 2)
        q = spline(s[:, 0])
        qd = d1 * sd
        qdd = d2 * sd**2 + d1 * sdd
        if not with_jerk:
            return q, qd, qdd
        qddd = spline(s[:, 0], 3) * sd**3 + 3.0 * d2 * sd * sdd + d1 * sddd
        return q, qd, qdd, qddd

    # Stretch factor from a fine grid (the output grid is too coarse to see a corner's peak).
    t_fine = np.linspace(0.0, T, max(3, int(np.ceil(T / 0.002)) + 1))
    _, qd_f, qdd_f, qddd_f = joint_space(t_fine, True)
    k = max(
        1.0,
        float(np.max(np.abs(qd_f) / vel_max)),
        float(np.sqrt(np.max(np.abs(qdd_f) / acc_max))),
    )
    if jerk is not None:
        k = max(k, float(np.cbrt(np.max(np.abs(qddd_f) / jerk))))
    # Sample at the output rate, then stretch.
    n_out = max(2, int(np.ceil(T / dt_s)) + 1)
    t_path = np.linspace(0.0, T, n_out)
    q, qd, qdd = joint_space(t_path, False)
    qd /= k
    qdd /= k * k
    q[0], q[-1] = path_q[0], path_q[-1]
    qd[0] = qd[-1] = 0.0
    qdd[0] = qdd[-1] = 0.0
    return JointTrajectory(list(joint_names), t_path * k, q, qd, qdd)
