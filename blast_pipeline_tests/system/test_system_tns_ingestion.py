"""TNS data ingestion against the fake TNS server: inserts, updates, redshift reprocessing,
service failures, missing credentials (and the key never in logs)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from blast_pipeline.db.task_register import task_statuses
from blast_pipeline.db.transients import find_transient
from blast_pipeline_tests.sources.fake_tns import (
    OBJECT_PATH,
    SEARCH_PATH,
    ScriptedResponse,
    make_tns_object_reply,
)
from blast_pipeline_tests.system.system_helpers import (
    API_KEY,
    GRAPH,
    TASKS,
    add,
    add_run,
    all_processed,
    job_summary,
    read,
    run_job,
)

JOB = "tns_data_ingestion"


def _publish(tns, name: str, minutes_ago: float = 10, **fields) -> None:
    when = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    fields.setdefault("discoverydate", "2024-01-15 08:24:00.000")
    tns.add_object(make_tns_object_reply(name, **fields), public_timestamp=when)


def _logs_text(instance, result) -> str:
    return "\n".join(
        (e.user_message or "") + str(e.dagster_event or "")
        for e in instance.all_logs(result.run_id)
    )


def _fields(session, transient):
    return {
        "redshift": transient.redshift,
        "class": transient.spectroscopic_class,
        "source": transient.ingest_source,
        "requested": transient.workflow_requested_at,
        "generation": transient.workflow_generation,
        "statuses": task_statuses(session, transient),
        "progress": transient.progress,
        "tns_id": transient.tns_id,
    }


def test_new_objects_are_inserted_and_the_sensor_launches_them(
    defs, blast, instance, tns, no_sleep
):
    _publish(tns, "2024aaa", objid=11, redshift=0.03)
    _publish(tns, "2024aab", objid=12, redshift=None)
    _publish(tns, "2023old", minutes_ago=600)  # outside the 200-minute window
    result = run_job(defs, JOB, instance, blast)
    assert result.success
    meta = job_summary(result)
    assert meta["n_new"] == 2 and "2024aaa" in meta["new"]
    saved = read(blast, "2024aaa", _fields)
    assert saved["source"] == "tns" and saved["redshift"] == 0.03 and saved["tns_id"] == 11
    assert saved["requested"] is None  # waiting for the sensor
    assert set(saved["statuses"]) == set(TASKS)
    assert set(saved["statuses"].values()) == {"not processed"}
    sensor = defs.resolve_sensor_def("new_transients_sensor")
    tick = sensor(dg.build_sensor_context(instance=instance, resources={"blast": blast}))
    # several waiting transients: one batch run for both
    (request,) = tick.run_requests
    assert sorted(request.tags["blast/transients"].split(",")) == ["2024aaa", "2024aab"]
    # a second tick over the same window changes nothing
    again = job_summary(run_job(defs, JOB, instance, blast))
    assert again["n_unchanged"] == 2 and "n_new" not in again


def test_changed_object_is_updated_without_rerunning(defs, blast, instance, tns, no_sleep):
    add(blast, "2024upd", all_processed(), progress=100, processing_status="completed")
    _publish(tns, "2024upd", objid=5, redshift=0.05, object_type="SN II")
    before = read(blast, "2024upd", _fields)
    result = run_job(defs, JOB, instance, blast)
    assert result.success and job_summary(result)["n_updated"] == 1
    after = read(blast, "2024upd", _fields)
    assert after["class"] == "SN II" and after["tns_id"] == 5
    assert after["statuses"] == before["statuses"]
    assert after["requested"] is not None and after["generation"] == before["generation"]


def test_redshift_change_reprocesses_from_host_match_only(defs, blast, instance, tns, no_sleep):
    add(blast, "2024zed", all_processed(), progress=100, processing_status="completed")
    _publish(tns, "2024zed", redshift=0.11)
    result = run_job(defs, JOB, instance, blast)
    assert result.success and job_summary(result)["n_redshift_changed"] == 1
    after = read(blast, "2024zed", _fields)
    assert after["redshift"] == 0.11
    redo = set(GRAPH.downstream_of("Host match"))
    assert {t for t, s in after["statuses"].items() if s == "not processed"} == redo
    kept = {t for t, s in after["statuses"].items() if s == "processed"}
    assert kept == set(TASKS) - redo and "Cutout download" in kept
    assert after["requested"] is None and after["generation"] == 1
    assert after["progress"] < 100


def test_redshift_change_waits_while_a_run_is_in_flight(defs, blast, instance, tns, no_sleep):
    add(blast, "2024busy", all_processed(), progress=100, processing_status="completed")
    add_run(instance, "2024busy", dg.DagsterRunStatus.STARTED)
    _publish(tns, "2024busy", redshift=0.2)
    result = run_job(defs, JOB, instance, blast)
    assert job_summary(result)["n_deferred"] == 1
    after = read(blast, "2024busy", _fields)
    assert after["redshift"] == 0.05 and set(after["statuses"].values()) == {"processed"}


def test_rate_limit_waits_then_ingests(defs, blast_sqlite, instance, tns, no_sleep):
    _publish(tns, "2024rl")
    tns.script(SEARCH_PATH, ScriptedResponse.rate_limited(reset="3"))
    result = run_job(defs, JOB, instance, blast_sqlite)
    assert result.success and job_summary(result)["n_new"] == 1
    assert no_sleep == [4]


def test_rate_limit_beyond_budget_ingests_nothing_and_succeeds(
    defs, blast_sqlite, instance, tns, no_sleep
):
    _publish(tns, "2024rl")
    tns.script(SEARCH_PATH, *[ScriptedResponse.rate_limited(reset="100")] * 2)
    result = run_job(defs, JOB, instance, blast_sqlite)
    assert result.success
    assert "rate limited" in job_summary(result)["summary"]
    with blast_sqlite.services().database.session() as session:
        assert find_transient(session, "2024rl") is None


@pytest.mark.parametrize(
    "script",
    [[ScriptedResponse.server_error(503)] * 3, [ScriptedResponse.malformed_json()]],
    ids=["5xx", "malformed"],
)
def test_search_failure_fails_the_run_without_leaking_the_key(
    defs, blast_sqlite, instance, tns, no_sleep, script
):
    _publish(tns, "2024err")
    tns.script(SEARCH_PATH, *script)
    result = run_job(defs, JOB, instance, blast_sqlite)
    assert not result.success
    logs = _logs_text(instance, result)
    assert "TNS /api/get/search" in logs
    assert API_KEY not in logs


def test_search_5xx_then_success_and_a_bad_object_is_skipped(
    defs, blast_sqlite, instance, tns, no_sleep
):
    _publish(tns, "2024ok")
    tns.script(SEARCH_PATH, ScriptedResponse.server_error(502))
    _publish(tns, "2024bad", radeg="not-a-number")
    result = run_job(defs, JOB, instance, blast_sqlite)
    assert result.success
    meta = job_summary(result)
    assert meta["n_new"] == 1 and meta["n_skipped"] == 1 and "2024bad" in meta["skipped"]
    assert no_sleep == [5.0]  # one retry back-off


def test_object_endpoint_malformed_skips_only_that_object(
    defs, blast_sqlite, instance, tns, no_sleep
):
    _publish(tns, "2024one", minutes_ago=20)
    _publish(tns, "2024two", minutes_ago=10)
    tns.script(OBJECT_PATH, ScriptedResponse.malformed_json())
    meta = job_summary(run_job(defs, JOB, instance, blast_sqlite))
    assert meta["n_new"] == 1 and meta["n_skipped"] == 1


def test_empty_search(defs, blast_sqlite, instance, tns, no_sleep):
    result = run_job(defs, JOB, instance, blast_sqlite)
    assert result.success
    assert job_summary(result)["summary"].startswith("0 new")
    assert tns.call_count(OBJECT_PATH) == 0


def test_missing_credentials_skip_with_reason_and_never_log_the_key(
    defs, blast_sqlite, instance, tns, no_sleep, monkeypatch
):
    monkeypatch.delenv("TNS_BOT_NAME")
    monkeypatch.delenv("TNS_BOT_ID")
    schedule = defs.resolve_schedule_def(f"{JOB}_schedule")
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING  # Blast: enabled
    tick = schedule.evaluate_tick(dg.build_schedule_context(instance=instance))
    assert not tick.run_requests
    assert "TNS_BOT_NAME" in tick.skip_message and "TNS_BOT_ID" in tick.skip_message
    assert API_KEY not in tick.skip_message
    # launched by hand anyway: does nothing, says why, never contacts TNS
    result = run_job(defs, JOB, instance, blast_sqlite)
    assert result.success and job_summary(result)["summary"].startswith("not run")
    assert tns.call_count() == 0
    assert API_KEY not in _logs_text(instance, result)


def test_with_credentials_the_schedule_requests_a_run(defs, instance, tns):
    schedule = defs.resolve_schedule_def(f"{JOB}_schedule")
    tick = schedule.evaluate_tick(dg.build_schedule_context(instance=instance))
    assert len(tick.run_requests) == 1 and not tick.skip_message
