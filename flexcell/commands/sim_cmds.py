"""CLI commands of the simulation area: ``validate``, ``export gazebo``, ``bench sim``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.console import Console

from cell_config import ConfigError

out = Console()
err = Console(stderr=True)


def _fail(msg: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] {msg}", highlight=False, soft_wrap=True)
    return typer.Exit(2)


def plan_variant_dir(variant_dir: Path, out_dir: Path | None) -> Path:
    """Plan a variant with the workflow planner (like ``flexcell plan``); returns its ``workflow.yaml``.

    The default output directory is the planner's, ``build/<variant>/``.
    """
    from workflow_gen.pipeline import plan_variant

    dest = out_dir if out_dir is not None else Path("build") / variant_dir.resolve().name
    plan_variant(variant_dir, None, dest)
    return dest / "workflow.yaml"


def resolve_workflow(target: Path, out_dir: Path | None) -> Path:
    """``workflow.yaml`` of ``target``: a workflow file, a directory holding one, or a variant (planned)."""
    if target.is_file() and target.name == "variant.yaml":
        target = target.parent
    if target.is_dir() and (target / "variant.yaml").is_file():
        return plan_variant_dir(target, out_dir)
    if target.is_dir() and (target / "workflow.yaml").is_file():
        return target / "workflow.yaml"
    if target.is_file():
        return target
    raise ConfigError(target, "", "not a variant directory, workflow directory or workflow.yaml")


def register(app: typer.Typer, bench_app: typer.Typer, export_app: typer.Typer) -> None:
    """Add ``validate``, ``export gazebo`` and ``bench sim``."""

    @app.command()
    def validate(
        target: Path = typer.Argument(..., help="variant directory (planned first) or workflow.yaml"),
        as_json: bool = typer.Option(False, "--json", help="print validation.json to stdout"),
        fault: str | None = typer.Option(
            None, "--fault", help="inject: low_friction | part_offset | obstacle"
        ),
        out_dir: Path | None = typer.Option(None, "--out", help="output directory (default: the workflow's)"),
        pictures: bool = typer.Option(
            True, "--pictures/--no-pictures", help="storyboard PNG, GIF and the 3D recording run.mcap"
        ),
    ) -> None:
        """Replay a workflow in MuJoCo physics and check every robot task (exit 1 if any fails)."""
        from sim.model_builder import SimFault
        from sim.validation_run import validate_to_dir
        from workflow_gen.model import WorkflowError

        if not target.exists():
            raise _fail(f"{target}: not found")
        try:
            sim_fault = SimFault(fault) if fault else None
        except ValueError as e:
            raise _fail(f"--fault: {e}") from None
        try:
            wf_path = resolve_workflow(target, out_dir)
            dest = (out_dir or wf_path.parent).resolve()
            result, report, json_path = validate_to_dir(wf_path, dest, sim_fault, pictures)
        except (WorkflowError, FileNotFoundError) as e:
            raise _fail(str(e)) from None
        if as_json:
            sys.stdout.write(json.dumps(report, indent=2) + "\n")
        else:
            for t in result.tasks:
                mark = "[green]PASS[/]" if t.passed else "[red]FAIL[/]"
                out.print(
                    f"{mark} {t.task} {t.part}{' (operator)' if t.actor == 'operator' else ''}: placed {t.placement_error_mm:.2f} mm / {t.placement_error_deg:.2f} deg,"
                    f" slip {t.max_slip_mm:.2f} mm" + (f"  ({'; '.join(t.failures)})" if t.failures else "")
                )
            out.print(
                f"{result.tasks_line()}, cycle {result.cycle_time_s:.1f} s,"
                f" {result.sim_real_time_factor:.0f}x real time -> {json_path}"
            )
            if report.get("recording"):
                out.print(f"3D recording for Foxglove: {report['recording']}", highlight=False)
        raise typer.Exit(0 if result.passed else 1)

    @export_app.command("gazebo")
    def export_gazebo_cmd(
        target: Path = typer.Argument(..., help="variant directory (planned first) or workflow.yaml"),
        out_dir: Path | None = typer.Option(None, "--out", help="default: <workflow dir>/gazebo"),
    ) -> None:
        """Write a Gazebo Harmonic world, a ros2_control URDF and controllers YAML (launch/gazebo.launch.py)."""
        from cell_config import load_cell
        from sim.gazebo_export import export_gazebo
        from workflow_gen.model import WorkflowError, load_workflow

        if not target.exists():
            raise _fail(f"{target}: not found")
        try:
            wf_path = resolve_workflow(target, None)
            wf, _ = load_workflow(wf_path)
            cell = load_cell(_cell_path(wf.cell, wf_path.parent))
            dest = out_dir or wf_path.parent / "gazebo"
            paths = export_gazebo(cell, wf.parts, wf_path.parent, dest)
        except (WorkflowError, FileNotFoundError) as e:
            raise _fail(str(e)) from None
        for kind, p in paths.items():
            out.print(f"{kind}: {p}")
        out.print(f"run: ros2 launch launch/gazebo.launch.py export_dir:={paths['world'].parent}")

    @bench_app.command("sim")
    def bench_sim(as_json: bool = typer.Option(False, "--json", help="JSON output")) -> None:
        """Sim real-time factor (target >= 50x) and render time per 640x480 frame (target <= 50 ms)."""
        from sim.bench import run_sim_bench

        res = run_sim_bench()
        if as_json:
            sys.stdout.write(json.dumps(res, indent=2) + "\n")
        else:
            for k, v in res.items():
                out.print(f"{k}: {v}")


def _cell_path(cell: str, wf_dir: Path) -> Path:
    p = Path(cell)
    return p if p.is_absolute() or p.is_file() else wf_dir / p
