"""Compile ``SystemTaskRunner``s into Dagster jobs and schedules (no ``from __future__ import
annotations``: Dagster reads the parameter annotations at definition time)."""

import dagster as dg

from blast_pipeline.resources import BlastResource
from blast_pipeline.runners.base import Retry, SystemTaskContext, SystemTaskRunner
from blast_pipeline.runners.graph import RegistrationError, WorkflowGraph
from blast_pipeline.runners.heartbeat import ensure_run_heartbeat
from blast_pipeline.runners.jobs import SYSTEM_GROUP_TAG, SYSTEM_JOB_TAG, runs_in_flight_of_job


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


def build_system_job(
    runner: SystemTaskRunner, graph: WorkflowGraph
) -> tuple[dg.JobDefinition, dg.ScheduleDefinition]:
    """A one-op job and its schedule. The schedule skips while a run of the same job is still in
    flight (Blast's TNS mutex, for every system job), so a slow run never queues the next; jobs
    block each other only through a shared pool (e.g. ``tns``)."""
    tags = {**SYSTEM_GROUP_TAG, SYSTEM_JOB_TAG: runner.asset_name, **routing_tags(runner.queue)}
    if runner.hard_limit_seconds:
        tags["dagster/max_runtime"] = str(int(runner.hard_limit_seconds))

    @dg.op(
        name=runner.asset_name,
        description=runner.description,
        retry_policy=retry_policy(runner.retry),
        pool=runner.pool,
    )
    def _system_task(context: dg.OpExecutionContext, blast: BlastResource) -> None:
        services = blast.services()
        ensure_run_heartbeat(context.instance, services.database, context.run_id)
        task_context = SystemTaskContext(
            services=services, log=context.log, orchestrator=context.instance, graph=graph
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
        busy = runs_in_flight_of_job(context.instance, _job.name)
        if busy:
            return dg.SkipReason(
                f"{runner.task_name}: the previous run is still in flight ({', '.join(busy)})"
            )
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
