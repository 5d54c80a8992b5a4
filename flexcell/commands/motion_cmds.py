"""CLI commands of the motion area: ``flexcell export moveit`` and ``flexcell bench motion``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.console import Console

from cell_config import load_cell

out = Console()


def register(app: typer.Typer, bench_app: typer.Typer, export_app: typer.Typer) -> None:
    """Add ``export moveit`` and ``bench motion``."""

    @export_app.command("moveit")
    def export_moveit(
        cell_file: Path | None = typer.Option(None, "--cell", help="cell YAML (default: the UR5e cell)"),
        out_dir: Path | None = typer.Option(
            None, "--out", help="output dir (default build/<cell>/moveit_config)"
        ),
    ) -> None:
        """Write the MoveIt 2 (Jazzy) config of a cell: SRDF, kinematics, joint limits, OMPL, controllers."""
        from motion.moveit_config import write_moveit_config

        cell = load_cell(cell_file)  # ConfigError -> one line, exit 2 (cli.main)
        dest = write_moveit_config(cell, out_dir)
        out.print(f"MoveIt config of {cell.name} written to {dest}", highlight=False)

    @bench_app.command("motion")
    def bench_motion(
        quick: bool = typer.Option(False, "--quick", help="few problems, no peer (< 1 min)"),
        json_out: bool = typer.Option(False, "--json", help="print JSON only"),
        no_peer: bool = typer.Option(False, "--no-peer", help="skip the mplib peer"),
        out_file: Path = typer.Option(
            Path("build/bench/motion.json"), "--out", help="where the JSON is kept"
        ),
    ) -> None:
        """Planner benchmark: random and shelf/bin problems on the UR5e and Panda cells, vs mplib."""
        repo = Path(__file__).resolve().parents[2]
        sys.path.insert(0, str(repo / "benchmarks"))
        import motion_bench

        report = motion_bench.run(
            quick=quick, peer=not (quick or no_peer), log=None if json_out else out.print
        )
        out_file.parent.mkdir(parents=True, exist_ok=True)
        out_file.write_text(json.dumps(report, indent=2))
        if json_out:
            print(json.dumps(report, indent=2))
        else:
            print(motion_bench.table(report))
