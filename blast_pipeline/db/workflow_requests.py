"""Which transients want a workflow run: the hand-off between ingestion/system jobs and the
sensor that launches runs. Any path that needs a run clears ``workflow_requested_at``."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
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
    """Up to ``limit`` transients waiting for a run, oldest first."""
    rows = session.execute(
        select(Transient.id, Transient.name, Transient.workflow_generation)
        .where(Transient.workflow_requested_at.is_(None))
        .order_by(Transient.id)
        .limit(limit)
    )
    return [WorkflowRequest(i, n, g) for i, n, g in rows]


def mark_workflow_launched(session: Session, requests: list[WorkflowRequest]) -> None:
    now = utcnow()
    ids = [r.transient_id for r in requests]
    for transient in session.scalars(select(Transient).where(Transient.id.in_(ids))):
        transient.workflow_requested_at = now


def request_workflow(transient: Transient) -> None:
    """Ask the sensor for a new run of this transient's workflow."""
    transient.workflow_requested_at = None
    transient.workflow_generation = (transient.workflow_generation or 0) + 1
    transient.partition_archived = False
