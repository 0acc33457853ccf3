"""Driving the workflow without the daemon: evaluate the sensor and execute the runs it asks
for, in this process, against the Dagster instance (so they show in the UI like any run)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import dagster as dg

from blast_pipeline.runners.compile import WORKFLOW_JOB_NAME


@dataclass
class ProcessSummary:
    ticks: int = 0
    runs: int = 0
    failed_runs: int = 0
    transients: list[str] = field(default_factory=list)

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
    job = defs.resolve_job_def(WORKFLOW_JOB_NAME)
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
            outcome = job.execute_in_process(
                instance=instance,
                partition_key=run_request.partition_key,
                asset_selection=run_request.asset_selection,
                tags=run_request.tags,
                resources={"blast": blast},
                raise_on_error=False,
            )
            summary.runs += 1
            summary.failed_runs += 0 if outcome.success else 1
            summary.transients.append(run_request.partition_key)
    return summary
