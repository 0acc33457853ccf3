"""Running one transient task on one transient, with Blast's status semantics (reference 0.1).

Independent of Dagster: the per-transient asset and the batch op both call ``run_task`` (the one
execution path), and so can a plain Python loop (benchmarks).

1. **Claim** (own short transaction): the task runs only when it is itself "not processed" and
   every prerequisite has its required status (usually "processed"); one conditional UPDATE moves
   it to "processing" under a fresh claim token, so two runs can never both run it. The rows and
   files it owns are removed (``TransientTaskRunner.clean``).
2. **Attempts**: ``_run_process`` in a transaction that also records its status, while the
   register still holds the claim (a task reset meanwhile discards its result). An exception
   rolls the attempt back; the runner's ``Retry`` runs it again after its delay.
3. **Failure** (own short transaction, retried while the database is locked): the failed status
   ("failed", "phot valid failed", or "time limit exceeded", never retried), with the task's rows
   and files removed, so results never contradict statuses.
"""

from __future__ import annotations

import hashlib
import logging
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from blast_pipeline.db.engine import retry_while_locked
from blast_pipeline.db.models import Transient
from blast_pipeline.db.task_register import (
    ClaimLost,
    claim_task,
    finish_task,
    held_claim,
    initialise_registers,
    statuses_with_defaults,
    task_statuses,
)
from blast_pipeline.db.transients import get_transient
from blast_pipeline.runners.base import TaskContext, TransientTaskRunner
from blast_pipeline.runners.disk import wait_for_free_space
from blast_pipeline.runners.graph import WorkflowGraph
from blast_pipeline.runners.heartbeat import WATCH
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
    #: The recorded status; None when the task did not run (see ``skipped_reason``).
    status: str | None
    seconds: float = 0.0
    progress: int = 0
    processing_status: str = PROCESSING
    metadata: dict[str, Any] = field(default_factory=dict)
    skipped_reason: str | None = None
    #: The exception's message when the task raised (after its retries); ``status`` is then
    #: its failed status.
    error: str | None = None
    attempts: int = 0
    exception: BaseException | None = field(default=None, compare=False, repr=False)

    @property
    def processed(self) -> bool:
        return self.status == PROCESSED

    @property
    def failed(self) -> bool:
        return self.error is not None


@contextmanager
def soft_time_limit(seconds: float | None, task_name: str) -> Iterator[None]:
    """Raise ``TimeLimitExceeded`` in the running code after ``seconds`` (like Celery's soft
    limit). Works in the main thread; elsewhere the heartbeat's hard limit is the only limit."""
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


def step_claim_token(run_id: str, step_key: str, task_name: str, transient_name: str) -> str:
    """The claim token of one task of one transient in one step of one run: the same for every
    delivery of that step, so a redelivered step re-claims what its dead delivery held."""
    key = "\x1f".join((run_id, step_key, task_name, transient_name))
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def refresh_progress(session: Session, transient: Transient, graph: WorkflowGraph) -> None:
    """Recompute and store the transient's progress and processing status."""
    statuses = statuses_with_defaults(task_statuses(session, transient), graph.task_names)
    transient.progress, transient.processing_status = processing_status_and_progress(
        statuses, graph.upstream
    )


def unmet_prerequisites(
    runner: TransientTaskRunner, statuses: dict[str, str]
) -> dict[str, tuple[str, str]]:
    """Task -> (required, actual) for the requirements not met: the task itself must be "not
    processed" (Blast puts it in every prerequisite dict) and each prerequisite in its status."""
    required = {runner.task_name: NOT_PROCESSED, **runner.prerequisites()}
    unmet = {}
    for task, status in required.items():
        actual = statuses.get(task, NOT_PROCESSED)
        if actual != status:
            unmet[task] = (status, actual)
    return unmet


def _claim(
    runner: TransientTaskRunner,
    name: str,
    services: PipelineServices,
    graph: WorkflowGraph,
    token: str,
) -> TaskOutcome | None:
    """Claim the task (None) or say why it does not run (an outcome without status)."""
    with services.database.session() as session:
        transient = get_transient(session, name)
        initialise_registers(session, transient, graph.task_names)
        statuses = task_statuses(session, transient)
        if statuses.get(runner.task_name) == PROCESSING and (
            held_claim(session, transient, runner.task_name) == token
        ):
            statuses[runner.task_name] = NOT_PROCESSED  # this step's dead delivery held it
        unmet = unmet_prerequisites(runner, statuses)
        reason = None
        if unmet:
            reason = "prerequisites not met: " + "; ".join(
                f"{task!r} is {actual!r} (needs {required!r})"
                for task, (required, actual) in unmet.items()
            )
        elif not claim_task(session, transient, runner.task_name, token):
            reason = "claimed by another run"
        if reason is not None:
            return TaskOutcome(
                runner.task_name,
                name,
                status=None,
                progress=transient.progress,
                processing_status=transient.processing_status,
                skipped_reason=reason,
            )
        runner.clean(session, transient, services.data_root)
        refresh_progress(session, transient, graph)
    return None


def _attempt(
    runner: TransientTaskRunner,
    name: str,
    services: PipelineServices,
    graph: WorkflowGraph,
    token: str,
    log: logging.Logger,
) -> tuple[str, float, int, str, dict[str, Any]]:
    """One attempt; its status is committed with its work. Returns (status, seconds, progress,
    processing_status, metadata)."""
    start = time.perf_counter()
    with services.database.session() as session:
        transient = get_transient(session, name)
        context = TaskContext(session=session, services=services, log=log)
        with soft_time_limit(runner.time_limit_seconds, runner.task_name):
            status = runner.run_process(transient, context)
        if status not in STATUSES:
            raise UnknownStatusReturned(
                f"{type(runner).__name__} returned {status!r}, which is not a Blast status "
                f"message ({', '.join(STATUSES)})"
            )
        seconds = time.perf_counter() - start
        finish_task(session, transient, runner.task_name, token, status, seconds)
        refresh_progress(session, transient, graph)
        return status, seconds, transient.progress, transient.processing_status, context.metadata


def _record_failure(
    runner: TransientTaskRunner,
    name: str,
    services: PipelineServices,
    graph: WorkflowGraph,
    token: str,
    status: str,
    seconds: float,
    log: logging.Logger,
) -> tuple[int, str]:
    def write() -> tuple[int, str]:
        with services.database.session() as session:
            transient = get_transient(session, name)
            runner.clean(session, transient, services.data_root)
            try:
                finish_task(session, transient, runner.task_name, token, status, seconds)
            except ClaimLost:
                session.rollback()
                log.warning(f"{runner.task_name} on {name}: reset while it ran; not recorded")
                transient = get_transient(session, name)
                return transient.progress, transient.processing_status
            refresh_progress(session, transient, graph)
            return transient.progress, transient.processing_status

    return retry_while_locked(write, log, f"recording {status!r} for {runner.task_name} on {name}")


def run_task(
    runner: TransientTaskRunner,
    name: str,
    services: PipelineServices,
    graph: WorkflowGraph,
    log: logging.Logger | None = None,
    sleep: Callable[[float], None] = time.sleep,
    max_attempts: int | None = None,
    claim_token: str | None = None,
) -> TaskOutcome:
    """Claim, run (with the runner's retries) and record ``runner`` on one transient.
    ``claim_token``: the step's own token (``step_claim_token``; default a fresh one).

    Never raises for the task's own errors: the outcome carries the recorded failed status and
    the error (``KeyboardInterrupt``/``SystemExit`` are recorded, then re-raised).
    """
    log = log or logging.getLogger(f"blast_pipeline.tasks.{runner.asset_name}")
    token = claim_token or uuid.uuid4().hex
    skipped = retry_while_locked(
        lambda: _claim(runner, name, services, graph, token), log, f"claiming {runner.task_name}"
    )
    if skipped is not None:
        return skipped
    retry = runner.retry
    attempts = max_attempts or 1 + (retry.max_retries if retry else 0)
    delay = retry.delay_seconds if retry else 0.0
    began = time.perf_counter()
    with WATCH.running(runner.task_name, name, runner.hard_limit_seconds):
        for attempt in range(1, attempts + 1):
            try:
                if runner.writes_files:
                    wait_for_free_space(services.data_root, sleep=sleep, log=log.warning)
                status, seconds, progress, processing, metadata = _attempt(
                    runner, name, services, graph, token, log
                )
            except ClaimLost as exc:
                log.warning(str(exc))
                return TaskOutcome(runner.task_name, name, None, skipped_reason=str(exc))
            except TimeLimitExceeded as exc:
                return _failure(
                    runner,
                    name,
                    services,
                    graph,
                    token,
                    began,
                    exc,
                    attempt,
                    log,
                    TIME_LIMIT_EXCEEDED,
                )
            except Exception as exc:
                if attempt < attempts:
                    log.warning(
                        f"{runner.task_name} on {name} failed ({exc}); retry {attempt} in "
                        f"{delay:g} s"
                    )
                    sleep(delay)
                    if retry and retry.exponential:
                        delay *= 2
                    continue
                return _failure(runner, name, services, graph, token, began, exc, attempt, log)
            except BaseException as exc:
                _failure(runner, name, services, graph, token, began, exc, attempt, log)
                raise
            return TaskOutcome(
                runner.task_name,
                name,
                status=status,
                seconds=seconds,
                progress=progress,
                processing_status=processing,
                metadata=dict(metadata),
                attempts=attempt,
            )
    raise AssertionError("unreachable")  # pragma: no cover


def _failure(
    runner: TransientTaskRunner,
    name: str,
    services: PipelineServices,
    graph: WorkflowGraph,
    token: str,
    began: float,
    exc: BaseException,
    attempt: int,
    log: logging.Logger,
    status: str | None = None,
) -> TaskOutcome:
    status = status or runner.failed_status_message()
    seconds = time.perf_counter() - began
    progress, processing = _record_failure(
        runner, name, services, graph, token, status, seconds, log
    )
    error = str(exc) or type(exc).__name__
    log.error(f"{runner.task_name} on {name}: {status}: {error}")
    return TaskOutcome(
        runner.task_name,
        name,
        status=status,
        seconds=seconds,
        progress=progress,
        processing_status=processing,
        error=error,
        attempts=attempt,
        exception=exc,
    )


def execute_transient_task(
    runner: TransientTaskRunner,
    transient_name: str,
    services: PipelineServices,
    graph: WorkflowGraph,
    log: logging.Logger | None = None,
) -> TaskOutcome:
    """One attempt of ``run_task`` (no retries); re-raises the task's exception after its failed
    status is recorded. For tests and benchmarks driving single tasks."""
    outcome = run_task(runner, transient_name, services, graph, log, max_attempts=1)
    if outcome.exception is not None:
        raise outcome.exception
    return outcome
