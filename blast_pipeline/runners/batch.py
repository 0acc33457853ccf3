"""Batch mode: many transients through every task in one run (one Dagster run per batch), so the
run start-up (~5 s through the daemon on 2 cores) is paid once per batch.

The batch op calls the same ``run_task`` as the per-transient asset (claim, retries, limits,
failure recording), transient by transient, holding the task's instance pool slot while it runs
(the same slots the per-transient steps take); it logs the same materialisations and
observations. Tasks are grouped into stages by worker queue, one op per stage, so routing works
as for per-transient steps.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field

from blast_pipeline.runners.base import TransientTaskRunner
from blast_pipeline.runners.execution import TaskOutcome, run_task
from blast_pipeline.runners.graph import WorkflowGraph
from blast_pipeline.services import PipelineServices


@dataclass
class BatchSummary:
    transients: int = 0
    processed: int = 0
    other_status: int = 0
    errors: int = 0
    skipped: int = 0
    failed_transients: list[str] = field(default_factory=list)
    #: Wall seconds inside ``run_task`` (the science and its database writes); the rest of a
    #: batch run's time is orchestration.
    task_seconds: float = 0.0

    def merged(self, other: BatchSummary) -> BatchSummary:
        return BatchSummary(
            transients=max(self.transients, other.transients),
            processed=self.processed + other.processed,
            other_status=self.other_status + other.other_status,
            errors=self.errors + other.errors,
            skipped=self.skipped + other.skipped,
            failed_transients=sorted({*self.failed_transients, *other.failed_transients}),
            task_seconds=self.task_seconds + other.task_seconds,
        )


OutcomeCallback = Callable[[TransientTaskRunner, TaskOutcome], None]
SlotFactory = Callable[[TransientTaskRunner, str], AbstractContextManager]


def queue_stages(
    graph: WorkflowGraph,
) -> list[tuple[str | None, tuple[TransientTaskRunner, ...]]]:
    """Consecutive tasks (dependency order) that share a worker queue form one stage."""
    stages: list[tuple[str | None, list[TransientTaskRunner]]] = []
    for runner in graph.runners:
        if stages and stages[-1][0] == runner.queue:
            stages[-1][1].append(runner)
        else:
            stages.append((runner.queue, [runner]))
    return [(queue, tuple(runners)) for queue, runners in stages]


def process_transient_batch(
    names: Sequence[str],
    runners: Sequence[TransientTaskRunner],
    services: PipelineServices,
    graph: WorkflowGraph,
    log: logging.Logger | None = None,
    on_outcome: OutcomeCallback | None = None,
    slot: SlotFactory | None = None,
    claim_token: Callable[[str, str], str] | None = None,
) -> BatchSummary:
    """Run ``runners`` (in dependency order) for each transient; each task runs only when it is
    "not processed" and its prerequisites are met, as in a per-transient run. ``claim_token``:
    (task name, transient) -> the step's claim token (``execution.step_claim_token``)."""
    log = log or logging.getLogger("blast_pipeline.batch")
    summary = BatchSummary()
    for name in names:
        summary.transients += 1
        for runner in runners:
            began = time.perf_counter()
            with slot(runner, name) if slot else nullcontext():
                token = claim_token(runner.task_name, name) if claim_token else None
                outcome = run_task(runner, name, services, graph, log, claim_token=token)
            summary.task_seconds += time.perf_counter() - began
            if outcome.failed:
                summary.errors += 1
                if name not in summary.failed_transients:
                    summary.failed_transients.append(name)
            elif outcome.status is None:
                summary.skipped += 1
            elif outcome.processed:
                summary.processed += 1
            else:
                summary.other_status += 1
            if on_outcome is not None:
                on_outcome(runner, outcome)
    return summary


@contextmanager
def pool_slot(
    storage, limited: set[str], pool: str | None, run_id: str, step_key: str
) -> Iterator[None]:
    """Hold one slot of the Dagster instance pool ``pool`` (when it has a limit) while the
    block runs: the same slots the executor takes for per-transient steps."""
    if not pool or pool not in limited:
        yield
        return
    while True:
        status = storage.claim_concurrency_slot(pool, run_id, step_key)
        if status.is_claimed:
            break
        time.sleep(status.sleep_interval or 1.0)
    try:
        yield
    finally:
        storage.free_concurrency_slot_for_step(run_id, step_key)
