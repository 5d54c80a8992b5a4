"""CAD import: STEP assemblies and STEP/STL/OBJ parts into metre meshes with placements and checks.

A STEP assembly gives one :class:`PartGeometry` per placed part (node of the assembly tree, so a
repeated part appears once per placement); its placement in the assembly is its target pose in the
fixture frame. Kit parts give ``quantity`` instances each. Files that cannot be read, are empty or
have an absurd size for their stated units raise :class:`ConfigError` (bad input); parts that are
read fine but cannot be handled (open mesh, too wide for the gripper) carry an ``issue`` instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import trimesh

from cell_config import ConfigError, PoseSpec
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
    """Merge vertices, repair small holes, compute mass properties; set ``issue`` if the part is unusable."""
    m = part.mesh
    m.merge_vertices()
    m.remove_unreferenced_vertices()
    if not m.is_watertight:
        trimesh.repair.fill_holes(m)
        trimesh.repair.fix_normals(m)
    if not m.is_watertight:
        open_edges = len(trimesh.grouping.group_rows(m.edges_sorted, require_count=1))
        part.issue = f"mesh is not watertight and could not be repaired ({open_edges} open edges)"
        return
    if m.volume < 0:
        m.invert()
    if m.volume <= 1e-12:
        part.issue = "mesh encloses no volume"
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


def import_parts(variant_dir: Path, spec: VariantSpec, stroke_m: float) -> list[PartGeometry]:
    """Import every part instance of a variant (metres), checked and with mass properties."""
    f = variant_file(variant_dir)
    parts: list[PartGeometry] = []
    if spec.assembly is not None:
        path = variant_dir / spec.assembly
        read = _read_mesh_file(path, f, "assembly")
        loaded = read if isinstance(read, trimesh.Scene) else trimesh.Scene([read])  # type: ignore[arg-type]
        overrides = spec.overrides()
        names: list[str] = []
        for raw_node in sorted(loaded.graph.nodes_geometry):
            T, gname = loaded.graph[raw_node]
            # Node names become file names and task ids: keep them to a safe alphabet.
            node = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(raw_node)).strip("_") or "part"
            while node in names:
                node += "_"
            geom = loaded.geometry[gname]
            if not isinstance(geom, trimesh.Trimesh) or len(geom.faces) == 0:
                continue
            mesh = geom.copy()  # cascadio converts the STEP's own unit to metres
            T = np.array(T, dtype=float)
            ov = overrides.get(node)
            _check_size(mesh, node, "from the STEP file", f, "assembly")
            parts.append(
                PartGeometry(
                    name=node,
                    cad=str(spec.assembly),
                    mesh=mesh,
                    density_kg_m3=(ov.density_kg_m3 if ov and ov.density_kg_m3 else spec.density_kg_m3),
                    source=(ov.source if ov and ov.source else spec.feed),
                    T_fixture_part=T,
                    yaml_key="assembly",
                )
            )
            names.append(node)
        if not parts:
            raise ConfigError(f, "assembly", f"CAD file {path.name} is empty (no parts with faces)")
        for k in overrides:
            if k not in names:
                raise ConfigError(f, f"parts.{k}", f"no part named {k!r} in {path.name} (parts: {names})")
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
                )
            )
    for p in parts:
        repair_and_check(p, stroke_m)
    return parts
