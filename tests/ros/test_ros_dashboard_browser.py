"""The operator dashboard in a real browser: Debian's Chromium driven by Playwright, over a real node graph.

What the HTTP tests cannot see: that the page's script runs without errors, renders the state the manager
publishes, enables exactly the buttons the state allows, and that clicking them drives the cell.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from flexcell_ros.bringup import Graph
from flexcell_ros.cell_manager import allowed_commands
from flexcell_ros.client import CellClient
from std_msgs.msg import String

from cell_config import load_cell
from workflow_gen.fingerprint import inputs_fingerprint

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed: run make setup")

CHROMIUM = shutil.which("chromium")
pytestmark = [
    pytest.mark.ros,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="chromium not installed (scripts/setup.sh installs Debian's chromium as root)",
    ),
]

Start = Callable[..., tuple[Graph, CellClient]]
Serve = Callable[..., httpx.Client]
COMMANDS = ("start", "pause", "resume", "stop", "reset")
UI_TIMEOUT_MS = 15_000


class Browser:
    """One headless Chromium page. Script errors (uncaught exceptions, console errors) are collected in
    ``js_errors``, HTTP answers >= 400 in ``http_errors`` as ``(status, path)`` (Chromium also logs those
    to the console; that is not counted as a script error)."""

    def __init__(self, pw: sync_api.Playwright) -> None:
        assert CHROMIUM is not None
        self.browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        self.page = self.browser.new_page(viewport={"width": 1280, "height": 760})
        self.js_errors: list[str] = []
        self.http_errors: list[tuple[int, str]] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.js_errors.append(str(e)))
        self.page.on("response", self._response)

    def _console(self, msg: sync_api.ConsoleMessage) -> None:
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            self.js_errors.append(msg.text)

    def _response(self, resp: sync_api.Response) -> None:
        if resp.status >= 400:
            self.http_errors.append((resp.status, urlsplit(resp.url).path))

    def expect_state(self, state: str, timeout_ms: int = UI_TIMEOUT_MS) -> None:
        sync_api.expect(self.page.locator("#state")).to_have_text(state, timeout=timeout_ms)

    def expect_buttons(self, state: str, loaded: bool) -> None:
        """Exactly the commands the manager accepts in ``state`` are enabled (the page's own table)."""
        allowed = allowed_commands(state, loaded)
        for c in COMMANDS:
            button = sync_api.expect(self.page.locator(f"#btn-{c}"))
            if allowed[c]:
                button.to_be_enabled(timeout=UI_TIMEOUT_MS)
            else:
                button.to_be_disabled(timeout=UI_TIMEOUT_MS)


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_api.sync_playwright() as pw:
        b = Browser(pw)
        yield b
        b.browser.close()
    assert not b.js_errors, f"the page's script failed: {b.js_errors}"


def test_browser_without_a_manager_shows_offline(dashboard: Serve, browser: Browser, tmp_path: Path) -> None:
    variants = tmp_path / "variants"
    for name in ("gear_kit", "sensor_kit"):
        (variants / name).mkdir(parents=True)
        (variants / name / "variant.yaml").write_text("parts: []\n")
    (tmp_path / "build" / "sensor_kit").mkdir(parents=True)
    fingerprint = inputs_fingerprint(variants / "sensor_kit", load_cell(), 0)
    (tmp_path / "build" / "sensor_kit" / "workflow.yaml").write_text(
        f"seed: 0\ninputs_sha256: {fingerprint}\n"
    )
    (tmp_path / "build" / "sensor_kit" / "validation.json").write_text('{"passed": true, "tasks": []}')
    http = dashboard(service_timeout_s=0.5, variants_dir=variants, workflows_dir=tmp_path / "build")
    browser.page.goto(str(http.base_url))
    browser.expect_state("OFFLINE")
    sync_api.expect(browser.page.locator("#conn")).to_contain_text("cell manager not reachable")
    for button in (*COMMANDS, "load"):
        sync_api.expect(browser.page.locator(f"#btn-{button}")).to_be_disabled()
    # the variants the manager would load by name, read from disk: shown even while the cell is offline
    rows = browser.page.locator("#variants tbody tr")
    sync_api.expect(rows).to_have_count(2)
    sync_api.expect(rows.nth(0)).to_contain_text("gear_kit")
    sync_api.expect(rows.nth(0)).to_contain_text("not planned yet")
    sync_api.expect(rows.nth(1)).to_contain_text("planned, validated in simulation")
    rows.nth(1).click()
    sync_api.expect(browser.page.locator("#variant-input")).to_have_value("sensor_kit")
    # the page asked nothing but the status (503: no manager), and found everything it loads
    assert browser.http_errors and set(browser.http_errors) == {(503, "/api/status")}, browser.http_errors


def test_operator_runs_a_variant_in_the_browser(
    cell_graph: Start, dashboard: Serve, browser: Browser, workflow_1: Path, tmp_path: Path
) -> None:
    # half the test real-time factor: the run lasts long enough to see it running, pause and resume it
    _graph, client = cell_graph(rtf=2.0, sim_cell={"camera_rate_hz": 2.0})
    http = dashboard()
    page = browser.page
    page.goto(str(http.base_url))
    browser.expect_state("IDLE")
    sync_api.expect(page.locator("#conn")).to_have_text("connected")
    # the cell camera's picture, loaded once the status says there is one
    sync_api.expect(page.locator("#camera")).to_be_visible(timeout=UI_TIMEOUT_MS)
    page.wait_for_function("document.getElementById('camera').naturalWidth === 640")
    browser.expect_buttons("IDLE", loaded=False)
    sync_api.expect(page.locator("#btn-load")).to_be_enabled()

    # a variant that does not exist: the manager's refusal is shown as an error, the state stays IDLE
    page.fill("#variant-input", str(tmp_path / "no_such_workflow.yaml"))
    page.click("#btn-load")
    sync_api.expect(page.locator("#message")).to_have_class("error", timeout=UI_TIMEOUT_MS)
    sync_api.expect(page.locator("#message")).to_contain_text("no_such_workflow.yaml")
    browser.expect_state("IDLE")

    page.fill("#variant-input", str(workflow_1))
    page.click("#btn-load")
    browser.expect_state("READY")
    sync_api.expect(page.locator("#variant")).to_have_text("scripted_boxes")
    sync_api.expect(page.locator("#message")).not_to_have_class("error")
    browser.expect_buttons("READY", loaded=True)
    client.wait_for(lambda: set(client.part_poses) == {"box0"}, 10.0, "part poses")

    page.click("#btn-start")
    browser.expect_state("RUNNING")
    sync_api.expect(page.locator("#task")).to_have_text("task 1 of 1")
    browser.expect_buttons("RUNNING", loaded=True)
    page.click("#btn-pause")
    browser.expect_state("PAUSED")
    browser.expect_buttons("PAUSED", loaded=True)
    page.click("#btn-resume")
    browser.expect_state("RUNNING")

    browser.expect_state("IDLE", timeout_ms=90_000)
    sync_api.expect(page.locator("#runs-completed")).to_have_text("1")
    sync_api.expect(page.locator("#task")).to_have_text("all 1 done")
    assert page.eval_on_selector("#bar-fill", "el => el.style.width") == "100%"
    sync_api.expect(page.locator("#last-cycle")).to_have_text(re.compile(r"^\d+\.\d s$"))
    row = page.locator("#runs tbody tr").first
    sync_api.expect(row).to_contain_text("scripted_boxes", timeout=UI_TIMEOUT_MS)
    sync_api.expect(row.locator("td").nth(2)).to_have_text("completed")
    sync_api.expect(row.locator("td").nth(4)).to_have_text("1/1")
    # what the page shows is what the manager published
    assert client.status is not None and client.status.runs_completed == 1
    # HTTP errors of the whole session: the one refused load, and status polls answered 503 while the
    # dashboard's ROS client waited for its first /cell/status (the page shows OFFLINE meanwhile)
    assert browser.http_errors.count((409, "/api/load_variant")) == 1, browser.http_errors
    assert set(browser.http_errors) <= {(409, "/api/load_variant"), (503, "/api/status")}, browser.http_errors
    shot = tmp_path / "dashboard.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def _start_in_browser(
    cell_graph: Start, dashboard: Serve, browser: Browser, wf_path: Path, parts: set[str]
) -> tuple[sync_api.Page, CellClient, httpx.Client]:
    """A graph and its dashboard; in the page: IDLE, no operator box, load ``wf_path``, READY, Start."""
    _graph, client = cell_graph()
    http = dashboard()
    page = browser.page
    page.goto(str(http.base_url))
    browser.expect_state("IDLE")
    sync_api.expect(page.locator("#operator")).to_be_hidden()
    page.fill("#variant-input", str(wf_path))
    page.click("#btn-load")
    browser.expect_state("READY")
    client.wait_for(lambda: set(client.part_poses) == parts, 10.0, "part poses")
    page.click("#btn-start")
    return page, client, http


def test_operator_task_is_shown_until_the_worker_resumes(
    cell_graph: Start, dashboard: Serve, browser: Browser, workflow_operator: Path, tmp_path: Path
) -> None:
    page, _client, http = _start_in_browser(
        cell_graph, dashboard, browser, workflow_operator, {"box0", "box1"}
    )
    # the robot places box0, then the cell waits for the worker: the instructions are shown big
    browser.expect_state("PAUSED", timeout_ms=90_000)
    banner = page.locator("#operator")
    sync_api.expect(banner).to_be_visible()
    sync_api.expect(page.locator("#operator-steps li")).to_have_text(
        ["Take box1 from feeder slot C3.", "Put it on feeder."]
    )
    sync_api.expect(page.locator("#task-desc")).to_have_text("(operator task)")
    assert http.get("/api/status").json()["operator_instructions"].startswith("Take box1")
    browser.expect_buttons("PAUSED", loaded=True)
    sync_api.expect(page.locator("#btn-resume")).to_have_text("Done, resume")
    page.screenshot(path=str(tmp_path / "operator_task.png"), full_page=True)
    page.click("#btn-resume")
    browser.expect_state("IDLE", timeout_ms=30_000)
    sync_api.expect(banner).to_be_hidden()
    sync_api.expect(page.locator("#btn-resume")).to_have_text("Resume")
    sync_api.expect(page.locator("#runs-completed")).to_have_text("1")


def test_a_fault_offers_retry_and_abandon(
    cell_graph: Start, dashboard: Serve, browser: Browser, workflow_1: Path
) -> None:
    page, client, _http = _start_in_browser(cell_graph, dashboard, browser, workflow_1, {"box0"})
    # the part is lost on the way (the jaws open): the page shows the fault and what the buttons now do
    client.wait_for(lambda: client.joint_samples()[-1].width_m < 0.045, 60.0, "the grasp")
    client.wait_for(lambda: max(abs(v) for v in client.joint_samples()[-1].qd) > 0.2, 30.0, "the lift")
    client.publish("/sim/inject", String(data="drop"))
    browser.expect_state("FAULT", timeout_ms=30_000)
    sync_api.expect(page.locator("#fault")).to_contain_text("box0 dropped")
    sync_api.expect(page.locator("#btn-resume")).to_have_text("Retry")
    sync_api.expect(page.locator("#btn-reset")).to_have_text("Abandon run")
    browser.expect_buttons("FAULT", loaded=True)
    page.click("#btn-reset")
    browser.expect_state("READY")
    sync_api.expect(page.locator("#btn-reset")).to_have_text("Reset")
    row = page.locator("#runs tbody tr").first
    sync_api.expect(row.locator("td").nth(2)).to_have_text("aborted", timeout=UI_TIMEOUT_MS)
    sync_api.expect(row.locator("td").nth(5)).to_contain_text("box0 dropped")
