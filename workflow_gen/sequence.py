"""Sequencing: assembly by disassembly for assemblies, a short-travel order for kits."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import trimesh
from scipy.spatial import ConvexHull, QhullError

SUPPORT_TOL_M = 1e-3


@dataclass
class AssemblyOrder:
    """Result of assembly by disassembly.

    Attributes
    ----------
    order : part names in insertion order (those that can be inserted)
    supports : name -> names of the parts it rests on (empty: rests on the fixture)
    blocked : name -> reason, parts that cannot be inserted or would not rest
    """

    order: list[str]
    supports: dict[str, set[str]] = field(default_factory=dict)
    blocked: dict[str, str] = field(default_factory=dict)


def _probe_points(mesh: trimesh.Trimesh, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Surface samples (and vertices) pulled 0.1 mm inside, with their outward normals."""
    pts, fi = trimesh.sample.sample_surface(mesh, n, seed=seed)
    nrm = mesh.face_normals[fi]
    vn = mesh.vertex_normals
    pts = np.vstack([pts, mesh.vertices])
    nrm = np.vstack([nrm, vn])
    return pts - 1e-4 * nrm, nrm


def _hits(mesh: trimesh.Trimesh, origins: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """``(P,)`` distance to the first hit of each ray on ``mesh`` (inf where none)."""
    dist = np.full(len(origins), np.inf)
    if len(origins) == 0:
        return dist
    dirs = np.broadcast_to(direction, origins.shape)
    loc, ray_i, _ = mesh.ray.intersects_location(origins, dirs, multiple_hits=False)
    if len(ray_i):
        dist[ray_i] = np.einsum("ij,ij->i", loc - origins[ray_i], dirs[ray_i])
    return dist


def assembly_order(
    meshes_fixture: dict[str, trimesh.Trimesh], n_probe: int = 400, seed: int = 0
) -> AssemblyOrder:
    """Insertion order by disassembly along +z (parts are inserted from above, along -z).

    Parameters
    ----------
    meshes_fixture : name -> part mesh placed in the fixture frame (fixture top at z = 0)

    A part can be removed when no remaining part lies above any of its points (rays cast up from the
    part, and down from the others onto it). Removal picks the highest free part; insertion is the
    reverse. A part rests when its bottom touches the fixture or other parts and its centre of mass
    lies over the convex hull of those contacts.
    """
    up = np.array([0.0, 0.0, 1.0])
    probes = {k: _probe_points(m, n_probe, seed) for k, m in meshes_fixture.items()}
    names = sorted(meshes_fixture)
    above: dict[str, set[str]] = {k: set() for k in names}  # parts lying above k (block its removal)
    supports: dict[str, set[str]] = {k: set() for k in names}
    contact_pts: dict[str, list[np.ndarray]] = {k: [] for k in names}
    for a in names:
        pts, nrm = probes[a]
        bottom = nrm[:, 2] < -0.5
        on_fixture = pts[bottom][pts[bottom][:, 2] < SUPPORT_TOL_M]
        if len(on_fixture):
            contact_pts[a].append(on_fixture)
        for b in names:
            if a == b:
                continue
            if np.isfinite(_hits(meshes_fixture[b], pts, up)).any():
                above[a].add(b)
            pb, _ = probes[b]
            if np.isfinite(_hits(meshes_fixture[a], pb, -up)).any():
                above[a].add(b)
            d_down = _hits(meshes_fixture[b], pts[bottom], -up)
            touching = d_down < SUPPORT_TOL_M
            if touching.any():
                supports[a].add(b)
                contact_pts[a].append(pts[bottom][touching])
    blocked: dict[str, str] = {}
    for a in names:
        cp = np.vstack(contact_pts[a]) if contact_pts[a] else np.zeros((0, 3))
        com = meshes_fixture[a].center_mass
        if len(cp) == 0:
            blocked[a] = "does not rest on anything: nothing under it in the assembly"
        elif not _over_support(com[:2], cp[:, :2]):
            blocked[a] = "would tip over: its centre of mass is outside the area it rests on"
    removal: list[str] = []
    remaining = set(names)
    while remaining:
        free = [a for a in remaining if not (above[a] & remaining)]
        if not free:
            for a in sorted(remaining):
                blockers = ", ".join(sorted(above[a] & remaining))
                blocked.setdefault(a, f"cannot be inserted straight from above: blocked by {blockers}")
            break
        top = max(free, key=lambda a: (float(meshes_fixture[a].bounds[1, 2]), a))
        removal.append(top)
        remaining.discard(top)
    order = [a for a in reversed(removal) if a not in blocked]
    return AssemblyOrder(order=order, supports=supports, blocked=blocked)


def _over_support(com_xy: np.ndarray, contact_xy: np.ndarray, tol_m: float = 1e-4) -> bool:
    """Whether ``com_xy (2,)`` lies inside the convex hull of ``contact_xy (P, 2)`` (with tolerance)."""
    try:
        hull = ConvexHull(contact_xy)
    except (QhullError, ValueError):
        return False  # contacts on a line or a point: no area to rest on
    eq = hull.equations  # rows (a, b, c): a x + b y + c <= 0 inside
    return bool(np.all(eq[:, :2] @ com_xy + eq[:, 2] <= tol_m))


def kit_order(
    jobs: dict[str, tuple[np.ndarray, np.ndarray]], start_xyz_m: np.ndarray | None = None
) -> list[str]:
    """A short-travel order of pick-and-place jobs (greedy nearest neighbour).

    Parameters
    ----------
    jobs : name -> (pick position (3,), place position (3,)) in the world, metres
    start_xyz_m : (3,) where the tool starts (home), or None to start with the first job

    Each job's own pick-to-place leg is fixed; the order only changes the empty legs from one place
    to the next pick, and the nearest next pick is taken each time.
    """
    left = list(jobs)
    out: list[str] = []
    pos = start_xyz_m
    while left:
        if pos is None:
            nxt = left[0]
        else:
            nxt = min(left, key=lambda k: (float(np.linalg.norm(jobs[k][0] - pos)), left.index(k)))
        out.append(nxt)
        left.remove(nxt)
        pos = jobs[nxt][1]
    return out


def travel_m(jobs: dict[str, tuple[np.ndarray, np.ndarray]], order: list[str], start: np.ndarray) -> float:
    """Total straight-line tool travel of an order, from ``start (3,)`` (metres)."""
    pos, total = start, 0.0
    for k in order:
        total += float(np.linalg.norm(jobs[k][0] - pos) + np.linalg.norm(jobs[k][1] - jobs[k][0]))
        pos = jobs[k][1]
    return total
