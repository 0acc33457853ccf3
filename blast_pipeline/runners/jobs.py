"""Names shared by the compiled jobs, the sensor and the system tasks (no Dagster code here
besides the partitions definition)."""

from __future__ import annotations

import dagster as dg

TRANSIENTS = dg.DynamicPartitionsDefinition(name="transients")
#: The asset group of a transient task that names no group of its own (tests' toy runners).
WORKFLOW_GROUP = "transient_workflow"
WORKFLOW_JOB_NAME = "transient_workflow"
BATCH_JOB_NAME = "transient_workflow_batch"
#: Run tag listing the transients of a batch run (comma-separated), for "is it busy?" checks.
BATCH_TRANSIENTS_TAG = "blast/transients"
#: Run tag of sensor-launched runs: the transient's workflow generation (its claim).
GENERATION_TAG = "blast/workflow_generation"
SYSTEM_GROUP_TAG = {"blast/kind": "system"}
#: Run tag naming the system job, so run queue limits can apply per job
#: (``applyLimitPerUniqueValue``) instead of one slot shared by all system jobs.
SYSTEM_JOB_TAG = "blast/system_job"

#: Every run status that is not final: such a run may still execute tasks.
IN_FLIGHT_STATUSES: tuple[dg.DagsterRunStatus, ...] = tuple(
    s
    for s in dg.DagsterRunStatus
    if s
    not in (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)
)


def runs_in_flight_of_job(instance: dg.DagsterInstance, job_name: str) -> list[str]:
    """Run ids of the job's unfinished runs."""
    records = instance.get_run_records(
        dg.RunsFilter(job_name=job_name, statuses=list(IN_FLIGHT_STATUSES)), limit=5
    )
    return [r.dagster_run.run_id for r in records]
