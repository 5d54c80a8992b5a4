"""Turn the surface meshes real CAD exports give into one closed, outward solid per part.

STEP tessellations and STL/OBJ exports are rarely clean solids: every B-rep face carries its own copy of
the vertices on its edges (seams a few micrometres apart), faces come twice (once per body sharing them,
or a face exported double-sided), bodies overlap or sit inside each other (a pin modelled into its hole,
an internal sheet left from a split), and tiny cracks stay open where two faces were meshed with
different chords. :func:`repair_mesh` undoes those in this order:

1. merge vertices closer than a tolerance (``1e-6`` of the part size, at least the ``1e-5`` m seams of
   tessellators, at most ``1e-3`` of the size so that thin features never collapse);
2. drop degenerate faces (a repeated vertex or no area) and duplicated faces; a face present twice with
   opposite windings is a wall between two bodies that touch, so both copies go when that closes the mesh;
3. split the faces into shells (connected through edges used by exactly two faces) and give each a
   consistent outward winding;
4. fill small holes (the cracks above: loops at most ``hole_max_fraction`` of the part size across);
5. drop open sheets that lie inside the closed shells (internal faces), and shells fully inside another
   (unless wound against it, as the surface of a cavity is: the cavity is kept);
6. unite the remaining closed shells with manifold3d, so overlapping bodies become one outer surface.

Everything happens in the mesh's own frame, in its own unit (metres in flexcell). A mesh that still is
not one closed surface afterwards gives ``ok=False`` with a sentence saying what is wrong with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import manifold3d
import numpy as np
import trimesh
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

SEAM_TOL_M = 1e-5  # typical gap between the copies of an edge vertex on two B-rep faces
REL_MERGE_TOL = 1e-6
MAX_REL_MERGE_TOL = 1e-3
HOLE_MAX_FRACTION = 0.05


@dataclass
class RepairResult:
    """Outcome of :func:`repair_mesh`.

    Attributes
    ----------
    mesh : trimesh.Trimesh
        The repaired mesh (watertight, outward normals, positive volume) in the input's frame when ``ok``;
        the best attempt otherwise.
    notes : list of str
        What was done, e.g. ``"3 shells united into 1"``, ``"212 duplicate faces removed"``.
    ok : bool
        Whether ``mesh`` is one closed outward surface with a volume.
    reason : str
        When not ``ok``: what is wrong, as a sentence fragment (``"open surface: 14 open edges ..."``).
    """

    mesh: trimesh.Trimesh
    notes: list[str] = field(default_factory=list)
    ok: bool = True
    reason: str = ""


def _mm(x_m: float) -> str:
    return f"{x_m * 1000:.3g} mm"


def _merge_vertices(v: np.ndarray, f: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray, int]:
    """Merge vertices closer than ``tol``; returns (vertices (V', 3), faces (F, 3), number merged)."""
    pairs = cKDTree(v).query_pairs(tol, output_type="ndarray")
    n = len(v)
    if len(pairs):
        g = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
        n_groups, label = connected_components(g, directed=False)
    else:
        n_groups, label = n, np.arange(n)
    # Keep the first vertex of every group (not the mean) so that clean meshes come out bit-identical.
    first = np.full(n_groups, n, dtype=np.int64)
    np.minimum.at(first, label, np.arange(n))
    return v[first], label[f], n - n_groups


def _edges(f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Directed edges (3F, 2) of faces (F, 3) and the undirected-edge group id (3F,) of each."""
    e = f[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2)
    # One int64 key per undirected edge: 1-D unique is several times faster than unique over rows.
    n = int(f.max()) + 1 if len(f) else 1
    key = np.minimum(e[:, 0], e[:, 1]) * n + np.maximum(e[:, 0], e[:, 1])
    _, inv = np.unique(key, return_inverse=True)
    return e, inv.reshape(-1)


def _edge_counts(f: np.ndarray) -> tuple[int, int]:
    """(open edges, edges shared by more than two faces) of faces (F, 3)."""
    if len(f) == 0:
        return 0, 0
    _, inv = _edges(f)
    c = np.bincount(inv)
    return int(np.sum(c == 1)), int(np.sum(c > 2))


def _dedupe(f: np.ndarray) -> tuple[np.ndarray, int, int]:
    """Remove duplicated faces; returns (faces, same-winding copies removed, opposite pairs removed).

    Opposite-winding pairs (a wall between two touching bodies) are removed only when that leaves no
    more open or non-manifold edges than keeping one copy of each, since a double-sided sheet looks alike.
    """
    if len(f) == 0:
        return f, 0, 0
    srt = np.sort(f, axis=1)
    n = int(f.max()) + 1
    if n < 2_000_000:  # one int64 key per face is exact below n**3 = 2**63
        _, first, inv = np.unique(
            (srt[:, 0] * n + srt[:, 1]) * n + srt[:, 2], return_index=True, return_inverse=True
        )
    else:
        _, first, inv = np.unique(srt, axis=0, return_index=True, return_inverse=True)
    inv = inv.reshape(-1)
    # Winding of each face relative to its vertex set: rotate the smallest index first, compare the rest.
    mins = np.argmin(f, axis=1)
    canon = np.stack([f[np.arange(len(f)), (mins + k) % 3] for k in range(3)], axis=1)
    parity = (canon[:, 1] < canon[:, 2]).astype(np.int64) * 2 - 1  # +1 / -1 winding of the triple
    pos = np.bincount(inv, weights=(parity > 0))
    neg = np.bincount(inv, weights=(parity < 0))
    keep_one = f[np.sort(first)]
    same_removed = len(f) - len(keep_one)
    opposite = (pos > 0) & (neg > 0)
    if not np.any(opposite):
        return keep_one, same_removed, 0
    drop_groups = np.flatnonzero(opposite)
    keep_first = np.sort(first[~np.isin(np.arange(len(first)), drop_groups)])
    both_removed = f[keep_first]
    if sum(_edge_counts(both_removed)) <= sum(_edge_counts(keep_one)):
        return both_removed, len(f) - len(both_removed) - 2 * len(drop_groups), len(drop_groups)
    return keep_one, same_removed, 0


def _boundary_loops(v: np.ndarray, f: np.ndarray) -> list[np.ndarray]:
    """Open edges of faces (F, 3), directed as in their face, grouped into connected loops (k, 2) each."""
    e, inv = _edges(f)
    c = np.bincount(inv)
    open_e = e[c[inv] == 1]
    if len(open_e) == 0:
        return []
    n = len(v)
    g = coo_matrix((np.ones(len(open_e)), (open_e[:, 0], open_e[:, 1])), shape=(n, n))
    _, label = connected_components(g, directed=False)
    lab = label[open_e[:, 0]]
    order = np.argsort(lab, kind="stable")
    return np.split(open_e[order], np.flatnonzero(np.diff(lab[order])) + 1)


def _loop_span(v: np.ndarray, loop: np.ndarray) -> float:
    """Largest distance between two vertices of a boundary loop (its size across)."""
    p = v[np.unique(loop)]
    if len(p) > 2000:  # a huge opening: the box diagonal is close enough
        return float(np.linalg.norm(np.ptp(p, axis=0)))
    return float(np.max(np.linalg.norm(p[:, None] - p[None], axis=2)))


def _fill_small_holes(v: np.ndarray, f: np.ndarray, max_span: float) -> tuple[np.ndarray, np.ndarray, int]:
    """Close every boundary loop at most ``max_span`` across with a fan around its centroid.

    A fill face reverses its boundary edge, so the winding stays consistent with the surface around it.
    """
    new_v = [v]
    new_f = [f]
    n = len(v)
    filled = 0
    loops = _boundary_loops(v, f)
    if len(loops) > max(8, len(f) // 20):
        # Holes everywhere: a soup whose seams are wider than the merge tolerance, not cracks. Filling
        # would close every face on itself; leave it open so that the reason says so.
        return v, f, 0
    for loop in loops:
        if len(loop) < 3 or _loop_span(v, loop) > max_span:
            continue
        new_v.append(v[np.unique(loop)].mean(axis=0)[None, :])
        new_f.append(np.column_stack([loop[:, 1], loop[:, 0], np.full(len(loop), n)]))
        n += 1
        filled += 1
    return np.vstack(new_v), np.vstack(new_f).astype(np.int64), filled


def _radial_pairs(
    v: np.ndarray, f: np.ndarray, faces: np.ndarray, directed: np.ndarray
) -> list[tuple[int, int]]:
    """Pair the faces (k,) around one edge used by more than two faces, body by body.

    Around the edge's direction d, a face that walks the edge along d has its body on the clockwise side
    of its fin (its outward normal is d x fin), one walking it against d on the counter-clockwise side.
    Sorted by fin angle, each face of the second kind opens a wedge of material that the next face
    closes: those two are the same body. Coincident fins (two bodies touching along a face) put the
    closing face first. A face left over (an odd count: an internal sheet ending on the edge) is not
    paired, so that it stays with its sheet: the one left is the one that leaves the widest material
    wedges (the outer surface of the union, not a cell of it). An order that does not alternate pairs
    nothing.
    """
    a0, b0 = int(directed[0].min()), int(directed[0].max())
    d = v[b0] - v[a0]
    d /= np.linalg.norm(d)
    sign = np.where(directed[:, 0] == a0, 1, -1)  # +1: the face walks a0 -> b0
    third = f[faces].sum(axis=1) - a0 - b0
    w = v[third] - v[a0]
    w -= np.outer(w @ d, d)
    e1 = np.cross(d, [1.0, 0.0, 0.0] if abs(d[0]) < 0.9 else [0.0, 1.0, 0.0])
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(d, e1)
    theta = np.arctan2(w @ e2, w @ e1)
    order = np.lexsort((-sign, np.round(theta / 1e-7)))
    k = len(order)

    def alternating(idx: np.ndarray) -> tuple[list[tuple[int, int]], float] | None:
        """Pairs of (opening, closing) faces and their total material wedge angle (rad), or None."""
        s_ = sign[idx]
        if len(idx) % 2 or s_.sum() != 0:
            return None
        out, wedge = [], 0.0
        for i in range(len(idx)):
            if s_[i] == -1:
                j = (i + 1) % len(idx)
                if s_[j] != 1:
                    return None
                out.append((int(faces[idx[i]]), int(faces[idx[j]])))
                wedge += float((theta[idx[j]] - theta[idx[i]]) % (2 * np.pi))
        return out, wedge

    found = alternating(order)
    if found is None and k % 2 == 1:
        options = [alternating(np.delete(order, drop)) for drop in range(k)]
        valid = [o for o in options if o is not None]
        found = max(valid, key=lambda o: o[1]) if valid else None
    return found[0] if found else []


def _shells(v: np.ndarray, f: np.ndarray) -> list[np.ndarray]:
    """Face index sets of the shells: faces connected through edges used by exactly two faces.

    Edges used by more than two faces (bodies touching along an edge or a face, internal sheets ending
    on a surface) connect the faces that :func:`_radial_pairs` finds to be of one body.
    """
    if len(f) == 0:
        return []
    e, inv = _edges(f)
    face_of = np.repeat(np.arange(len(f)), 3)
    c = np.bincount(inv)
    manifold = c[inv] == 2
    order = np.argsort(inv[manifold], kind="stable")
    links = [face_of[manifold][order].reshape(-1, 2)]
    nm = np.flatnonzero(c[inv] > 2)
    if len(nm):
        nm = nm[np.argsort(inv[nm], kind="stable")]
        groups = np.split(nm, np.flatnonzero(np.diff(inv[nm])) + 1)
        extra = [p for g in groups for p in _radial_pairs(v, f, face_of[g], e[g])]
        if extra:
            links.append(np.array(extra, dtype=np.int64))
    fa = np.vstack(links)
    nf = len(f)
    g = coo_matrix((np.ones(len(fa)), (fa[:, 0], fa[:, 1])), shape=(nf, nf))
    _, label = connected_components(g, directed=False)
    by = np.argsort(label, kind="stable")
    return np.split(by, np.flatnonzero(np.diff(label[by])) + 1)


def _signed_volume(v: np.ndarray, f: np.ndarray) -> float:
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)


def _to_manifold(v: np.ndarray, f: np.ndarray) -> manifold3d.Manifold | None:
    m = manifold3d.Manifold(
        manifold3d.Mesh64(
            vert_properties=np.ascontiguousarray(v, dtype=np.float64),
            tri_verts=np.ascontiguousarray(f, dtype=np.uint64),
        )
    )
    return m if m.status() == manifold3d.Error.NoError and not m.is_empty() else None


def _from_manifold(m: manifold3d.Manifold) -> trimesh.Trimesh:
    out = m.to_mesh64()
    # Copies: manifold's buffers are read-only, and a mesh must be writeable for what comes after.
    return trimesh.Trimesh(
        np.array(out.vert_properties, dtype=float)[:, :3].copy(),
        np.array(out.tri_verts, dtype=np.int64),
        process=False,
    )


def _winding_number(points: np.ndarray, v: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Generalised winding number (K,) of points (K, 3) w.r.t. the closed faces (F, 3) (van Oosterom)."""
    a = v[f[:, 0]][None] - points[:, None]
    b = v[f[:, 1]][None] - points[:, None]
    c = v[f[:, 2]][None] - points[:, None]
    la, lb, lc = (np.linalg.norm(x, axis=2) for x in (a, b, c))
    det = np.einsum("kfi,kfi->kf", a, np.cross(b, c))
    den = (
        la * lb * lc
        + np.einsum("kfi,kfi->kf", a, b) * lc
        + np.einsum("kfi,kfi->kf", b, c) * la
        + np.einsum("kfi,kfi->kf", c, a) * lb
    )
    return np.arctan2(det, den).sum(axis=1) / (2 * np.pi)


def _compact(v: np.ndarray, f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keep only the vertices faces (F, 3) use; returns (vertices (V', 3), reindexed faces (F, 3))."""
    used, inv = np.unique(f, return_inverse=True)
    return v[used], inv.reshape(f.shape)


def _index_components(f: np.ndarray, n_vertices: int) -> list[np.ndarray]:
    """Face index sets of the pieces that share no vertex index (separate bodies or B-rep faces)."""
    e = f[:, [0, 1, 1, 2]].reshape(-1, 2)
    g = coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n_vertices, n_vertices))
    _, label = connected_components(g, directed=False)
    lab = label[f[:, 0]]
    order = np.argsort(lab, kind="stable")
    cuts = np.flatnonzero(np.diff(lab[order])) + 1
    return np.split(order, cuts)


@dataclass
class _Counts:
    merged: int = 0
    degenerate: int = 0
    duplicate: int = 0
    walls: int = 0
    holes: int = 0

    def notes(self, tol: float) -> list[str]:
        out = []
        if self.merged:
            out.append(f"{self.merged} coincident vertices merged (within {_mm(tol)})")
        if self.degenerate:
            out.append(f"{self.degenerate} degenerate faces removed")
        if self.duplicate:
            out.append(f"{self.duplicate} duplicate faces removed")
        if self.walls:
            out.append(f"{self.walls} internal wall faces between touching bodies removed")
        if self.holes:
            out.append(f"{_plural(self.holes, 'small hole')} filled")
        return out


def _plural(n: int, what: str) -> str:
    return f"{n} {what}" + ("" if n == 1 else "s")


def _clean(v: np.ndarray, f: np.ndarray, tol: float, c: _Counts) -> tuple[np.ndarray, np.ndarray]:
    """Merge vertices within ``tol``, drop degenerate and duplicated faces (steps 1 and 2)."""
    v, f = _compact(v, f)
    v, f, merged = _merge_vertices(v, f, tol)
    c.merged += merged
    degenerate = (f[:, 0] == f[:, 1]) | (f[:, 1] == f[:, 2]) | (f[:, 2] == f[:, 0])
    area2 = np.linalg.norm(np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]]), axis=1)
    degenerate |= area2 <= (tol * tol) * 1e-6
    c.degenerate += int(degenerate.sum())
    f, n_dup, n_walls = _dedupe(f[~degenerate])
    c.duplicate += n_dup
    c.walls += n_walls
    return v, f


def _closed_shells(v: np.ndarray, f: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray], list[int]]:
    """Split faces (F, 3) into closed shells, each wound outward, and open or non-manifold sheets.

    Returns (shells, sheets, drawn): ``drawn`` is +1 for a shell that came wound outward, -1 for one
    that came wound inward (a cavity's surface, or an inverted export) and 0 when its winding was not
    consistent, so that how it was drawn says nothing.
    """
    closed: list[np.ndarray] = []
    sheets: list[np.ndarray] = []
    drawn: list[int] = []
    for idx in _shells(v, f):
        sf = f[idx]
        n_open, n_nm = _edge_counts(sf)
        if n_open or n_nm:
            sheets.append(sf)
            continue
        sub = trimesh.Trimesh(v, sf, process=False)
        consistent = bool(sub.is_winding_consistent)
        trimesh.repair.fix_winding(sub)
        sf = np.asarray(sub.faces, dtype=np.int64)
        vol = _signed_volume(v, sf)
        if vol < 0:
            sf = sf[:, ::-1]
        size = float(np.max(np.ptp(v[sf.reshape(-1)], axis=0)))
        if abs(vol) > 1e-6 * size**3:  # not a flat pillow (a face closed on itself)
            closed.append(sf)
            drawn.append((1 if vol > 0 else -1) if consistent else 0)
    return closed, sheets, drawn


def repair_mesh(mesh: trimesh.Trimesh, hole_max_fraction: float = HOLE_MAX_FRACTION) -> RepairResult:
    """Make a closed, outward solid of a CAD surface mesh (see the module docstring for the steps).

    Parameters
    ----------
    mesh : trimesh.Trimesh
        Surface mesh, vertices (V, 3) and faces (F, 3), in any frame (metres in flexcell). Not modified.
    hole_max_fraction : float
        Largest hole filled, as a fraction of the mesh's largest extent (cracks, not missing faces).

    Returns
    -------
    RepairResult
        ``mesh`` in the same frame as the input; ``ok`` False with a ``reason`` when it cannot be closed.
    """
    v = np.asarray(mesh.vertices, dtype=float)
    f = np.asarray(mesh.faces, dtype=np.int64)
    if len(f):
        f = f[np.all(np.all(np.isfinite(v), axis=1)[f], axis=1)]
    if len(f) == 0:
        return RepairResult(trimesh.Trimesh(), [], False, "the mesh has no faces")
    v, f = _compact(v, f)
    extent = float(np.max(np.ptp(v, axis=0)))
    if extent <= 0:
        return RepairResult(trimesh.Trimesh(v, f, process=False), [], False, "all its vertices coincide")
    tol = min(max(REL_MERGE_TOL * extent, SEAM_TOL_M), MAX_REL_MERGE_TOL * extent)
    max_hole = hole_max_fraction * extent
    c = _Counts()

    # Bodies that share no vertex index are closed or not on their own: touching bodies then stay two
    # closed shells (united below) instead of one surface with edges of four faces.
    shells: list[tuple[np.ndarray, np.ndarray]] = []
    drawn: list[int] = []  # how each shell came wound (see _closed_shells)
    pool: list[np.ndarray] = []
    comps = _index_components(f, len(v))
    # Only a piece without open edges (by vertex index) can be a body of its own; one B-rep face or a
    # cracked body goes to the pool directly, which keeps parts of hundreds of faces fast.
    _, inv = _edges(f)
    open_face = (np.bincount(inv)[inv] == 1).reshape(-1, 3).any(axis=1)
    candidates = [idx for idx in comps if len(idx) >= 4 and not open_face[idx].any()]
    if len(comps) > 1 and len(candidates) <= 500:
        pool = [f[idx] for idx in comps if len(idx) < 4 or open_face[idx].any()]
        for idx in candidates:
            cv, cf = _clean(v, f[idx], tol, c)
            own_closed, own_sheets, own_drawn = _closed_shells(cv, cf)
            if len(own_closed) == 1 and not own_sheets:
                shells.append((cv, own_closed[0]))
                drawn.append(own_drawn[0])
            else:
                pool.append(f[idx])
    else:
        pool.append(f)
    # The rest (B-rep faces meshed one by one, STL triangle soups, cracked bodies) is merged as a whole.
    sheets_v = v
    sheets: list[np.ndarray] = []
    if pool:
        pv, pf = _clean(v, np.vstack(pool), tol, c)
        pv, pf, c.holes = _fill_small_holes(pv, pf, max_hole)
        closed, sheets, pool_drawn = _closed_shells(pv, pf)
        shells += [(pv, sf) for sf in closed]
        drawn += pool_drawn
        sheets_v = pv
    notes = c.notes(tol)
    if not shells:
        return _failure(sheets_v, np.vstack(sheets), notes, max_hole, tol)

    # Open sheets whose both sides are inside the closed shells are internal faces.
    if sheets:
        for sf in sheets:
            cent = sheets_v[sf].mean(axis=1)
            pick = cent[np.linspace(0, len(cent) - 1, min(len(cent), 16)).astype(int)]
            w = sum(_winding_number(pick, sv, sf_) for sv, sf_ in shells)
            if np.any(w < 0.5):
                fail = _failure(sheets_v, np.vstack(sheets), notes, max_hole, tol)
                fail.reason += " (outside the closed shells)"
                return fail
        notes.append(f"{_plural(sum(len(s) for s in sheets), 'internal face')} dropped")

    if len(shells) == 1:
        sv, sf = shells[0]
        cv, cf = _compact(sv, sf)
        return RepairResult(trimesh.Trimesh(cv, cf, process=False), notes)

    # Several closed bodies: drop the ones fully inside another, unite the rest (step 6).
    solids = []
    for sv, sf in shells:
        m = _to_manifold(*_compact(sv, sf))
        if m is None:
            return RepairResult(
                trimesh.Trimesh(v, f, process=False),
                notes,
                False,
                "a closed shell intersects itself, so the shells cannot be united",
            )
        solids.append(m)
    vols = [s.volume() for s in solids]
    kept: list[int] = []
    cavities: list[int] = []
    n_inside = 0
    for i in (int(j) for j in np.argsort(vols)[::-1]):
        s = solids[i]
        # Inside another: intersecting with it leaves all of its volume.
        container = next((k for k in kept if abs((s ^ solids[k]).volume() - vols[i]) <= 1e-6 * vols[i]), None)
        if container is None:
            kept.append(i)
        elif drawn[i] * drawn[container] == -1:
            cavities.append(i)  # wound against its container, as a void's surface is: keep the void
        else:
            n_inside += 1
    union = manifold3d.Manifold.batch_boolean([solids[k] for k in kept], manifold3d.OpType.Add)
    if cavities:
        union = union - manifold3d.Manifold.batch_boolean(
            [solids[k] for k in cavities], manifold3d.OpType.Add
        )
        notes.append(f"{_plural(len(cavities), 'inner cavity')} kept (shells wound inward inside the solid)")
    if n_inside:
        notes.append(f"{_plural(n_inside, 'shell')} fully inside another dropped")
    if len(kept) > 1:
        notes.append(f"{len(kept)} shells united into {_plural(len(union.decompose()), 'solid')}")
    return RepairResult(_from_manifold(union), notes)


def _failure(v: np.ndarray, f: np.ndarray, notes: list[str], filled_up_to: float, tol: float) -> RepairResult:
    """``ok=False`` with what is wrong: open edges (and the largest gap) or edges of more than two faces."""
    n_open, n_nm = _edge_counts(f)
    parts = []
    loops = _boundary_loops(v, f) if n_open else []
    if len(loops) > max(8, len(f) // 20):
        parts.append(
            f"open surface: {n_open} open edges in {len(loops)} holes, its faces hardly meet (a triangle soup "
            f"whose seams are wider than the {_mm(tol)} merge tolerance, or a surface model)"
        )
    elif n_open:
        spans = [_loop_span(v, lp) for lp in loops]
        parts.append(
            f"open surface: {n_open} open edges in {_plural(len(loops), 'hole')} after hole filling "
            f"(largest hole {_mm(max(spans))} across; holes up to {_mm(filled_up_to)} are filled)"
        )
    if n_nm:
        parts.append(
            f"non-manifold: {n_nm} edges are shared by more than two faces (internal faces or touching bodies)"
        )
    if not parts:
        parts.append("the surface encloses no volume")
    return RepairResult(trimesh.Trimesh(v, f, process=False), notes, False, "; ".join(parts))


def split_bodies(mesh: trimesh.Trimesh) -> list[trimesh.Trimesh]:
    """Split a mesh holding several solids (a STEP without an assembly tree) into one mesh per body.

    Closed shells that overlap or sit inside one another are one body (a multi-body part, repaired
    later by :func:`repair_mesh`); shells that only touch or stand apart are separate bodies.

    Parameters
    ----------
    mesh : trimesh.Trimesh
        Vertices (V, 3), faces (F, 3), any frame. Not modified.

    Returns
    -------
    list of trimesh.Trimesh
        The bodies in the input's frame, ordered by position (lowest first, then y, then x); ``[mesh]``
        when it is one body or cannot be split into closed shells (open or non-manifold surfaces).
    """
    v = np.asarray(mesh.vertices, dtype=float)
    f = np.asarray(mesh.faces, dtype=np.int64)
    if len(f) < 8 or not np.all(np.isfinite(v)):
        return [mesh]
    v, f = _compact(v, f)
    extent = float(np.max(np.ptp(v, axis=0)))
    if extent <= 0:
        return [mesh]
    tol = min(max(REL_MERGE_TOL * extent, SEAM_TOL_M), MAX_REL_MERGE_TOL * extent)
    v, f = _clean(v, f, tol, _Counts())
    v, f, _ = _fill_small_holes(v, f, HOLE_MAX_FRACTION * extent)
    closed, sheets, _ = _closed_shells(v, f)
    if sheets or len(closed) < 2:
        return [mesh]
    solids = [_to_manifold(*_compact(v, sf)) for sf in closed]
    n = len(closed)
    lo = np.array([v[np.unique(sf)].min(axis=0) for sf in closed])
    hi = np.array([v[np.unique(sf)].max(axis=0) for sf in closed])
    links = []
    for i in range(n):
        for j in range(i + 1, n):
            if np.any(lo[i] > hi[j]) or np.any(lo[j] > hi[i]):
                continue
            si, sj = solids[i], solids[j]
            if si is None or sj is None:
                links.append((i, j))  # cannot tell: keep them together, repair_mesh will say what is wrong
                continue
            # Overlap (not mere contact): the intersection has a volume.
            if (si ^ sj).volume() > 1e-6 * min(si.volume(), sj.volume()):
                links.append((i, j))
    if links:
        ij = np.array(links)
        g = coo_matrix((np.ones(len(ij)), (ij[:, 0], ij[:, 1])), shape=(n, n))
        _, label = connected_components(g, directed=False)
    else:
        label = np.arange(n)
    bodies = []
    for k in np.unique(label):
        faces = np.vstack([closed[i] for i in np.flatnonzero(label == k)])
        bv, bf = _compact(v, faces)
        bodies.append(trimesh.Trimesh(bv, bf, process=False))
    if len(bodies) < 2:
        return [mesh]
    key = [(*np.round(b.bounds[0][::-1], 4).tolist(), -float(b.volume)) for b in bodies]
    return [bodies[i] for i in sorted(range(len(bodies)), key=lambda i: key[i])]


def boundary_points(mesh: trimesh.Trimesh) -> np.ndarray:
    """Vertices (B, 3) on the open edges of a mesh once its seams are merged (B = 0 when it is closed).

    The tolerance is :func:`repair_mesh`'s, so a solid whose B-rep faces carry their own copies of the
    edge vertices counts as closed, and one B-rep face on its own is all boundary.
    """
    v = np.asarray(mesh.vertices, dtype=float)
    f = np.asarray(mesh.faces, dtype=np.int64)
    if len(f) == 0:
        return np.zeros((0, 3))
    v, f = _compact(v, f)
    extent = float(np.max(np.ptp(v, axis=0)))
    tol = min(max(REL_MERGE_TOL * extent, SEAM_TOL_M), MAX_REL_MERGE_TOL * extent) if extent > 0 else 0.0
    v, f, _ = _merge_vertices(v, f, tol)
    e, inv = _edges(f)
    open_e = e[np.bincount(inv)[inv] == 1]
    return v[np.unique(open_e)]


def shell_labels(mesh: trimesh.Trimesh) -> np.ndarray:
    """Shell id (F,) of every face of a mesh once its seams are merged (see :func:`repair_mesh` step 3).

    Faces of one body share an id; bodies touching along edges or faces get different ids (edges of
    more than two faces are resolved body by body). Degenerate faces get the id of no other face.
    """
    v = np.asarray(mesh.vertices, dtype=float)
    f = np.asarray(mesh.faces, dtype=np.int64)
    label = np.arange(len(f))
    if len(f) == 0:
        return label
    v, f = _compact(v, f)
    extent = float(np.max(np.ptp(v, axis=0)))
    tol = min(max(REL_MERGE_TOL * extent, SEAM_TOL_M), MAX_REL_MERGE_TOL * extent) if extent > 0 else 0.0
    v, f, _ = _merge_vertices(v, f, tol)
    good = np.flatnonzero((f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 2] != f[:, 0]))
    for k, idx in enumerate(_shells(v, f[good])):
        label[good[idx]] = len(f) + k  # above every face index: never equal to a degenerate face's own id
    return label
