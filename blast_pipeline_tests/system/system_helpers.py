"""Helpers for the system-task tests (imported by the tests and ``conftest``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
from dagster._core.remote_origin import (
    InProcessCodeLocationOrigin,
    RemoteJobOrigin,
    RemoteRepositoryOrigin,
)
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.utils import make_new_run_id

from blast_pipeline.db.task_register import initialise_registers, set_status
from blast_pipeline.db.transients import NewTransient, add_transient, get_transient
from blast_pipeline.runners.graph import WorkflowGraph
from blast_pipeline.tasks import TASK_RUNNERS

GRAPH = WorkflowGraph.from_runners(TASK_RUNNERS)
TASKS = GRAPH.task_names
API_KEY = "sk-fake-0123456789-secret"
LONG_AGO = datetime.now(UTC) - timedelta(days=1)


def run_job(defs, name: str, instance, blast, raise_on_error: bool = False):
    return defs.resolve_job_def(f"{name}_job").execute_in_process(
        instance=instance, resources={"blast": blast}, raise_on_error=raise_on_error
    )


def job_summary(result) -> dict:
    """The op's output metadata as plain values."""
    for event in result.all_events:
        if event.event_type_value == "STEP_OUTPUT":
            return {k: v.value for k, v in event.event_specific_data.metadata.items()}
    return {}


def add(
    blast,
    name: str,
    statuses: dict[str, str] | None = None,
    *,
    progress: int = 0,
    processing_status: str = "processing",
    requested_at: datetime | None = LONG_AGO,
    redshift: float | None = 0.05,
    **fields,
) -> None:
    """A transient with registers (``statuses`` override "not processed"), launched long ago."""
    with blast.services().database.session() as session:
        transient = add_transient(session, NewTransient(name, 150.0, 2.5, redshift=redshift))
        initialise_registers(session, transient, TASKS)
        for task, status in (statuses or {}).items():
            set_status(session, transient, task, status)
        transient.progress = progress
        transient.processing_status = processing_status
        transient.workflow_requested_at = requested_at
        for key, value in fields.items():
            setattr(transient, key, value)


def all_processed() -> dict[str, str]:
    return {t: "processed" for t in TASKS}


def read(blast, name: str, fn):
    with blast.services().database.session() as session:
        return fn(session, get_transient(session, name))


def _origin(job_name: str) -> RemoteJobOrigin:
    return RemoteJobOrigin(
        repository_origin=RemoteRepositoryOrigin(
            code_location_origin=InProcessCodeLocationOrigin(
                LoadableTargetOrigin(module_name="blast_pipeline.definitions")
            ),
            repository_name="__repository__",
        ),
        job_name=job_name,
    )


def add_run(
    instance, partition: str, status: dg.DagsterRunStatus, job_name: str = "transient_workflow"
) -> str:
    """A run record for a transient's partition in the given state (queued runs need an origin)."""
    run = dg.DagsterRun(
        job_name=job_name,
        run_id=make_new_run_id(),
        tags={"dagster/partition": partition},
        status=status,
        remote_job_origin=_origin(job_name),
    )
    return instance.add_run(run).run_id
