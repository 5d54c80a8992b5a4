"""The ``flexcell`` command line: wiring only; each area registers its commands from flexcell/commands/."""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path

import typer
from rich.console import Console

from cell_config import ConfigError
from flexcell.commands import cell, motion_cmds, plan_cmds, ros_cmds, sim_cmds

app = typer.Typer(
    name="flexcell",
    help="Flexible robot-cell controller: plan, simulate and run product variants.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
bench_app = typer.Typer(help="Benchmarks (JSON with --json).", no_args_is_help=True)
app.add_typer(bench_app, name="bench")
export_app = typer.Typer(help="Export the cell and a variant for other tools.", no_args_is_help=True)
app.add_typer(export_app, name="export")

for module in (cell, motion_cmds, plan_cmds, sim_cmds, ros_cmds):
    module.register(app, bench_app, export_app)

err = Console(stderr=True)


def main() -> None:
    """Entry point: bad input gives one clear line and exit code 2, never a traceback."""
    try:
        app()
    except ConfigError as e:
        err.print(f"[bold red]error:[/] {e}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except Exception as e:  # a bug, not bad input: one line for the user, the traceback on request
        if os.environ.get("FLEXCELL_DEBUG"):
            raise
        where = traceback.extract_tb(e.__traceback__)[-1]
        err.print(
            f"[bold red]internal error:[/] {type(e).__name__}: {e} (at {Path(where.filename).name}:{where.lineno}; "
            "please report it; FLEXCELL_DEBUG=1 shows the traceback)",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
