"""Compile registered task runners into Dagster definitions (no ``from __future__ import
annotations`` here: Dagster reads the parameter annotations at definition time).

- each ``TransientTaskRunner`` -> one asset partitioned by transient, its "processed"
  prerequisites as asset dependencies; a status other than "processed" is recorded, shown as an
  observation on that partition, and leaves the asset unmaterialised so downstream steps skip;
- each ``SystemTaskRunner`` -> a one-op job plus a schedule at its frequency;
- the batch job: the same tasks for many transients in one run (``runners/batch.py``);
- options -> ``pool`` (concurrency per service), op tags (``dagster-celery/queue`` for
  routing), retries and the soft time limit inside ``run_task`` (the same for both jobs), the
  worker heartbeat's hard limit per task and a run-level ``dagster/max_runtime``.
"""

import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np

from blast_pipeline.db.transients import get_transient
from blast_pipeline.resources import BlastResource
from blast_pipeline.runners.base import MarkdownText, TransientTaskRunner
from blast_pipeline.runners.batch import (
    BatchSummary,
    pool_slot,
    process_transient_batch,
    queue_stages,
)
from blast_pipeline.runners.execution import TaskOutcome, run_task
from blast_pipeline.runners.graph import WorkflowGraph
from blast_pipeline.runners.heartbeat import ensure_run_heartbeat
from blast_pipeline.runners.jobs import (
    BATCH_JOB_NAME,
    BATCH_TRANSIENTS_TAG,
    GENERATION_TAG,
    TRANSIENTS,
    WORKFLOW_GROUP,
    WORKFLOW_JOB_NAME,
)
from blast_pipeline.runners.reset import reset_and_request
from blast_pipeline.runners.system_jobs import build_system_job, routing_tags

#: The first (usually only) op of a batch run.
BATCH_OP_NAME = "process_transient_batch"


def outcome_metadata(outcome: TaskOutcome) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "status": outcome.status or "not run",
        "task": outcome.task_name,
        "processing_seconds": round(outcome.seconds, 3),
        "progress": outcome.progress,
        "processing_status": outcome.processing_status,
    }
    if outcome.skipped_reason:
        metadata["reason"] = outcome.skipped_reason
    for key, value in outcome.metadata.items():
        metadata[key] = _metadata_value(value)
    return metadata


def _metadata_value(value: Any) -> Any:
    """Plain values Dagster can store (numpy scalars and paths from the science layer)."""
    if isinstance(value, MarkdownText):
        return dg.MetadataValue.md(value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    if value is None:
        return dg.MetadataValue.null()
    return value


def failure_metadata(outcome: TaskOutcome) -> dict[str, Any]:
    """An outcome's metadata plus its error (shown on the observation of a failed task)."""
    return {**outcome_metadata(outcome), "error": outcome.error or ""}


def is_sensor_run(tags: dict[str, str]) -> bool:
    """Runs launched by the sensor carry their workflow generation; UI and CLI materialisations
    do not."""
    return GENERATION_TAG in tags


def build_transient_asset(runner: TransientTaskRunner, graph: WorkflowGraph) -> dg.AssetsDefinition:
    deps = [graph.runner(t).asset_name for t in graph.direct_upstream(runner.task_name)]

    @dg.asset(
        name=runner.asset_name,
        group_name=WORKFLOW_GROUP,
        partitions_def=TRANSIENTS,
        deps=deps,
        output_required=False,
        pool=runner.pool,
        op_tags=routing_tags(runner.queue),
        description=runner.description,
        metadata={"blast/task_name": runner.task_name},
        kinds={"python"},
    )
    def _transient_task(context: dg.AssetExecutionContext, blast: BlastResource):
        services = blast.services()
        ensure_run_heartbeat(context.instance, services.database, context.run_id)
        name = context.partition_key
        if not is_sensor_run(context.run.tags):
            # Materialised by hand: re-run this task, and mark what depends on it for re-run.
            with services.database.session() as session:
                reset_and_request(
                    session,
                    graph,
                    get_transient(session, name),
                    services.data_root,
                    tasks=graph.downstream_of(runner.task_name),
                    request=False,
                )
        # Retries happen inside run_task, the same for this asset and the batch op.
        outcome = run_task(runner, name, services, graph, context.log)
        if outcome.processed:
            yield dg.MaterializeResult(metadata=outcome_metadata(outcome))
            return
        # Not materialised: downstream steps of this transient skip. The observation makes the
        # status visible on the partition in the UI.
        metadata = failure_metadata(outcome) if outcome.failed else outcome_metadata(outcome)
        yield dg.AssetObservation(asset_key=context.asset_key, partition=name, metadata=metadata)
        if outcome.failed:
            raise dg.Failure(
                description=f"{runner.task_name} on {name}: {outcome.status}: {outcome.error}",
                allow_retries=False,
            )
        context.log.warning(
            f"{runner.task_name} on {name}: "
            f"{outcome.status or outcome.skipped_reason}; downstream tasks will not run"
        )

    return _transient_task


def workflow_hard_limit_seconds(graph: WorkflowGraph, n_transients: int = 1) -> int:
    """A run's ``dagster/max_runtime``: the hard limits (Blast's 3800 s) of every task it may run,
    for each of its transients. A hung task is caught much sooner by the heartbeat."""
    per_transient = sum(r.hard_limit_seconds or 0 for r in graph.runners)
    return int(per_transient * max(1, n_transients))


def build_workflow_job(graph: WorkflowGraph, executor: Any = None) -> Any:
    """One run per transient, steps in-process by default (the multiprocess executor costs ~40 s
    per run on 2 cores; see dagster-notes section 2), or on Celery workers in production."""
    return dg.define_asset_job(
        WORKFLOW_JOB_NAME,
        selection=dg.AssetSelection.groups(WORKFLOW_GROUP),
        executor_def=executor or dg.in_process_executor,
        tags={
            "dagster/max_runtime": str(workflow_hard_limit_seconds(graph)),
            "blast/kind": "transient_workflow",
        },
        description="Every transient task for one transient (one partition).",
    )


def outcome_event(
    key: dg.AssetKey, outcome: TaskOutcome
) -> dg.AssetMaterialization | dg.AssetObservation:
    """The event a batch op logs for an outcome: what the per-transient asset yields."""
    if outcome.processed:
        return dg.AssetMaterialization(
            asset_key=key, partition=outcome.transient_name, metadata=outcome_metadata(outcome)
        )
    metadata = failure_metadata(outcome) if outcome.failed else outcome_metadata(outcome)
    return dg.AssetObservation(asset_key=key, partition=outcome.transient_name, metadata=metadata)


def _batch_stage_op(
    name: str,
    queue: str | None,
    runners: tuple[TransientTaskRunner, ...],
    graph: WorkflowGraph,
    first: bool,
) -> dg.OpDefinition:
    keys = {r.task_name: dg.AssetKey(r.asset_name) for r in runners}
    ins = {} if first else {"previous": dg.In(dict)}

    @dg.op(
        name=name,
        ins=ins,
        out=dg.Out(dict),
        tags=routing_tags(queue),
        description="The tasks of this stage for each transient of the batch (run tag "
        f"{BATCH_TRANSIENTS_TAG}): {', '.join(r.task_name for r in runners)}.",
    )
    def _stage(context: dg.OpExecutionContext, blast: BlastResource, **inputs) -> dict:
        event_log_seconds = 0.0

        def report(runner: TransientTaskRunner, outcome: TaskOutcome) -> None:
            nonlocal event_log_seconds
            if outcome.status is None:
                return  # not run: skipped, as in a per-transient run
            began = time.perf_counter()
            context.log_event(outcome_event(keys[runner.task_name], outcome))
            event_log_seconds += time.perf_counter() - began

        storage = context.instance.event_log_storage
        limited = storage.get_concurrency_keys()

        def slot(runner: TransientTaskRunner, transient: str):
            step_key = f"{runner.asset_name}[{transient}]"
            return pool_slot(storage, limited, runner.pool, context.run_id, step_key)

        names = [n for n in context.run.tags.get(BATCH_TRANSIENTS_TAG, "").split(",") if n]
        services = blast.services()
        ensure_run_heartbeat(context.instance, services.database, context.run_id)
        summary = process_transient_batch(
            names, runners, services, graph, context.log, on_outcome=report, slot=slot
        )
        context.add_output_metadata(
            {
                "transients": summary.transients,
                "tasks_processed": summary.processed,
                "tasks_other_status": summary.other_status,
                "task_errors": summary.errors,
                "failed_transients": ", ".join(summary.failed_transients) or "none",
                "task_seconds": round(summary.task_seconds, 3),
                "event_log_seconds": round(event_log_seconds, 3),
            }
        )
        previous = inputs.get("previous")
        if previous is not None:
            summary = BatchSummary(**previous).merged(summary)
        return asdict(summary)

    return _stage


def build_batch_job(graph: WorkflowGraph, executor: Any = None) -> dg.JobDefinition:
    """Many transients in one run: one op per queue stage (``runners/batch.py``), then
    ``batch_result``, which fails the run when a task failed (as a per-transient run fails)."""
    stages = queue_stages(graph)
    ops = [
        _batch_stage_op(
            BATCH_OP_NAME if i == 0 else f"{BATCH_OP_NAME}_{i}_{queue or 'default'}",
            queue,
            runners,
            graph,
            first=i == 0,
        )
        for i, (queue, runners) in enumerate(stages)
    ]

    @dg.op(name="batch_result", ins={"summary": dg.In(dict)})
    def _batch_result(context: dg.OpExecutionContext, summary: dict) -> None:
        result = BatchSummary(**summary)
        if result.errors:
            raise dg.Failure(
                description=f"{result.errors} task(s) failed, for "
                f"{', '.join(result.failed_transients)}",
                metadata={"task_errors": result.errors},
                allow_retries=False,
            )

    @dg.job(
        name=BATCH_JOB_NAME,
        tags={"blast/kind": "transient_batch"},
        executor_def=executor or dg.in_process_executor,
        description="The transient workflow for a batch of transients in one run (sensor backlog).",
    )
    def _batch_job() -> None:
        summary = ops[0]()
        for op in ops[1:]:
            summary = op(summary)
        _batch_result(summary)

    return _batch_job


def compile_runners(
    runners: Sequence[object], executor: Any = None
) -> tuple[WorkflowGraph, list[dg.AssetsDefinition], list[Any], list[dg.ScheduleDefinition]]:
    """Validate the registry and build assets, jobs and schedules."""
    graph = WorkflowGraph.from_runners(runners)
    assets = [build_transient_asset(r, graph) for r in graph.runners]
    jobs: list[Any] = (
        [build_workflow_job(graph, executor), build_batch_job(graph, executor)] if assets else []
    )
    schedules = []
    for runner in graph.system_runners:
        job, schedule = build_system_job(runner, graph)
        jobs.append(job)
        schedules.append(schedule)
    return graph, assets, jobs, schedules
