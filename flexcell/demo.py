"""``flexcell demo``: the main job on the embedded defaults, end to end as far as the product goes."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from cell_config import load_cell
from flexcell.commands.cell import cell_table


def run_demo(cell_path: Path | None, console: Console) -> int:
    """Load and show the cell, then bring up the ROS 2 runtime and round-trip a status message."""
    cell = load_cell(cell_path)
    console.print(cell_table(cell))
    try:
        from flexcell_ros.runtime import runtime_check
    except ImportError as e:  # the core works without ROS; say so plainly
        console.print(f"[yellow]ROS 2 runtime not available ({e}); skipped[/]")
        return 0
    report = runtime_check(cell.name)
    console.print(
        f"ROS 2 {report['distro']} runtime up: rmw {report['rmw']}, node {report['node']}, "
        f"/cell/status round trip {report['roundtrip_ms']:.1f} ms"
    )
    return 0
