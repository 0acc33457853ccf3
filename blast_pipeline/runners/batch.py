"""Batch mode: many transients through every task in one process (one Dagster run per batch).

Per-run start-up (~5 s through the daemon on 2 cores) is then paid once per batch. Each
transient keeps its own statuses: a task that raises is recorded as failed for that transient
only, its downstream tasks are skipped for that transient, and the batch goes on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from blast_pipeline.db.task_register import statuses_with_defaults, task_statuses
from blast_pipeline.db.transients import get_transient
from blast_pipeline.runners.base import TransientTaskRunner
from blast_pipeline.runners.execution import TaskOutcome, TimeLimitExceeded, execute_transient_task
from blast_pipeline.runners.graph import WorkflowGraph
from blast_pipeline.services import PipelineServices
from blast_pipeline.statuses import PROCESSED


@dataclass(frozen=True)
class TaskError:
    """A task that raised (after its retries); its failed status is in the register."""

    task_name: str
    transient_name: str
    error: str
    status: str


@dataclass
class BatchSummary:
    transients: int = 0
    processed: int = 0
    other_status: int = 0
    errors: int = 0
    skipped: int = 0
    failed_transients: list[str] = field(default_factory=list)
    #: Wall seconds inside the task runners (the science and its database writes); the rest of
    #: a batch run's time is orchestration.
    task_seconds: float = 0.0


OutcomeCallback = Callable[[TransientTaskRunner, TaskOutcome | TaskError], None]


def _run_with_retries(
    runner: TransientTaskRunner,
    name: str,
    services: PipelineServices,
    graph: WorkflowGraph,
    log: logging.Logger,
    sleep: Callable[[float], None],
) -> TaskOutcome | TaskError:
    """Honour the runner's ``Retry`` in-process (the step-level RetryPolicy's equivalent)."""
    retry = runner.retry
    attempts = 1 + (retry.max_retries if retry else 0)
    delay = retry.delay_seconds if retry else 0.0
    for attempt in range(1, attempts + 1):
        try:
            return execute_transient_task(runner, name, services, graph, log)
        except TimeLimitExceeded as exc:  # never retried
            return TaskError(runner.task_name, name, str(exc), "time limit exceeded")
        except Exception as exc:
            if attempt == attempts:
                return TaskError(runner.task_name, name, str(exc), runner.failed_status_message())
            log.warning(
                f"{runner.task_name} on {name} failed ({exc}); retry {attempt} in {delay:g} s"
            )
            sleep(delay)
            if retry and retry.exponential:
                delay *= 2
    raise AssertionError("unreachable")  # pragma: no cover


def process_transient_batch(
    names: Sequence[str],
    services: PipelineServices,
    graph: WorkflowGraph,
    log: logging.Logger | None = None,
    on_outcome: OutcomeCallback | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> BatchSummary:
    """Run every task not yet "processed" for each transient, in dependency order."""
    log = log or logging.getLogger("blast_pipeline.batch")
    summary = BatchSummary()
    for name in names:
        summary.transients += 1
        with services.database.session() as session:
            statuses = statuses_with_defaults(
                task_statuses(session, get_transient(session, name)), graph.task_names
            )
        failed = False
        for runner in graph.runners:
            if statuses[runner.task_name] == PROCESSED:
                continue
            began = time.perf_counter()
            result = _run_with_retries(runner, name, services, graph, log, sleep)
            summary.task_seconds += time.perf_counter() - began
            if isinstance(result, TaskError):
                summary.errors += 1
                failed = True
            elif result.status is None:
                summary.skipped += 1
            elif result.processed:
                summary.processed += 1
            else:
                summary.other_status += 1
            if on_outcome is not None:
                on_outcome(runner, result)
        if failed:
            summary.failed_transients.append(name)
    return summary
