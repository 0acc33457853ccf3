"""kill -9 of ``blast-pipeline process`` in the middle of a batch and of a task (SQLite: batch
runs; PostgreSQL: one run per transient): the next sweep fails the dead run from its silent
heartbeat and retriggers its transients from their stalled tasks; every transient ends
completed or blocked, with no duplicate or contradictory rows, within a bounded time."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy import text

from blast_pipeline.cli import main
from blast_pipeline.db import BlastDatabase
from blast_pipeline.definitions import build_definitions
from blast_pipeline.orchestration import process_pending
from blast_pipeline.resources import blast_resource_from_env
from blast_pipeline.system.consistency import check_consistency
from blast_pipeline.tasks import TASK_RUNNERS

ROOT = Path(__file__).resolve().parents[2]
#: From the kill to every transient finished, on a loaded 2-core machine.
RECOVERY_BOUND_SECONDS = 180


def _count(database: BlastDatabase, status: str) -> int:
    with database.engine.connect() as connection:
        return connection.execute(
            text(
                "SELECT count(*) FROM task_register r JOIN statuses s ON r.status_id = s.id "
                "WHERE s.message = :m"
            ),
            {"m": status},
        ).scalar()


@pytest.mark.slow
def test_kill_9_mid_task_recovers_without_an_operator(monkeypatch, tmp_path, database_url):
    batch = database_url.startswith("sqlite")  # SQLite: batch runs; PostgreSQL: per transient
    env = {
        "BLAST_HOME": str(tmp_path / "home"),
        "BLAST_DATABASE_URL": database_url,
        "BLAST_CUTOUT_FOV_ARCSEC": "120",
        "BLAST_WORKFLOW_BATCH_SIZE": "20" if batch else "1",
        "DAGSTER_HOME": str(tmp_path / "dagster"),
        "BLAST_HEARTBEAT_INTERVAL_SECONDS": "0.5",
        "BLAST_HEARTBEAT_TIMEOUT_SECONDS": "4",
        "BLAST_LAUNCH_GRACE_SECONDS": "4",
    }
    (tmp_path / "dagster").mkdir()
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert main(["simulate", "3", "--seed", "11"]) == 0
    database = BlastDatabase(database_url)
    child = subprocess.Popen(
        [sys.executable, "-m", "blast_pipeline.cli", "process"],
        cwd=ROOT,
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # mid-batch (first transient done) or mid-run, and in the middle of a task
    needed = 14 if batch else 5
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and child.poll() is None:
        if _count(database, "processed") >= needed and _count(database, "processing") >= 1:
            break
        time.sleep(0.05)
    assert child.poll() is None, "the process finished before it could be killed"
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    killed_at = time.monotonic()
    assert _count(database, "processing") >= 1  # what the kill left behind

    # what the daemon's retrigger schedule and sensor do (here: `blast-pipeline process`)
    blast = blast_resource_from_env(resolve=True)
    defs = build_definitions(TASK_RUNNERS, blast)
    with dg.DagsterInstance.get() as instance:
        recovered = None
        while time.monotonic() - killed_at < RECOVERY_BOUND_SECONDS:
            summary = process_pending(defs, instance)
            if summary.recovered:
                recovered = summary.recovered
            with database.session() as session:
                report = check_consistency(session, Path(env["BLAST_HOME"]) / "data")
            if not report.unfinished:
                break
            time.sleep(1)
        elapsed = time.monotonic() - killed_at
        assert not report.unfinished, f"still unfinished after {elapsed:.0f} s: {report}"
        assert recovered and "1 dead run(s) failed" in recovered
        failed = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE]))
        assert len(failed) == 1  # the killed run, marked failed from its silent heartbeat
        live = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
        assert live == []
    assert report.transients == 3
    assert report.duplicates == [] and report.contradictions == [] and report.lost == []
    assert _count(database, "processing") == 0
    database.dispose()
