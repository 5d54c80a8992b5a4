"""Part analysis: how a part rests on a flat surface (stable poses) and where it lies in a slot."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trimesh

# A part is laid in a slot this far above the surface so that a simulator starts it without penetration.
REST_GAP_M = 1e-4
# A stable pose within this angle of the target orientation is preferred when none matches it exactly.
NEAR_TARGET_RAD = np.radians(35.0)


@dataclass
class RestingPose:
    """A stable resting pose.

    Attributes
    ----------
    T_slot_part : (4, 4) float, part frame in the slot frame (surface at z = 0, centre of mass above
        the slot origin, longest footprint side along slot y)
    probability : quasi-static probability of landing in this pose (trimesh estimate)
    matches_target : the part rests in its assembly orientation (up to a turn about the vertical)
    """

    T_slot_part: np.ndarray
    probability: float
    matches_target: bool = False


def _yaw(angle_rad: float) -> np.ndarray:
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    T = np.eye(4)
    T[:2, :2] = [[c, -s], [s, c]]
    return T


def _settle(mesh: trimesh.Trimesh, R_slot_part: np.ndarray) -> np.ndarray:
    """Pose with rotation ``R_slot_part (3, 3)``: footprint long side along y, COM over the origin, on z=0."""
    T = np.eye(4)
    T[:3, :3] = R_slot_part
    v = trimesh.transform_points(mesh.convex_hull.vertices, T)
    # Principal direction of the footprint (2D covariance of hull vertices) turned onto slot y.
    xy = v[:, :2] - v[:, :2].mean(axis=0)
    w, vecs = np.linalg.eigh(xy.T @ xy)
    major = vecs[:, int(np.argmax(w))]
    T = _yaw(np.pi / 2 - np.arctan2(major[1], major[0])) @ T
    com = trimesh.transform_points(mesh.center_mass[None, :], T)[0]
    zmin = trimesh.transform_points(mesh.convex_hull.vertices, T)[:, 2].min()
    T[:3, 3] += (-com[0], -com[1], -zmin + REST_GAP_M)
    return T


def resting_poses(
    mesh: trimesh.Trimesh, R_target_part: np.ndarray | None = None, tol_rad: float = np.radians(3.0)
) -> list[RestingPose]:
    """Stable resting poses of a part, best first.

    The most probable pose comes first, except that a stable pose in the part's target orientation
    (``R_target_part``, e.g. its orientation in the assembly) is preferred when it has a probability of
    at least 2 %: a part picked the way it will be placed needs no turning over, so a top-down grasp at
    the feeder stays top-down at the fixture.

    Parameters
    ----------
    mesh : watertight part mesh (metres, part frame)
    R_target_part : (3, 3) float or None, orientation the part will be placed in (world/fixture frame)
    """
    transforms, probs = trimesh.poses.compute_stable_poses(mesh)
    out = [
        RestingPose(_settle(mesh, np.asarray(T)[:3, :3]), float(p))
        for T, p in zip(transforms, probs, strict=True)
    ]
    if R_target_part is not None:
        down_target = R_target_part.T @ np.array([0.0, 0.0, -1.0])
        for rp in out:
            down = rp.T_slot_part[:3, :3].T @ np.array([0.0, 0.0, -1.0])
            if np.arccos(np.clip(down @ down_target, -1, 1)) < tol_rad and rp.probability >= 0.02:
                rp.matches_target = True
                rp.T_slot_part = _settle(mesh, R_target_part)
    out.sort(key=lambda r: (not r.matches_target, -r.probability))
    if R_target_part is not None and out and not out[0].matches_target:
        # No stable pose is the target orientation exactly (a faceted rod rolls onto a facet): take the
        # likely pose nearest to it, so that a grasp from above in the feeder stays nearly above at the place.
        down_target = R_target_part.T @ np.array([0.0, 0.0, -1.0])

        def angle(rp: RestingPose) -> float:
            down = rp.T_slot_part[:3, :3].T @ np.array([0.0, 0.0, -1.0])
            return float(np.arccos(np.clip(down @ down_target, -1, 1)))

        # Likely: 2 %, or half the likeliest pose's chance when the chances are spread (a rod's many facets).
        likely = min(0.02, 0.5 * max(rp.probability for rp in out))
        near = [i for i, rp in enumerate(out) if rp.probability >= likely and angle(rp) < NEAR_TARGET_RAD]
        if near:
            best = min(near, key=lambda i: angle(out[i]))
            out.insert(0, out.pop(best))
    if not out:  # degenerate mesh: lay it as modelled
        out = [RestingPose(_settle(mesh, np.eye(3)), 1.0)]
    return out


def symmetry(mesh: trimesh.Trimesh) -> str:
    """``"radial"``, ``"spherical"`` or ``"none"`` (trimesh's cheap inertia-based test)."""
    return str(mesh.symmetry) if mesh.symmetry else "none"
