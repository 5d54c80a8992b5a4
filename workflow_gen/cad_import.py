"""CAD import: STEP assemblies and STEP/STL/OBJ parts into metre meshes with placements and checks.

A STEP assembly gives one :class:`PartGeometry` per placed part (node of the assembly tree, so a
repeated part appears once per placement). Its target pose in the fixture frame is its placement in
the assembly turned by the build frame (:mod:`workflow_gen.orientation`): ``T_fixture_part =
T_fixture_cad @ T_cad_part``, so products drawn Y-up or lying on their side stand on their base.
Kit parts give ``quantity`` instances each. Files that cannot be read, are empty or have an absurd
size for their stated units raise :class:`ConfigError` (bad input); parts that are read fine but
cannot be handled (a mesh that is no closed solid, too wide for the gripper) carry an ``issue``.

Real exports need three more things, done here:

- parts tessellated one B-rep face per node (some exporters write every face as its own shape):
  open nodes whose placed boundaries share vertices are merged into one part, named after what
  their names have in common (or their common parent);
- useless CAD names (``NAUO12``, ``Body``, ``Name:1``, OCAF entries like ``=>[0:1:1:5]``, UUIDs,
  none) are replaced by the nearest useful name up the assembly tree (else the file's name, else
  ``part``); names given in the CAD keep priority; names are sanitised to
  ``[A-Za-z0-9_.-]`` and made unique with ``_2``, ``_3`` ..., in a deterministic order; the raw CAD
  name stays in ``PartGeometry.cad_name``;
- a STEP without an assembly tree (every solid in one shape) is split into its bodies, one part each
  (bodies that overlap stay one part), named after the shape or the file;
- a named sub-assembly whose bodies have no names of their own and touch one another (a bought-in
  bearing ``6204-2RS`` of two rings, a multi-body component) is one part named after it: it goes on as
  one unit;
- repeated names are numbered in the natural order of the raw names (``NAUO2`` before ``NAUO10``), so
  parts renamed from generic names are numbered as the CAD numbered them;
- meshes are repaired into closed solids by :func:`workflow_gen.mesh_repair.repair_mesh`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import trimesh
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from cell_config import ConfigError, PoseSpec
from workflow_gen.mesh_repair import SEAM_TOL_M, boundary_points, repair_mesh, shell_labels, split_bodies
from workflow_gen.orientation import BuildFrame, choose_build_frame
from workflow_gen.variant import UNIT_SCALE_M, VariantSpec, variant_file

MIN_EXTENT_M = 0.002
MAX_EXTENT_M = 1.0


@dataclass
class PartGeometry:
    """A part instance as imported.

    Attributes
    ----------
    name : unique instance name (STEP node name, or ``<kit name>_<i>`` for quantities > 1)
    cad : source CAD file relative to the variant directory
    mesh : trimesh.Trimesh in metres, part frame
    density_kg_m3 : used for the mass properties
    source : station the part is picked from
    target : kit slot name / pose, or ``None`` for assembly parts (see ``T_fixture_part``)
    T_fixture_part : (4, 4) float, assembly placement in the fixture frame (assemblies only)
    issue : why the part cannot be handled, or ``None``
    yaml_key : key in variant.yaml that introduced the part (for messages)
    mass_kg, com_m (3,), inertia_kg_m2 (3, 3) : mass properties in the part frame (after the repair)
    cad_name : the raw name in the CAD file (several joined by " + " for a part merged from faces)
    repair_notes : what the mesh repair did ("3 shells united into 1", ...)
    T_cad_part : (4, 4) float, placement in the assembly's own (CAD) frame (assemblies only)
    """

    name: str
    cad: str
    mesh: trimesh.Trimesh
    density_kg_m3: float
    source: str
    target: str | PoseSpec | None = None
    T_fixture_part: np.ndarray | None = None
    issue: str | None = None
    yaml_key: str = ""
    mass_kg: float = 0.0
    com_m: np.ndarray = field(default_factory=lambda: np.zeros(3))
    inertia_kg_m2: np.ndarray = field(default_factory=lambda: np.zeros((3, 3)))
    cad_name: str = ""
    repair_notes: list[str] = field(default_factory=list)
    T_cad_part: np.ndarray | None = None


@dataclass
class ImportedVariant:
    """Every part instance of a variant and, for an assembly, how the product stands on the fixture.

    Attributes
    ----------
    parts : list of PartGeometry
    build : BuildFrame or None
        ``None`` for a kit (kit parts have slot targets, not a common product frame).
    """

    parts: list[PartGeometry]
    build: BuildFrame | None = None


def _read_mesh_file(path: Path, file: Path, key: str) -> object:
    try:
        loaded = trimesh.load(path)
    except Exception as e:  # trimesh/cascadio raise many types for a broken file
        raise ConfigError(file, key, f"cannot read CAD file {path.name}: {type(e).__name__}: {e}") from None
    return loaded


def _as_single_mesh(loaded: object, path: Path, file: Path, key: str) -> trimesh.Trimesh:
    if isinstance(loaded, trimesh.Scene):
        meshes = [g for g in loaded.dump() if isinstance(g, trimesh.Trimesh)]  # type: ignore[attr-defined]
        mesh = trimesh.util.concatenate(meshes) if meshes else trimesh.Trimesh()
    elif isinstance(loaded, trimesh.Trimesh):
        mesh = loaded
    else:
        raise ConfigError(file, key, f"CAD file {path.name} holds no surface mesh ({type(loaded).__name__})")
    if not isinstance(mesh, trimesh.Trimesh) or len(mesh.faces) == 0:
        raise ConfigError(file, key, f"CAD file {path.name} is empty (no faces)")
    return mesh


def _check_size(mesh: trimesh.Trimesh, name: str, unit: str, file: Path, key: str) -> None:
    ext = float(np.max(mesh.extents))
    if not np.isfinite(ext) or ext < MIN_EXTENT_M or ext > MAX_EXTENT_M:
        raise ConfigError(
            file,
            key,
            f"part {name!r} is {ext:.4g} m across with units {unit}: not a plausible part size "
            f"({MIN_EXTENT_M * 1000:.0f} mm..{MAX_EXTENT_M:.0f} m); check the units",
        )


def min_width_m(mesh: trimesh.Trimesh) -> tuple[float, np.ndarray]:
    """Smallest width of the part over directions (hull face normals and box axes), and that direction.

    Returns
    -------
    width_m : float
    axis : (3,) float unit direction
    """
    hull = mesh.convex_hull
    dirs = np.vstack([hull.face_normals, np.eye(3)])
    proj = hull.vertices @ dirs.T  # (V, D)
    widths = proj.max(axis=0) - proj.min(axis=0)
    i = int(np.argmin(widths))
    return float(widths[i]), dirs[i]


def repair_and_check(part: PartGeometry, stroke_m: float) -> None:
    """Repair the mesh into a closed solid, compute mass properties; set ``issue`` if the part is unusable."""
    r = repair_mesh(part.mesh)
    part.repair_notes = r.notes
    if not r.ok:
        part.issue = f"its mesh in {part.cad} is not a closed solid (not watertight) and could not be repaired: {r.reason}"
        return
    m = part.mesh = r.mesh
    if m.volume <= 1e-12:
        part.issue = f"its mesh in {part.cad} encloses no volume"
        return
    m.density = part.density_kg_m3
    part.mass_kg = float(m.mass)
    part.com_m = np.asarray(m.center_mass, dtype=float)
    part.inertia_kg_m2 = np.asarray(m.moment_inertia, dtype=float)
    w, _ = min_width_m(m)
    if w > stroke_m:
        part.issue = (
            f"too large for the gripper: narrowest width {w * 1000:.0f} mm exceeds the "
            f"{stroke_m * 1000:.0f} mm stroke"
        )


# Names CAD tools give when the designer gave none: STEP occurrence ids, body/solid defaults, OCAF label
# entries, shape types, UUIDs and plain numbers. An instance suffix (":1", "_2", " (3)") is ignored.
_GENERIC = re.compile(
    r"^(|nauo|body|bodies|solid|shell|compound|compsolid|face|part|component|mesh|object|shape|name|item|"
    r"unnamed|untitled|noname|no_name|default|product|root|assembly|open cascade step translator.*|"
    r"=>\[[\d:]*\]|\d+|[0-9a-f]{8}(-?[0-9a-f]{4}){3}-?[0-9a-f]{12}|[0-9a-f]{16,})$",
    re.IGNORECASE,
)


def sanitize_name(raw: str) -> str:
    """A CAD name in the safe alphabet ``[A-Za-z0-9_.-]`` (names become file names and task ids).

    Runs of separators that hold an underscore or repeat a dash or dot (SolidWorks Toolbox's
    ``M6 x 25 --- 25N``) become one underscore.
    """
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", raw.strip())
    return re.sub(r"[_.-]*_[_.-]*|[.-]{2,}", "_", safe).strip("_.-")


def is_generic_name(raw: str) -> bool:
    """Whether a CAD name says nothing about the part (``NAUO12``, ``Body``, ``Name:1``, a UUID, empty)."""
    base = re.sub(r"([\s_:.-]*\(?\d+\)?)+$", "", raw.strip()) if not re.fullmatch(r"\d+", raw.strip()) else ""
    return bool(_GENERIC.fullmatch(base) or _GENERIC.fullmatch(raw.strip()))


def _useful_name(candidates: list[str]) -> str:
    """The first candidate that is not generic, sanitised (``"part"`` when none is)."""
    for c in candidates:
        if not is_generic_name(c) and sanitize_name(c):
            return sanitize_name(c)
    return "part"


def _ancestors(scene: trimesh.Scene, node: str) -> list[str]:
    """Node names from the parent of ``node`` up to (without) the scene's base frame."""
    parents = scene.graph.transforms.parents
    out: list[str] = []
    n = parents.get(node)
    while n is not None and n != scene.graph.base_frame and len(out) < 64:
        out.append(str(n))
        n = parents.get(n)
    return out


def unique_names(bases: list[str], fixed: list[bool]) -> list[str]:
    """Unique names from ``bases``: names given in the CAD (``fixed``) are kept first, others get ``_2`` ...

    Deterministic: the i-th repeat of a base (in list order) is ``base_<i+1>``.
    """
    taken: set[str] = set()
    out = [""] * len(bases)
    for want_fixed in (True, False):
        for i, b in enumerate(bases):
            if fixed[i] != want_fixed:
                continue
            name, k = b, 1
            while name in taken:
                k += 1
                name = f"{b}_{k}"
            taken.add(name)
            out[i] = name
    return out


@dataclass
class _Node:
    raw: str  # node name in the scene graph
    T_cad_node: np.ndarray  # (4, 4)
    mesh: trimesh.Trimesh  # node frame
    gname: str


def _split_treeless(node: _Node) -> list[_Node]:
    """A STEP without an assembly tree (all solids in one shape): one node per body.

    Each body gets its own frame at its bottom centre (so that it is a part like any other), placed
    where it was; a single body, or one that cannot be split into closed shells, stays as it is.
    """
    bodies = split_bodies(node.mesh)
    if len(bodies) < 2:
        return [node]
    out = []
    for i, b in enumerate(bodies):
        lo, hi = b.bounds
        T_node_part = np.eye(4)
        T_node_part[:3, 3] = [(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, lo[2]]
        m = b.copy()
        m.apply_translation(-T_node_part[:3, 3])
        raw = f"{node.raw} (body {i + 1} of {len(bodies)})"
        out.append(_Node(raw, node.T_cad_node @ T_node_part, m, node.gname))
    return out


def _face_groups(nodes: list[_Node], tol_m: float) -> list[list[int]]:
    """Group the nodes that are pieces of one solid: open meshes sharing placed boundary vertices.

    Two placed open meshes belong together when at least two of their boundary vertices coincide
    (an edge, not a touching corner); a closed mesh always stays on its own.
    """
    pts, owner = [], []
    for i, nd in enumerate(nodes):
        b = boundary_points(nd.mesh)
        if len(b) == 0:
            continue
        pts.append(trimesh.transform_points(b, nd.T_cad_node))
        owner.append(np.full(len(b), i))
    n = len(nodes)
    if len(pts) < 2:
        return [[i] for i in range(n)]
    all_pts, own = np.vstack(pts), np.concatenate(owner)
    pairs = cKDTree(all_pts).query_pairs(tol_m, output_type="ndarray")
    pairs = pairs[own[pairs[:, 0]] != own[pairs[:, 1]]]
    if len(pairs) == 0:
        return [[i] for i in range(n)]
    a, b = np.minimum(own[pairs[:, 0]], own[pairs[:, 1]]), np.maximum(own[pairs[:, 0]], own[pairs[:, 1]])
    link, count = np.unique(a * n + b, return_counts=True)
    link = link[count >= 2]
    g = coo_matrix((np.ones(len(link)), (link // n, link % n)), shape=(n, n))
    _, label = connected_components(g, directed=False)
    groups: dict[int, list[int]] = {}
    for i, lab in enumerate(label):
        groups.setdefault(int(lab), []).append(i)
    out: list[list[int]] = []
    for g in groups.values():
        out += _split_by_shells(nodes, g) if len(g) > 1 else [g]
    return sorted(out)


def _split_by_shells(nodes: list[_Node], group: list[int]) -> list[list[int]]:
    """Split a group of face nodes into the solids they close (two per-face parts may touch).

    The placed faces are merged and split into shells body by body; each node goes with the shell most
    of its faces belong to.
    """
    placed = _placed_pieces(nodes, group)
    merged = _concatenate(placed)
    label = shell_labels(merged)
    starts = np.cumsum([0] + [len(m.faces) for m in placed])
    by_shell: dict[int, list[int]] = {}
    for k, i in enumerate(group):
        own = label[starts[k] : starts[k + 1]]
        values, counts = np.unique(own, return_counts=True)
        by_shell.setdefault(int(values[np.argmax(counts)]), []).append(i)
    return list(by_shell.values())


SUB_ASSEMBLY_CONTACT_M = 2e-4  # bodies of one bought-in unit touch within this (tessellation chords)


def natural_key(raw: str) -> tuple[tuple[tuple[int, int, str], ...], str]:
    """Sort key that orders ``NAUO2`` before ``NAUO10`` (numbers by value), ties by the raw string."""
    parts = tuple((0, int(t), "") if t.isdigit() else (1, 0, t.lower()) for t in re.split(r"(\d+)", raw) if t)
    return parts, raw


def _placed_pieces(nodes: list[_Node], group: list[int]) -> list[trimesh.Trimesh]:
    """Copies of the group's node meshes, each placed in the CAD frame."""
    pieces = []
    for i in group:
        m = nodes[i].mesh.copy()
        m.apply_transform(nodes[i].T_cad_node)
        pieces.append(m)
    return pieces


def _concatenate(pieces: list[trimesh.Trimesh]) -> trimesh.Trimesh:
    out = trimesh.util.concatenate(pieces)
    assert isinstance(out, trimesh.Trimesh)
    return out


def _placed(nodes: list[_Node], group: list[int]) -> trimesh.Trimesh:
    return _concatenate(_placed_pieces(nodes, group))


def _touching(a: trimesh.Trimesh, b: trimesh.Trimesh, tol_m: float) -> bool:
    """Whether two placed meshes touch or overlap (within ``tol_m``)."""
    lo = np.maximum(a.bounds[0], b.bounds[0])
    hi = np.minimum(a.bounds[1], b.bounds[1])
    if np.any(lo > hi + tol_m):
        return False
    for p, q in ((a, b), (b, a)):
        near = np.all((p.vertices >= lo - tol_m) & (p.vertices <= hi + tol_m), axis=1)
        pts = p.vertices[near]
        if len(pts) == 0:
            continue
        _, dist, _ = trimesh.proximity.closest_point(q, pts)
        if float(np.min(dist)) <= tol_m:
            return True
        if q.is_watertight and bool(np.any(q.contains(pts[:64]))):
            return True
    return False


def _sub_assembly_units(
    scene: trimesh.Scene, nodes: list[_Node], groups: list[list[int]], tol_m: float
) -> list[tuple[list[int], str | None]]:
    """Join the groups that are the unnamed bodies of one named sub-assembly (a bought-in unit).

    A sub-assembly is the parent node of a body when that parent is not an ancestor of every body (the
    product itself). Its bodies are joined when the sub-assembly has a useful name, every body in it has
    a generic one (``Body``, ``NAUO7``), there are two or more and they touch one another (one connected
    group). Returns (node indices, the sub-assembly's name or ``None``) per part, in the order of
    ``groups``.
    """
    chains = [_ancestors(scene, nd.raw) for nd in nodes]
    common = set(chains[0]).intersection(*chains[1:]) if chains else set()
    by_parent: dict[str, list[int]] = {}
    for k, g in enumerate(groups):
        parents = {chains[i][0] if chains[i] else "" for i in g}
        if len(parents) != 1:
            continue
        parent = parents.pop()
        if parent and parent not in common:
            by_parent.setdefault(parent, []).append(k)
    joined: dict[int, tuple[list[int], str]] = {}
    for parent, ks in by_parent.items():
        if len(ks) < 2 or is_generic_name(parent) or not sanitize_name(parent):
            continue
        if not all(is_generic_name(nodes[i].raw) for k in ks for i in groups[k]):
            continue
        meshes = [_placed(nodes, groups[k]) for k in ks]
        n = len(ks)
        rows, cols = [], []
        for a in range(n):
            for b in range(a + 1, n):
                if _touching(meshes[a], meshes[b], tol_m):
                    rows.append(a)
                    cols.append(b)
        g = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
        if connected_components(g, directed=False)[0] != 1:
            continue
        members = sorted(i for k in ks for i in groups[k])
        joined[ks[0]] = (members, parent)
        for k in ks[1:]:
            joined[k] = ([], parent)
    out: list[tuple[list[int], str | None]] = []
    for k, g in enumerate(groups):
        if k not in joined:
            out.append((g, None))
        elif joined[k][0]:
            out.append((joined[k][0], joined[k][1]))
    return out


def _group_name(scene: trimesh.Scene, members: list[_Node], file_stem: str) -> tuple[str, bool]:
    """Name of a part merged from several nodes: their common name prefix, else their common parent.

    Returns the name and whether it comes from the members' own names (not the parent or the file).
    """
    names = [sanitize_name(m.raw) for m in members]
    prefix = re.sub(r"[_.\-\d]+$", "", _common_prefix(names))
    prefix = re.sub(r"[_.-]*face$", "", prefix, flags=re.IGNORECASE)
    if len(prefix) >= 2 and not is_generic_name(prefix):
        return prefix, True
    chains = [_ancestors(scene, m.raw) for m in members]
    common = [a for a in chains[0] if all(a in c for c in chains[1:])]
    return _useful_name([*common, file_stem]), False


def _common_prefix(names: list[str]) -> str:
    lo, hi = min(names), max(names)
    k = 0
    while k < min(len(lo), len(hi)) and lo[k] == hi[k]:
        k += 1
    return lo[:k]


def _assembly_parts(variant_dir: Path, spec: VariantSpec, f: Path) -> list[PartGeometry]:
    """The parts of a STEP assembly with their placements in the CAD frame (``T_cad_part``)."""
    assert spec.assembly is not None
    path = variant_dir / spec.assembly
    read = _read_mesh_file(path, f, "assembly")
    scene = read if isinstance(read, trimesh.Scene) else trimesh.Scene([read])  # type: ignore[arg-type]
    nodes: list[_Node] = []
    for raw in sorted(scene.graph.nodes_geometry):
        T, gname = scene.graph[raw]
        geom = scene.geometry.get(gname)
        if not isinstance(geom, trimesh.Trimesh) or len(geom.faces) == 0:
            continue
        # cascadio converts the STEP's own unit to metres.
        nodes.append(_Node(str(raw), np.array(T, dtype=float), geom.copy(), str(gname)))
    if not nodes:
        raise ConfigError(f, "assembly", f"CAD file {path.name} is empty (no parts with faces)")
    if len(nodes) == 1:
        nodes = _split_treeless(nodes[0])
    size_m = max(float(np.max(n.mesh.extents)) for n in nodes)
    bases, fixed, members_of, cad_names = [], [], [], []
    groups = _face_groups(nodes, max(SEAM_TOL_M, 1e-6 * size_m))
    for group, unit in _sub_assembly_units(scene, nodes, groups, SUB_ASSEMBLY_CONTACT_M):
        members = [nodes[i] for i in group]
        if unit is not None:
            name, given = sanitize_name(unit), True
            cad_name = " + ".join(m.raw for m in members)
        elif len(members) == 1:
            nd = members[0]
            # A body split off a tree-less STEP is named like the shape that held it.
            raw = re.sub(r" \(body \d+ of \d+\)$", "", nd.raw)
            name = _useful_name([raw, nd.gname, *_ancestors(scene, raw), path.stem])
            given = not is_generic_name(raw)
            cad_name = nd.raw
        else:
            name, given = _group_name(scene, members, path.stem)
            cad_name = " + ".join(m.raw for m in members)
        bases.append(name)
        fixed.append(given)
        members_of.append(members)
        cad_names.append(cad_name)
    # Repeats are numbered in the CAD's natural order (NAUO2 before NAUO10); the list keeps its order.
    perm = sorted(range(len(bases)), key=lambda i: natural_key(cad_names[i]))
    by_perm = unique_names([bases[i] for i in perm], [fixed[i] for i in perm])
    names = [""] * len(bases)
    for i, name in zip(perm, by_perm, strict=True):
        names[i] = name
    overrides = spec.overrides()
    parts: list[PartGeometry] = []
    for name, members, cad_name in zip(names, members_of, cad_names, strict=True):
        T0 = members[0].T_cad_node
        if len(members) == 1:
            mesh = members[0].mesh
        else:
            # The merged part's frame is its first face's: the other faces are expressed in it.
            T0_inv = np.linalg.inv(T0)
            pieces = []
            for m in members:
                piece = m.mesh.copy()
                piece.apply_transform(T0_inv @ m.T_cad_node)
                pieces.append(piece)
            merged = trimesh.util.concatenate(pieces)
            assert isinstance(merged, trimesh.Trimesh)
            mesh = merged
        _check_size(mesh, name, "from the STEP file", f, "assembly")
        ov = overrides.get(name)
        parts.append(
            PartGeometry(
                name=name,
                cad=str(spec.assembly),
                mesh=mesh,
                density_kg_m3=(ov.density_kg_m3 if ov and ov.density_kg_m3 else spec.density_kg_m3),
                source=(ov.source if ov and ov.source else spec.feed),
                T_fixture_part=T0.copy(),
                yaml_key="assembly",
                cad_name=cad_name,
                T_cad_part=T0.copy(),
            )
        )
    for k in overrides:
        if k not in names:
            raise ConfigError(f, f"parts.{k}", f"no part named {k!r} in {path.name} (parts: {sorted(names)})")
    return parts


def _kit_parts(variant_dir: Path, spec: VariantSpec, f: Path) -> list[PartGeometry]:
    parts: list[PartGeometry] = []
    for i, kp in enumerate(spec.kit_parts()):
        path = variant_dir / kp.cad
        key = f"parts.{i}.cad"
        is_step = path.suffix.lower() in (".step", ".stp")
        if is_step and kp.units not in (None, "m"):
            raise ConfigError(f, f"parts.{i}.units", "STEP files carry their own unit; remove 'units'")
        mesh = _as_single_mesh(_read_mesh_file(path, f, key), path, f, key)
        unit = "m" if is_step else (kp.units or "mm")
        mesh.apply_scale(UNIT_SCALE_M[unit])
        _check_size(mesh, kp.name, unit, f, f"parts.{i}.units")
        targets = kp.targets()
        for j in range(kp.quantity):
            parts.append(
                PartGeometry(
                    name=kp.name if kp.quantity == 1 else f"{kp.name}_{j + 1}",
                    cad=str(kp.cad),
                    mesh=mesh.copy(),
                    density_kg_m3=kp.density_kg_m3 or spec.density_kg_m3,
                    source=kp.source,
                    target=targets[j],
                    yaml_key=f"parts.{i}",
                    cad_name=kp.name,
                )
            )
    return parts


def import_variant(variant_dir: Path | str, spec: VariantSpec, stroke_m: float) -> ImportedVariant:
    """Import every part instance of a variant (metres), repaired, checked and with mass properties.

    For an assembly, the build frame stands the product on the fixture and every part's
    ``T_fixture_part`` is ``T_fixture_cad @ T_cad_part``.
    """
    variant_dir = Path(variant_dir)
    f = variant_file(variant_dir)
    parts = _assembly_parts(variant_dir, spec, f) if spec.assembly is not None else []
    parts += _kit_parts(variant_dir, spec, f)
    for p in parts:
        repair_and_check(p, stroke_m)
    build = None
    placed = {}
    for p in parts:
        if p.T_cad_part is not None:
            m = p.mesh.copy()
            m.apply_transform(p.T_cad_part)
            placed[p.name] = m
    if placed:
        try:
            build = choose_build_frame(placed, spec.build_up, spec.build_rpy_deg)
        except ValueError as e:
            raise ConfigError(f, "assembly", f"cannot stand the product on the fixture: {e}") from None
        for p in parts:
            if p.T_cad_part is not None:
                p.T_fixture_part = build.T_fixture_cad @ p.T_cad_part
    return ImportedVariant(parts, build)


def import_parts(variant_dir: Path | str, spec: VariantSpec, stroke_m: float) -> list[PartGeometry]:
    """Import every part instance of a variant (see :func:`import_variant`); the parts only."""
    return import_variant(variant_dir, spec, stroke_m).parts
