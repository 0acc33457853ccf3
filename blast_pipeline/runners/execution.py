"""Running one transient task on one transient, with Blast's status semantics.

Independent of Dagster: the compiled assets call ``execute_transient_task``, and so can a plain
Python loop (benchmarks) or a batch run.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from blast_pipeline.db.models import Transient
from blast_pipeline.db.task_register import (
    initialise_registers,
    set_status,
    statuses_with_defaults,
    task_statuses,
)
from blast_pipeline.db.transients import get_transient
from blast_pipeline.runners.base import TaskContext, TransientTaskRunner
from blast_pipeline.runners.graph import WorkflowGraph
from blast_pipeline.runners.progress import processing_status_and_progress
from blast_pipeline.services import PipelineServices
from blast_pipeline.statuses import (
    NOT_PROCESSED,
    PROCESSED,
    PROCESSING,
    STATUSES,
    TIME_LIMIT_EXCEEDED,
)


class TimeLimitExceeded(Exception):
    """The task ran past its soft time limit."""


class UnknownStatusReturned(ValueError):
    """``_run_process`` returned a string that is not one of Blast's status messages."""


@dataclass(frozen=True)
class TaskOutcome:
    """What happened when a task was asked to run on a transient."""

    task_name: str
    transient_name: str
    #: The recorded status; None when the task did not run (prerequisites not met).
    status: str | None
    seconds: float = 0.0
    progress: int = 0
    processing_status: str = PROCESSING
    metadata: dict[str, Any] = field(default_factory=dict)
    skipped_reason: str | None = None

    @property
    def processed(self) -> bool:
        return self.status == PROCESSED


@contextmanager
def soft_time_limit(seconds: float | None, task_name: str) -> Iterator[None]:
    """Raise ``TimeLimitExceeded`` in the running code after ``seconds`` (like Celery's soft
    limit). Works in the main thread; elsewhere the run-level timeout is the only limit."""
    usable = (
        seconds
        and seconds > 0
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        yield
        return

    def _on_alarm(_signum, _frame):
        raise TimeLimitExceeded(f"{task_name} exceeded its time limit of {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, float(seconds))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def refresh_progress(session: Session, transient: Transient, graph: WorkflowGraph) -> None:
    """Recompute and store the transient's progress and processing status."""
    statuses = statuses_with_defaults(task_statuses(session, transient), graph.task_names)
    transient.progress, transient.processing_status = processing_status_and_progress(
        statuses, graph.upstream
    )


def unmet_prerequisites(
    runner: TransientTaskRunner, statuses: dict[str, str]
) -> dict[str, tuple[str, str]]:
    """Prerequisite task -> (required, actual) for those not in the required status."""
    unmet = {}
    for task, required in runner.prerequisites().items():
        actual = statuses.get(task, NOT_PROCESSED)
        if actual != required:
            unmet[task] = (required, actual)
    return unmet


def _finish(
    services: PipelineServices,
    graph: WorkflowGraph,
    runner: TransientTaskRunner,
    transient_name: str,
    status: str,
    seconds: float,
) -> tuple[int, str]:
    with services.database.session() as session:
        transient = get_transient(session, transient_name)
        set_status(session, transient, runner.task_name, status, processing_seconds=seconds)
        refresh_progress(session, transient, graph)
        return transient.progress, transient.processing_status


def execute_transient_task(
    runner: TransientTaskRunner,
    transient_name: str,
    services: PipelineServices,
    graph: WorkflowGraph,
    log: logging.Logger | None = None,
) -> TaskOutcome:
    """Run ``runner`` on one transient and record its status in the task register.

    - prerequisites not met: nothing is recorded, the outcome says why (downstream must not run);
    - ``_run_process`` returns a status: it is recorded ("processed" or e.g. "no host match");
    - ``_run_process`` raises: the work is rolled back, the failed status (or "time limit
      exceeded") is recorded, and the exception propagates so the orchestrator can retry.
    """
    log = log or logging.getLogger(f"blast_pipeline.tasks.{runner.asset_name}")
    with services.database.session() as session:
        transient = get_transient(session, transient_name)
        initialise_registers(session, transient, graph.task_names)
        unmet = unmet_prerequisites(runner, task_statuses(session, transient))
        if unmet:
            reason = "; ".join(
                f"{task!r} is {actual!r} (needs {required!r})"
                for task, (required, actual) in unmet.items()
            )
            return TaskOutcome(
                runner.task_name,
                transient_name,
                status=None,
                progress=transient.progress,
                processing_status=transient.processing_status,
                skipped_reason=f"prerequisites not met: {reason}",
            )
        set_status(session, transient, runner.task_name, PROCESSING)
        refresh_progress(session, transient, graph)

    start = time.perf_counter()
    context: TaskContext | None = None
    try:
        with services.database.session() as session:
            transient = get_transient(session, transient_name)
            context = TaskContext(session=session, services=services, log=log)
            with soft_time_limit(runner.time_limit_seconds, runner.task_name):
                status = runner.run_process(transient, context)
            if status not in STATUSES:
                raise UnknownStatusReturned(
                    f"{type(runner).__name__} returned {status!r}, which is not a Blast status "
                    f"message ({', '.join(STATUSES)})"
                )
    except TimeLimitExceeded:
        _finish(services, graph, runner, transient_name, TIME_LIMIT_EXCEEDED, _since(start))
        raise
    except BaseException:
        failed = runner.failed_status_message()
        _finish(services, graph, runner, transient_name, failed, _since(start))
        raise
    seconds = _since(start)
    progress, processing_status = _finish(services, graph, runner, transient_name, status, seconds)
    return TaskOutcome(
        runner.task_name,
        transient_name,
        status=status,
        seconds=seconds,
        progress=progress,
        processing_status=processing_status,
        metadata=dict(context.metadata) if context else {},
    )


def _since(start: float) -> float:
    return time.perf_counter() - start
