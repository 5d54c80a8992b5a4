"""CLI commands of this area (registered by flexcell/cli.py)."""

from __future__ import annotations

import typer


def register(app: typer.Typer, bench_app: typer.Typer, export_app: typer.Typer) -> None:
    """Add this area's commands to the CLI (none yet)."""
