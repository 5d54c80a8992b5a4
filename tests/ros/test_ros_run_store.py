"""The SQLite run store: resume points per step, place counts, history across connections."""

from __future__ import annotations

from pathlib import Path

from flexcell_ros.run_store import RunStore


def test_resume_point_and_places(tmp_path: Path) -> None:
    db = tmp_path / "runs.sqlite3"
    store = RunStore(db)
    run = store.new_run("kit", "/w/workflow.yaml", 2)
    counts = [3, 2]
    assert store.resume_point(run, counts) == (0, 0)
    store.start_task(run, 0, "t0")
    store.finish_step(run, 0, 0, "pick", released=False)
    store.finish_step(run, 0, 1, "place", released=True)
    assert store.resume_point(run, counts) == (0, 2)
    # a second process (the restarted executor) sees the same progress
    other = RunStore(db)
    assert other.resume_point(run, counts) == (0, 2)
    other.finish_step(run, 0, 2, "retreat", released=False)
    other.finish_task(run, 0, 4.5, 0.012)
    # recording a finished step twice does not count its place twice
    other.finish_step(run, 0, 1, "place", released=False)
    assert store.resume_point(run, counts) == (1, 0)
    assert store.task_places(run) == {0: 1}
    assert store.task_overheads_s(run) == [0.012]
    store.start_task(run, 1, "t1")
    store.finish_step(run, 1, 0, "pick", released=False)
    store.finish_step(run, 1, 1, "place", released=True)
    assert store.resume_point(run, counts) == (2, 0)
    assert store.unfinished_run() is not None
    store.add_fault(run, 1, "box dropped")
    store.set_run_state(run, "completed", 9.5)
    assert store.unfinished_run() is None
    assert store.runs_completed() == 1 and store.last_cycle_time_s() == 9.5
    assert store.faults(run) == [(1, "box dropped")]
    assert store.latest_run_id() == run
    store.close()
    other.close()
