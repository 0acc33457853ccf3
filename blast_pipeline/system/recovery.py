"""Dead workflow runs: a run whose worker stopped beating (``runners.heartbeat``) is marked
failed, its pool slots are freed and its transients are retriggered from their stalled tasks.

Checked by the retrigger sweep (every few minutes) and at the start of ``blast-pipeline
process``. A run counts as dead when it is STARTING, STARTED or CANCELING and its last heartbeat
(or its start, when it never beat) is older than ``BLAST_HEARTBEAT_TIMEOUT_SECONDS`` (90 s):
``kill -9`` of the process or of a run worker, a lost machine, or a task past its hard limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import dagster as dg
from sqlalchemy import delete, select

from blast_pipeline.db.engine import BlastDatabase
from blast_pipeline.db.models import RunHeartbeat, utcnow
from blast_pipeline.runners.heartbeat import heartbeat_interval, heartbeat_timeout
from blast_pipeline.system.runs import as_utc, transients_of_run

LIVE_STATUSES = (
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
)


@dataclass(frozen=True)
class DeadRun:
    run_id: str
    job_name: str
    silent_seconds: float
    transients: frozenset[str]


def find_dead_runs(
    instance: dg.DagsterInstance,
    database: BlastDatabase,
    now: datetime | None = None,
    timeout: float | None = None,
) -> list[tuple[dg.DagsterRun, float]]:
    """Live runs whose heartbeat is older than ``timeout`` seconds, with that age."""
    now = now or utcnow()
    timeout = heartbeat_timeout() if timeout is None else timeout
    records = instance.get_run_records(dg.RunsFilter(statuses=list(LIVE_STATUSES)))
    if not records:
        return []
    ids = [r.dagster_run.run_id for r in records]
    with database.session() as session:
        beats = dict(
            session.execute(
                select(RunHeartbeat.run_id, RunHeartbeat.beat_at).where(
                    RunHeartbeat.run_id.in_(ids)
                )
            ).all()
        )
    dead = []
    for record in records:
        run = record.dagster_run
        last = beats.get(run.run_id)
        if last is None:  # killed before its first beat: count from its start
            started = record.start_time or record.create_timestamp.timestamp()
            last = datetime.fromtimestamp(started, UTC)
        silent = (now - as_utc(last)).total_seconds()
        if silent > timeout:
            dead.append((run, silent))
    return dead


def silent_runs(instance: dg.DagsterInstance, database: BlastDatabase) -> list[str]:
    """Live runs that missed a few beats (likely dead, not yet past the timeout)."""
    found = find_dead_runs(instance, database, timeout=3 * heartbeat_interval())
    return [run.run_id for run, _ in found]


def fail_dead_runs(
    instance: dg.DagsterInstance,
    database: BlastDatabase,
    now: datetime | None = None,
    timeout: float | None = None,
) -> list[DeadRun]:
    """Mark dead runs failed (with the reason), free their pool slots, drop their heartbeat (and
    the leftover heartbeats of runs that ended while their process exited)."""
    failed: list[DeadRun] = []
    for run, silent in find_dead_runs(instance, database, now, timeout):
        instance.report_run_failed(
            run,
            f"worker heartbeat silent for {silent:.0f} s (timeout "
            f"{heartbeat_timeout() if timeout is None else timeout:g} s): the run's process died "
            "or hung; marked failed by the retrigger sweep, its transients are retriggered",
        )
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        with database.session() as session:
            session.execute(delete(RunHeartbeat).where(RunHeartbeat.run_id == run.run_id))
        failed.append(
            DeadRun(run.run_id, run.job_name, silent, frozenset(transients_of_run(run.tags)))
        )
    live = {
        r.dagster_run.run_id
        for r in instance.get_run_records(dg.RunsFilter(statuses=list(LIVE_STATUSES)))
    }
    with database.session() as session:
        leftovers = [
            run_id for run_id in session.scalars(select(RunHeartbeat.run_id)) if run_id not in live
        ]
        if leftovers:
            session.execute(delete(RunHeartbeat).where(RunHeartbeat.run_id.in_(leftovers)))
    return failed
