"""Fixtures of the ROS tests: workflows, and the real node graph brought up per test on its own domain."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("rclpy", reason="ROS 2 (rclpy) not installed: run make setup")
pytest.importorskip("flexcell_interfaces", reason="flexcell_interfaces not built: run make setup")

sys.path.insert(0, str(Path(__file__).parent))

from flexcell_ros.bringup import Graph
from flexcell_ros.client import CellClient
from flexcell_ros.dashboard import Dashboard, DashboardServer, create_app
from ros_workflows import build_workflow

# Sim seconds per wall second in the tests: fast, yet the 2-core machine keeps up (the sim node reports it).
TEST_RTF = 4.0

Serve = Callable[..., httpx.Client]


@pytest.fixture(scope="session")
def workflow_1(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One scripted pick-and-place task (box0: feeder A1 -> fixture)."""
    return build_workflow(tmp_path_factory.mktemp("wf1"), 1)


@pytest.fixture(scope="session")
def workflow_2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two tasks (box0: feeder A1 -> fixture, box1: feeder C3 -> feeder centre)."""
    return build_workflow(tmp_path_factory.mktemp("wf2"), 2)


@pytest.fixture(scope="session")
def workflow_operator(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two tasks: the robot places box0 (feeder A1 -> fixture), the worker box1 (feeder C3 -> feeder)."""
    return build_workflow(tmp_path_factory.mktemp("wf_op"), 2, operator_tasks=(1,))


@pytest.fixture
def cell_graph(ros_domain_id: int, tmp_path: Path) -> Iterator[Callable[..., tuple[Graph, CellClient]]]:
    """Factory: ``start(rtf=..., **node_overrides)`` brings up the graph and a client on this test's domain.

    On teardown the nodes get SIGTERM and must exit with code 0 (a clean shutdown).
    """
    started: list[tuple[Graph, CellClient]] = []

    def start(rtf: float = TEST_RTF, **overrides: dict[str, Any]) -> tuple[Graph, CellClient]:
        db = str(tmp_path / "runs.sqlite3")
        params: dict[str, dict[str, Any]] = {
            "sim_cell": {"real_time_factor": rtf, "camera_rate_hz": 0.0},  # the camera tests turn it on
            "workflow_executor": {"db_path": db},
            "cell_manager": {"db_path": db, "require_validation": False, "executor_timeout_s": 3.0},
        }
        for node, values in overrides.items():
            params[node] = {**params.get(node, {}), **values}
        graph = Graph(overrides=params, domain_id=ros_domain_id, log_dir=tmp_path / "logs")
        graph.start()
        client = CellClient(ros_domain_id, name="test_client")
        started.append((graph, client))
        try:
            client.wait_graph(60.0)
        except TimeoutError:
            raise AssertionError(
                "graph did not come up; logs:\n" + "\n".join(graph.log(n)[-2000:] for n in graph.procs)
            ) from None
        return graph, client

    yield start
    for graph, client in started:
        client.close()
        codes = graph.shutdown()
        killed = {n: c for n, c in codes.items() if c != 0 and n in graph.procs}
        # A node killed on purpose by the test was restarted; every node still up must stop cleanly.
        assert not killed, f"unclean shutdown {killed}; logs:\n" + "\n".join(
            graph.log(n)[-1500:] for n in killed
        )


@pytest.fixture
def dashboard(ros_domain_id: int, tmp_path: Path) -> Iterator[Serve]:
    """Factory: ``serve(**dashboard_kwargs)`` starts the dashboard on this test's domain and run database
    (the one ``cell_graph`` uses) and returns an httpx client for it. Teardown stops every server and checks
    that its HTTP thread ended and its ROS client was closed."""
    servers: list[tuple[DashboardServer, httpx.Client, Dashboard]] = []

    def serve(**kwargs: Any) -> httpx.Client:
        dash = Dashboard(domain_id=ros_domain_id, db_path=tmp_path / "runs.sqlite3", **kwargs)
        server = DashboardServer(create_app(dash), "127.0.0.1", 0)
        server.start()
        http = httpx.Client(base_url=server.url, timeout=30.0)
        servers.append((server, http, dash))
        return http

    yield serve
    for server, http, dash in servers:
        http.close()
        thread = server.thread
        server.stop()
        assert thread is not None and not thread.is_alive()
        assert not dash.connected, "the ROS client was not closed"
    alive = [t.name for t in threading.enumerate() if t.name == "dashboard-http"]
    assert not alive, f"dashboard threads still running: {alive}"
