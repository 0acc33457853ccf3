"""Partition retention (not in Blast), daily, enabled.

**Policy.** Dagster recommends at most ~100,000 partitions per asset, and its UI slows down well
before that; Blast ingests ~10,000 transients a year. So old finished transients are archived
out of the ``transients`` dynamic partition set:

* it acts only when the partition set holds more than ``BLAST_PARTITION_RETENTION_MIN``
  partitions (default 50,000), and then archives just enough to come back down to that number,
  oldest first (at most ``MAX_PER_RUN`` per run);
* a transient is eligible when it is finished (``processing_status`` "completed" or
  "blocked"), its last activity (newest task-register change, else when it was added) is older
  than ``BLAST_PARTITION_RETENTION_DAYS`` days (default 30), and it is not busy (no unfinished
  run, not waiting for the sensor; see ``system.runs``);
* archiving deletes the partition key (``instance.delete_dynamic_partition``) and sets
  ``Transient.partition_archived``; **everything in the Blast database is kept** (statuses,
  photometry, SED results, files), as is the Dagster event history of past runs;
* to bring one back, reprocess or retrigger it (``blast-pipeline reprocess NAME``):
  ``request_workflow`` clears the flag and the new-transients sensor re-adds the missing
  partition before launching its run.

Dagster itself advises against deleting partitions casually (dagster-notes section 3: the
GraphQL automation tab of downstream assets broke in one report); here nothing automates on
these assets, and the threshold keeps deletions rare.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from blast_pipeline.db.models import TaskRegister, Transient, utcnow
from blast_pipeline.runners.base import SystemTaskContext, SystemTaskRunner
from blast_pipeline.runners.compile import TRANSIENTS
from blast_pipeline.runners.progress import BLOCKED, COMPLETED
from blast_pipeline.system.runs import as_utc, is_busy, transients_with_runs_in_flight

ENV_RETENTION_DAYS = "BLAST_PARTITION_RETENTION_DAYS"
ENV_RETENTION_MIN = "BLAST_PARTITION_RETENTION_MIN"
DEFAULT_RETENTION_DAYS = 30
DEFAULT_RETENTION_MIN = 50_000
#: Partitions deleted per run at most (each deletion is one instance write).
MAX_PER_RUN = 5000


@dataclass(frozen=True)
class RetentionPolicy:
    days: int = DEFAULT_RETENTION_DAYS
    min_partitions: int = DEFAULT_RETENTION_MIN

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> RetentionPolicy:
        return cls(
            days=_int_env(environ, ENV_RETENTION_DAYS, DEFAULT_RETENTION_DAYS),
            min_partitions=_int_env(environ, ENV_RETENTION_MIN, DEFAULT_RETENTION_MIN),
        )


def _int_env(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = (environ.get(name) or "").strip().replace("_", "")
    if not raw:
        return default
    if not raw.isdigit():
        raise ValueError(f"{name} must be a whole number >= 0, got {environ.get(name)!r}")
    return int(raw)


@dataclass(frozen=True)
class Candidate:
    name: str
    processing_status: str
    workflow_requested_at: datetime | None
    last_activity: datetime


def partitions_to_archive(
    candidates: Iterable[Candidate],
    partitions: Collection[str],
    in_flight: Collection[str],
    policy: RetentionPolicy,
    now: datetime,
    limit: int = MAX_PER_RUN,
) -> list[str]:
    """Which partitions to archive, oldest activity first (pure)."""
    excess = len(partitions) - policy.min_partitions
    if excess <= 0:
        return []
    cutoff = now - timedelta(days=policy.days)
    eligible = sorted(
        (
            c
            for c in candidates
            if c.name in partitions
            and c.processing_status in (COMPLETED, BLOCKED)
            and as_utc(c.last_activity) < cutoff
            and not is_busy(c.name, c.workflow_requested_at, in_flight, now)
        ),
        key=lambda c: (as_utc(c.last_activity), c.name),
    )
    return [c.name for c in eligible[: min(excess, limit)]]


def load_candidates(session) -> list[Candidate]:
    """Finished, not yet archived transients with their last activity."""
    last_change = (
        select(TaskRegister.transient_id, func.max(TaskRegister.last_modified).label("last"))
        .group_by(TaskRegister.transient_id)
        .subquery()
    )
    rows = session.execute(
        select(
            Transient.name,
            Transient.processing_status,
            Transient.workflow_requested_at,
            Transient.added_at,
            last_change.c.last,
        )
        .outerjoin(last_change, last_change.c.transient_id == Transient.id)
        .where(
            Transient.processing_status.in_([COMPLETED, BLOCKED]),
            Transient.partition_archived.is_(False),
        )
    )
    return [
        Candidate(name, status, requested, max(as_utc(added), as_utc(last or added)))
        for name, status, requested, added, last in rows
    ]


class PartitionRetention(SystemTaskRunner):
    """Archive old finished transients out of the Dagster partition set (results kept)."""

    task_name = "Partition retention"
    task_frequency_seconds = 86400
    task_initially_enabled = True
    time_limit_seconds = 3600.0

    def run_process(self, context: SystemTaskContext) -> str | None:
        policy = RetentionPolicy.from_env()
        instance = context.orchestrator
        partitions = set(instance.get_dynamic_partitions(TRANSIENTS.name))
        context.add_metadata(
            partitions=len(partitions),
            threshold=policy.min_partitions,
            retention_days=policy.days,
        )
        if len(partitions) <= policy.min_partitions:
            return (
                f"{len(partitions)} partition(s), threshold {policy.min_partitions}: "
                "nothing to archive"
            )
        in_flight = transients_with_runs_in_flight(instance)
        database = context.services.database
        with database.session() as session:
            candidates = load_candidates(session)
        names = partitions_to_archive(candidates, partitions, in_flight, policy, utcnow())
        archived: list[str] = []
        for start in range(0, len(names), 500):
            batch = names[start : start + 500]
            for name in batch:
                instance.delete_dynamic_partition(TRANSIENTS.name, name)
            with database.session() as session:
                for transient in session.scalars(
                    select(Transient).where(Transient.name.in_(batch))
                ):
                    transient.partition_archived = True
            archived.extend(batch)
        context.add_metadata(archived=len(archived), transients=", ".join(archived[:50]))
        return (
            f"{len(archived)} partition(s) archived, {len(partitions) - len(archived)} remain "
            f"(threshold {policy.min_partitions}, older than {policy.days} days)"
        )
