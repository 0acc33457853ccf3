"""What the transient pages show, gathered from the Blast database and the Dagster instance
(task reasons and runs live in Dagster's event log)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from blast_pipeline.db.models import HostAssociation, SEDFittingResult, Transient
from blast_pipeline.db.summaries import (
    PhotometryRow,
    best_redshift_with_kind,
    host_offset_arcsec,
    photometry,
)
from blast_pipeline.db.task_register import statuses_with_defaults, task_statuses
from blast_pipeline.runners.graph import WorkflowGraph
from blast_pipeline.statuses import NOT_PROCESSED, PROCESSED
from blast_pipeline.tasks.cutouts_io import cutouts_with_files

#: Processing states offered by the list's filter.
PROCESSING_STATES = ("processing", "completed", "blocked")
#: The SED parameters the transient page shows (column prefix of ``SEDFittingResult``, label).
SED_PAGE_PARAMETERS = (
    ("log_mass", "log M* (M☉)"),
    ("log_sfr", "log SFR (M☉/yr)"),
    ("log_ssfr", "log sSFR (/yr)"),
    ("age", "age (Gyr)"),
    ("logzsol", "log Z/Z☉"),
    ("dust2", "dust2 (optical depth)"),
)


@dataclass
class TaskLine:
    """One task of a transient: status (Blast register), reason and run (Dagster)."""

    task: str
    asset: str
    status: str
    seconds: float | None
    last_modified: datetime | None
    reason: str | None = None
    run_id: str | None = None
    recorded_at: datetime | None = None

    @property
    def kind(self) -> str:
        """``processed``, ``not-run`` or ``stopped`` (a CSS class and a word)."""
        if self.status == PROCESSED:
            return "processed"
        if self.status in (NOT_PROCESSED, "processing"):
            return "not-run"
        return "stopped"


@dataclass
class TransientView:
    transient: Transient
    tasks: list[TaskLine]
    redshift: float | None
    redshift_kind: str | None
    offset_arcsec: float | None
    association: HostAssociation | None
    cutout_filters: list[str]
    global_photometry: list[PhotometryRow]
    local_photometry: list[PhotometryRow]
    sed_results: list[SEDFittingResult] = field(default_factory=list)


def list_transients(
    session: Session, status: str | None = None, query: str | None = None, limit: int = 500
) -> list[Transient]:
    """Transients, newest first, optionally by processing status and name substring."""
    statement = select(Transient).order_by(Transient.id.desc()).limit(limit)
    if status:
        statement = statement.where(Transient.processing_status == status)
    if query:
        statement = statement.where(Transient.name.contains(query.strip()))
    return list(session.scalars(statement))


def dagster_instance() -> Any:
    """The Dagster instance of ``DAGSTER_HOME`` (None when it is not set)."""
    if not os.environ.get("DAGSTER_HOME"):
        return None
    import dagster as dg

    return dg.DagsterInstance.get()


def latest_events(instance: Any, graph: WorkflowGraph, name: str) -> dict[str, Any]:
    """Task name -> the latest materialisation or observation record of its partition."""
    if instance is None:
        return {}
    import dagster as dg

    latest: dict[str, Any] = {}
    for runner in graph.runners:
        records_filter = dg.AssetRecordsFilter(
            asset_key=dg.AssetKey(runner.asset_name), asset_partitions=[name]
        )
        candidates = [
            *instance.fetch_materializations(records_filter, limit=1).records,
            *instance.fetch_observations(records_filter, limit=1).records,
        ]
        if candidates:
            latest[runner.task_name] = max(candidates, key=lambda r: r.storage_id)
    return latest


def _reason(record: Any) -> str | None:
    event = record.asset_materialization or record.asset_observation
    value = event.metadata.get("reason") if event is not None else None
    return None if value is None else str(value.value)


def task_lines(
    session: Session, transient: Transient, graph: WorkflowGraph, instance: Any
) -> list[TaskLine]:
    registers = {r.task.name: r for r in transient.task_registers}
    statuses = statuses_with_defaults(task_statuses(session, transient), graph.task_names)
    events = latest_events(instance, graph, transient.name)
    lines = []
    for runner in graph.runners:
        register = registers.get(runner.task_name)
        record = events.get(runner.task_name)
        line = TaskLine(
            task=runner.task_name,
            asset=runner.asset_name,
            status=statuses[runner.task_name],
            seconds=None if register is None else register.last_processing_time_seconds,
            last_modified=None if register is None else register.last_modified,
        )
        if record is not None:
            line.reason = _reason(record)
            line.run_id = record.event_log_entry.run_id or None
            line.recorded_at = datetime.fromtimestamp(record.event_log_entry.timestamp, UTC)
        if line.reason is None and line.kind == "not-run":
            line.reason = _stopped_by(runner.task_name, statuses, graph)
        lines.append(line)
    return lines


def _stopped_by(task: str, statuses: dict[str, str], graph: WorkflowGraph) -> str | None:
    """ "stopped by X, which ended 'status'" for the nearest upstream task that did not end
    processed and is not itself waiting."""
    for upstream in reversed(graph.task_names):
        if upstream in graph.upstream[task] and statuses[upstream] not in (
            PROCESSED,
            NOT_PROCESSED,
            "processing",
        ):
            return f"stopped by {upstream}, which ended {statuses[upstream]!r}"
    return None


def transient_view(
    session: Session, transient: Transient, graph: WorkflowGraph, instance: Any
) -> TransientView:
    redshift, kind = best_redshift_with_kind(transient)
    association = session.scalar(
        select(HostAssociation).where(HostAssociation.transient_id == transient.id)
    )
    filters = sorted(
        cutouts_with_files(session, transient.id).items(),
        key=lambda item: item[1].filter.wavelength_eff_angstrom,
    )
    return TransientView(
        transient=transient,
        tasks=task_lines(session, transient, graph, instance),
        redshift=redshift,
        redshift_kind=kind,
        offset_arcsec=host_offset_arcsec(transient),
        association=association,
        cutout_filters=[name for name, _ in filters],
        global_photometry=photometry(session, transient.id, "global"),
        local_photometry=photometry(session, transient.id, "local"),
        sed_results=list(
            session.scalars(
                select(SEDFittingResult).where(SEDFittingResult.transient_id == transient.id)
            )
        ),
    )
