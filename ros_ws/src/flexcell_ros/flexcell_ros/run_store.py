"""Run history and execution progress in SQLite (stdlib ``sqlite3``), shared by the manager and the executor.

Tables
------
``runs``   one row per run: variant, workflow, state (running/completed/aborted/fault), times, cycle time.
``steps``  one row per finished step of a task (``run_id, task_index, step_index``): the executor commits
           a row the moment a step completes, so a restarted executor resumes at the first step without
           a row and never repeats a finished gripper release (a place).
``tasks``  per task: finished flag, attempts, and how many times its part was released (``places``).
``faults`` every fault with the task it happened in.

Each process opens its own connection; WAL mode and a busy timeout let the two nodes write concurrently.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, variant TEXT, workflow TEXT, state TEXT,
    started_utc REAL, finished_utc REAL, cycle_time_s REAL, task_count INTEGER
);
CREATE TABLE IF NOT EXISTS tasks (
    run_id TEXT, task_index INTEGER, task_id TEXT, finished INTEGER DEFAULT 0,
    attempts INTEGER DEFAULT 0, places INTEGER DEFAULT 0, duration_s REAL, overhead_s REAL,
    PRIMARY KEY (run_id, task_index)
);
CREATE TABLE IF NOT EXISTS steps (
    run_id TEXT, task_index INTEGER, step_index INTEGER, name TEXT, finished_utc REAL,
    PRIMARY KEY (run_id, task_index, step_index)
);
CREATE TABLE IF NOT EXISTS faults (
    run_id TEXT, task_index INTEGER, message TEXT, time_utc REAL
);
"""


@dataclass
class RunRecord:
    run_id: str
    variant: str
    workflow: str
    state: str
    cycle_time_s: float | None
    task_count: int


class _Rows:
    """The fetched result of one statement."""

    def __init__(self, rows: list[Any]) -> None:
        self.rows = rows

    def fetchone(self) -> Any:
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list[Any]:
        return self.rows


class _SerializedConnection:
    """One sqlite3 connection shared by several threads, one statement at a time.

    sqlite3 leaves serialisation to the caller when ``check_same_thread`` is off; closing the connection
    while another thread was inside a query crashed a node at shutdown (SIGSEGV). After ``close`` every
    statement raises ``sqlite3.ProgrammingError``.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.lock = threading.Lock()
        self.closed = False

    def execute(self, sql: str, args: Sequence[Any] = ()) -> _Rows:
        with self.lock:
            if self.closed:
                raise sqlite3.ProgrammingError("the run store is closed")
            return _Rows(self.conn.execute(sql, args).fetchall())

    def transaction(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> None:
        """Run ``(sql, args)`` statements as one transaction: all of them or none."""
        with self.lock:
            if self.closed:
                raise sqlite3.ProgrammingError("the run store is closed")
            with self.conn:
                self.conn.execute("BEGIN")
                for sql, args in statements:
                    self.conn.execute(sql, args)

    def close(self) -> None:
        with self.lock:
            if not self.closed:
                self.closed = True
                self.conn.close()


class RunStore:
    """Thin typed access to the run database at ``path`` (created with its folder if missing)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # check_same_thread off: ROS callbacks run on executor threads; every call commits at once.
        conn = sqlite3.connect(self.path, timeout=10.0, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(_SCHEMA)
        self.db = _SerializedConnection(conn)

    def close(self) -> None:
        self.db.close()

    # runs -------------------------------------------------------------------------------------------
    def new_run(self, variant: str, workflow: str, task_count: int) -> str:
        run_id = time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
        self.db.execute(
            "INSERT INTO runs VALUES (?, ?, ?, 'running', ?, NULL, NULL, ?)",
            (run_id, variant, workflow, time.time(), task_count),
        )
        return run_id

    def set_run_state(self, run_id: str, state: str, cycle_time_s: float | None = None) -> None:
        finished = time.time() if state in ("completed", "aborted") else None
        self.db.execute(
            "UPDATE runs SET state = ?, finished_utc = COALESCE(?, finished_utc), "
            "cycle_time_s = COALESCE(?, cycle_time_s) WHERE run_id = ?",
            (state, finished, cycle_time_s, run_id),
        )

    def run(self, run_id: str) -> RunRecord | None:
        row = self.db.execute(
            "SELECT run_id, variant, workflow, state, cycle_time_s, task_count FROM runs WHERE run_id = ?",
            (run_id,),
        ).fetchone()
        return RunRecord(*row) if row else None

    def unfinished_run(self) -> RunRecord | None:
        """The newest run that neither completed nor was aborted (what a restarted manager offers to resume)."""
        row = self.db.execute(
            "SELECT run_id, variant, workflow, state, cycle_time_s, task_count FROM runs "
            "WHERE state NOT IN ('completed', 'aborted') ORDER BY started_utc DESC LIMIT 1"
        ).fetchone()
        return RunRecord(*row) if row else None

    def runs_completed(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM runs WHERE state = 'completed'").fetchone()[0])

    def last_cycle_time_s(self) -> float:
        row = self.db.execute(
            "SELECT cycle_time_s FROM runs WHERE state = 'completed' ORDER BY finished_utc DESC LIMIT 1"
        ).fetchone()
        return float(row[0]) if row and row[0] is not None else 0.0

    # tasks and steps --------------------------------------------------------------------------------
    def start_task(self, run_id: str, task_index: int, task_id: str) -> None:
        self.db.execute(
            "INSERT INTO tasks (run_id, task_index, task_id, attempts) VALUES (?, ?, ?, 1) "
            "ON CONFLICT (run_id, task_index) DO UPDATE SET attempts = attempts + 1",
            (run_id, task_index, task_id),
        )

    def finish_step(self, run_id: str, task_index: int, step_index: int, name: str, released: bool) -> None:
        """Record a finished step; ``released`` counts a place (the gripper let go of its part)."""
        statements: list[tuple[str, Sequence[Any]]] = [
            (
                "INSERT OR IGNORE INTO steps VALUES (?, ?, ?, ?, ?)",
                (run_id, task_index, step_index, name, time.time()),
            )
        ]
        if released:
            statements.append(
                (
                    "UPDATE tasks SET places = places + 1 WHERE run_id = ? AND task_index = ?",
                    (run_id, task_index),
                )
            )
        self.db.transaction(statements)

    def finish_task(self, run_id: str, task_index: int, duration_s: float, overhead_s: float = 0.0) -> None:
        """Mark a task done: its sim duration and the executor's wall time spent between its steps."""
        self.db.execute(
            "UPDATE tasks SET finished = 1, duration_s = ?, overhead_s = ? WHERE run_id = ? AND task_index = ?",
            (duration_s, overhead_s, run_id, task_index),
        )

    def task_overheads_s(self, run_id: str) -> list[float]:
        rows = self.db.execute(
            "SELECT overhead_s FROM tasks WHERE run_id = ? AND finished = 1 ORDER BY task_index", (run_id,)
        ).fetchall()
        return [float(r[0] or 0.0) for r in rows]

    def latest_run_id(self) -> str | None:
        row = self.db.execute("SELECT run_id FROM runs ORDER BY started_utc DESC LIMIT 1").fetchone()
        return str(row[0]) if row else None

    def resume_point(self, run_id: str, step_counts: list[int]) -> tuple[int, int]:
        """``(task_index, step_index)`` of the first unfinished step; ``(len(step_counts), 0)`` when done."""
        done = {
            (t, s)
            for t, s in self.db.execute(
                "SELECT task_index, step_index FROM steps WHERE run_id = ?", (run_id,)
            ).fetchall()
        }
        for t, n in enumerate(step_counts):
            for s in range(n):
                if (t, s) not in done:
                    return t, s
        return len(step_counts), 0

    def task_places(self, run_id: str) -> dict[int, int]:
        """``task_index -> number of releases`` of a run (1 per finished pick-and-place task)."""
        rows = self.db.execute("SELECT task_index, places FROM tasks WHERE run_id = ?", (run_id,)).fetchall()
        return {int(t): int(p) for t, p in rows}

    # faults -----------------------------------------------------------------------------------------
    def add_fault(self, run_id: str, task_index: int, message: str) -> None:
        self.db.execute("INSERT INTO faults VALUES (?, ?, ?, ?)", (run_id, task_index, message, time.time()))

    def faults(self, run_id: str) -> list[tuple[int, str]]:
        rows = self.db.execute(
            "SELECT task_index, message FROM faults WHERE run_id = ? ORDER BY time_utc", (run_id,)
        ).fetchall()
        return [(int(t), str(m)) for t, m in rows]


# read-only history (the operator dashboard) -------------------------------------------------------------
@dataclass
class RunSummary:
    """One run as the operator sees it: times are UNIX seconds (UTC), ``cycle_time_s`` sim seconds
    (None until the run completes); ``faults`` is ``[(task_index, message)]`` in the order they happened."""

    run_id: str
    variant: str
    workflow: str
    state: str
    started_utc: float
    finished_utc: float | None
    cycle_time_s: float | None
    task_count: int
    tasks_finished: int
    attempts: int
    places: int
    faults: list[tuple[int, str]]


def recent_runs(path: Path | str, limit: int = 20) -> list[RunSummary]:
    """The newest ``limit`` runs of the run database at ``path``, newest first, opened read-only.

    A viewer never writes (no schema, no WAL checkpoint of its own): the nodes own the file. A database that
    does not exist yet has no runs. Other SQLite errors (a locked or foreign file) are raised.
    """
    path = Path(path)
    if not path.is_file():
        return []
    with closing(sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True, timeout=5.0)) as conn:
        rows = conn.execute(
            "SELECT r.run_id, r.variant, r.workflow, r.state, r.started_utc, r.finished_utc, r.cycle_time_s, "
            "r.task_count, COALESCE(SUM(t.finished), 0), COALESCE(SUM(t.attempts), 0), "
            "COALESCE(SUM(t.places), 0) FROM runs r LEFT JOIN tasks t ON t.run_id = r.run_id "
            "GROUP BY r.run_id ORDER BY r.started_utc DESC LIMIT ?",
            (max(0, int(limit)),),
        ).fetchall()
        faults: dict[str, list[tuple[int, str]]] = {str(r[0]): [] for r in rows}
        if rows:
            marks = ", ".join("?" * len(rows))
            for run_id, task_index, message in conn.execute(
                f"SELECT run_id, task_index, message FROM faults WHERE run_id IN ({marks}) ORDER BY time_utc",
                [r[0] for r in rows],
            ).fetchall():
                faults[str(run_id)].append((int(task_index), str(message)))
    return [
        RunSummary(
            run_id=str(r[0]),
            variant=str(r[1] or ""),
            workflow=str(r[2] or ""),
            state=str(r[3] or ""),
            started_utc=float(r[4] or 0.0),
            finished_utc=None if r[5] is None else float(r[5]),
            cycle_time_s=None if r[6] is None else float(r[6]),
            task_count=int(r[7] or 0),
            tasks_finished=int(r[8]),
            attempts=int(r[9]),
            places=int(r[10]),
            faults=faults[str(r[0])],
        )
        for r in rows
    ]
