"""CLI commands of the ROS 2 area: ``up``, ``ros topics|echo|call``, ``bench ros``."""

from __future__ import annotations

import json
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

if TYPE_CHECKING:
    from flexcell_ros.dashboard import DashboardServer

out = Console()
err = Console(stderr=True)


def _fail(msg: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] {msg}", highlight=False, soft_wrap=True)
    return typer.Exit(2)


def _ros_or_exit() -> None:
    try:
        import flexcell_interfaces.msg  # noqa: F401
        import rclpy  # noqa: F401
    except ImportError as e:
        raise _fail(f"ROS 2 runtime not available ({e}); run make setup") from None


def register(app: typer.Typer, bench_app: typer.Typer, export_app: typer.Typer) -> None:
    """Add ``up``, the ``ros`` group and ``bench ros``."""
    ros_app = typer.Typer(help="Inspect the running ROS 2 graph (topics, echo, call).", no_args_is_help=True)
    app.add_typer(ros_app, name="ros")

    @app.command()
    def up(
        variant: str = typer.Option("", help="variant name under cad_parts/, directory or workflow.yaml"),
        headless: bool = typer.Option(False, "--headless", help="no live status line"),
        domain_id: int | None = typer.Option(None, "--domain-id", help="ROS_DOMAIN_ID (default: inherited)"),
        params: Path | None = typer.Option(
            None, help="ROS 2 parameter file (default cell_config/ros_params.yaml)"
        ),
        real_time_factor: float | None = typer.Option(None, help="override sim_cell.real_time_factor"),
        log_dir: Path | None = typer.Option(None, help="node logs (default build/ros/logs)"),
        dashboard: bool = typer.Option(False, "--dashboard", help="also serve the operator web dashboard"),
        dashboard_port: int = typer.Option(8080, "--dashboard-port", help="port of the dashboard"),
        dashboard_host: str = typer.Option("127.0.0.1", "--dashboard-host", help="address of the dashboard"),
        foxglove_port: int | None = typer.Option(
            None, "--foxglove-port", help="live 3D of the simulated cell for Foxglove on ws://127.0.0.1:PORT"
        ),
        camera_hz: float | None = typer.Option(
            None, "--camera-hz", help="override sim_cell.camera_rate_hz: camera images per second (0 = none)"
        ),
    ) -> None:
        """Start the whole cell graph (sim_cell, workflow_executor, cell_manager); Ctrl-C stops it cleanly."""
        _ros_or_exit()
        from flexcell_ros.bringup import Graph
        from flexcell_ros.params import REPO, ParamError

        overrides: dict[str, dict[str, Any]] = {}
        if variant:
            target = Path(variant)
            overrides["cell_manager"] = {
                "initial_variant": str(target.resolve()) if target.exists() else variant
            }
        if real_time_factor is not None:
            overrides.setdefault("sim_cell", {})["real_time_factor"] = real_time_factor
        if foxglove_port is not None:
            overrides.setdefault("sim_cell", {})["foxglove_port"] = foxglove_port
        if camera_hz is not None:
            overrides.setdefault("sim_cell", {})["camera_rate_hz"] = camera_hz
        if domain_id is not None and not 0 <= domain_id <= 232:
            raise _fail(f"--domain-id {domain_id}: must be in 0..232")
        try:
            graph = Graph(params, overrides, domain_id, log_dir or REPO / "build" / "ros" / "logs")
        except ParamError as e:
            raise _fail(str(e)) from None
        web = None
        if dashboard:
            from flexcell_ros.dashboard import manager_paths

            paths = manager_paths(graph.params)
            web = _dashboard_server(dashboard_host, dashboard_port, domain_id, paths, "--dashboard-port")
        # Ctrl-C (SIGINT) and SIGTERM both stop the graph cleanly; install the handlers explicitly because a
        # process started from a non-interactive shell inherits SIGINT as ignored.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        graph.start()
        out.print(f"flexcell graph up (logs in {graph.log_dir}); Ctrl-C to stop")
        code = 0
        try:
            if web is not None:
                web.start()
                out.print(f"dashboard on {web.url}", highlight=False)
            if foxglove_port:
                out.print(f"live 3D for Foxglove on ws://127.0.0.1:{foxglove_port}", highlight=False)
            last = ""
            client = None
            if not headless:
                from flexcell_ros.client import CellClient

                client = CellClient(domain_id, name="flexcell_up")
            while True:
                dead = graph.dead()
                if dead:
                    name, rc = next(iter(dead.items()))
                    tail = graph.log(name).strip().splitlines()[-1:] or [""]
                    err.print(
                        f"[bold red]error:[/] node {name} exited with code {rc}: {tail[0]}", soft_wrap=True
                    )
                    code = 1
                    break
                if client is not None and client.status is not None:
                    s = client.status
                    line = f"{s.state_name} {s.variant} task {s.task_index}/{s.task_count} runs {s.runs_completed}"
                    line += f" fault: {s.last_fault}" if s.last_fault else ""
                    if line != last:
                        out.print(line, highlight=False)
                        last = line
                time.sleep(0.2)
        except KeyboardInterrupt:
            out.print("stopping")
        finally:
            if client is not None:
                client.close()
            if web is not None:
                web.stop()
            codes = graph.shutdown()
        bad = {n: c for n, c in codes.items() if c not in (0, -15)}
        if bad:
            err.print(f"unclean exit: {bad}")
        raise typer.Exit(code)

    @app.command()
    def dashboard(
        port: int = typer.Option(8080, "--port", help="HTTP port"),
        host: str = typer.Option(
            "127.0.0.1", "--host", help="address to serve on (0.0.0.0 = every interface)"
        ),
        domain_id: int | None = typer.Option(None, "--domain-id", help="ROS_DOMAIN_ID (default: inherited)"),
        db: Path | None = typer.Option(
            None, "--db", help="run history SQLite (default: cell_manager.db_path of the parameter file)"
        ),
        params: Path | None = typer.Option(
            None, help="ROS 2 parameter file for the default --db (default cell_config/ros_params.yaml)"
        ),
    ) -> None:
        """Operator web dashboard of a running cell graph (state, commands, progress, run history)."""
        _ros_or_exit()
        from flexcell_ros.bringup import merged_params
        from flexcell_ros.dashboard import manager_paths
        from flexcell_ros.params import ParamError

        if domain_id is not None and not 0 <= domain_id <= 232:
            raise _fail(f"--domain-id {domain_id}: must be in 0..232")
        try:
            paths = manager_paths(merged_params(params, None))
        except ParamError as e:
            raise _fail(str(e)) from None
        if db is not None:
            paths["db_path"] = db
        _set_domain(None)  # loopback discovery unless the environment says otherwise
        web = _dashboard_server(host, port, domain_id, paths, "--port")
        out.print(f"dashboard on {web.url} (run history {paths['db_path']}); Ctrl-C to stop", highlight=False)
        # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal to the handler found at
        # start-up, which _until_ctrl_c makes a KeyboardInterrupt.
        _until_ctrl_c(web.run)
        out.print("dashboard stopped")

    @ros_app.command("topics")
    def ros_topics(domain_id: int | None = typer.Option(None, "--domain-id")) -> None:
        """List the graph's topics and their types."""
        _ros_or_exit()
        _set_domain(domain_id)
        from flexcell_ros.introspection import topics

        for name, types in topics():
            out.print(f"{name}  [dim]{', '.join(types)}[/]", highlight=False)

    @ros_app.command("echo")
    def ros_echo(
        topic: str,
        count: int = typer.Option(1, help="messages to print"),
        timeout_s: float = typer.Option(10.0, "--timeout", help="seconds to wait"),
        domain_id: int | None = typer.Option(None, "--domain-id"),
    ) -> None:
        """Print messages of a topic as YAML."""
        _ros_or_exit()
        _set_domain(domain_id)
        from flexcell_ros.introspection import echo

        try:
            n = echo(topic, count, lambda text: out.print(text, highlight=False, markup=False), timeout_s)
        except ValueError as e:
            raise _fail(str(e)) from None
        if n < count:
            raise _fail(f"{topic}: {n} of {count} messages within {timeout_s:.0f} s")

    @ros_app.command("foxglove")
    def ros_foxglove(
        port: int = typer.Option(8765, "--port", help="WebSocket port for Foxglove"),
        workflow: Path | None = typer.Option(None, "--workflow", help="workflow.yaml whose parts are shown"),
        cell: Path | None = typer.Option(None, "--cell", help="cell YAML (without --workflow; default cell)"),
        domain_id: int | None = typer.Option(None, "--domain-id"),
    ) -> None:
        """The running cell in 3D for Foxglove, from its ROS topics (/joint_states, part poses if any)."""
        _ros_or_exit()
        _set_domain(domain_id)
        from flexcell_ros.scene_bridge import SceneBridge

        from cell_config import ConfigError
        from workflow_gen.model import WorkflowError

        if not 0 <= port <= 65535:
            raise _fail(f"--port {port}: must be in 0..65535")
        try:
            bridge = SceneBridge(port, workflow, cell, domain_id)
        except (ConfigError, WorkflowError) as e:
            raise _fail(str(e)) from None
        except RuntimeError as e:  # the SDK's server error: the port is taken
            raise _fail(f"--port {port}: cannot serve ({e})") from None
        out.print(
            f"the cell in 3D for Foxglove on ws://127.0.0.1:{bridge.port}; Ctrl-C to stop", highlight=False
        )
        try:
            _until_ctrl_c(bridge.run)
        finally:
            bridge.close()
        out.print(f"stopped after {bridge.frames} frames")

    @ros_app.command("call")
    def ros_call(
        service: str,
        request: str = typer.Argument("", help="request as a YAML mapping, e.g. '{variant: sensor_kit}'"),
        timeout_s: float = typer.Option(60.0, "--timeout"),
        domain_id: int | None = typer.Option(None, "--domain-id"),
    ) -> None:
        """Call a service and print the response."""
        _ros_or_exit()
        _set_domain(domain_id)
        from flexcell_ros.introspection import call

        try:
            resp = call(service, request, timeout_s)
        except ValueError as e:
            raise _fail(str(e)) from None
        out.print_json(json.dumps(resp))

    @bench_app.command("ros")
    def bench_ros(
        json_out: bool = typer.Option(False, "--json", help="print JSON only"),
        seconds: float = typer.Option(5.0, help="seconds of /joint_states to sample"),
    ) -> None:
        """/joint_states rate and jitter, command-to-motion latency, executor overhead per task."""
        _ros_or_exit()
        repo = Path(__file__).resolve().parents[2]
        sys.path.insert(0, str(repo / "benchmarks"))
        import ros_bench

        report = ros_bench.run(seconds)
        if json_out:
            print(json.dumps(report, indent=2))
        else:
            for k, v in report.items():
                out.print(f"{k}: {v}", highlight=False)


def _dashboard_server(
    host: str, port: int, domain_id: int | None, paths: dict[str, Path], port_flag: str
) -> DashboardServer:
    """A bound (not yet serving) dashboard server: a port in use stops the command with one line, before
    anything starts."""
    from flexcell_ros.dashboard import DashboardServer, create_app

    if not 0 <= port <= 65535:
        raise _fail(f"{port_flag} {port}: must be in 0..65535")
    try:
        return DashboardServer(
            create_app(
                domain_id=domain_id,
                db_path=paths["db_path"],
                variants_dir=paths["variants_dir"],
                workflows_dir=paths["workflows_dir"],
                cell_path=paths.get("cell_path"),
            ),
            host,
            port,
            "warning",
        )
    except OSError as e:
        raise _fail(f"{port_flag} {port}: cannot serve on {host}:{port} ({e.strerror or e})") from None


def _until_ctrl_c(run: Callable[[], None]) -> None:
    """``run()`` until Ctrl-C or SIGTERM, both as a KeyboardInterrupt (installed explicitly: a process started
    from a non-interactive shell inherits SIGINT as ignored)."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        run()
    except KeyboardInterrupt:
        pass


def _set_domain(domain_id: int | None) -> None:
    import os

    if domain_id is not None:
        os.environ["ROS_DOMAIN_ID"] = str(domain_id)
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
