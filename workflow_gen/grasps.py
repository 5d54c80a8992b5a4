"""Grasp synthesis for a parallel-jaw gripper: antipodal contact pairs, finger/palm collision, scores.

Gripper frame (the ``tcp`` frame of cell_config/compose.py): the jaws close along y, the gripper
approaches along +z, the TCP is midway between the pad centres. Finger and palm boxes come from the
cell's :class:`GripperSpec`.

All candidate checks run in batches: part points are moved into every candidate's TCP frame with one
``einsum`` and tested against the finger and palm boxes at once (no Python loop per candidate); the
opposite contact of each surface sample is found with one batched ray query (embree when present).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trimesh

from cell_config import GripperSpec

GRAVITY_M_S2 = 9.81


@dataclass(frozen=True)
class GripperGeometry:
    """Boxes of a parallel-jaw gripper in its TCP frame (metres)."""

    stroke_m: float
    min_opening_m: float
    finger_length_m: float
    finger_width_m: float
    finger_thickness_m: float
    pad_length_m: float
    palm_size_m: tuple[float, float, float]
    friction: float
    force_n: float
    max_speed_m_s: float

    @classmethod
    def from_spec(cls, g: GripperSpec) -> GripperGeometry:
        f = g.finger
        return cls(
            stroke_m=g.stroke_m,
            min_opening_m=g.min_opening_m,
            finger_length_m=f.length_m,
            finger_width_m=f.width_m,
            finger_thickness_m=f.thickness_m,
            pad_length_m=f.pad_length_m,
            palm_size_m=tuple(g.palm_size_m),  # type: ignore[arg-type]
            friction=f.friction,
            force_n=g.force_n,
            max_speed_m_s=g.max_speed_m_s,
        )

    @property
    def finger_z_range_m(self) -> tuple[float, float]:
        """Finger extent along the approach axis in the TCP frame: (back end, tip)."""
        return (-(self.finger_length_m - self.pad_length_m / 2), self.pad_length_m / 2)

    def boxes(self, opening_m: float, sweep_m: float = 0.0) -> np.ndarray:
        """Finger and palm boxes ``(3, 2, 3)`` = [left, right, palm] x [min corner, max corner].

        ``sweep_m`` stretches them backwards along -z: the volume they pass through while approaching.
        """
        z0, z1 = self.finger_z_range_m
        hw, t, o = self.finger_width_m / 2, self.finger_thickness_m, opening_m / 2
        px, py, pz = self.palm_size_m
        return np.array(
            [
                [[-hw, o, z0 - sweep_m], [hw, o + t, z1]],
                [[-hw, -o - t, z0 - sweep_m], [hw, -o, z1]],
                [[-px / 2, -py / 2, z0 - pz - sweep_m], [px / 2, py / 2, z0]],
            ]
        )

    def fingertip_corners(self, opening_m: np.ndarray) -> np.ndarray:
        """``(M, 8, 3)`` corners of both fingertips in the TCP frame for openings ``(M,)``."""
        o = np.asarray(opening_m, dtype=float)[:, None] / 2
        hw, t = self.finger_width_m / 2, self.finger_thickness_m
        ys = np.hstack([o, o + t, -o, -o - t])  # (M, 4)
        out = np.empty((len(o), 8, 3))
        out[:, :4, 0], out[:, 4:, 0] = hw, -hw
        out[:, :4, 1], out[:, 4:, 1] = ys, ys
        out[:, :, 2] = self.pad_length_m / 2
        return out


@dataclass
class GraspSet:
    """Grasp candidates of one part, best first.

    Attributes
    ----------
    T_part_tcp : (N, 4, 4) float, TCP pose in the part frame
    contact_width_m : (N,) float, part width between the pads
    pregrasp_width_m : (N,) float, jaw opening while approaching
    contacts_m : (N, 2, 3) float, the two contact points (part frame), the +y pad first
    contact_area_m2 : (N,) float, estimated pad contact area (both pads)
    torque_nm : (N,) float, gravity torque about the grasp axis for an approach against gravity
    score : (N,) float, higher is better
    force_n : float, grip force to command
    n_pairs : number of antipodal contact pairs found
    n_checked : number of candidates checked for collision
    """

    T_part_tcp: np.ndarray
    contact_width_m: np.ndarray
    pregrasp_width_m: np.ndarray
    contacts_m: np.ndarray
    contact_area_m2: np.ndarray
    torque_nm: np.ndarray
    score: np.ndarray
    force_n: float
    n_pairs: int = 0
    n_checked: int = 0

    def __len__(self) -> int:
        return len(self.score)

    def subset(self, idx: np.ndarray) -> GraspSet:
        return GraspSet(
            self.T_part_tcp[idx],
            self.contact_width_m[idx],
            self.pregrasp_width_m[idx],
            self.contacts_m[idx],
            self.contact_area_m2[idx],
            self.torque_nm[idx],
            self.score[idx],
            self.force_n,
            self.n_pairs,
            self.n_checked,
        )


def _frames(contacts_p: np.ndarray, contacts_q: np.ndarray, approach: np.ndarray, depth_m: np.ndarray):
    """TCP frames ``(M, 4, 4)``: y from p to q, z = ``approach (M, 3)``, TCP backed off ``depth_m`` along -z."""
    y = contacts_q - contacts_p
    y /= np.linalg.norm(y, axis=1, keepdims=True)
    z = approach - np.sum(approach * y, axis=1, keepdims=True) * y
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    x = np.cross(y, z)
    T = np.zeros((len(y), 4, 4))
    T[:, :3, 0], T[:, :3, 1], T[:, :3, 2] = x, y, z
    T[:, :3, 3] = 0.5 * (contacts_p + contacts_q) - depth_m[:, None] * z
    T[:, 3, 3] = 1.0
    return T


def antipodal_pairs(
    mesh: trimesh.Trimesh, n_samples: int, friction: float, max_width_m: float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Antipodal contact pairs: each surface sample and the exit point of a ray into the part along -n.

    Returns
    -------
    p, q : (K, 3) float each, contact points (part frame); the pair is inside both friction cones
        (half angle ``arctan(friction)``) and no wider than ``max_width_m``.
    """
    pts, fi = trimesh.sample.sample_surface(mesh, n_samples, seed=seed)
    n = mesh.face_normals[fi]
    origins = pts - 1e-6 * n
    loc, ray_i, tri = mesh.ray.intersects_location(origins, -n, multiple_hits=False)
    p, n_p = pts[ray_i], n[ray_i]
    q, n_q = loc, mesh.face_normals[tri]
    d = q - p
    w = np.linalg.norm(d, axis=1)
    ok = w > 1e-4
    d[ok] /= w[ok, None]
    cos_cone = np.cos(np.arctan(friction))
    # The +q pad pushes along -d; the inward normal there is -n_q: inside the cone iff d . n_q >= cos.
    ok &= (np.sum(d * n_q, axis=1) >= cos_cone) & (np.sum(-d * n_p, axis=1) >= cos_cone) & (w <= max_width_m)
    return p[ok], q[ok]


def synthesize_grasps(
    mesh: trimesh.Trimesh,
    gripper: GripperGeometry,
    mass_kg: float,
    com_m: np.ndarray,
    preferred_approach: np.ndarray | None = None,
    n_samples: int = 300,
    n_angles: int = 8,
    max_candidates: int = 300,
    approach_m: float = 0.08,
    clearance_m: float = 0.001,
    max_tilt_rad: float = np.radians(30.0),
    seed: int = 0,
) -> GraspSet:
    """Collision-free, scored parallel-jaw grasps of a part.

    Parameters
    ----------
    mesh : watertight part mesh (metres, part frame)
    gripper : finger and palm geometry
    mass_kg, com_m : part mass and centre of mass (3,) in the part frame
    preferred_approach : (A, 3) float or None, approach directions in the part frame that must be among
        the sampled ones (e.g. straight down in the feeder's resting pose)
    n_samples : surface samples for contact pairs
    n_angles : approach directions sampled around each grasp axis
    max_tilt_rad : with ``preferred_approach``, keep only approaches within this angle of one of them
    max_candidates : how many of the best grasps to return
    approach_m : distance the fingers travel towards the part (their swept volume is checked)
    clearance_m : margin around the finger boxes

    Returns
    -------
    GraspSet, best first; empty if no grasp fits (e.g. the part is wider than the stroke).
    """
    max_width = gripper.stroke_m - 2 * clearance_m
    p, q = antipodal_pairs(mesh, n_samples, gripper.friction, max_width, seed)
    n_pairs = len(p)
    force = _grip_force(gripper)
    if n_pairs == 0:
        return _empty(force)
    # Approach directions: a fixed ring around each grasp axis plus the preferred directions.
    y = (q - p) / np.linalg.norm(q - p, axis=1, keepdims=True)
    helper = np.where(np.abs(y[:, :1]) < 0.9, np.array([[1.0, 0, 0]]), np.array([[0, 1.0, 0]]))
    u = np.cross(y, helper)
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    v = np.cross(y, u)
    ang = np.linspace(0, 2 * np.pi, n_angles, endpoint=False)
    dirs = [np.cos(a) * u + np.sin(a) * v for a in ang]
    for a in np.atleast_2d(preferred_approach) if preferred_approach is not None else []:
        proj = a[None, :] - np.sum(a[None, :] * y, axis=1, keepdims=True) * y
        good = np.linalg.norm(proj, axis=1) > 0.2
        dirs.append(np.where(good[:, None], proj, u))
    D = np.stack(dirs, axis=1)  # (K, A, 3)
    depths = np.array([0.0, gripper.pad_length_m / 4, gripper.pad_length_m / 2 - 0.004])
    K, A, ND = n_pairs, D.shape[1], len(depths)
    ii = np.repeat(np.arange(K), A * ND)
    approach = np.repeat(D.reshape(-1, 3), ND, axis=0)
    depth = np.tile(depths, K * A)
    if preferred_approach is not None:
        pref = np.atleast_2d(preferred_approach)
        pref = pref / np.linalg.norm(pref, axis=1, keepdims=True)
        a_unit = approach / np.linalg.norm(approach, axis=1, keepdims=True)
        keep = np.max(a_unit @ pref.T, axis=1) >= np.cos(max_tilt_rad) - 1e-9
        ii, approach, depth = ii[keep], approach[keep], depth[keep]
        if len(ii) == 0:
            g = _empty(force)
            g.n_pairs = n_pairs
            return g
    T = _frames(p[ii], q[ii], approach, depth)
    width = np.linalg.norm(q[ii] - p[ii], axis=1)
    pre = np.minimum(width + 0.02, gripper.stroke_m)

    # Part points: vertices plus an even-ish surface sampling (about 3 mm apart).
    n_pts = int(np.clip(mesh.area / 0.003**2, 300, 1500))
    pts = np.vstack([mesh.vertices, trimesh.sample.sample_surface(mesh, n_pts, seed=seed + 1)[0]])
    area_per_pt = mesh.area / n_pts

    ok = np.ones(len(T), dtype=bool)
    area = np.zeros(len(T))
    chunk = max(1, 2_000_000 // len(pts))
    hw, half_pad = gripper.finger_width_m / 2, gripper.pad_length_m / 2
    t_f = gripper.finger_thickness_m
    px, py, pz = gripper.palm_size_m
    z0, z1 = gripper.finger_z_range_m
    for s in range(0, len(T), chunk):
        sl = slice(s, s + chunk)
        R, t = T[sl, :3, :3], T[sl, :3, 3]
        # (m, P, 3) part points in every candidate's TCP frame: p_tcp = R^T (p - t), as one batched matmul.
        local = np.matmul(pts[None, :, :], R) - np.matmul(t[:, None, :], R)
        ax, ay, z = np.abs(local[..., 0]), np.abs(local[..., 1]), local[..., 2]
        half_w = width[sl, None] / 2  # (m, 1)
        o = pre[sl, None] / 2
        c = clearance_m
        # Approach at the pregrasp opening: the swept fingers (mirrored in y, hence |y|) and palm stay clear.
        finger_x = ax < hw + c
        swept_z = (z > z0 - approach_m - c) & (z < z1 + c)
        hit = np.any(finger_x & swept_z & (ay > o - c) & (ay < o + t_f + c), axis=1)
        palm = (ax < px / 2 + c) & (ay < py / 2 + c) & (z < z0 + c) & (z > z0 - pz - approach_m - c)
        hit |= np.any(palm, axis=1)
        # Closed on the part: nothing of the part may stick out beyond the contacts inside the fingers.
        in_finger = (ax < hw) & (z > z0) & (z < z1)
        hit |= np.any(in_finger & (ay > half_w + 5e-4), axis=1)
        ok[sl] = ~hit
        # Contact area: part samples lying on the pad planes within the pad rectangle.
        on_pad = (ax < hw) & (np.abs(z) < half_pad) & (np.abs(ay - half_w) < 5e-4)
        area[sl] = on_pad.sum(axis=1) * area_per_pt
    idx = np.flatnonzero(ok)
    if len(idx) == 0:
        g = _empty(force)
        g.n_pairs, g.n_checked = n_pairs, len(T)
        return g
    T, width, pre, area = T[idx], width[idx], pre[idx], area[idx]
    contacts = np.stack([q[ii[idx]], p[ii[idx]]], axis=1)
    # Gravity torque about the grasp axis when gravity acts along the approach axis (top-down pick).
    com_tcp = np.einsum("mji,mj->mi", T[:, :3, :3], com_m[None, :] - T[:, :3, 3])
    torque = mass_kg * GRAVITY_M_S2 * np.abs(com_tcp[:, 0])
    com_dist = np.linalg.norm(com_tcp[:, [0, 2]], axis=1)
    size = float(np.max(mesh.extents))
    pad_area = gripper.finger_width_m * gripper.pad_length_m
    score = (
        1.0 * np.clip(area / pad_area, 0, 2)
        - 1.0 * com_dist / size
        - 0.5 * torque / max(mass_kg * GRAVITY_M_S2 * size, 1e-9)
    )
    order = np.argsort(-score, kind="stable")[:max_candidates]
    return GraspSet(
        T[order],
        width[order],
        pre[order],
        contacts[order],
        area[order],
        torque[order],
        score[order],
        force,
        n_pairs,
        len(ok),
    )


def required_force_n(gripper: GripperGeometry, mass_kg: float, safety: float = 3.0) -> float:
    """Grip force that holds ``mass_kg`` by friction on two pads, times ``safety`` (for accelerations)."""
    return safety * mass_kg * GRAVITY_M_S2 / (2.0 * gripper.friction)


def _grip_force(gripper: GripperGeometry) -> float:
    """The gripper's full force: a firmer grip slips less; parts too heavy for it are rejected earlier."""
    return float(gripper.force_n)


def _empty(force: float) -> GraspSet:
    return GraspSet(
        np.zeros((0, 4, 4)),
        np.zeros(0),
        np.zeros(0),
        np.zeros((0, 2, 3)),
        np.zeros(0),
        np.zeros(0),
        np.zeros(0),
        force,
    )
