"""Workflow generation commands: ``flexcell plan <variant_dir>`` and ``flexcell bench plan``.

Exit codes of ``plan``: 0 all parts planned, 3 some parts infeasible (workflow written for the rest,
reasons listed), 2 bad input (one line naming file/key/part, no traceback).
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

console = Console()
err = Console(stderr=True)

STAGES = ("import", "targets", "sequence", "feeding", "grasps", "motions", "write")


def _way(d: tuple[float, float, float] | None) -> str:
    """How a part goes in, for people: from above / from below / along an axis."""
    if d is None:
        return "-"
    if d[2] < -0.9:
        return "from above"
    if d[2] > 0.9:
        return "from below"
    i = max(range(3), key=lambda k: abs(d[k]))
    return (
        f"along {'+' if d[i] > 0 else '-'}{'xyz'[i]}"
        if abs(d[i]) > 0.99
        else "({:.2f}, {:.2f}, {:.2f})".format(*d)
    )


def register(app: typer.Typer, bench_app: typer.Typer, export_app: typer.Typer) -> None:
    """Add ``plan`` and ``bench plan``."""

    @app.command("plan")
    def plan(
        variant_dir: Path = typer.Argument(..., help="variant directory holding variant.yaml and its CAD"),
        cell_path: Path | None = typer.Option(None, "--cell", help="cell YAML (default: the UR5e cell)"),
        out: Path | None = typer.Option(None, "--out", help="output directory (default build/<variant>/)"),
        seed: int = typer.Option(0, "--seed", help="seed of sampling and planning"),
        as_json: bool = typer.Option(False, "--json", help="print a JSON summary instead of tables"),
        no_report: bool = typer.Option(False, "--no-report", help="skip the pictures and report.md"),
    ) -> None:
        """Plan a grasp-and-place workflow for a product variant from its CAD."""
        from workflow_gen.pipeline import plan_variant

        out_dir = out if out is not None else Path("build") / variant_dir.resolve().name
        with Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.fields[stage]:<9}"),
            BarColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=err,
            transient=True,
            disable=as_json,
        ) as bar:
            task = bar.add_task(variant_dir.name, total=len(STAGES), stage="start")
            seen: set[str] = set()

            def on_progress(stage: str, item: str) -> None:
                if stage not in seen:
                    seen.add(stage)
                    bar.update(task, completed=STAGES.index(stage) if stage in STAGES else 0)
                bar.update(task, stage=stage, description=item)

            outcome = plan_variant(
                variant_dir, cell_path, out_dir, seed=seed, progress=on_progress, write_report=not no_report
            )
            bar.update(task, completed=len(STAGES))
        summary = outcome.summary()
        if as_json:
            print(json.dumps(summary, indent=2))
        else:
            wf = outcome.workflow
            t = Table(
                title=f"{wf.variant}: {len(wf.tasks)} tasks, cycle {wf.cycle_time_s:.1f} s",
                title_justify="left",
            )
            for c in ("#", "who", "task", "part", "from", "to", "goes in", "grasp width mm", "task s"):
                t.add_column(c)
            for i, tk in enumerate(wf.tasks, 1):
                w = f"{tk.grasp.contact_width_m * 1000:.1f}" if tk.grasp else "-"
                who = "robot" if tk.actor == "robot" else "[cyan]worker[/]"
                way = _way(tk.insert_dir) if tk.kind != "fasten" else "-"
                t.add_row(str(i), who, tk.kind, tk.part, tk.source, tk.target, way, w, f"{tk.duration_s:.1f}")
            console.print(t)
            for inf in wf.infeasible:
                kind = inf.kind.value if inf.kind else "?"
                console.print(
                    f"[yellow]not by the robot[/] ({kind}) {inf.part}: {inf.reason}", highlight=False
                )
            console.print(
                f"planned in {wf.plan_time_s:.1f} s -> {out_dir / 'workflow.yaml'}", highlight=False
            )
        raise typer.Exit(3 if outcome.workflow.infeasible else 0)

    @bench_app.command("plan")
    def bench_plan(
        as_json: bool = typer.Option(False, "--json", help="print JSON"),
        variants: list[Path] = typer.Option(
            None, "--variant", help="variant dirs (default: all in cad_parts/)"
        ),
    ) -> None:
        """Grasp synthesis time per part (median) and end-to-end plan time per variant."""
        from workflow_gen.bench import run_bench

        result = run_bench(variants or None)
        if as_json:
            print(json.dumps(result, indent=2))
        else:
            console.print_json(json.dumps(result))

    @bench_app.command("grasp")
    def bench_grasp(
        as_json: bool = typer.Option(False, "--json", help="print JSON"),
        objects: int = typer.Option(60, "--objects", min=1, help="how many generated objects"),
        seed: int = typer.Option(0, "--seed", help="seed of the object set"),
        quick: bool = typer.Option(False, "--quick", help="the first 8 objects only"),
        keep: Path | None = typer.Option(None, "--keep", help="keep the variants and workflows here"),
    ) -> None:
        """Novel parts from the feeder into the kit tray: planned and physics rates, new vs top-down peer."""
        import sys

        sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
        import grasp_bench

        result = grasp_bench.run(objects, seed, quick, keep_dir=keep)
        if as_json:
            print(json.dumps(result, indent=2))
        else:
            console.print(grasp_bench.table(result), highlight=False)
