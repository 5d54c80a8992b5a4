"""The planning report: one picture per part with its chosen grasp, a storyboard, and report.md.

Pictures are drawn with matplotlib's Agg backend (headless, no GPU): the part mesh as shaded
triangles and the finger/palm boxes of the chosen grasp at the contact width.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import trimesh
from matplotlib.collections import PolyCollection
from mpl_toolkits.mplot3d import Axes3D
from mpl_toolkits.mplot3d.art3d import Poly3DCollection

from workflow_gen.grasps import GripperGeometry

if TYPE_CHECKING:
    from workflow_gen.pipeline import PlanOutcome

_BOX_FACES = np.array([[0, 1, 3, 2], [4, 5, 7, 6], [0, 1, 5, 4], [2, 3, 7, 6], [0, 2, 6, 4], [1, 3, 7, 5]])


def _box_quads(lo: np.ndarray, hi: np.ndarray, T: np.ndarray) -> np.ndarray:
    idx = np.array(np.meshgrid([0, 1], [0, 1], [0, 1], indexing="ij")).reshape(3, -1).T
    corners = np.where(idx == 0, lo, hi)
    return trimesh.transform_points(corners, T)[_BOX_FACES]


def _shade(mesh: trimesh.Trimesh, rgb: tuple[float, float, float]) -> np.ndarray:
    light = np.array([0.3, -0.5, 0.8])
    k = 0.45 + 0.55 * np.clip(mesh.face_normals @ (light / np.linalg.norm(light)), 0, 1)
    return np.clip(np.outer(k, rgb), 0, 1)


def part_picture(
    path: Path,
    mesh_world: trimesh.Trimesh,
    T_world_tcp: np.ndarray | None,
    gripper: GripperGeometry | None,
    width_m: float,
    title: str,
) -> None:
    """3D view of the part resting in the feeder with the fingers and palm of the grasp (closed).

    Without a grasp (``T_world_tcp`` None: an operator task) the part is drawn alone, with the world x/y axes.
    """
    fig = plt.figure(figsize=(4.2, 4.0), dpi=80)
    ax = fig.add_subplot(projection="3d")
    ax.add_collection3d(
        Poly3DCollection(mesh_world.triangles, facecolors=_shade(mesh_world, (0.55, 0.6, 0.7)), linewidths=0)
    )
    if T_world_tcp is None or gripper is None:
        _axes_picture(ax, mesh_world)
        ax.set_title(title, fontsize=8)
        fig.savefig(path)
        plt.close(fig)
        return
    colors = ["#d95f02", "#d95f02", "#7570b3"]
    for (lo, hi), c in zip(gripper.boxes(width_m), colors, strict=True):
        if c == "#7570b3":
            hi = hi.copy()
            lo = lo.copy()
            lo[2] = hi[2] - 0.02  # only the palm's front: the rest would hide the part
        ax.add_collection3d(
            Poly3DCollection(
                _box_quads(lo, hi, T_world_tcp), facecolors=c, alpha=0.35, edgecolors="k", linewidths=0.3
            )
        )
    pts = np.vstack([mesh_world.vertices, T_world_tcp[:3, 3][None]])
    c, r = pts.mean(axis=0), max(float(np.ptp(pts, axis=0).max()) * 0.75, 0.03)
    ax.set_xlim(c[0] - r, c[0] + r)
    ax.set_ylim(c[1] - r, c[1] + r)
    ax.set_zlim(c[2] - r, c[2] + r)
    ax.set_box_aspect((1, 1, 1))
    ax.view_init(elev=25, azim=-60)
    ax.set_title(title, fontsize=8)
    ax.tick_params(labelsize=5)
    fig.savefig(path)
    plt.close(fig)


def _axes_picture(ax: Axes3D, mesh_world: trimesh.Trimesh) -> None:
    """Frame a part alone and draw arrows along world x (red) and y (green) in a corner of the view."""
    lo, hi = mesh_world.bounds
    c, r = (lo + hi) / 2, float(np.max(hi - lo)) * 0.75
    arrow = r * 0.6
    o = np.array([c[0] - 0.95 * r, c[1] - 0.95 * r, lo[2]])  # a corner of the view, clear of the part
    for d, col, name in (((1.0, 0.0, 0.0), "#d62728", "x"), ((0.0, 1.0, 0.0), "#2ca02c", "y")):
        ax.quiver(o[0], o[1], o[2], *(np.array(d) * arrow), color=col, linewidth=1.5)
        tip = o + np.array(d) * arrow * 1.1
        ax.text(tip[0], tip[1], tip[2], name, color=col, fontsize=8)
    ax.set_xlim(c[0] - r, c[0] + r)
    ax.set_ylim(c[1] - r, c[1] + r)
    ax.set_zlim(c[2] - r, c[2] + r)
    ax.set_box_aspect((1, 1, 1))
    ax.view_init(elev=30, azim=-60)
    ax.tick_params(labelsize=5)


def storyboard(path: Path, outcome: PlanOutcome) -> None:
    """Top and side views after each task: placed parts grey, the task's part orange (operator's: blue)."""
    wf = outcome.workflow
    tasks = wf.tasks
    meshes = {p.name: p.geom.mesh for p in outcome.parts}
    n = max(1, len(tasks))
    cols = min(n, 5)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows * 2, cols, figsize=(2.4 * cols, 4.4 * rows), dpi=80, squeeze=False)
    placed: list[tuple[str, np.ndarray]] = []
    # Frame every panel on the bounds of all placed parts, so that all panels share one scale.
    lo, hi = np.full(3, np.inf), np.full(3, -np.inf)
    for t in tasks:
        m = meshes[t.part].copy()
        m.apply_transform(t.T_world_part_place.matrix())
        lo, hi = np.minimum(lo, m.bounds[0]), np.maximum(hi, m.bounds[1])
    if not tasks:
        lo, hi = np.zeros(3), np.full(3, 0.1)
    c = (lo + hi) / 2
    r = float(max(hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2] + 0.02)) / 2 + 0.01
    z_lo = float(lo[2]) - 0.01
    for k in range(rows * cols):
        top, side = axes[2 * (k // cols), k % cols], axes[2 * (k // cols) + 1, k % cols]
        for ax in (top, side):
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_aspect("equal")
        if k >= len(tasks):
            top.axis("off")
            side.axis("off")
            continue
        t = tasks[k]
        placed.append((t.part, t.T_world_part_place.matrix()))
        for name, T in placed:
            m = meshes[name].copy()
            m.apply_transform(T)
            col = ("#3182bd" if t.actor == "operator" else "#e6550d") if name == t.part else "#9e9e9e"
            top.add_collection(
                PolyCollection(m.triangles[:, :, :2], facecolors=col, edgecolors="none", alpha=0.8)
            )
            side.add_collection(
                PolyCollection(m.triangles[:, :, [0, 2]], facecolors=col, edgecolors="none", alpha=0.8)
            )
        top.set_xlim(c[0] - r, c[0] + r)
        top.set_ylim(c[1] - r, c[1] + r)
        side.set_xlim(c[0] - r, c[0] + r)
        side.set_ylim(z_lo, z_lo + 2 * r)
        top.set_title(f"{k + 1}. {t.part}" + (" (operator)" if t.actor == "operator" else ""), fontsize=8)
        side.set_xlabel("side view", fontsize=6)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_report(out: Path, outcome: PlanOutcome) -> None:
    """report/<part>.png per planned part, report/storyboard.png and report.md into ``out``."""
    rep = out / "report"
    rep.mkdir(parents=True, exist_ok=True)
    wf = outcome.workflow
    by = {p.name: p for p in outcome.parts}
    gripper = None
    for t in wf.tasks:
        pp = by[t.part]
        if t.actor == "operator":
            from workflow_gen.operator_tasks import size_mm

            T_world_part = t.T_world_part_place.matrix()
            m = pp.geom.mesh.copy()
            m.apply_transform(T_world_part)
            length, width, height = size_mm(pp.geom.mesh, T_world_part)
            part_picture(
                rep / f"{t.part}.png",
                m,
                None,
                None,
                0.0,
                f"{t.part} (operator) as placed at {t.target}\n{length:.0f} x {width:.0f} x {height:.0f} mm",
            )
            continue
        if gripper is None:
            from cell_config import load_cell

            gripper = GripperGeometry.from_spec(load_cell(wf.cell).spec.gripper)
        assert t.grasp is not None
        T_world_part = t.T_world_part_pick.matrix()
        m = pp.geom.mesh.copy()
        m.apply_transform(T_world_part)
        part_picture(
            rep / f"{t.part}.png",
            m,
            T_world_part @ t.grasp.T_part_tcp.matrix(),
            gripper,
            t.grasp.contact_width_m,
            f"{t.part}: grasp {t.grasp.id.split('/')[-1]}, width {t.grasp.contact_width_m * 1000:.1f} mm",
        )
    storyboard(rep / "storyboard.png", outcome)
    s = outcome.summary()
    lines = [
        f"# Workflow report: {wf.variant} ({wf.kind})",
        "",
        f"- cell: `{Path(wf.cell).name}`, created {wf.created_utc}, seed {wf.seed}",
        f"- parts: {s['parts_total']} total, {s['parts_planned']} planned for the robot, "
        f"{s['operator_tasks']} for the operator, {len(wf.infeasible)} infeasible for the robot",
        f"- estimated cycle time: {wf.cycle_time_s:.1f} s; planning time: {wf.plan_time_s:.1f} s",
        "- stage times: " + ", ".join(f"{k} {v:.2f} s" for k, v in outcome.timings_s.items()),
        "",
        "![storyboard](report/storyboard.png)",
        "",
        "| # | part | from | to | grasp width mm | grasps found / usable | time s |",
        "|---|---|---|---|---|---|---|",
    ]
    for i, t in enumerate(wf.tasks, 1):
        pp = by[t.part]
        if t.actor == "operator":
            lines.append(f"| {i} | {t.part} | {t.source} | {t.target} | operator | - | {t.duration_s:.1f} |")
            continue
        assert t.grasp is not None
        n_all = len(pp.ctx.grasps) if pp.ctx.grasps is not None else 0
        n_use = len(pp.usable) if pp.usable is not None else 0
        lines.append(
            f"| {i} | {t.part} | {t.source} | {t.target} | {t.grasp.contact_width_m * 1000:.1f} | "
            f"{n_all} / {n_use} | {t.duration_s:.1f} |"
        )
    operator = [t for t in wf.tasks if t.actor == "operator"]
    if operator:
        lines += ["", "## Operator tasks", ""]
        for t in operator:
            lines += [
                f"### {t.id}: {t.part} (about {t.duration_s:.0f} s)",
                "",
                f"![{t.part}]({t.pictures[0]})",
                "",
            ]
            lines += [f"{k}. {step}" for k, step in enumerate(t.instructions, 1)]
            lines.append("")
    if wf.infeasible:
        lines += ["", "## Parts the robot cannot handle", ""]
        lines += [f"- **{i.part}**: {i.reason}" for i in wf.infeasible]
    lines += ["", "## Parts", ""]
    for p in outcome.parts:
        if p.geom.mass_kg > 0:
            lines.append(
                f"- {p.name}: {p.geom.mass_kg * 1000:.0f} g, symmetry {p.ctx.symmetry}, "
                + (
                    f"rests with probability {p.ctx.resting_probability:.2f}"
                    if p.ctx.T_world_start is not None
                    else "not laid out"
                )
                + (f"; ![{p.name}](report/{p.name}.png)" if any(t.part == p.name for t in wf.tasks) else "")
            )
    (out / "report.md").write_text("\n".join(lines) + "\n")
