"""Loading sheet of the feeders: what the operator lays where before a run (markdown table and picture).

``feeder_sheet.md`` lists every position with its part, the face that points up and how the part is
turned; parts that fit no feeding station are listed as "hand to the cell". ``feeder_sheet.png`` is a
top-down view of each feeding station used, in its own frame (x to the right, y up, millimetres), with
every footprint filled and labelled, and an arrow towards the robot so that the sheet can be held the
right way round. Drawn with matplotlib's Agg backend (headless).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import trimesh
from matplotlib.patches import Polygon, Rectangle

from cell_config import Cell
from workflow_gen.feeding import FEEDING_TYPES, FeederLayout, FeedPlacement, part_outline_xy

# Picture width: 10 in at 100 dpi, about what a screen or an A4 print shows at a glance.
_FIG_WIDTH_IN = 10.0
_DPI = 100
_AXES = ("X", "Y", "Z")
_LABEL_BOX = {"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.7}


def face_up_text(T_world_part: np.ndarray) -> str:
    """Which side of the part points up: ``"+Z face up"``, or the up direction in the part frame when no
    part axis is within ~18 deg of vertical (a part resting on an edge or a chamfer)."""
    up_in_part = T_world_part[:3, :3].T @ np.array([0.0, 0.0, 1.0])
    k = int(np.argmax(np.abs(up_in_part)))
    if abs(up_in_part[k]) > 0.95:
        return f"{'+' if up_in_part[k] > 0 else '-'}{_AXES[k]} face up"
    x, y, z = up_in_part
    level = [_AXES[i] for i in range(3) if abs(up_in_part[i]) < 0.15]
    # A rod or a bolt lies on its side: which axis is level tells the operator more than the up vector.
    side = f"on its side, part {' and '.join(level)} axis level, " if len(level) == 1 else ""
    return f"{side}part direction ({x:+.2f}, {y:+.2f}, {z:+.2f}) up"


def _outline_station(p: FeedPlacement, mesh: trimesh.Trimesh, cell: Cell) -> np.ndarray:
    """``(m, 2)`` footprint of the placed part in its station frame (m)."""
    T_station_part = np.linalg.inv(cell.T_world_station(p.station)) @ p.T_world_part
    return part_outline_xy(mesh, T_station_part)


def turned_text(p: FeedPlacement, outline_xy: np.ndarray) -> str:
    """``"turned +90 deg, long side along tray x"`` (the turn is about the vertical, from the resting pose)."""
    extent = np.ptp(outline_xy, axis=0)
    if abs(extent[0] - extent[1]) < 1e-3:
        along = "square footprint"
    else:
        along = f"long side along tray {'x' if extent[0] > extent[1] else 'y'}"
    return f"turned {p.yaw_deg:+.0f} deg, {along}"


def write_loading_sheet(
    out_dir: Path,
    layout: FeederLayout,
    meshes: dict[str, trimesh.Trimesh],
    cell: Cell,
    face_up: dict[str, str] | None = None,
) -> list[Path]:
    """Write ``feeder_sheet.md`` and ``feeder_sheet.png`` into ``out_dir``.

    Parameters
    ----------
    out_dir : output directory (created when missing)
    layout : the feeder layout of :func:`workflow_gen.feeding.layout_feed`
    meshes : part name -> mesh in the part frame (m), for every placed part
    cell : the cell the layout was made for
    face_up : part name -> description of the face up (e.g. "holes up"); default from the pose

    Returns
    -------
    list[Path] : the markdown file and the picture
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    outlines = {n: _outline_station(p, meshes[n], cell) for n, p in layout.placed.items()}
    md = out_dir / "feeder_sheet.md"
    md.write_text(_markdown(layout, outlines, face_up or {}))
    png = out_dir / "feeder_sheet.png"
    _picture(png, layout, outlines, meshes, cell)
    return [md, png]


def _markdown(layout: FeederLayout, outlines: dict[str, np.ndarray], face_up: dict[str, str]) -> str:
    lines = ["# Feeder loading sheet", ""]
    if layout.placed:
        lines += [
            f"Lay {len(layout.placed)} part{'s' * (len(layout.placed) != 1)} on "
            f"{', '.join(layout.stations_used)} as below (positions as in feeder_sheet.png).",
            "",
            "| Position | Part | Face up | Turned | Footprint (mm) |",
            "|---|---|---|---|---|",
        ]
        for name, p in sorted(layout.placed.items(), key=lambda kv: _label_order(kv[1].label)):
            up = face_up.get(name) or face_up_text(p.T_world_part)
            length_mm, width_mm = p.footprint_m * 1000
            lines.append(
                f"| {p.label} | {name} | {up} | {turned_text(p, outlines[name])} | "
                f"{length_mm:.0f} x {width_mm:.0f} |"
            )
    else:
        lines.append("No part is fed from the feeding stations.")
    if layout.overflow:
        lines += ["", "Parts that fit on no feeding station:", ""]
        lines += [f"- hand to the cell: {name} ({why})" for name, why in layout.overflow.items()]
    return "\n".join(lines) + "\n"


def _label_order(label: str) -> tuple[str, int, int]:
    """Sort key of a position label: station, then group, then number (``P10`` after ``P9``)."""
    station, _, pos = label.partition("/")
    digits = [int("".join(c for c in part if c.isdigit()) or 0) for part in pos.split("#")]
    return station, digits[0], digits[1] if len(digits) > 1 else 0


def _picture(
    path: Path,
    layout: FeederLayout,
    outlines: dict[str, np.ndarray],
    meshes: dict[str, trimesh.Trimesh],
    cell: Cell,
) -> None:
    shown = list(layout.stations_used) or [s.name for s in cell.spec.stations if s.type in FEEDING_TYPES]
    pad_m = 0.03  # room around each tray for the robot arrow
    specs = [cell.station(n) for n in shown]
    widths = [s.size_m[0] + 2 * pad_m for s in specs]
    heights = [s.size_m[1] + 2 * pad_m for s in specs]
    # Trays side by side at one scale (so that a nut looks like a nut next to the plate), equal aspect.
    scale_in_per_m = 0.92 * _FIG_WIDTH_IN / max(sum(widths), 1e-6)
    fig_h_in = float(np.clip(max(heights) * scale_in_per_m + 1.3, 3.0, 14.0))
    fig, axes = plt.subplots(
        1, len(shown), figsize=(_FIG_WIDTH_IN, fig_h_in), dpi=_DPI, gridspec_kw={"width_ratios": widths}
    )
    axes = np.atleast_1d(axes)
    groups: dict[tuple[int, ...], int] = {}
    colors = [plt.get_cmap("tab10")(i) for i in range(10)]
    for ax, st in zip(axes, specs, strict=True):
        sx_m, sy_m = st.size_m[0], st.size_m[1]
        ax.add_patch(Rectangle((-sx_m / 2, -sy_m / 2), sx_m, sy_m, fc="#eeeeee", ec="k", lw=1.2))
        if st.feed_area_m is not None:
            ax_m, ay_m = st.feed_area_m
            ax.add_patch(Rectangle((-ax_m / 2, -ay_m / 2), ax_m, ay_m, fill=False, ec="0.4", ls="--", lw=0.8))
        for name, p in layout.placed.items():
            if p.station != st.name:
                continue
            poly = outlines[name]
            # Identical parts share a colour: the operator sees the row of nuts as one lot.
            m = meshes[name]
            key = (*np.round(p.footprint_m * 1e4).astype(int), len(m.vertices), round(float(m.volume) * 1e9))
            c = colors[groups.setdefault(key, len(groups)) % len(colors)]
            ax.add_patch(Polygon(poly, closed=True, fc=c, ec="k", lw=0.8, alpha=0.75))
            cx, cy = poly.mean(axis=0)
            text = f"{p.label.partition('/')[2]}\n{name}"
            if min(np.ptp(poly, axis=0)) > 0.025:
                ax.text(cx, cy, text, ha="center", va="center", fontsize=7, bbox=_LABEL_BOX)
            else:  # a nut or a bolt: the label above it, so that the outline stays visible
                top = float(poly[:, 1].max())
                ax.text(cx, top + 0.001, text, ha="center", va="bottom", fontsize=6, linespacing=0.9)
        _robot_arrow(ax, cell, st.name, sx_m, sy_m, pad_m)
        ax.set_xlim(-sx_m / 2 - pad_m, sx_m / 2 + pad_m)
        ax.set_ylim(-sy_m / 2 - pad_m, sy_m / 2 + pad_m)
        ax.set_aspect("equal")
        ticks_x = np.linspace(-sx_m / 2, sx_m / 2, 3)
        ticks_y = np.linspace(-sy_m / 2, sy_m / 2, 3)
        ax.set_xticks(ticks_x, [f"{t * 1000:.0f}" for t in ticks_x], fontsize=7)
        ax.set_yticks(ticks_y, [f"{t * 1000:.0f}" for t in ticks_y], fontsize=7)
        ax.set_xlabel("station x (mm)", fontsize=8)
        ax.set_ylabel("station y (mm)", fontsize=8)
        n = sum(1 for p in layout.placed.values() if p.station == st.name)
        ax.set_title(f"{st.name} ({st.type.replace('_', ' ')}, {n} parts)", fontsize=9)
    if layout.overflow:
        fig.text(
            0.01, 0.01, "hand to the cell: " + ", ".join(layout.overflow), fontsize=8, color="#b00000",
            wrap=True,
        )  # fmt: skip
    fig.subplots_adjust(left=0.06, right=0.99, top=0.93, bottom=0.12, wspace=0.25)
    fig.savefig(path, dpi=_DPI)
    plt.close(fig)


def _robot_arrow(ax: plt.Axes, cell: Cell, station: str, sx_m: float, sy_m: float, pad_m: float) -> None:
    """An arrow at the tray edge pointing towards the robot base, so the sheet is read the right way round."""
    base = np.linalg.inv(cell.T_world_station(station)) @ cell.T_world_base[:, 3]
    d = base[:2] / max(float(np.linalg.norm(base[:2])), 1e-9)
    # Where the ray from the centre towards the robot leaves the padded tray.
    half = np.array([sx_m / 2 + pad_m * 0.6, sy_m / 2 + pad_m * 0.6])
    t = float(np.min(half / np.maximum(np.abs(d), 1e-9)))
    tip = d * t
    ax.annotate(
        "robot", xy=tip, xytext=tip - d * 0.8 * pad_m, fontsize=8, color="#1f4e9a", ha="center", va="center",
        fontweight="bold", arrowprops={"arrowstyle": "-|>", "color": "#1f4e9a", "lw": 1.5},
    )  # fmt: skip
