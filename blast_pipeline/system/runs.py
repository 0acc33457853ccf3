"""Is a transient's workflow in flight? Shared by the retrigger, garbage collector, retention
job, TNS ingestion and the CLI.

A transient is *busy* when it has a Dagster run that is not finished (queued, not started,
starting, started, canceling...), found by the run's exact ``dagster/partition`` (or
``blast/transient``) tag, never by a substring match as Blast did; or when it waits for the
sensor (``workflow_requested_at`` is NULL); or when the sensor launched it so recently that the
daemon may not have created the run record yet (``LAUNCH_GRACE_SECONDS``).
"""

from __future__ import annotations

import os
from collections.abc import Collection
from datetime import UTC, datetime, timedelta

import dagster as dg

from blast_pipeline.runners.jobs import IN_FLIGHT_STATUSES

PARTITION_TAG = "dagster/partition"
TRANSIENT_TAG = "blast/transient"
#: Batch runs list their transients, comma-separated (``runners.jobs.BATCH_TRANSIENTS_TAG``).
BATCH_TAG = "blast/transients"


def transients_of_run(tags: dict[str, str]) -> set[str]:
    """The transients a run works on, from its tags (one partition, or a batch's list)."""
    names = {tags[key] for key in (PARTITION_TAG, TRANSIENT_TAG) if tags.get(key)}
    if tags.get(BATCH_TAG):
        names.update(n for n in tags[BATCH_TAG].split(",") if n)
    return names


#: After the sensor marks a transient launched, the daemon submits its run within seconds (about
#: 1 s per run request, 50 per tick); until then no run record exists. Treat it as busy meanwhile
#: (``BLAST_LAUNCH_GRACE_SECONDS``).
LAUNCH_GRACE_SECONDS = 300.0


def launch_grace_seconds() -> float:
    return float(os.environ.get("BLAST_LAUNCH_GRACE_SECONDS") or LAUNCH_GRACE_SECONDS)


def transients_with_runs_in_flight(instance: dg.DagsterInstance) -> set[str]:
    """Names of transients with an unfinished run, from one query over all in-flight runs."""
    records = instance.get_run_records(dg.RunsFilter(statuses=list(IN_FLIGHT_STATUSES)))
    names: set[str] = set()
    for record in records:
        names |= transients_of_run(record.dagster_run.tags)
    return names


def runs_in_flight_for(instance: dg.DagsterInstance, name: str) -> list[str]:
    """Run ids of unfinished runs of one transient (exact tag match)."""
    run_ids: list[str] = []
    for key in (PARTITION_TAG, TRANSIENT_TAG):
        records = instance.get_run_records(
            dg.RunsFilter(tags={key: name}, statuses=list(IN_FLIGHT_STATUSES))
        )
        run_ids.extend(r.dagster_run.run_id for r in records if r.dagster_run.run_id not in run_ids)
    batches = instance.get_run_records(
        dg.RunsFilter(tags={"blast/kind": "transient_batch"}, statuses=list(IN_FLIGHT_STATUSES))
    )
    run_ids.extend(
        r.dagster_run.run_id
        for r in batches
        if name in transients_of_run(r.dagster_run.tags) and r.dagster_run.run_id not in run_ids
    )
    return run_ids


def as_utc(value: datetime | None) -> datetime | None:
    """Aware UTC datetime (SQLite returns naive values, which are UTC)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def is_busy(
    name: str,
    workflow_requested_at: datetime | None,
    in_flight: Collection[str],
    now: datetime,
    grace_seconds: float | None = None,
) -> bool:
    """True when the transient has a run in flight, waits for the sensor, or was launched less
    than ``grace_seconds`` ago (its run may not be recorded yet)."""
    if name in in_flight:
        return True
    requested = as_utc(workflow_requested_at)
    if requested is None:
        return True
    grace = launch_grace_seconds() if grace_seconds is None else grace_seconds
    return now - requested < timedelta(seconds=grace)
