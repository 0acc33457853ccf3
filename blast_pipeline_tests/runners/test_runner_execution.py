"""Status semantics end to end: toy runners compiled to Dagster, runs on a real instance,
the Blast database on SQLite and PostgreSQL."""

from __future__ import annotations

import dagster as dg

from blast_pipeline.db.transients import get_transient
from blast_pipeline.definitions import build_definitions
from blast_pipeline.orchestration import process_pending
from blast_pipeline.runners.graph import WorkflowGraph
from blast_pipeline_tests.runners.toy_runners import add_toy_transients, toy_registry, toy_state


def _materialized(instance, asset):
    return instance.get_materialized_partitions(dg.AssetKey(asset))


def test_processed_materialises_every_asset_and_completes(blast, instance):
    add_toy_transients(blast, "2024good")
    defs = build_definitions(toy_registry(), blast)
    summary = process_pending(defs, instance)
    assert summary.runs == 1 and summary.failed_runs == 0
    statuses, progress, state = toy_state(blast, "2024good")
    assert set(statuses.values()) == {"processed"}
    assert (progress, state) == (100, "completed")
    for asset in (
        "cutout_download",
        "host_match",
        "validate_local_photometry",
        "generate_thumbnail",
    ):
        assert _materialized(instance, asset) == {"2024good"}
    # runner metadata reaches the materialisation
    event = instance.get_latest_materialization_event(dg.AssetKey("cutout_download"))
    assert event.asset_materialization.metadata["n_files"].value == 3


def test_other_status_is_recorded_observed_and_stops_downstream(blast, instance):
    add_toy_transients(blast, "2024nohost")
    defs = build_definitions(toy_registry(), blast)
    summary = process_pending(defs, instance)
    assert summary.failed_runs == 0  # a scientific outcome is not a run failure
    statuses, progress, state = toy_state(blast, "2024nohost")
    assert statuses["Host match"] == "no host match"
    assert statuses["Validate local photometry"] == "not processed"
    assert statuses["Generate thumbnail"] == "processed"
    assert (progress, state) == (100, "blocked")
    # the task ran: its partition is materialised with the status, its reason and a tag
    assert _materialized(instance, "host_match") == {"2024nohost"}
    event = instance.get_latest_materialization_event(dg.AssetKey("host_match"))
    materialised = event.asset_materialization
    assert materialised.metadata["status"].value == "no host match"
    assert materialised.tags["blast/status"] == "no_host_match"
    assert "Host match on 2024nohost: no host match" in materialised.description
    assert "progress" not in materialised.metadata  # no stale progress snapshot
    assert materialised.metadata["transient_page"].value.endswith("/transients/2024nohost/")
    # downstream: not materialised, and an observation names what stopped it
    assert "2024nohost" not in _materialized(instance, "validate_local_photometry")
    records = instance.fetch_observations(dg.AssetKey("validate_local_photometry"), limit=10)
    (observed,) = [r.asset_observation for r in records.records]
    assert observed.partition == "2024nohost"
    assert observed.metadata["status"].value == "not run"
    assert observed.metadata["stopped_by"].value == "Host match"
    assert "no host match" in observed.metadata["reason"].value


def test_exception_records_failed_status_and_fails_the_run_after_retries(blast, instance):
    add_toy_transients(blast, "2024boom")
    defs = build_definitions(toy_registry(), blast)
    summary = process_pending(defs, instance)
    assert summary.failed_runs == 1
    statuses, progress, state = toy_state(blast, "2024boom")
    assert statuses["Host match"] == "failed"
    assert statuses["Validate local photometry"] == "not processed"
    assert (progress, state) == (100, "blocked")
    run = instance.get_runs()[0]
    # retries run inside run_task (the same for batch and per-transient runs) and are logged
    retries = [
        e
        for e in instance.all_logs(run.run_id)
        if "failed (catalogue exploded); retry" in e.message
    ]
    assert len(retries) == 2  # max_retries of ToyMatch
    assert summary.failed_tasks == ["Host match on 2024boom"]


def test_retry_recovers_a_transient_failure(blast, instance):
    add_toy_transients(blast, "2024flaky")
    summary = process_pending(build_definitions(toy_registry(), blast), instance)
    assert summary.failed_runs == 0
    statuses, _, state = toy_state(blast, "2024flaky")
    assert statuses["Host match"] == "processed" and state == "completed"


def test_custom_failed_status_message(blast, instance):
    add_toy_transients(blast, "2024badphot")
    process_pending(build_definitions(toy_registry(), blast), instance)
    statuses, _, _ = toy_state(blast, "2024badphot")
    assert statuses["Validate local photometry"] == "phot valid failed"


def test_time_limit_records_time_limit_exceeded_without_retry(blast, instance):
    add_toy_transients(blast, "2024slow")
    summary = process_pending(build_definitions(toy_registry(), blast), instance)
    assert summary.failed_runs == 1
    statuses, _, state = toy_state(blast, "2024slow")
    assert statuses["Cutout download"] == "time limit exceeded"
    assert statuses["Host match"] == "not processed"
    assert state == "blocked"


def test_failed_work_is_rolled_back(blast, instance):
    """A task that raises leaves nothing half-written (ToyMatch sets a redshift only on success)."""
    add_toy_transients(blast, "2024boom", "2024good")
    process_pending(build_definitions(toy_registry(), blast), instance)
    with blast.services().database.session() as session:
        assert get_transient(session, "2024boom").redshift is None
        assert get_transient(session, "2024good").redshift == 0.05


def test_sensor_adds_partitions_and_requests_each_transient_once(blast, instance):
    add_toy_transients(blast, "2024aaa", "2024bbb", "2024ccc")
    defs = build_definitions(toy_registry(), blast)
    sensor = defs.resolve_sensor_def("new_transients_sensor")
    result = sensor(dg.build_sensor_context(instance=instance, resources={"blast": blast}))
    assert [r.partition_key for r in result.run_requests] == ["2024aaa", "2024bbb", "2024ccc"]
    assert len({r.run_key for r in result.run_requests}) == 3
    assert result.dynamic_partitions_requests[0].partition_keys == ["2024aaa", "2024bbb", "2024ccc"]
    again = sensor(dg.build_sensor_context(instance=instance, resources={"blast": blast}))
    assert isinstance(again, dg.SkipReason)
    add_toy_transients(blast, "2024ddd")
    third = sensor(dg.build_sensor_context(instance=instance, resources={"blast": blast}))
    assert [r.partition_key for r in third.run_requests] == ["2024ddd"]


def test_reprocess_from_a_task_runs_only_that_task_and_downstream(blast, instance, monkeypatch):
    from blast_pipeline.db.task_register import reset_tasks
    from blast_pipeline.db.workflow_requests import request_workflow

    add_toy_transients(blast, "2024again")
    defs = build_definitions(toy_registry(), blast)
    process_pending(defs, instance)
    graph = WorkflowGraph.from_runners(toy_registry())
    with blast.services().database.session() as session:
        transient = get_transient(session, "2024again")
        reset_tasks(session, transient, graph.downstream_of("Host match"))
        request_workflow(transient)
    sensor = defs.resolve_sensor_def("new_transients_sensor")
    result = sensor(dg.build_sensor_context(instance=instance, resources={"blast": blast}))
    (request,) = result.run_requests
    assert {k.to_user_string() for k in request.asset_selection} == {
        "host_match",
        "validate_local_photometry",
    }
    assert request.run_key == "2024again:1"


def test_batch_mode_gives_each_transient_its_own_statuses(batch_blast, instance):
    """Three transients in two batch runs: a failure and a 'no host match' stay with their
    transient; the others complete; events land on each asset partition."""
    add_toy_transients(batch_blast, "2024good", "2024boom", "2024nohost")
    defs = build_definitions(toy_registry(), batch_blast)
    sensor = defs.resolve_sensor_def("new_transients_sensor")
    result = sensor(dg.build_sensor_context(instance=instance, resources={"blast": batch_blast}))
    assert [r.job_name for r in result.run_requests] == ["transient_workflow_batch"] * 2
    assert result.run_requests[0].tags["blast/transients"] == "2024good,2024boom"
    assert result.run_requests[1].tags["blast/transients"] == "2024nohost"
    # execute them (what the daemon would launch)
    for request in result.dynamic_partitions_requests:
        instance.add_dynamic_partitions(request.partitions_def_name, request.partition_keys)
    runs = [
        defs.resolve_job_def(request.job_name).execute_in_process(
            instance=instance,
            run_config=request.run_config,
            tags=request.tags,
            resources={"blast": batch_blast},
            raise_on_error=False,
        )
        for request in result.run_requests
    ]
    # the batch with a failed task fails (its batch_result step), as a per-transient run would;
    # the other transients of that batch are still processed
    assert [run.success for run in runs] == [False, True]
    (failed_step,) = [e for e in runs[0].all_events if e.event_type_value == "STEP_FAILURE"]
    assert failed_step.step_key == "batch_result"
    (output,) = [
        e
        for e in runs[0].all_events
        if e.event_type_value == "STEP_OUTPUT" and e.step_key == "process_transient_batch"
    ]
    summary = {k: v.value for k, v in output.step_output_data.metadata.items()}
    assert summary["transients"] == 2 and summary["task_errors"] == 1
    assert summary["failed_transients"] == "2024boom"
    assert summary["task_seconds"] > 0 and summary["event_log_seconds"] > 0
    good, _, good_state = toy_state(batch_blast, "2024good")
    assert set(good.values()) == {"processed"} and good_state == "completed"
    boom, _, boom_state = toy_state(batch_blast, "2024boom")
    assert boom["Host match"] == "failed" and boom_state == "blocked"
    assert boom["Validate local photometry"] == "not processed"
    nohost, _, _ = toy_state(batch_blast, "2024nohost")
    assert nohost["Host match"] == "no host match"
    assert _materialized(instance, "host_match") == {"2024good", "2024nohost"}
    assert _materialized(instance, "cutout_download") == {"2024good", "2024boom", "2024nohost"}
    observed = {
        r.asset_observation.partition: r.asset_observation.metadata["status"].value
        for r in instance.fetch_observations(dg.AssetKey("host_match"), limit=10).records
    }
    assert observed == {"2024boom": "failed"}
    downstream = {
        r.asset_observation.partition: r.asset_observation.metadata["stopped_by"].value
        for r in instance.fetch_observations(
            dg.AssetKey("validate_local_photometry"), limit=10
        ).records
    }
    assert downstream == {"2024nohost": "Host match"}
    stopped = summary["stopped_transients"].records  # the run page names who stopped
    assert [(r.data["transient"], r.data["stopped by"], r.data["status"]) for r in stopped] == [
        ("2024boom", "Host match", "failed")
    ]


def test_batch_mode_retries_in_process(batch_blast, instance):
    add_toy_transients(batch_blast, "2024flaky", "2024good")
    summary = process_pending(build_definitions(toy_registry(), batch_blast), instance)
    assert summary.runs == 1 and summary.failed_runs == 0
    assert sorted(summary.transients) == ["2024flaky", "2024good"]
    statuses, _, state = toy_state(batch_blast, "2024flaky")
    assert statuses["Host match"] == "processed" and state == "completed"


def test_a_single_waiting_transient_gets_its_own_run_even_in_batch_mode(batch_blast, instance):
    add_toy_transients(batch_blast, "2024solo")
    defs = build_definitions(toy_registry(), batch_blast)
    sensor = defs.resolve_sensor_def("new_transients_sensor")
    result = sensor(dg.build_sensor_context(instance=instance, resources={"blast": batch_blast}))
    (request,) = result.run_requests
    assert request.job_name == "transient_workflow" and request.partition_key == "2024solo"


def test_a_partition_without_a_transient_fails_at_once_without_retries(blast, instance):
    defs = build_definitions(toy_registry(), blast)
    instance.add_dynamic_partitions("transients", ["2024ghost"])  # "Add a partition" in the UI
    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance, partition_key="2024ghost", raise_on_error=False
    )
    assert not result.success
    failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert failures and "no transient named '2024ghost'" in str(failures[0].event_specific_data)
    assert not [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]


def test_ui_materialisation_has_the_per_transient_semantics(blast, instance):
    """The asset page's Materialize runs Dagster's implicit asset job: the same steps, so the
    same statuses and events as the sensor's per-transient job."""
    add_toy_transients(blast, "2024nohost", "2024good")
    defs = build_definitions(toy_registry(), blast)
    instance.add_dynamic_partitions("transients", ["2024nohost", "2024good"])
    for name in ("2024nohost", "2024good"):
        result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
            instance=instance, partition_key=name, raise_on_error=False
        )
        assert result.success
    assert toy_state(blast, "2024nohost")[0]["Host match"] == "no host match"
    assert toy_state(blast, "2024good")[2] == "completed"
    assert _materialized(instance, "host_match") == {"2024nohost", "2024good"}
    assert _materialized(instance, "validate_local_photometry") == {"2024good"}
