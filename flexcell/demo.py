"""``flexcell demo``: the main job on the embedded defaults, end to end.

1. load and show the default cell;
2. plan the example variant from its CAD (workflow generator + embedded OMPL planner);
3. prove it in MuJoCo physics, with a storyboard picture and a video;
4. bring up the ROS 2 runtime (real rclpy + Fast DDS) and round-trip the cell status.
"""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from cell_config import load_cell
from flexcell.commands.cell import cell_table

REPO = Path(__file__).resolve().parents[1]
DEFAULT_VARIANT = REPO / "cad_parts" / "bracket_assembly"


def run_demo(
    cell_path: Path | None, console: Console, variant: Path | None = None, out: Path | None = None
) -> int:
    """Run the demo; returns the process exit code (0 when the variant was planned and every task passed)."""
    from sim.validation_run import validate_to_dir
    from workflow_gen.pipeline import plan_variant

    cell = load_cell(cell_path)
    console.print(cell_table(cell))
    vdir = (variant or DEFAULT_VARIANT).resolve()
    out_dir = (out or REPO / "build" / "demo" / vdir.name).resolve()

    t0 = time.perf_counter()
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]plan {task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        task = bar.add_task(vdir.name, total=None)
        outcome = plan_variant(
            vdir, cell, out_dir, progress=lambda stage, item: bar.update(task, description=f"{stage}: {item}")
        )
    wf = outcome.workflow
    plan_s = time.perf_counter() - t0
    console.print(
        f"[bold]planned[/] {wf.variant}: {len(wf.tasks)} tasks, {len(wf.infeasible)} infeasible, "
        f"estimated cycle {wf.cycle_time_s:.1f} s, planned in {plan_s:.1f} s -> {out_dir / 'workflow.yaml'}",
        highlight=False,
    )
    for inf in wf.infeasible:
        console.print(f"  [yellow]infeasible[/] {inf.part}: {inf.reason}", highlight=False)

    with console.status("simulating in MuJoCo physics ..."):
        result, report, _json_path = validate_to_dir(out_dir / "workflow.yaml", out_dir)
    pictures = report.get("pictures", [])
    assert isinstance(pictures, list)

    t = Table(title=f"MuJoCo validation of {result.variant}", title_justify="left")
    for c in ("task", "part", "placed mm", "placed deg", "slip mm", "result"):
        t.add_column(c)
    for tr in result.tasks:
        t.add_row(
            tr.task,
            tr.part,
            f"{tr.placement_error_mm:.2f}",
            f"{tr.placement_error_deg:.2f}",
            f"{tr.max_slip_mm:.2f}",
            "[green]PASS[/]" if tr.passed else f"[red]FAIL[/] {'; '.join(tr.failures)}",
        )
    console.print(t)
    console.print(
        f"{result.tasks_line()}, simulated cycle {result.cycle_time_s:.1f} s, "
        f"{result.sim_real_time_factor:.0f}x real time",
        highlight=False,
    )
    console.print(f"pictures: {', '.join(pictures)}", highlight=False)
    if report.get("recording"):
        console.print(f"3D recording (open in Foxglove): {report['recording']}", highlight=False)

    try:
        from flexcell_ros.runtime import runtime_check
    except ImportError as e:  # the core works without ROS; say so plainly
        console.print(f"[yellow]ROS 2 runtime not available ({e}); skipped[/]")
    else:
        rep = runtime_check(cell.name)
        console.print(
            f"ROS 2 {rep['distro']} runtime up: rmw {rep['rmw']}, node {rep['node']}, "
            f"/cell/status round trip {rep['roundtrip_ms']:.1f} ms",
            highlight=False,
        )
    return 0 if result.passed else 1
