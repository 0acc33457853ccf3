"""Retrigger incomplete workflows (Blast's periodic retrigger, reference sections 2 and 3.3),
every 1200 s.

A transient is *stalled* when it is unfinished (``progress < 100`` or ``processing_status`` is
"processing") and nothing is working on it: no unfinished Dagster run carries its partition tag
(one query over all in-flight runs, exact tag match instead of Blast's substring search of
worker task arguments), it is not waiting for the sensor, and the sensor did not launch it in
the last ``LAUNCH_GRACE_SECONDS``. For each stalled transient the registers left "processing" by
a dead run go back to "not processed" (error statuses are kept, as Blast's periodic retrigger;
``blast-pipeline retrigger NAME`` also resets them) and a workflow run is requested from the
sensor, which runs only the tasks not yet "processed". A transient with a queued or running run
is never requested a second time.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime

from sqlalchemy import or_, select

from blast_pipeline.db.models import Transient, utcnow
from blast_pipeline.db.task_register import reset_tasks, task_statuses
from blast_pipeline.db.workflow_requests import request_workflow
from blast_pipeline.runners.base import SystemTaskContext, SystemTaskRunner
from blast_pipeline.statuses import PROCESSING
from blast_pipeline.system.runs import (
    LAUNCH_GRACE_SECONDS,
    is_busy,
    transients_with_runs_in_flight,
)

#: Transients requested per sweep at most (the sensor launches 50 per tick).
MAX_PER_SWEEP = 1000


def stalled_transients(
    candidates: Iterable[tuple[str, datetime | None]],
    in_flight: Collection[str],
    now: datetime,
    grace_seconds: float = LAUNCH_GRACE_SECONDS,
) -> list[str]:
    """Names among unfinished ``(name, workflow_requested_at)`` that nothing works on (pure)."""
    return [
        name
        for name, requested_at in candidates
        if not is_busy(name, requested_at, in_flight, now, grace_seconds)
    ]


def reset_stalled_registers(session, transient: Transient) -> list[str]:
    """Set the transient's "processing" registers back to "not processed"; returns them."""
    stuck = [
        task for task, status in task_statuses(session, transient).items() if status == PROCESSING
    ]
    reset_tasks(session, transient, stuck)
    return stuck


class RetriggerIncompleteWorkflows(SystemTaskRunner):
    """Request a new workflow run for unfinished transients that have no run in flight."""

    task_name = "Retrigger incomplete workflows"
    task_frequency_seconds = 1200
    task_initially_enabled = True
    time_limit_seconds = 900.0

    def run_process(self, context: SystemTaskContext) -> str | None:
        in_flight = transients_with_runs_in_flight(context.orchestrator)
        now = utcnow()
        with context.services.database.session() as session:
            candidates = session.execute(
                select(Transient.name, Transient.workflow_requested_at)
                .where(or_(Transient.progress < 100, Transient.processing_status == PROCESSING))
                .order_by(Transient.id)
            ).all()
            all_stalled = stalled_transients(candidates, in_flight, now)
            stalled = all_stalled[:MAX_PER_SWEEP]
            n_reset = 0
            for name in stalled:
                transient = session.scalar(select(Transient).where(Transient.name == name))
                n_reset += len(reset_stalled_registers(session, transient))
                request_workflow(transient)
        context.add_metadata(
            unfinished=len(candidates),
            busy=len(candidates) - len(all_stalled),
            retriggered=len(stalled),
            registers_reset=n_reset,
            transients=", ".join(stalled[:50]),
        )
        return (
            f"{len(stalled)} of {len(candidates)} unfinished transient(s) retriggered "
            f"({n_reset} stalled task(s) reset)"
        )
