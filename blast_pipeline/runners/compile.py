"""Compile registered task runners into Dagster definitions (no ``from __future__ import
annotations`` here: Dagster reads the parameter annotations at definition time).

- each ``TransientTaskRunner`` -> one asset partitioned by transient, its "processed"
  prerequisites as asset dependencies; a status other than "processed" is recorded, shown as an
  observation on that partition, and leaves the asset unmaterialised so downstream steps skip;
- each ``SystemTaskRunner`` -> a one-op job plus a schedule at its frequency;
- options -> ``RetryPolicy`` (retries), ``pool`` (concurrency per service), op tags
  (``dagster-celery/queue`` for routing), soft time limit in the step and a run-level
  ``dagster/max_runtime`` hard limit.
"""

import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np

from blast_pipeline.db.transients import TransientNotFound
from blast_pipeline.resources import BlastResource
from blast_pipeline.runners.base import (
    MarkdownText,
    MetadataTable,
    Retry,
    SystemTaskContext,
    SystemTaskRunner,
    TransientTaskRunner,
)
from blast_pipeline.runners.batch import TaskError, process_transient_batch
from blast_pipeline.runners.execution import TaskOutcome, TimeLimitExceeded, execute_transient_task
from blast_pipeline.runners.graph import RegistrationError, WorkflowGraph

TRANSIENTS = dg.DynamicPartitionsDefinition(name="transients")
WORKFLOW_GROUP = "transient_workflow"
WORKFLOW_JOB_NAME = "transient_workflow"
BATCH_JOB_NAME = "transient_workflow_batch"
#: Run tag listing the transients of a batch run (comma-separated), for "is it busy?" checks.
BATCH_TRANSIENTS_TAG = "blast/transients"
SYSTEM_GROUP_TAG = {"blast/kind": "system"}
#: Run-level hard limit, on top of each task's soft limit (Blast: 3600 s soft, 3800 s hard).
HARD_LIMIT_MARGIN_SECONDS = 200


def retry_policy(retry: Retry | None) -> dg.RetryPolicy | None:
    if retry is None:
        return None
    return dg.RetryPolicy(
        max_retries=retry.max_retries,
        delay=retry.delay_seconds,
        backoff=dg.Backoff.EXPONENTIAL if retry.exponential else None,
    )


def routing_tags(queue: str | None) -> dict[str, str]:
    """Tags that send a step to the workers of one queue (Celery executor) and label it."""
    if not queue:
        return {}
    return {"dagster-celery/queue": queue, "blast/queue": queue}


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
    """The events recording a task that did not end "processed", on its transient's partitions.

    - it ran and ended with another status ("no host match", "no valid phot", ...): a
      *materialisation* of its partition (the partition page shows status, reason and values;
      the ``blast/status`` tag carries the status), and an *observation* "not run" on the
      partition of every downstream task, naming the task and status that stopped it;
    - it did not run (prerequisites not met): an observation with the reason.
    """
    key = dg.AssetKey(graph.runner(outcome.task_name).asset_name)
    page = {
        "transient_page": dg.MetadataValue.url(transient_page_url(web_url, outcome.transient_name))
    }
    if outcome.status is None:
        return [
            dg.AssetObservation(
                asset_key=key,
                partition=outcome.transient_name,
                description=outcome_description(outcome),
                metadata=outcome_metadata(outcome, web_url),
                tags=status_tags("not run"),
            )
        ]
    events: list[dg.AssetMaterialization | dg.AssetObservation] = [
        dg.AssetMaterialization(
            asset_key=key,
            partition=outcome.transient_name,
            description=outcome_description(outcome),
            metadata=outcome_metadata(outcome, web_url),
            tags=status_tags(outcome.status),
        )
    ]
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


def build_transient_asset(runner: TransientTaskRunner, graph: WorkflowGraph) -> dg.AssetsDefinition:
    deps = [graph.runner(t).asset_name for t in graph.direct_upstream(runner.task_name)]

    @dg.asset(
        name=runner.asset_name,
        group_name=WORKFLOW_GROUP,
        partitions_def=TRANSIENTS,
        deps=deps,
        output_required=False,
        retry_policy=retry_policy(runner.retry),
        pool=runner.pool,
        op_tags=routing_tags(runner.queue),
        description=runner.description,
        metadata={"blast/task_name": runner.task_name},
        kinds={"python"},
    )
    def _transient_task(context: dg.AssetExecutionContext, blast: BlastResource):
        services = blast.services()
        try:
            outcome = execute_transient_task(
                runner, context.partition_key, services, graph, context.log
            )
        except (TimeLimitExceeded, TransientNotFound) as exc:
            # Past its time limit, or a partition added by hand for a transient that is not in
            # the Blast database: fail now, with the message, and do not retry.
            raise dg.Failure(description=str(exc), allow_retries=False) from exc
        if outcome.processed:
            yield dg.MaterializeResult(
                metadata=outcome_metadata(outcome, blast.web_url),
                tags=status_tags(outcome.status),
            )
            return
        # Logged, not yielded: the output stays absent, so Dagster skips the downstream steps
        # of this transient, while the partition page shows the status and its reason.
        for event in outcome_events(outcome, graph, blast.web_url):
            context.log_event(event)
        context.log.warning(outcome_description(outcome) + "; downstream tasks will not run")

    return _transient_task


def build_system_job(runner: SystemTaskRunner) -> tuple[dg.JobDefinition, dg.ScheduleDefinition]:
    tags = {**SYSTEM_GROUP_TAG, **routing_tags(runner.queue)}
    if runner.time_limit_seconds:
        tags["dagster/max_runtime"] = str(int(runner.time_limit_seconds))

    @dg.op(
        name=runner.asset_name,
        description=runner.description,
        retry_policy=retry_policy(runner.retry),
        pool=runner.pool,
    )
    def _system_task(context: dg.OpExecutionContext, blast: BlastResource) -> None:
        task_context = SystemTaskContext(
            services=blast.services(), log=context.log, orchestrator=context.instance
        )
        summary = runner.run_process(task_context)
        metadata = dict(task_context.metadata)
        if summary:
            metadata["summary"] = summary
            context.log.info(f"{runner.task_name}: {summary}")
        if metadata:
            context.add_output_metadata(metadata)

    @dg.job(name=f"{runner.asset_name}_job", tags=tags, description=runner.description)
    def _job() -> None:
        _system_task()

    default_status = (
        dg.DefaultScheduleStatus.RUNNING
        if runner.task_initially_enabled
        else dg.DefaultScheduleStatus.STOPPED
    )

    @dg.schedule(
        name=f"{runner.asset_name}_schedule",
        job=_job,
        cron_schedule=cron_for_frequency(runner),
        default_status=default_status,
        description=f"{runner.task_name} every {runner.task_frequency_seconds} s",
        tags={"blast/frequency_seconds": str(runner.task_frequency_seconds)},
    )
    def _schedule(context: dg.ScheduleEvaluationContext):
        reason = runner.disabled_reason()
        if reason:
            return dg.SkipReason(f"{runner.task_name} cannot run: {reason}")
        return dg.RunRequest()

    return _job, _schedule


def cron_for_frequency(runner: SystemTaskRunner) -> str:
    """A cron expression running every ``task_frequency_seconds`` (whole minutes that divide an
    hour, whole hours that divide a day, or one day)."""
    seconds = runner.task_frequency_seconds
    where = f"{type(runner).__name__} ({runner.task_name!r})"
    if not isinstance(seconds, int) or seconds <= 0:
        raise RegistrationError(f"{where}: task_frequency_seconds must be a positive integer")
    if seconds % 60:
        raise RegistrationError(
            f"{where}: task_frequency_seconds={seconds} is not a whole number of minutes; "
            "schedules run on minute boundaries"
        )
    minutes = seconds // 60
    if minutes < 60 and 60 % minutes == 0:
        return "* * * * *" if minutes == 1 else f"*/{minutes} * * * *"
    if minutes % 60 == 0:
        hours = minutes // 60
        if hours < 24 and 24 % hours == 0:
            return "0 * * * *" if hours == 1 else f"0 */{hours} * * *"
        if hours == 24:
            return "0 0 * * *"
    raise RegistrationError(
        f"{where}: task_frequency_seconds={seconds} cannot be expressed as a cron schedule; use a "
        "divisor of an hour (in minutes) or of a day (in hours)"
    )


def workflow_hard_limit_seconds(graph: WorkflowGraph) -> int:
    limits = [r.time_limit_seconds or 0 for r in graph.runners]
    return int(sum(limits) + HARD_LIMIT_MARGIN_SECONDS)


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


def build_batch_job(graph: WorkflowGraph) -> dg.JobDefinition:
    """Many transients in one run (see ``runners/batch.py``); every task outcome is logged as a
    materialisation or observation of that task's asset partition, as a per-transient run would."""
    keys = {r.task_name: dg.AssetKey(r.asset_name) for r in graph.runners}

    @dg.op(
        name="process_transient_batch",
        config_schema={"transients": dg.Field([str], description="transient names")},
        description="Every task not yet processed, for each transient of the batch.",
    )
    def _process_batch(context: dg.OpExecutionContext, blast: BlastResource) -> None:
        event_log_seconds = 0.0
        #: transient -> (task, status) of the task that stopped it, for the run page
        stopped: dict[str, tuple[str, str]] = {}

        def report(runner: TransientTaskRunner, result: TaskOutcome | TaskError) -> None:
            nonlocal event_log_seconds
            began = time.perf_counter()
            log_outcome(runner, result)
            event_log_seconds += time.perf_counter() - began

        def log_outcome(runner: TransientTaskRunner, result: TaskOutcome | TaskError) -> None:
            key = keys[runner.task_name]
            if isinstance(result, TaskError):
                metadata = {
                    "status": result.status,
                    "task": result.task_name,
                    "error": result.error,
                }
                stopped.setdefault(result.transient_name, (result.task_name, result.status))
                context.log_event(
                    dg.AssetObservation(
                        asset_key=key,
                        partition=result.transient_name,
                        metadata=metadata,
                        description=f"{result.task_name} on {result.transient_name}: "
                        f"{result.status} ({result.error})",
                        tags=status_tags(result.status),
                    )
                )
                context.log.error(f"{runner.task_name} on {result.transient_name}: {result.error}")
                return
            if result.status is None:
                return  # prerequisites not met: recorded by the task that stopped them
            if not result.processed:
                stopped.setdefault(result.transient_name, (result.task_name, result.status))
                for event in outcome_events(result, graph, blast.web_url):
                    context.log_event(event)
                return
            context.log_event(
                dg.AssetMaterialization(
                    asset_key=key,
                    partition=result.transient_name,
                    metadata=outcome_metadata(result, blast.web_url),
                    tags=status_tags(result.status),
                )
            )

        names = context.op_config["transients"]
        summary = process_transient_batch(
            names, blast.services(), graph, context.log, on_outcome=report
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

    @dg.job(
        name=BATCH_JOB_NAME,
        tags={"blast/kind": "transient_batch"},
        description="The transient workflow for a batch of transients in one run (sensor backlog).",
    )
    def _batch_job() -> None:
        _process_batch()

    return _batch_job


def compile_runners(
    runners: Sequence[object], executor: Any = None
) -> tuple[WorkflowGraph, list[dg.AssetsDefinition], list[Any], list[dg.ScheduleDefinition]]:
    """Validate the registry and build assets, jobs and schedules."""
    graph = WorkflowGraph.from_runners(runners)
    assets = [build_transient_asset(r, graph) for r in graph.runners]
    jobs: list[Any] = (
        [build_workflow_job(graph, executor), build_batch_job(graph)] if assets else []
    )
    schedules = []
    for runner in graph.system_runners:
        job, schedule = build_system_job(runner)
        jobs.append(job)
        schedules.append(schedule)
    return graph, assets, jobs, schedules
