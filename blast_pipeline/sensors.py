"""The sensor that turns transients waiting in the Blast database into workflow runs."""

import hashlib

import dagster as dg

from blast_pipeline.db.task_register import statuses_with_defaults, task_statuses
from blast_pipeline.db.transients import get_transient
from blast_pipeline.db.workflow_requests import (
    WorkflowRequest,
    claim_workflow_requests,
)
from blast_pipeline.resources import BlastResource
from blast_pipeline.runners.compile import workflow_hard_limit_seconds
from blast_pipeline.runners.disk import low_space_reason
from blast_pipeline.runners.graph import WorkflowGraph
from blast_pipeline.runners.jobs import (
    BATCH_JOB_NAME,
    BATCH_TRANSIENTS_TAG,
    GENERATION_TAG,
    TRANSIENTS,
    WORKFLOW_JOB_NAME,
)
from blast_pipeline.statuses import NOT_PROCESSED, is_error

#: Run requests per tick: each costs ~1 s of daemon time with dynamic partitions
#: (dagster-notes section 2), and the sensor must finish well inside its 60 s timeout.
MAX_RUNS_PER_TICK = 50
SENSOR_INTERVAL_SECONDS = 5  # idle ticks cost <= 0.03 s even at 100k transients


def _batch_request(requests: list[WorkflowRequest], graph: WorkflowGraph) -> dg.RunRequest:
    names = [r.name for r in requests]
    digest = hashlib.sha1("|".join(r.run_key for r in requests).encode()).hexdigest()[:16]
    return dg.RunRequest(
        run_key=f"batch:{names[0]}:{len(names)}:{digest}",
        job_name=BATCH_JOB_NAME,
        tags={
            BATCH_TRANSIENTS_TAG: ",".join(names),
            GENERATION_TAG: ",".join(str(r.generation) for r in requests),
            "dagster/max_runtime": str(workflow_hard_limit_seconds(graph, len(names))),
        },
    )


def runnable_tasks(statuses: dict[str, str], graph: WorkflowGraph) -> list[str]:
    """Tasks a run may still execute: "not processed" and not blocked by an upstream error
    status (pure)."""
    return [
        task
        for task, status in statuses.items()
        if status == NOT_PROCESSED
        and not any(is_error(statuses[up]) for up in graph.upstream[task])
    ]


def build_new_transients_sensor(graph: WorkflowGraph, jobs: list[object]) -> dg.SensorDefinition:
    asset_keys = {r.task_name: dg.AssetKey(r.asset_name) for r in graph.runners}

    @dg.sensor(
        name="new_transients_sensor",
        jobs=jobs,
        minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Adds a partition for every transient that appears in the Blast database (any "
            "ingestion path, retrigger or reprocess) and launches its workflow: one run per "
            "transient, or batch runs of up to BLAST_WORKFLOW_BATCH_SIZE transients when "
            f"several are waiting (at most {MAX_RUNS_PER_TICK} runs per tick). Skips while "
            "the data root is low on free space (BLAST_MIN_FREE_DISK_GB)."
        ),
    )
    def new_transients_sensor(
        context: dg.SensorEvaluationContext, blast: BlastResource
    ) -> dg.SensorResult | dg.SkipReason:
        services = blast.services()
        reason = low_space_reason(services.data_root)
        if reason:
            return dg.SkipReason(reason)
        batch_size = max(1, blast.workflow_batch_size)
        instance = context.instance
        run_requests: list[dg.RunRequest] = []
        to_batch: list[WorkflowRequest] = []
        nothing_to_run: list[WorkflowRequest] = []
        with services.database.session() as session:
            # The claim is the first statement: a concurrent sensor gets the other transients.
            claimed = claim_workflow_requests(session, MAX_RUNS_PER_TICK * batch_size)
            if not claimed:
                return dg.SkipReason("no transient is waiting for a workflow run")
            # One bounded query for the claimed names only: loading every partition key costs
            # O(all transients) per tick (0.4-0.6 s at 100k on SQLite, benchmarks/scale.py).
            known = instance.get_existing_dynamic_partitions(
                TRANSIENTS.name, [r.name for r in claimed]
            )
            new_partitions = [r.name for r in claimed if r.name not in known]
            single = batch_size == 1 or len(claimed) == 1
            for request in claimed:
                transient = get_transient(session, request.name)
                statuses = statuses_with_defaults(
                    task_statuses(session, transient), graph.task_names
                )
                todo = runnable_tasks(statuses, graph)
                if not todo:
                    nothing_to_run.append(request)
                    continue
                if not single:
                    to_batch.append(request)
                    continue
                run_requests.append(
                    dg.RunRequest(
                        run_key=request.run_key,
                        job_name=WORKFLOW_JOB_NAME,
                        partition_key=request.name,
                        asset_selection=(
                            None if len(todo) == len(asset_keys) else [asset_keys[t] for t in todo]
                        ),
                        tags={
                            "blast/transient": request.name,
                            GENERATION_TAG: str(request.generation),
                        },
                    )
                )
            for start in range(0, len(to_batch), batch_size):
                run_requests.append(_batch_request(to_batch[start : start + batch_size], graph))
        context.log.info(
            f"{len(run_requests)} workflow run(s) requested for {len(claimed)} transient(s), "
            f"{len(new_partitions)} new partition(s), {len(nothing_to_run)} with nothing to run"
        )
        return dg.SensorResult(
            run_requests=run_requests,
            dynamic_partitions_requests=(
                [TRANSIENTS.build_add_request(new_partitions)] if new_partitions else []
            ),
        )

    return new_transients_sensor
