"""Bring-up without ros2 launch: one process per node of :data:`flexcell_ros.node_specs.NODES`.

Parameters come from ``cell_config/ros_params.yaml`` (validated here first, so a bad key stops everything
before any process starts), merged with per-node overrides and handed to every node as a ROS 2
``--params-file``. Each node runs ``python -m <module> --ros-args -r __node:=<name> --params-file ...``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from flexcell_ros.node_specs import NODES, NodeSpec, node_spec
from flexcell_ros.params import REPO, load_params_file, validate_params, write_params_file


def graph_env(domain_id: int | None = None, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for the node processes: loopback-only discovery, optional domain id."""
    env = dict(os.environ if base is None else base)
    env.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    if domain_id is not None:
        env["ROS_DOMAIN_ID"] = str(domain_id)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def merged_params(
    params_file: Path | str | None, overrides: Mapping[str, Mapping[str, Any]] | None
) -> dict[str, dict[str, Any]]:
    """The parameter file's values with ``overrides`` on top, every node validated again."""
    params = load_params_file(params_file)
    for name, values in (overrides or {}).items():
        node_spec(name)
        params[name] = validate_params(
            name, {**params.get(name, {}), **values}, f"override of {name}"
        ).model_dump()
    return params


def node_command(spec: NodeSpec, params_path: Path) -> list[str]:
    """The command line that runs one node in its own process."""
    return [
        sys.executable,
        "-m",
        spec.module,
        "--ros-args",
        "-r",
        f"__node:={spec.name}",
        "--params-file",
        str(params_path),
    ]


class Graph:
    """The running node processes of one cell.

    Parameters
    ----------
    params_file : ROS 2 parameter file (default ``cell_config/ros_params.yaml``)
    overrides : ``node -> {param: value}`` on top of the file
    domain_id : ROS_DOMAIN_ID for every node (None = inherited)
    log_dir : where each node's output goes (``<node>.log``); None = a temporary directory
    """

    def __init__(
        self,
        params_file: Path | str | None = None,
        overrides: Mapping[str, Mapping[str, Any]] | None = None,
        domain_id: int | None = None,
        log_dir: Path | None = None,
    ) -> None:
        self.params = merged_params(params_file, overrides)
        self.log_dir = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="flexcell_graph_"))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.params_path = write_params_file(self.log_dir / "params.yaml", self.params)
        self.env = graph_env(domain_id)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, names: Sequence[str] | None = None) -> None:
        """Start the named nodes (default: all), in the node list's order."""
        for spec in NODES:
            if names is not None and spec.name not in names:
                continue
            if spec.name in self.procs and self.procs[spec.name].poll() is None:
                continue
            log = open(self.log_dir / f"{spec.name}.log", "ab")
            self.procs[spec.name] = subprocess.Popen(
                node_command(spec, self.params_path),
                env=self.env,
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Own session: a Ctrl-C at the terminal reaches only `flexcell up`, which then stops the
                # nodes in order (SIGINT may arrive ignored in children of non-interactive shells).
                start_new_session=True,
            )
            log.close()

    def kill(self, name: str) -> None:
        """SIGKILL one node (a crash, for fault tests)."""
        proc = self.procs[name]
        proc.kill()
        proc.wait(timeout=10)

    def dead(self) -> dict[str, int]:
        """``node -> exit code`` of the processes that have ended."""
        return {n: rc for n, p in self.procs.items() if (rc := p.poll()) is not None}

    def log(self, name: str) -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.is_file() else ""

    def shutdown(self, timeout_s: float = 10.0) -> dict[str, int]:
        """SIGTERM every node (reverse start order), SIGKILL what is still up after ``timeout_s``.

        Returns ``node -> exit code``.
        """
        for name in reversed(list(self.procs)):
            if self.procs[name].poll() is None:
                self.procs[name].send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        codes: dict[str, int] = {}
        for name, proc in self.procs.items():
            try:
                codes[name] = proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGUSR1)  # the node writes its thread stacks to its log first
                time.sleep(0.5)
                proc.kill()
                codes[name] = proc.wait(timeout=5)
        return codes

    def __enter__(self) -> Graph:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.shutdown()
