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

import re
import time
from collections.abc import Sequence
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np

from blast_pipeline.db.transients import TransientNotFound, get_transient
from blast_pipeline.resources import BlastResource
from blast_pipeline.runners.base import MarkdownText, MetadataTable, TransientTaskRunner
from blast_pipeline.runners.batch import (
    BatchSummary,
    pool_slot,
    process_transient_batch,
    queue_stages,
)
from blast_pipeline.runners.execution import TaskOutcome, run_task, step_claim_token
from blast_pipeline.runners.graph import WorkflowGraph
from blast_pipeline.runners.heartbeat import ensure_run_heartbeat
from blast_pipeline.runners.jobs import (
    BATCH_JOB_NAME,
    BATCH_TRANSIENTS_TAG,
    GENERATION_TAG,
    TRANSIENTS,
    WORKFLOW_JOB_NAME,
)
from blast_pipeline.runners.reset import reset_and_request
from blast_pipeline.runners.system_jobs import build_system_job, routing_tags

#: The first (usually only) op of a batch run.
BATCH_OP_NAME = "process_transient_batch"


#: Run and event tag carrying the task's Blast status ("processed", "no host match", ...).
STATUS_TAG = "blast/status"


def status_tags(status: str) -> dict[str, str]:
    """The ``blast/status`` tag of an event (tag values allow no spaces: "no_host_match")."""
    return {STATUS_TAG: re.sub(r"[^A-Za-z0-9_.-]+", "_", status)}


def transient_page_url(web_url: str, transient_name: str) -> str:
    """The transient's page on the project's web service (``BLAST_WEB_URL``)."""
    return f"{web_url.rstrip('/')}/transients/{transient_name}/"


def outcome_reason(outcome: TaskOutcome) -> str | None:
    """Why the task ended as it did, in words (None for a plain "processed")."""
    if outcome.skipped_reason:
        return outcome.skipped_reason
    reason = outcome.metadata.get("reason")
    return None if reason is None else str(reason)


def outcome_description(outcome: TaskOutcome) -> str:
    """One line for the event's description: task, status and reason."""
    status = outcome.status or "not run"
    reason = outcome_reason(outcome)
    return f"{outcome.task_name} on {outcome.transient_name}: {status}" + (
        f" ({reason})" if reason else ""
    )


def outcome_metadata(outcome: TaskOutcome, web_url: str = "") -> dict[str, Any]:
    """The status and its reason first, then the task's own values (tables, images, numbers)
    and a link to the transient's page. No progress snapshot: it is stale as soon as the next
    task runs (the page and ``blast-pipeline status`` show the live value)."""
    metadata: dict[str, Any] = {"status": outcome.status or "not run"}
    reason = outcome_reason(outcome)
    if reason:
        metadata["reason"] = reason
    metadata["task"] = outcome.task_name
    if outcome.status is not None:
        metadata["processing_seconds"] = round(outcome.seconds, 3)
    for key, value in outcome.metadata.items():
        if key != "reason":
            metadata[key] = _metadata_value(value)
    if web_url:
        metadata["transient_page"] = dg.MetadataValue.url(
            transient_page_url(web_url, outcome.transient_name)
        )
    return metadata


def outcome_events(
    outcome: TaskOutcome, graph: WorkflowGraph, web_url: str = ""
) -> list[dg.AssetMaterialization | dg.AssetObservation]:
    """The events recording one task outcome on its transient's partitions; batch and
    per-transient runs log the same (the per-transient asset yields a processed task's
    materialisation as its output instead of logging it).

    - "processed": a materialisation with the task's values;
    - an error status ("failed", ...): an observation with the error;
    - another status ("no host match", "no valid phot", ...): a *materialisation* of its
      partition (the partition page shows status, reason and values; the ``blast/status`` tag
      carries the status), and an *observation* "not run" on the partition of every downstream
      task, naming the task and status that stopped it;
    - not run (prerequisites not met): nothing; the stopping task's events say why.
    """
    if outcome.status is None:
        return []
    key = dg.AssetKey(graph.runner(outcome.task_name).asset_name)
    common = {
        "asset_key": key,
        "partition": outcome.transient_name,
        "description": outcome_description(outcome),
        "tags": status_tags(outcome.status),
    }
    if outcome.processed:
        return [dg.AssetMaterialization(metadata=outcome_metadata(outcome, web_url), **common)]
    if outcome.failed:
        return [dg.AssetObservation(metadata=failure_metadata(outcome, web_url), **common)]
    events: list[dg.AssetMaterialization | dg.AssetObservation] = [
        dg.AssetMaterialization(metadata=outcome_metadata(outcome, web_url), **common)
    ]
    page = {
        "transient_page": dg.MetadataValue.url(transient_page_url(web_url, outcome.transient_name))
    }
    reason = f"stopped by {outcome.task_name}, which ended {outcome.status!r}"
    for task in graph.downstream_of(outcome.task_name):
        if task == outcome.task_name:
            continue
        events.append(
            dg.AssetObservation(
                asset_key=dg.AssetKey(graph.runner(task).asset_name),
                partition=outcome.transient_name,
                description=f"{task} on {outcome.transient_name}: not run ({reason})",
                metadata={
                    "status": "not run",
                    "reason": reason,
                    "stopped_by": outcome.task_name,
                    "stopped_by_status": outcome.status,
                    **(page if web_url else {}),
                },
                tags=status_tags("not run"),
            )
        )
    return events


def _metadata_value(value: Any) -> Any:
    """Plain values Dagster can store (numpy scalars and paths from the science layer)."""
    if isinstance(value, MarkdownText):
        return dg.MetadataValue.md(value)
    if isinstance(value, MetadataTable):
        return _table_value(value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    if value is None:
        return dg.MetadataValue.null()
    return value


def _table_value(table: MetadataTable) -> dg.TableMetadataValue:
    kinds = {bool: "bool", int: "int", float: "float"}

    def kind(k: int) -> str:
        seen = {type(row[k]) for row in table.rows if row[k] is not None}
        return kinds.get(seen.pop(), "string") if len(seen) == 1 else "string"

    def plain(value: Any) -> Any:
        if isinstance(value, np.generic):
            value = value.item()
        return value if value is None or isinstance(value, (bool, int, float)) else str(value)

    return dg.MetadataValue.table(
        records=[
            dg.TableRecord({c: plain(v) for c, v in zip(table.columns, row, strict=True)})
            for row in table.rows
        ],
        schema=dg.TableSchema(
            columns=[dg.TableColumn(c, kind(k)) for k, c in enumerate(table.columns)]
        ),
    )


def failure_metadata(outcome: TaskOutcome, web_url: str = "") -> dict[str, Any]:
    """An outcome's metadata plus its error (shown on the observation of a failed task)."""
    return {**outcome_metadata(outcome, web_url), "error": outcome.error or ""}


def is_sensor_run(tags: dict[str, str]) -> bool:
    """Runs launched by the sensor carry their workflow generation; UI and CLI materialisations
    do not."""
    return GENERATION_TAG in tags


def build_transient_asset(runner: TransientTaskRunner, graph: WorkflowGraph) -> dg.AssetsDefinition:
    deps = [graph.runner(t).asset_name for t in graph.direct_upstream(runner.task_name)]

    @dg.asset(
        name=runner.asset_name,
        group_name=runner.group,
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
        try:
            with services.database.session() as session:
                get_transient(session, name)
        except TransientNotFound as exc:
            # A partition added by hand for a transient that is not in the Blast database:
            # fail now, with the message, and do not retry.
            raise dg.Failure(description=str(exc), allow_retries=False) from exc
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
        token = step_claim_token(context.run_id, runner.asset_name, runner.task_name, name)
        outcome = run_task(runner, name, services, graph, context.log, claim_token=token)
        if outcome.processed:
            yield dg.MaterializeResult(
                metadata=outcome_metadata(outcome, blast.web_url), tags=status_tags(outcome.status)
            )
            return
        # Logged, not yielded: the output stays absent, so Dagster skips the downstream steps
        # of this transient, while the partition page shows the status and its reason.
        for event in outcome_events(outcome, graph, blast.web_url):
            context.log_event(event)
        if outcome.failed:
            raise dg.Failure(
                description=f"{runner.task_name} on {name}: {outcome.status}: {outcome.error}",
                allow_retries=False,
            )
        context.log.warning(outcome_description(outcome) + "; downstream tasks will not run")

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
        selection=dg.AssetSelection.assets(*(r.asset_name for r in graph.runners)),
        executor_def=executor or dg.in_process_executor,
        tags={
            "dagster/max_runtime": str(workflow_hard_limit_seconds(graph)),
            "blast/kind": "transient_workflow",
        },
        description="Every transient task for one transient (one partition).",
    )


def _batch_stage_op(
    name: str,
    queue: str | None,
    runners: tuple[TransientTaskRunner, ...],
    graph: WorkflowGraph,
    first: bool,
) -> dg.OpDefinition:
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
        #: transient -> (task, status) of the task that stopped it, for the run page
        stopped: dict[str, tuple[str, str]] = {}

        def report(runner: TransientTaskRunner, outcome: TaskOutcome) -> None:
            nonlocal event_log_seconds
            if outcome.status is not None and not outcome.processed:
                stopped.setdefault(outcome.transient_name, (outcome.task_name, outcome.status))
            began = time.perf_counter()
            for event in outcome_events(outcome, graph, blast.web_url):
                context.log_event(event)
            event_log_seconds += time.perf_counter() - began

        storage = context.instance.event_log_storage
        limited = storage.get_concurrency_keys()

        def slot(runner: TransientTaskRunner, transient: str):
            step_key = f"{runner.asset_name}[{transient}]"
            return pool_slot(storage, limited, runner.pool, context.run_id, step_key)

        names = [n for n in context.run.tags.get(BATCH_TRANSIENTS_TAG, "").split(",") if n]
        services = blast.services()
        ensure_run_heartbeat(context.instance, services.database, context.run_id)

        token = partial(step_claim_token, context.run_id, name)
        summary = process_transient_batch(
            names, runners, services, graph, context.log, report, slot, token
        )
        context.add_output_metadata(
            {
                "transients": summary.transients,
                "tasks_processed": summary.processed,
                "tasks_other_status": summary.other_status,
                "task_errors": summary.errors,
                "failed_transients": ", ".join(summary.failed_transients) or "none",
                "stopped_transients": _table_value(
                    MetadataTable(
                        ("transient", "stopped by", "status"),
                        tuple((name, *stop) for name, stop in sorted(stopped.items())),
                    )
                ),
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
