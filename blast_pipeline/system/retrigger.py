"""Retrigger incomplete workflows (Blast's periodic retrigger, reference sections 2 and 3.3),
every 120 s (Blast: 1200 s), after failing dead runs (``system.recovery``).

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
from dataclasses import dataclass, field
from datetime import datetime

import dagster as dg
from sqlalchemy import or_, select

from blast_pipeline.db.models import Status, TaskRegister, Transient, utcnow
from blast_pipeline.runners.base import SystemTaskContext, SystemTaskRunner
from blast_pipeline.runners.graph import WorkflowGraph
from blast_pipeline.runners.reset import reset_and_request
from blast_pipeline.services import PipelineServices
from blast_pipeline.statuses import PROCESSING
from blast_pipeline.system.recovery import DeadRun, fail_dead_runs
from blast_pipeline.system.runs import (
    is_busy,
    transients_with_runs_in_flight,
)

#: Transients requested per sweep at most (the sensor launches 50 per tick).
MAX_PER_SWEEP = 1000


def stalled_transients(
    candidates: Iterable[tuple[str, datetime | None]],
    in_flight: Collection[str],
    now: datetime,
    grace_seconds: float | None = None,
) -> list[str]:
    """Names among unfinished ``(name, workflow_requested_at)`` that nothing works on (pure)."""
    return [
        name
        for name, requested_at in candidates
        if not is_busy(name, requested_at, in_flight, now, grace_seconds)
    ]


@dataclass
class SweepReport:
    dead_runs: list[DeadRun] = field(default_factory=list)
    unfinished: int = 0
    busy: int = 0
    retriggered: list[str] = field(default_factory=list)
    registers_reset: int = 0

    def summary(self) -> str:
        dead = f"{len(self.dead_runs)} dead run(s) failed; " if self.dead_runs else ""
        return (
            f"{dead}{len(self.retriggered)} of {self.unfinished} unfinished transient(s) "
            f"retriggered ({self.registers_reset} stalled task(s) reset)"
        )


def sweep(
    instance: dg.DagsterInstance,
    services: PipelineServices,
    graph: WorkflowGraph,
    now: datetime | None = None,
) -> SweepReport:
    """Fail dead runs, then retrigger every stalled transient from its stalled tasks (the
    transients of a dead run at once, without waiting for the launch grace)."""
    report = SweepReport(dead_runs=fail_dead_runs(instance, services.database, now))
    orphaned = {name for run in report.dead_runs for name in run.transients}
    in_flight = transients_with_runs_in_flight(instance)
    now = now or utcnow()
    with services.database.session() as session:
        processing_register = (
            select(TaskRegister.id)
            .join(Status, TaskRegister.status_id == Status.id)
            .where(TaskRegister.transient_id == Transient.id, Status.message == PROCESSING)
            .exists()
        )
        candidates = session.execute(
            select(Transient.name, Transient.workflow_requested_at)
            .where(
                or_(
                    Transient.progress < 100,
                    Transient.processing_status == PROCESSING,
                    processing_register,
                )
            )
            .order_by(Transient.id)
        ).all()
        stalled = stalled_transients(candidates, in_flight, now)
        unfinished = {name for name, _ in candidates}
        stalled += sorted(orphaned & unfinished - in_flight - set(stalled))
        report.unfinished = len(candidates)
        report.busy = len(candidates) - len(stalled)
        for name in stalled[:MAX_PER_SWEEP]:
            transient = session.scalar(select(Transient).where(Transient.name == name))
            reset = reset_and_request(session, graph, transient, services.data_root, "periodic")
            report.registers_reset += len(reset)
            report.retriggered.append(name)
    return report


class RetriggerIncompleteWorkflows(SystemTaskRunner):
    """Fail runs whose worker died; request a new workflow run for unfinished transients that
    have no run in flight (stalled tasks reset, error statuses kept)."""

    task_name = "Retrigger incomplete workflows"
    #: Blast: 1200 s. More often here, as it also detects dead runs (one cheap query each).
    task_frequency_seconds = 120
    task_initially_enabled = True
    time_limit_seconds = 900.0

    def run_process(self, context: SystemTaskContext) -> str | None:
        report = sweep(context.orchestrator, context.services, context.graph)
        context.add_metadata(
            dead_runs=", ".join(r.run_id for r in report.dead_runs) or "none",
            unfinished=report.unfinished,
            busy=report.busy,
            retriggered=len(report.retriggered),
            registers_reset=report.registers_reset,
            transients=", ".join(report.retriggered[:50]),
        )
        return report.summary()
