"""Compilation of task runners into Dagster definitions, and registration errors."""

from __future__ import annotations

import dagster as dg
import pytest

from blast_pipeline.definitions import build_definitions
from blast_pipeline.resources import BlastResource
from blast_pipeline.runners.base import SystemTaskRunner, TransientTaskRunner
from blast_pipeline.runners.compile import TRANSIENTS
from blast_pipeline.runners.graph import RegistrationError, WorkflowGraph
from blast_pipeline.runners.jobs import WORKFLOW_GROUP
from blast_pipeline_tests.runners.toy_runners import (
    ToyDownload,
    ToyMatch,
    ToyPhotometry,
    toy_registry,
)


@pytest.fixture
def defs(tmp_path):
    return build_definitions(toy_registry(), BlastResource(home=str(tmp_path), sky="none"))


def test_each_transient_runner_is_a_partitioned_asset_in_the_workflow_group(defs):
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert keys == {
        "cutout_download",
        "host_match",
        "validate_local_photometry",
        "generate_thumbnail",
    }
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.partitions_def == TRANSIENTS
        assert node.group_name == WORKFLOW_GROUP


def test_asset_dependencies_equal_the_prerequisites(defs):
    graph = defs.resolve_asset_graph()
    parents = {
        k.to_user_string(): {p.to_user_string() for p in graph.get(k).parent_keys}
        for k in graph.get_all_asset_keys()
    }
    assert parents == {
        "cutout_download": set(),
        "host_match": {"cutout_download"},
        "validate_local_photometry": {"host_match"},
        "generate_thumbnail": {"cutout_download"},
    }


def test_options_become_pool_routing_tags_and_limits_in_both_jobs(defs):
    job = defs.resolve_job_def("transient_workflow")
    nodes = {n.name: n.definition for n in job.graph.node_dict.values()}
    # retries run inside run_task, identically for both jobs: no step-level policy
    assert nodes["host_match"].retry_policy is None
    assert nodes["cutout_download"].pool == "toy_service"
    assert nodes["validate_local_photometry"].tags["dagster-celery/queue"] == "sed"
    assert job.executor_def.name == "in_process"
    # the hard limit is the tasks' hard limits (soft + 200 s each), not the soft limits' sum
    graph = WorkflowGraph.from_runners(toy_registry())
    hard = sum(r.time_limit_seconds + 200 for r in graph.runners)
    assert int(job.tags["dagster/max_runtime"]) == int(hard)
    # the batch job: one op per queue stage (the sed task goes to its own op), routed alike
    batch = defs.resolve_job_def("transient_workflow_batch")
    ops = {n.name: n.definition for n in batch.graph.node_dict.values()}
    sed_ops = [op for op in ops.values() if op.tags.get("dagster-celery/queue") == "sed"]
    assert len(sed_ops) == 1 and "batch_result" in ops


def test_system_runners_become_jobs_with_schedules(defs):
    cleanup = defs.resolve_schedule_def("garbage_collector_schedule")
    ingest = defs.resolve_schedule_def("tns_data_ingestion_schedule")
    assert cleanup.cron_schedule == "0 * * * *"
    assert cleanup.default_status == dg.DefaultScheduleStatus.STOPPED
    assert ingest.cron_schedule == "*/4 * * * *"
    assert ingest.default_status == dg.DefaultScheduleStatus.RUNNING
    assert defs.resolve_job_def("garbage_collector_job").tags["blast/kind"] == "system"


def test_sensor_is_running_by_default(defs):
    sensor = defs.resolve_sensor_def("new_transients_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING


def test_registry_definitions_load():
    from blast_pipeline.definitions import defs as registry_defs

    registry_defs.resolve_asset_graph()  # validates the real registry


class _Unknown(TransientTaskRunner):
    task_name = "Host information"

    def _prerequisites(self):
        return {"Host match": "processed", "Ghost task": "processed"}

    def _run_process(self, transient, context):
        return "processed"


class _CycleA(TransientTaskRunner):
    task_name = "A task"

    def _prerequisites(self):
        return {"B task": "processed"}

    def _run_process(self, transient, context):
        return "processed"


class _CycleB(TransientTaskRunner):
    task_name = "B task"

    def _prerequisites(self):
        return {"A task": "processed"}

    def _run_process(self, transient, context):
        return "processed"


class _BadStatus(TransientTaskRunner):
    task_name = "Odd task"

    def _prerequisites(self):
        return {"Cutout download": "finished"}

    def _run_process(self, transient, context):
        return "processed"


class _BadFailed(TransientTaskRunner):
    task_name = "Odd failure"

    def _failed_status_message(self):
        return "kaputt"

    def _run_process(self, transient, context):
        return "processed"


class _BadFrequency(SystemTaskRunner):
    task_name = "Odd job"
    task_frequency_seconds = 90

    def run_process(self, context):
        return None


@pytest.mark.parametrize(
    ("runners", "message"),
    [
        (
            [ToyDownload(), ToyMatch(), _Unknown()],
            "_Unknown ('Host information') has unknown prerequisite 'Ghost task'",
        ),
        (
            [_CycleA(), _CycleB()],
            "prerequisite cycle among: _CycleA ('A task'), _CycleB ('B task')",
        ),
        (
            [ToyDownload(), ToyDownload()],
            "ToyDownload and ToyDownload both register task 'Cutout download'",
        ),
        (
            [ToyDownload(), _BadStatus()],
            "_BadStatus ('Odd task'): prerequisite 'Cutout download' requires unknown status 'finished'",
        ),
        ([_BadFailed()], "_BadFailed ('Odd failure'): unknown failed status message 'kaputt'"),
        ([object()], "is neither a TransientTaskRunner nor a SystemTaskRunner"),
    ],
)
def test_registration_errors_name_the_runner(runners, message):
    with pytest.raises(RegistrationError) as excinfo:
        WorkflowGraph.from_runners(runners)
    assert message in str(excinfo.value)


def test_frequency_that_no_cron_can_express_fails_at_load(tmp_path):
    with pytest.raises(
        RegistrationError, match=r"_BadFrequency \('Odd job'\).*90 is not a whole number of minutes"
    ):
        build_definitions([_BadFrequency()], BlastResource(home=str(tmp_path), sky="none"))


def test_graph_closure_and_downstream():
    graph = WorkflowGraph.from_runners([ToyPhotometry(), ToyMatch(), ToyDownload()])
    assert graph.task_names == ("Cutout download", "Host match", "Validate local photometry")
    assert graph.upstream["Validate local photometry"] == {"Host match", "Cutout download"}
    assert graph.downstream_of("Host match") == ("Host match", "Validate local photometry")


def test_executor_is_in_process_by_default_and_celery_on_request(tmp_path):
    from blast_pipeline.definitions import executor_from_env

    assert executor_from_env({}).name == "in_process"
    celery = executor_from_env(
        {"BLAST_EXECUTOR": "celery", "BLAST_CELERY_BROKER": "redis://127.0.0.1:6379/0"}
    )
    assert celery.name == "celery"
    defs = build_definitions(toy_registry(), BlastResource(home=str(tmp_path), sky="none"), celery)
    assert defs.resolve_job_def("transient_workflow").executor_def.name == "celery"
    with pytest.raises(ValueError, match="BLAST_EXECUTOR='threads'"):
        executor_from_env({"BLAST_EXECUTOR": "threads"})
