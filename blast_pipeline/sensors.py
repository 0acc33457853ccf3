"""The sensor that turns transients waiting in the Blast database into workflow runs."""

import dagster as dg

from blast_pipeline.db.task_register import statuses_with_defaults, task_statuses
from blast_pipeline.db.transients import get_transient
from blast_pipeline.db.workflow_requests import mark_workflow_launched, pending_workflow_requests
from blast_pipeline.resources import BlastResource
from blast_pipeline.runners.compile import TRANSIENTS, WORKFLOW_JOB_NAME
from blast_pipeline.runners.graph import WorkflowGraph
from blast_pipeline.statuses import PROCESSED

#: Run requests per tick: each costs ~1 s of daemon time with dynamic partitions
#: (dagster-notes section 2), and the sensor must finish well inside its 60 s timeout.
MAX_RUNS_PER_TICK = 50
SENSOR_INTERVAL_SECONDS = 15


def build_new_transients_sensor(graph: WorkflowGraph) -> dg.SensorDefinition:
    asset_keys = {r.task_name: dg.AssetKey(r.asset_name) for r in graph.runners}

    @dg.sensor(
        name="new_transients_sensor",
        job_name=WORKFLOW_JOB_NAME,
        minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Adds a partition for every transient that appears in the Blast database (any "
            "ingestion path, retrigger or reprocess) and launches its workflow run, "
            f"at most {MAX_RUNS_PER_TICK} per tick."
        ),
    )
    def new_transients_sensor(
        context: dg.SensorEvaluationContext, blast: BlastResource
    ) -> dg.SensorResult | dg.SkipReason:
        services = blast.services()
        instance = context.instance
        run_requests: list[dg.RunRequest] = []
        new_partitions: list[str] = []
        with services.database.session() as session:
            pending = pending_workflow_requests(session, MAX_RUNS_PER_TICK)
            if not pending:
                return dg.SkipReason("no transient is waiting for a workflow run")
            for request in pending:
                if not instance.has_dynamic_partition(TRANSIENTS.name, request.name):
                    new_partitions.append(request.name)
                transient = get_transient(session, request.name)
                statuses = statuses_with_defaults(
                    task_statuses(session, transient), graph.task_names
                )
                todo = [asset_keys[t] for t, s in statuses.items() if s != PROCESSED]
                if not todo:
                    continue
                run_requests.append(
                    dg.RunRequest(
                        run_key=request.run_key,
                        partition_key=request.name,
                        asset_selection=None if len(todo) == len(asset_keys) else todo,
                        tags={
                            "blast/transient": request.name,
                            "blast/workflow_generation": str(request.generation),
                        },
                    )
                )
            mark_workflow_launched(session, pending)
        context.log.info(
            f"{len(run_requests)} workflow run(s) requested, {len(new_partitions)} new partition(s)"
        )
        return dg.SensorResult(
            run_requests=run_requests,
            dynamic_partitions_requests=(
                [TRANSIENTS.build_add_request(new_partitions)] if new_partitions else []
            ),
        )

    return new_transients_sensor
