"""Time-parameterised joint trajectories: the one trajectory type shared by motion, workflow, sim and ROS."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class JointTrajectory:
    """A joint trajectory sampled at waypoints.

    Attributes
    ----------
    joint_names : list of n joint names (planning-group order)
    t_s : (N,) float, time from start of each waypoint, strictly increasing, ``t_s[0] == 0``
    q : (N, n) float, positions in rad (m for prismatic joints)
    qd : (N, n) float, velocities
    qdd : (N, n) float, accelerations
    """

    joint_names: list[str]
    t_s: np.ndarray
    q: np.ndarray
    qd: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    qdd: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))

    def __post_init__(self) -> None:
        self.t_s = np.asarray(self.t_s, dtype=float).reshape(-1)
        self.q = np.asarray(self.q, dtype=float).reshape(len(self.t_s), -1)
        if self.qd.size == 0:
            self.qd = np.zeros_like(self.q)
        if self.qdd.size == 0:
            self.qdd = np.zeros_like(self.q)
        self.qd = np.asarray(self.qd, dtype=float).reshape(self.q.shape)
        self.qdd = np.asarray(self.qdd, dtype=float).reshape(self.q.shape)
        if self.q.shape[1] != len(self.joint_names):
            raise ValueError(f"q has {self.q.shape[1]} columns for {len(self.joint_names)} joints")
        if len(self.t_s) > 1 and np.any(np.diff(self.t_s) <= 0):
            raise ValueError("t_s must be strictly increasing")

    @property
    def duration_s(self) -> float:
        return float(self.t_s[-1] - self.t_s[0]) if len(self.t_s) else 0.0

    @property
    def start(self) -> np.ndarray:
        return self.q[0].copy()

    @property
    def end(self) -> np.ndarray:
        return self.q[-1].copy()

    def sample(self, t: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Position, velocity, acceleration at time ``t`` (s), cubic Hermite between waypoints.

        Before the start / after the end the trajectory holds its first / last point at rest.
        """
        ts = self.t_s
        if t <= ts[0]:
            return self.q[0].copy(), np.zeros_like(self.q[0]), np.zeros_like(self.q[0])
        if t >= ts[-1]:
            return self.q[-1].copy(), np.zeros_like(self.q[0]), np.zeros_like(self.q[0])
        i = int(np.searchsorted(ts, t, side="right")) - 1
        h = ts[i + 1] - ts[i]
        s = (t - ts[i]) / h
        p0, p1, v0, v1 = self.q[i], self.q[i + 1], self.qd[i] * h, self.qd[i + 1] * h
        h00, h10, h01, h11 = 2 * s**3 - 3 * s**2 + 1, s**3 - 2 * s**2 + s, -2 * s**3 + 3 * s**2, s**3 - s**2
        q = h00 * p0 + h10 * v0 + h01 * p1 + h11 * v1
        dh00, dh10, dh01, dh11 = 6 * s**2 - 6 * s, 3 * s**2 - 4 * s + 1, -6 * s**2 + 6 * s, 3 * s**2 - 2 * s
        qd = (dh00 * p0 + dh10 * v0 + dh01 * p1 + dh11 * v1) / h
        a = self.qdd[i] + (self.qdd[i + 1] - self.qdd[i]) * s
        return q, qd, a

    def path_length(self) -> float:
        """Sum of joint-space segment lengths (rad)."""
        return float(np.linalg.norm(np.diff(self.q, axis=0), axis=1).sum()) if len(self.q) > 1 else 0.0

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"t_s": self.t_s, "q": self.q, "qd": self.qd, "qdd": self.qdd}

    @classmethod
    def from_arrays(cls, joint_names: list[str], arrays: dict[str, np.ndarray]) -> JointTrajectory:
        return cls(list(joint_names), arrays["t_s"], arrays["q"], arrays["qd"], arrays["qdd"])
