"""Operator web dashboard of a running cell: a FastAPI app over ROS (``CellClient``) and the run history.

The app talks to the cell only through ROS: it reads ``/cell/status`` and calls the ``/cell_manager/*``
services, like any other operator client. The run history comes from the manager's SQLite file, opened
read-only per request. ``GET /`` is one self-contained page (inline CSS and JS, no CDN) that polls
``/api/status``.

HTTP mapping of the manager's answers: success -> 200, a refusal (``success: false``) -> 409 with the
manager's message as ``detail``, no manager (service missing, no answer, no recent ``/cell/status``) -> 503,
a malformed body -> 422 (FastAPI's validation).
"""

from __future__ import annotations

import socket
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI, HTTPException, Query
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from cell_config import Cell, ConfigError, load_cell
from flexcell_ros import conversions as conv
from flexcell_ros.cell_manager import allowed_commands, validation_verdict
from flexcell_ros.client import CellClient
from flexcell_ros.params import REPO, CellManagerParams
from flexcell_ros.run_store import recent_runs
from workflow_gen.fingerprint import stale_reason

COMMANDS = ("start", "pause", "resume", "stop", "reset")


class LoadVariantBody(BaseModel):
    """Body of ``POST /api/load_variant``: a variant name under ``cad_parts/``, a directory or a workflow.yaml."""

    model_config = ConfigDict(extra="forbid")
    variant: str = Field(min_length=1, description="variant name, variant directory or workflow.yaml path")
    force_replan: bool = False


class Dashboard:
    """The ROS side of the app: one ``CellClient`` (status only, no joint states) and the run database.

    Parameters
    ----------
    client : an existing client to use (not closed here); None = create one on ``domain_id`` at start-up
    db_path : the cell manager's run database (read-only); None = no history
    service_timeout_s : how long a command waits for the manager's service to appear before 503
    answer_timeout_s : how long a start/pause/... waits for the manager's answer
    load_timeout_s : how long a load waits (the manager may plan the variant first)
    stale_after_s : /cell/status older than this means the manager is gone (it publishes at 10 Hz)
    variants_dir, workflows_dir : where the manager resolves variant names and keeps their planned
        workflows (``cell_manager.variants_dir`` / ``workflows_dir``); None = no variant list
    cell_path : the manager's cell YAML (None = the default cell), to tell a plan that is out of date
    """

    def __init__(
        self,
        client: CellClient | None = None,
        domain_id: int | None = None,
        db_path: Path | str | None = None,
        service_timeout_s: float = 3.0,
        answer_timeout_s: float = 15.0,
        load_timeout_s: float = 900.0,
        stale_after_s: float = 3.0,
        variants_dir: Path | str | None = None,
        workflows_dir: Path | str | None = None,
        cell_path: Path | str | None = None,
    ) -> None:
        self.domain_id = domain_id
        self.db_path = Path(db_path) if db_path else None
        self.service_timeout_s = service_timeout_s
        self.answer_timeout_s = answer_timeout_s
        self.load_timeout_s = load_timeout_s
        self.stale_after_s = stale_after_s
        self.variants_dir = Path(variants_dir) if variants_dir else None
        self.workflows_dir = Path(workflows_dir) if workflows_dir else None
        self.cell_path = Path(cell_path) if cell_path else None
        self._client = client
        self._owns_client = client is None
        # A load can take minutes (planning): one at a time, later ones are refused instead of queued.
        self._load_lock = threading.Lock()

    def open(self) -> None:
        if self._client is None:
            self._client = CellClient(
                self.domain_id, name="flexcell_dashboard", motion=False, status_history=100, camera=True
            )

    def close(self) -> None:
        if self._client is not None and self._owns_client:
            self._client.close()
            self._client = None

    @property
    def connected(self) -> bool:
        """Whether the dashboard holds a ROS client (between the app's start-up and shutdown)."""
        return self._client is not None

    @property
    def client(self) -> CellClient:
        if self._client is None:
            raise HTTPException(503, "dashboard is not connected to ROS (starting up or shutting down)")
        return self._client

    def _unreachable(self, what: str) -> HTTPException:
        dom = f"ROS_DOMAIN_ID {self.domain_id}" if self.domain_id is not None else "this ROS_DOMAIN_ID"
        return HTTPException(503, f"cell manager not reachable: {what} (is `flexcell up` running on {dom}?)")

    # --- status --------------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        client = self.client
        st = client.status
        age_s = client.status_age_s()
        if st is None:
            raise self._unreachable("no /cell/status received yet")
        if age_s > self.stale_after_s:
            raise self._unreachable(f"last /cell/status {age_s:.1f} s ago")
        state, variant = str(st.state_name), str(st.variant)
        return {
            "state": state,
            "state_code": int(st.state),
            "variant": variant,
            "task_index": int(st.task_index),
            "task_count": int(st.task_count),
            "task_description": str(st.task_description),
            "operator_instructions": conv.operator_instructions(str(st.task_description)),
            "cycle_time_s": float(st.cycle_time_s),
            "last_cycle_time_s": float(st.last_cycle_time_s),
            "runs_completed": int(st.runs_completed),
            "last_fault": str(st.last_fault),
            "allowed": allowed_commands(state, bool(variant)),
            "age_s": round(age_s, 3),
            "camera": self._fresh_image() is not None,
        }

    # --- camera --------------------------------------------------------------------------------------
    def _fresh_image(self) -> tuple[bytes, str, float] | None:
        image = self.client.camera_image()
        return image if image is not None and image[2] <= self.stale_after_s else None

    def camera_jpeg(self) -> bytes:
        """The latest JPEG of ``/cell/camera/image/compressed``; 404 when there is none (or it is stale)."""
        image = self._fresh_image()
        if image is None or image[1] != "jpeg":
            raise HTTPException(
                404,
                "no camera image: nothing on /cell/camera/image/compressed in the last "
                f"{self.stale_after_s:.0f} s (sim_cell's camera_rate_hz is 0, or no camera publishes)",
            )
        return image[0]

    # --- commands ------------------------------------------------------------------------------------
    def command(self, name: str) -> dict[str, Any]:
        client = self.client
        service = client.triggers[name]
        if not service.wait_for_service(timeout_sec=self.service_timeout_s):
            raise self._unreachable(f"service {service.srv_name} not available")
        try:
            resp = client.trigger(name, timeout_s=self.answer_timeout_s)
        except TimeoutError as e:
            raise self._unreachable(str(e)) from None
        if not resp.success:
            raise HTTPException(409, str(resp.message))
        return {"ok": True, "command": name, "message": str(resp.message)}

    def load_variant(self, body: LoadVariantBody) -> dict[str, Any]:
        client = self.client
        if not client.load_client.wait_for_service(timeout_sec=self.service_timeout_s):
            raise self._unreachable(f"service {client.load_client.srv_name} not available")
        if not self._load_lock.acquire(blocking=False):
            raise HTTPException(409, "another load_variant from this dashboard is still in progress")
        try:
            resp = client.load_variant(body.variant, body.force_replan, timeout_s=self.load_timeout_s)
        except TimeoutError as e:
            raise self._unreachable(str(e)) from None
        finally:
            self._load_lock.release()
        if not resp.success:
            raise HTTPException(409, str(resp.message))
        return {
            "ok": True,
            "message": str(resp.message),
            "workflow_path": str(resp.workflow_path),
            "task_count": int(resp.task_count),
            "infeasible_parts": [str(p) for p in resp.infeasible_parts],
        }

    # --- variants ------------------------------------------------------------------------------------
    def variants(self) -> dict[str, Any]:
        """The variants the manager can load by name, each with whether it is planned and validated."""
        if self.variants_dir is None or not self.variants_dir.is_dir():
            return {"variants_dir": str(self.variants_dir) if self.variants_dir else None, "variants": []}
        found = []
        cell: Cell | str | None = None  # loaded once per request, when a planned variant needs it
        for vdir in sorted(d for d in self.variants_dir.iterdir() if (d / "variant.yaml").is_file()):
            wf = self.workflows_dir / vdir.name / "workflow.yaml" if self.workflows_dir else None
            planned = wf is not None and wf.is_file()
            validated, note = validation_verdict(wf, run_if_missing=False) if wf and planned else (None, "")
            stale = ""
            if wf and planned:
                if cell is None:
                    try:
                        cell = load_cell(self.cell_path)
                    except ConfigError as e:
                        cell = f"cell not loadable: {e}"
                stale = cell if isinstance(cell, str) else stale_reason(wf, vdir, cell)
            found.append(
                {
                    "name": vdir.name,
                    "planned": planned,
                    "current": planned and not stale,
                    "validated": validated,
                    "note": (stale or note) if planned else "not planned yet (loading plans it first)",
                }
            )
        return {"variants_dir": str(self.variants_dir), "variants": found}

    # --- history -------------------------------------------------------------------------------------
    def runs(self, limit: int) -> dict[str, Any]:
        if self.db_path is None:
            return {"db_path": None, "runs": []}
        try:
            rows = recent_runs(self.db_path, limit)
        except sqlite3.Error as e:
            raise HTTPException(503, f"{self.db_path}: run history not readable ({e})") from None
        runs = []
        for r in rows:
            d = asdict(r)
            d["faults"] = [{"task_index": t, "message": m} for t, m in r.faults]
            runs.append(d)
        return {"db_path": str(self.db_path), "runs": runs}


def create_app(dashboard: Dashboard | None = None, **kwargs: Any) -> FastAPI:
    """The dashboard app. ``dashboard`` (or ``Dashboard(**kwargs)``) connects to ROS when the app starts
    (its lifespan) and disconnects when it stops."""
    dash = dashboard if dashboard is not None else Dashboard(**kwargs)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        dash.open()
        try:
            yield
        finally:
            dash.close()

    app = FastAPI(title="flexcell cell dashboard", lifespan=lifespan)
    app.state.dashboard = dash
    started_s = time.time()

    # Plain `def` endpoints: FastAPI runs them in its thread pool, so a blocking service call (a load may
    # plan for minutes) never stalls the status polling of other browsers.
    @app.get("/", response_class=HTMLResponse)
    def page() -> str:
        return PAGE_HTML

    @app.get("/api/status")
    def status() -> dict[str, Any]:
        return dash.status()

    @app.post("/api/load_variant")
    def load_variant(body: LoadVariantBody) -> dict[str, Any]:
        return dash.load_variant(body)

    def _command_endpoint(name: str) -> Callable[[], dict[str, Any]]:
        def endpoint() -> dict[str, Any]:
            return dash.command(name)

        endpoint.__name__ = f"command_{name}"
        return endpoint

    for name in COMMANDS:
        app.post(f"/api/{name}", summary=f"/cell_manager/{name}")(_command_endpoint(name))

    @app.get("/api/camera.jpg", response_class=Response)
    def camera() -> Response:
        return Response(dash.camera_jpeg(), media_type="image/jpeg", headers={"Cache-Control": "no-store"})

    @app.get("/api/variants")
    def variants() -> dict[str, Any]:
        return dash.variants()

    @app.get("/api/runs")
    def runs(limit: int = Query(20, ge=1, le=500)) -> dict[str, Any]:
        return dash.runs(limit)

    @app.get("/api/health")
    def health() -> dict[str, Any]:
        return {"ok": True, "uptime_s": round(time.time() - started_s, 1)}

    return app


def manager_paths(params: dict[str, dict[str, Any]]) -> dict[str, Path]:
    """``db_path``, ``variants_dir``, ``workflows_dir`` and ``cell_path`` (when set) of the cell manager in a
    parameter set (``bringup.merged_params``; a key not set takes the node's default). A relative path is
    relative to the repository, the nodes' working directory."""
    given = params.get("cell_manager", {})
    out = {}
    for key in ("db_path", "variants_dir", "workflows_dir", "cell"):
        value = str(given.get(key) or CellManagerParams.model_fields[key].default)
        if not value:  # cell "" = the default cell
            continue
        path = Path(value)
        out["cell_path" if key == "cell" else key] = path if path.is_absolute() else REPO / path
    return out


class DashboardServer:
    """uvicorn serving ``app`` on ``host:port`` (port 0 = a free port, see ``.port``).

    The socket is bound here, so a port in use fails at construction (``OSError``), before anything starts.
    ``run()`` serves in the calling thread (Ctrl-C stops it); ``start()``/``stop()`` serve in a background
    thread (``flexcell up --dashboard``, the tests): ``stop`` lets uvicorn finish its requests and the app's
    shutdown (which closes the ROS client), then joins the thread.
    """

    def __init__(
        self, app: FastAPI, host: str = "127.0.0.1", port: int = 8080, log_level: str = "warning"
    ) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.bind((host, port))
        except OSError:
            self.sock.close()
            raise
        self.host = host
        self.port = int(self.sock.getsockname()[1])
        # ws="none": no websocket stack is needed (the page polls), and none gets imported.
        self.server = uvicorn.Server(
            uvicorn.Config(app, log_level=log_level, ws="none", lifespan="on", timeout_graceful_shutdown=5)
        )
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def run(self) -> None:
        try:
            self.server.run(sockets=[self.sock])
        finally:
            self.sock.close()

    def start(self, timeout_s: float = 30.0) -> None:
        self.thread = threading.Thread(target=self.run, name="dashboard-http", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"dashboard server on {self.url} did not start")
            time.sleep(0.02)

    def stop(self, timeout_s: float = 15.0) -> None:
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout_s)
            if self.thread.is_alive():
                raise RuntimeError(f"dashboard server on {self.url} did not stop within {timeout_s:.0f} s")
            self.thread = None


PAGE_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>flexcell cell</title>
<link rel="icon" href="data:,">
<style>
  :root { --bg: #f4f5f7; --card: #fff; --ink: #1d2330; --dim: #6b7385; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 15px/1.4 system-ui, sans-serif; background: var(--bg); color: var(--ink); }
  header { display: flex; align-items: baseline; gap: 1em; padding: 0.8em 1.2em; background: #1d2330;
           color: #fff; }
  header h1 { font-size: 1.1em; margin: 0; }
  header .conn { margin-left: auto; font-size: 0.9em; color: #b9c0cf; }
  main { display: grid; grid-template-columns: minmax(320px, 1fr) minmax(320px, 1.4fr); gap: 1em;
         padding: 1em 1.2em; }
  .card { background: var(--card); border-radius: 8px; padding: 1em 1.2em; box-shadow: 0 1px 3px #0002; }
  #state { font-size: 3.2em; font-weight: 700; letter-spacing: 0.04em; text-align: center;
           padding: 0.35em 0; border-radius: 8px; color: #fff; background: #888; }
  .s-IDLE { background: #6b7385 !important; } .s-READY { background: #1f6feb !important; }
  .s-RUNNING { background: #1a7f37 !important; } .s-PAUSED { background: #bf8700 !important; }
  .s-FAULT { background: #cf222e !important; } .s-ESTOP { background: #8250df !important; }
  .s-OFFLINE { background: #424a57 !important; }
  dl { display: grid; grid-template-columns: auto 1fr; gap: 0.3em 1em; margin: 1em 0 0; }
  dt { color: var(--dim); } dd { margin: 0; font-variant-numeric: tabular-nums; }
  .bar { height: 14px; background: #e3e6eb; border-radius: 7px; overflow: hidden; margin-top: 0.4em; }
  #bar-fill { height: 100%; width: 0; background: #1a7f37; transition: width 0.3s; }
  #operator { margin-top: 0.8em; padding: 0.8em 1em; border-radius: 8px; background: #fff8c5;
              border: 2px solid #bf8700; font-size: 1.1em; }
  #operator strong, #operator em { display: block; } #operator em { color: var(--dim); }
  #operator ol { margin: 0.4em 0; padding-left: 1.4em; } #operator li { margin: 0.2em 0; }
  #fault { color: #cf222e; font-weight: 600; white-space: pre-wrap; }
  #fault.none { color: var(--dim); font-weight: normal; }
  .buttons { display: flex; flex-wrap: wrap; gap: 0.5em; margin-top: 0.8em; }
  button { font: inherit; font-weight: 600; padding: 0.6em 1.2em; border: 0; border-radius: 6px;
           cursor: pointer; color: #fff; background: #1f6feb; }
  button:disabled { background: #c4c9d2; cursor: not-allowed; }
  #btn-stop { background: #cf222e; } #btn-stop:disabled { background: #e8b4b8; }
  #btn-pause { background: #bf8700; } #btn-start, #btn-resume { background: #1a7f37; }
  #btn-start:disabled, #btn-resume:disabled, #btn-pause:disabled { background: #c4c9d2; }
  .load { display: flex; gap: 0.5em; margin-top: 0.8em; }
  .load input { flex: 1; font: inherit; padding: 0.5em; border: 1px solid #c4c9d2; border-radius: 6px; }
  #message { margin-top: 0.8em; min-height: 1.4em; color: var(--dim); white-space: pre-wrap; }
  #message.error { color: #cf222e; }
  table { width: 100%; border-collapse: collapse; font-size: 0.92em; }
  th, td { text-align: left; padding: 0.35em 0.5em; border-bottom: 1px solid #e3e6eb; vertical-align: top; }
  th { color: var(--dim); font-weight: 600; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  .r-completed { color: #1a7f37; } .r-fault { color: #cf222e; } .r-running { color: #1f6feb; }
  .r-stopped, .r-aborted { color: #8250df; }
  #camera { width: 100%; max-width: 640px; border-radius: 6px; display: block; margin-bottom: 0.8em; }
  #camera[hidden] { display: none; }
  #variants tbody tr { cursor: pointer; } #variants tbody tr:hover { background: #eef3fd; }
  .v-ok { color: #1a7f37; } .v-failed { color: #cf222e; } .v-none { color: var(--dim); }
</style>
</head>
<body>
<header><h1>flexcell cell</h1><span id="variant-head"></span><span class="conn" id="conn">connecting</span>
</header>
<main>
  <section class="card">
    <div id="state" class="s-OFFLINE">&hellip;</div>
    <div id="operator" hidden><strong>Operator task</strong><ol id="operator-steps"></ol>
      <em>Press Resume when it is done.</em></div>
    <div class="buttons">
      <button id="btn-start" data-cmd="start" disabled>Start</button>
      <button id="btn-pause" data-cmd="pause" disabled>Pause</button>
      <button id="btn-resume" data-cmd="resume" disabled>Resume</button>
      <button id="btn-stop" data-cmd="stop" disabled>Stop</button>
      <button id="btn-reset" data-cmd="reset" disabled>Reset</button>
    </div>
    <form class="load" id="load-form">
      <input id="variant-input" list="variant-names" autocomplete="off"
             placeholder="variant name (cad_parts/) or workflow.yaml path" required>
      <datalist id="variant-names"></datalist>
      <button id="btn-load" type="submit" disabled>Load variant</button>
    </form>
    <div id="message"></div>
    <dl>
      <dt>variant</dt><dd id="variant">&ndash;</dd>
      <dt>task</dt><dd><span id="task">&ndash;</span> <span id="task-desc"></span>
        <div class="bar"><div id="bar-fill"></div></div></dd>
      <dt>cycle time</dt><dd id="cycle">&ndash;</dd>
      <dt>last cycle</dt><dd id="last-cycle">&ndash;</dd>
      <dt>runs completed</dt><dd id="runs-completed">&ndash;</dd>
      <dt>last fault</dt><dd id="fault">&ndash;</dd>
    </dl>
  </section>
  <section class="card">
    <img id="camera" alt="cell camera" hidden>
    <h2 style="margin-top:0;font-size:1.1em">Variants</h2>
    <table id="variants">
      <thead><tr><th>variant</th><th>status</th></tr></thead>
      <tbody></tbody>
    </table>
    <h2 style="font-size:1.1em">Run history</h2>
    <table id="runs">
      <thead><tr><th>started</th><th>variant</th><th>state</th><th class="num">cycle time</th>
        <th class="num">tasks</th><th>faults</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const COMMANDS = ["start", "pause", "resume", "stop", "reset"];
let busy = false, lastRunsKey = "";

function setMessage(text, isError) {
  $("message").textContent = text;
  $("message").className = isError ? "error" : "";
}
function fmtS(s) { return (s === null || s === undefined) ? "\\u2013" : s.toFixed(1) + " s"; }

function offline(reason) {
  $("state").textContent = "OFFLINE";
  $("operator").hidden = true;
  $("camera").hidden = true;
  $("state").className = "s-OFFLINE";
  $("conn").textContent = reason;
  for (const c of COMMANDS) $("btn-" + c).disabled = true;
  $("btn-load").disabled = true;
}

function render(st) {
  $("conn").textContent = "connected";
  $("state").textContent = st.state;
  $("state").className = "s-" + st.state;
  $("variant").textContent = st.variant || "\\u2013";
  $("variant-head").textContent = st.variant;
  // task_index is 0-based: the task under way, which is also the number of tasks done
  const n = st.task_count, i = Math.min(st.task_index, n);
  $("task").textContent = !n ? "\\u2013" : (i >= n ? "all " + n + " done" : "task " + (i + 1) + " of " + n);
  const desc = st.operator_instructions ? "operator task" : st.task_description;
  $("task-desc").textContent = desc ? "(" + desc + ")" : "";
  $("operator").hidden = !(st.state === "PAUSED" && st.operator_instructions);
  const steps = st.operator_instructions ? st.operator_instructions.split("\\n") : [];
  if ($("operator-steps").dataset.text !== st.operator_instructions) {
    $("operator-steps").dataset.text = st.operator_instructions;
    $("operator-steps").replaceChildren(...steps.map((text) => {
      const li = document.createElement("li");
      li.textContent = text;
      return li;
    }));
  }
  $("bar-fill").style.width = (n ? Math.round(100 * i / n) : 0) + "%";
  $("cycle").textContent = fmtS(st.cycle_time_s);
  $("last-cycle").textContent = st.last_cycle_time_s ? fmtS(st.last_cycle_time_s) : "\\u2013";
  $("runs-completed").textContent = st.runs_completed;
  $("fault").textContent = st.last_fault || "\\u2013";
  $("fault").className = st.last_fault ? "" : "none";
  for (const c of COMMANDS) $("btn-" + c).disabled = busy || !st.allowed[c];
  $("btn-load").disabled = busy || !st.allowed.load_variant;
  // what Resume and Reset do depends on the state: say it on the buttons
  const waiting = st.state === "PAUSED" && st.operator_instructions;
  $("btn-resume").textContent = st.state === "FAULT" ? "Retry" : (waiting ? "Done, resume" : "Resume");
  $("btn-reset").textContent = st.state === "FAULT" ? "Abandon run" : "Reset";
  showCamera(st.camera);
}

let cameraLoading = false, cameraShown = 0;
function showCamera(available) {
  const img = $("camera");
  if (!available) { img.hidden = true; return; }
  if (cameraLoading || Date.now() - cameraShown < 1000) return;  // one image a second is enough to watch
  cameraLoading = true;
  const next = new Image();
  next.onload = () => { img.src = next.src; img.hidden = false; cameraLoading = false; cameraShown = Date.now(); };
  next.onerror = () => { cameraLoading = false; cameraShown = Date.now(); };
  next.src = "/api/camera.jpg?t=" + Date.now();
}

async function pollStatus() {
  try {
    const r = await fetch("/api/status", {cache: "no-store"});
    const body = await r.json();
    if (r.ok) {
      render(body);
      const key = body.state + "/" + body.runs_completed + "/" + body.task_index;
      if (key !== lastRunsKey) { lastRunsKey = key; loadRuns(); }
    } else {
      offline(body.detail || ("HTTP " + r.status));
    }
  } catch (e) {
    offline("dashboard server not reachable");
  }
}

function cell(tr, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  tr.appendChild(td);
}

async function loadRuns() {
  try {
    const r = await fetch("/api/runs?limit=20", {cache: "no-store"});
    if (!r.ok) return;
    const body = await r.json();
    const tbody = $("runs").querySelector("tbody");
    tbody.replaceChildren();
    for (const run of body.runs) {
      const tr = document.createElement("tr");
      cell(tr, new Date(run.started_utc * 1000).toLocaleString());
      cell(tr, run.variant);
      cell(tr, run.state, "r-" + run.state);
      cell(tr, fmtS(run.cycle_time_s), "num");
      cell(tr, run.tasks_finished + "/" + run.task_count, "num");
      cell(tr, run.faults.map((f) => "task " + (f.task_index + 1) + ": " + f.message).join("\\n"));
      tbody.appendChild(tr);
    }
  } catch (e) { /* the status poll reports the connection */ }
}

function variantStatus(v) {
  if (!v.planned) return ["not planned yet", "v-none"];
  if (!v.current) return ["changed since planned: loading plans it again", "v-none"];
  if (v.validated === true) return ["planned, validated in simulation", "v-ok"];
  if (v.validated === false) return ["validation failed", "v-failed"];
  return ["planned, not validated", "v-none"];
}

async function loadVariants() {
  try {
    const r = await fetch("/api/variants", {cache: "no-store"});
    if (!r.ok) return;
    const body = await r.json();
    const tbody = $("variants").querySelector("tbody");
    tbody.replaceChildren();
    $("variant-names").replaceChildren();
    if (!body.variants.length) {
      const tr = document.createElement("tr");
      cell(tr, body.variants_dir ? "no variants in " + body.variants_dir : "no variants directory configured");
      cell(tr, "", "v-none");
      tbody.appendChild(tr);
    }
    for (const v of body.variants) {
      const tr = document.createElement("tr");
      const [text, cls] = variantStatus(v);
      cell(tr, v.name);
      cell(tr, text, cls);
      tr.title = v.note;
      tr.addEventListener("click", () => { $("variant-input").value = v.name; });
      tbody.appendChild(tr);
      const opt = document.createElement("option");
      opt.value = v.name;
      $("variant-names").appendChild(opt);
    }
  } catch (e) { /* the status poll reports the connection */ }
}

async function post(path, body) {
  busy = true;
  for (const c of COMMANDS) $("btn-" + c).disabled = true;
  $("btn-load").disabled = true;
  setMessage(path.replace("/api/", "") + "\\u2026", false);
  try {
    const r = await fetch(path, {
      method: "POST",
      headers: {"Content-Type": "application/json"},
      body: body === undefined ? null : JSON.stringify(body),
    });
    const data = await r.json();
    if (r.ok) setMessage(data.message, false);
    else setMessage(typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail), true);
  } catch (e) {
    setMessage("dashboard server not reachable", true);
  } finally {
    busy = false;
    pollStatus();
    if (path === "/api/load_variant") loadVariants();  // a load may have planned and validated it
  }
}

for (const c of COMMANDS) $("btn-" + c).addEventListener("click", () => post("/api/" + c));
$("load-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  post("/api/load_variant", {variant: $("variant-input").value.trim()});
});
pollStatus();
loadVariants();
setInterval(pollStatus, 500);
</script>
</body>
</html>
"""
