"""Driving the workflow without the daemon: evaluate the sensor and execute the runs it asks
for, in this process, against the Dagster instance (so they show in the UI like any run)."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field

import dagster as dg

from blast_pipeline.resources import blast_resource_from_env
from blast_pipeline.runners.heartbeat import heartbeat_interval, heartbeat_timeout
from blast_pipeline.runners.jobs import BATCH_TRANSIENTS_TAG, WORKFLOW_JOB_NAME
from blast_pipeline.system.recovery import silent_runs

#: How often a long ``process`` runs the retrigger sweep (dead runs, stalled transients).
SWEEP_EVERY_SECONDS = 120.0


@dataclass
class ProcessSummary:
    ticks: int = 0
    runs: int = 0
    failed_runs: int = 0
    transients: list[str] = field(default_factory=list)
    run_ids: list[str] = field(default_factory=list)
    #: "task on transient" for every task that raised (its failed status is recorded).
    failed_tasks: list[str] = field(default_factory=list)
    #: What the recovery sweep did before the first tick.
    recovered: str = ""

    def __str__(self) -> str:
        text = (
            f"{self.runs} workflow run(s) executed for {len(set(self.transients))} transient(s), "
            f"{self.failed_runs} failed, {len(self.failed_tasks)} task(s) failed"
        )
        if self.failed_tasks:
            text += ": " + ", ".join(self.failed_tasks[:20])
        return f"{self.recovered}\n{text}" if self.recovered else text


def failed_tasks_of(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """ "task on transient" for the failure observations of a run (both kinds of runs log one)."""
    failed = []
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_OBSERVATION):
        observation = record.dagster_event.event_specific_data.asset_observation
        if "error" in observation.metadata:
            failed.append(f"{observation.metadata['task'].value} on {observation.partition}")
    return failed


def default_instance() -> dg.DagsterInstance:
    """The instance in ``DAGSTER_HOME``, or a temporary one when it is not set."""
    if os.environ.get("DAGSTER_HOME"):
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()


#: The code location of workspace.yaml: runs made here carry it as their origin, so the UI
#: lists them in the timeline and can re-execute them.
REGISTRY_MODULE = "blast_pipeline.definitions"
LOCATION_NAME = "blast_pipeline"
REPOSITORY_NAME = "__repository__"


def execute_with_origin(
    job_name: str, run_request: dg.RunRequest, instance: dg.DagsterInstance
) -> tuple[str, bool]:
    """Execute a run of the registry's job in this process, created with the origin of the
    workspace.yaml code location (as a run launched from the UI or the daemon would be)."""
    from dagster._core.definitions.reconstruct import ReconstructableRepository
    from dagster._core.execution.api import create_execution_plan, execute_run
    from dagster._core.remote_origin import (
        ManagedGrpcPythonEnvCodeLocationOrigin,
        RemoteJobOrigin,
        RemoteRepositoryOrigin,
    )
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

    working_directory = os.getcwd()
    recon_job = ReconstructableRepository.for_module(
        REGISTRY_MODULE, "defs", working_directory
    ).get_reconstructable_job(job_name)
    asset_selection = frozenset(run_request.asset_selection or ()) or None
    if asset_selection:
        recon_job = recon_job.get_subset(asset_selection=asset_selection)
    job_def = recon_job.get_definition()
    tags = {**job_def.run_tags, **(run_request.tags or {})}
    if run_request.partition_key:
        tags.update(job_def.get_tags_for_partition_key(run_request.partition_key, None))
    run_config = run_request.run_config or {}
    location = ManagedGrpcPythonEnvCodeLocationOrigin(
        LoadableTargetOrigin(
            executable_path=sys.executable,
            module_name=REGISTRY_MODULE,
            working_directory=working_directory,
        ),
        location_name=LOCATION_NAME,
    )
    run = instance.create_run_for_job(
        job_def=job_def,
        execution_plan=create_execution_plan(
            recon_job, run_config=run_config, instance_ref=instance.get_ref()
        ),
        run_config=run_config,
        tags=tags,
        asset_selection=asset_selection,
        remote_job_origin=RemoteJobOrigin(
            RemoteRepositoryOrigin(location, REPOSITORY_NAME), job_name
        ),
        job_code_origin=recon_job.get_python_origin(),
    )
    result = execute_run(recon_job, run, instance)
    return run.run_id, result.success


def process_pending(
    defs: dg.Definitions | None = None,
    instance: dg.DagsterInstance | None = None,
    max_ticks: int = 1000,
) -> ProcessSummary:
    """Tick ``new_transients_sensor`` until nothing waits, executing every run it requests."""
    registry = defs is None
    if defs is None:
        from blast_pipeline.definitions import defs as registry_defs

        defs = registry_defs
    instance = instance or default_instance()
    summary = ProcessSummary()
    sensor = defs.resolve_sensor_def("new_transients_sensor")
    blast = defs.resources["blast"]
    # The registry's resource may hold EnvVars (resolved by Dagster inside runs); this process
    # reads the database itself through the same configuration, resolved now.
    services = (blast_resource_from_env(resolve=True) if registry else blast).services()
    summary.recovered = recover(defs, instance)
    last_sweep, waited = time.monotonic(), 0.0
    for _ in range(max_ticks):
        if time.monotonic() - last_sweep > SWEEP_EVERY_SECONDS:  # as the daemon's schedule
            summary.recovered = recover(defs, instance) or summary.recovered
            last_sweep = time.monotonic()
        context = dg.build_sensor_context(instance=instance, resources={"blast": blast})
        result = sensor(context)
        summary.ticks += 1
        if not isinstance(result, dg.SensorResult):
            # Nothing waits; a run that stopped beating (its process was killed) is failed as
            # soon as its heartbeat times out, and its transients are processed here.
            if waited < heartbeat_timeout() + 2 * heartbeat_interval() and silent_runs(
                instance, services.database
            ):
                time.sleep(heartbeat_interval())
                waited += heartbeat_interval()
                summary.recovered = recover(defs, instance) or summary.recovered
                last_sweep = time.monotonic()
                continue
            break
        for request in result.dynamic_partitions_requests or []:
            instance.add_dynamic_partitions(request.partitions_def_name, request.partition_keys)
        for run_request in result.run_requests or []:
            job_name = run_request.job_name or WORKFLOW_JOB_NAME
            if registry:
                run_id, success = execute_with_origin(job_name, run_request, instance)
            else:  # a test's own definitions: no code location to point the run at
                outcome = defs.resolve_job_def(job_name).execute_in_process(
                    instance=instance,
                    run_config=run_request.run_config or None,
                    partition_key=run_request.partition_key,
                    asset_selection=run_request.asset_selection,
                    tags=run_request.tags,
                    resources={"blast": blast},
                    raise_on_error=False,
                )
                run_id, success = outcome.run_id, outcome.success
            summary.runs += 1
            summary.run_ids.append(run_id)
            summary.failed_runs += 0 if success else 1
            summary.failed_tasks.extend(failed_tasks_of(instance, run_id))
            if run_request.partition_key:
                summary.transients.append(run_request.partition_key)
            else:
                summary.transients.extend(run_request.tags[BATCH_TRANSIENTS_TAG].split(","))
    return summary


RETRIGGER_JOB = "retrigger_incomplete_workflows_job"


def recover(defs: dg.Definitions, instance: dg.DagsterInstance) -> str:
    """Run the retrigger sweep here, as the daemon's schedule would: fail dead runs and
    retrigger stalled transients. "" when it has nothing to do or is not registered."""
    if RETRIGGER_JOB not in {job.name for job in defs.jobs or []}:
        return ""
    result = defs.resolve_job_def(RETRIGGER_JOB).execute_in_process(
        instance=instance, resources={"blast": defs.resources["blast"]}
    )
    for event in result.all_events:
        if event.event_type_value == "STEP_OUTPUT":
            metadata = event.event_specific_data.metadata
            if metadata.get("dead_runs") and metadata["dead_runs"].value != "none":
                return f"recovery: {metadata['summary'].value}"
            if metadata.get("retriggered") and metadata["retriggered"].value:
                return f"recovery: {metadata['summary'].value}"
    return ""
