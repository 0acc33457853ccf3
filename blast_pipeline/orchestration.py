"""Driving the workflow without the daemon: evaluate the sensor and execute the runs it asks
for, in this process, against the Dagster instance (so they show in the UI like any run)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import dagster as dg

from blast_pipeline.runners.compile import BATCH_TRANSIENTS_TAG, WORKFLOW_JOB_NAME


@dataclass
class ProcessSummary:
    ticks: int = 0
    runs: int = 0
    failed_runs: int = 0
    transients: list[str] = field(default_factory=list)
    run_ids: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"{self.runs} workflow run(s) executed for {len(set(self.transients))} transient(s), "
            f"{self.failed_runs} failed"
        )


def default_instance() -> dg.DagsterInstance:
    """The instance in ``DAGSTER_HOME``, or a temporary one when it is not set."""
    if os.environ.get("DAGSTER_HOME"):
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()


def process_pending(
    defs: dg.Definitions | None = None,
    instance: dg.DagsterInstance | None = None,
    max_ticks: int = 1000,
) -> ProcessSummary:
    """Tick ``new_transients_sensor`` until nothing waits, executing every run it requests."""
    if defs is None:
        from blast_pipeline.definitions import defs as registry_defs

        defs = registry_defs
    instance = instance or default_instance()
    summary = ProcessSummary()
    sensor = defs.resolve_sensor_def("new_transients_sensor")
    blast = defs.resources["blast"]
    for _ in range(max_ticks):
        context = dg.build_sensor_context(instance=instance, resources={"blast": blast})
        result = sensor(context)
        summary.ticks += 1
        if not isinstance(result, dg.SensorResult):
            break
        for request in result.dynamic_partitions_requests or []:
            instance.add_dynamic_partitions(request.partitions_def_name, request.partition_keys)
        for run_request in result.run_requests or []:
            job = defs.resolve_job_def(run_request.job_name or WORKFLOW_JOB_NAME)
            outcome = job.execute_in_process(
                instance=instance,
                run_config=run_request.run_config or None,
                partition_key=run_request.partition_key,
                asset_selection=run_request.asset_selection,
                tags=run_request.tags,
                resources={"blast": blast},
                raise_on_error=False,
            )
            summary.runs += 1
            summary.run_ids.append(outcome.run_id)
            summary.failed_runs += 0 if outcome.success else 1
            if run_request.partition_key:
                summary.transients.append(run_request.partition_key)
            else:
                summary.transients.extend(run_request.tags[BATCH_TRANSIENTS_TAG].split(","))
    return summary
