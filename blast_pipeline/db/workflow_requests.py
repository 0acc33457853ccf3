"""Which transients want a workflow run: the hand-off between ingestion/system jobs and the
sensor that launches runs. Any path that needs a run clears ``workflow_requested_at``.

The sensor *claims* the transients it launches with one conditional UPDATE (``... WHERE
workflow_requested_at IS NULL RETURNING``): two sensors (two ``blast-pipeline process``, or a
process beside the daemon) ticking at the same instant cannot both launch a transient. On
PostgreSQL the second UPDATE waits for the first's row locks, then finds the rows claimed;
SQLite serialises the two writes.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from blast_pipeline.db.models import Transient, utcnow


@dataclass(frozen=True)
class WorkflowRequest:
    transient_id: int
    name: str
    generation: int

    @property
    def run_key(self) -> str:
        """Unique per launch: Dagster never launches the same run key twice."""
        return f"{self.name}:{self.generation}"


def pending_workflow_requests(session: Session, limit: int) -> list[WorkflowRequest]:
    """Up to ``limit`` transients waiting for a run, oldest first (not claimed yet)."""
    rows = session.execute(
        select(Transient.id, Transient.name, Transient.workflow_generation)
        .where(Transient.workflow_requested_at.is_(None))
        .order_by(Transient.id)
        .limit(limit)
    )
    return [WorkflowRequest(i, n, g) for i, n, g in rows]


def claim_workflow_requests(session: Session, limit: int) -> list[WorkflowRequest]:
    """Atomically claim up to ``limit`` waiting transients for launch; each is returned to one
    caller only, with the generation its run key must carry. One statement, so on SQLite the
    transaction starts as a write (no read-then-upgrade race)."""
    waiting = (
        select(Transient.id)
        .where(Transient.workflow_requested_at.is_(None))
        .order_by(Transient.id)
        .limit(limit)
        .scalar_subquery()
    )
    rows = session.execute(
        update(Transient)
        .where(Transient.id.in_(waiting), Transient.workflow_requested_at.is_(None))
        .values(workflow_requested_at=utcnow())
        .returning(Transient.id, Transient.name, Transient.workflow_generation)
        .execution_options(synchronize_session=False)
    ).all()
    return sorted((WorkflowRequest(i, n, g) for i, n, g in rows), key=lambda r: r.transient_id)


def request_workflow(transient: Transient) -> None:
    """Ask the sensor for a new run of this transient's workflow."""
    transient.workflow_requested_at = None
    transient.workflow_generation = (transient.workflow_generation or 0) + 1
    transient.partition_archived = False
