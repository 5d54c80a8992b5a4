"""Cell commands and the demo: ``flexcell cell show|check``, ``flexcell demo``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from cell_config import Cell, load_cell

console = Console()


def cell_table(cell: Cell) -> Table:
    """A rich table describing a cell: robot, gripper, stations, obstacles."""
    s = cell.spec
    t = Table(title=f"cell {s.name}: {s.description}", show_lines=False, title_justify="left")
    t.add_column("item")
    t.add_column("kind")
    t.add_column("details")
    lim = ", ".join(f"{np.degrees(x.lower):.0f}..{np.degrees(x.upper):.0f}" for x in cell.limits)
    t.add_row(
        s.robot.name, "robot", f"{len(cell.joint_names)} joints, ranges deg [{lim}]; {cell.urdf_path.name}"
    )
    g = s.gripper
    t.add_row(
        g.name,
        "gripper",
        f"stroke {g.stroke_m * 1000:.0f} mm, force {g.force_n:.0f} N, TCP {g.tcp_z_m * 1000:.0f} mm",
    )
    for st in s.stations:
        p = cell.T_world_station(st.name)[:3, 3]
        slots = st.slot_poses()
        t.add_row(st.name, st.type, f"at ({p[0]:.2f}, {p[1]:.2f}, {p[2]:.2f}) m, {len(slots)} slots")
    for o in s.obstacles:
        t.add_row(o.name, f"obstacle ({o.shape})", f"at {tuple(round(v, 2) for v in o.pose.xyz_m)} m")
    if s.camera:
        t.add_row(
            s.camera.name,
            "camera",
            f"{s.camera.width_px}x{s.camera.height_px}, fov {s.camera.fov_deg:.0f} deg",
        )
    return t


def register(app: typer.Typer, bench_app: typer.Typer, export_app: typer.Typer) -> None:
    cell_app = typer.Typer(help="Inspect and check cell descriptions.", no_args_is_help=True)
    app.add_typer(cell_app, name="cell")

    @cell_app.command("show")
    def show(path: Path | None = typer.Argument(None, help="cell YAML (default: the UR5e cell)")) -> None:
        """Load a cell and print what it holds."""
        console.print(cell_table(load_cell(path)))

    @cell_app.command("check")
    def check(paths: list[Path] = typer.Argument(..., help="cell YAML files")) -> None:
        """Validate cell files; exit 2 with one line naming file and key on the first bad one."""
        for p in paths:
            c = load_cell(p)
            console.print(f"[green]ok[/] {p} ({c.name}, {len(c.joint_names)} joints)")

    @app.command("demo")
    def demo(
        cell_path: Path | None = typer.Option(None, "--cell", help="cell YAML (default: the UR5e cell)"),
        variant: Path | None = typer.Option(
            None, "--variant", help="variant directory (default: bracket_assembly)"
        ),
        out: Path | None = typer.Option(
            None, "--out", help="output directory (default build/demo/<variant>)"
        ),
    ) -> None:
        """The main job on the embedded defaults: plan a variant, prove it in physics, bring up ROS 2."""
        from flexcell.demo import run_demo

        raise typer.Exit(run_demo(cell_path, console, variant, out))
