"""Retrigger incomplete workflows: only stalled transients, never a second run, no substring
matching; the CLI ``retrigger`` refuses a transient with a run in flight."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from blast_pipeline.db.task_register import task_statuses
from blast_pipeline.system.retrigger import stalled_transients
from blast_pipeline_tests.system.system_helpers import add, add_run, job_summary, read, run_job

JOB = "retrigger_incomplete_workflows"
Q = dg.DagsterRunStatus


def _state(session, transient):
    return (
        transient.workflow_requested_at,
        transient.workflow_generation,
        task_statuses(session, transient),
    )


def test_only_stalled_transients_are_retriggered_once(defs, blast, instance):
    stuck = {"Cutout download": "processed", "Transient MWEBV": "processing"}
    failed = {"Cutout download": "failed", "Transient MWEBV": "processing"}
    add(blast, "2024abc", stuck)  # stalled; "2024abcd" below has a run: no substring match
    add(blast, "2024abcd", stuck)
    add(blast, "2024queued", stuck)
    add(blast, "2024started", stuck)
    add(blast, "2024crashed", failed)  # its run failed: stalled
    add(blast, "2024pending", requested_at=None)  # waiting for the sensor
    add(blast, "2024justnow", stuck, requested_at=datetime.now(UTC) - timedelta(seconds=30))
    add(blast, "2024done", progress=100, processing_status="completed")
    add_run(instance, "2024abcd", Q.STARTING)
    add_run(instance, "2024queued", Q.QUEUED)
    add_run(instance, "2024started", Q.STARTED)
    add_run(instance, "2024crashed", Q.FAILURE)
    add_run(instance, "2024abc", Q.SUCCESS)

    result = run_job(defs, JOB, instance, blast)
    assert result.success
    meta = job_summary(result)
    assert meta["retriggered"] == 2 and meta["transients"] == "2024abc, 2024crashed"

    requested, generation, statuses = read(blast, "2024abc", _state)
    assert requested is None and generation == 1
    assert statuses["Transient MWEBV"] == "not processed"
    assert statuses["Cutout download"] == "processed"
    _, _, statuses = read(blast, "2024crashed", _state)
    assert statuses["Cutout download"] == "failed"  # kept, as Blast's periodic retrigger
    assert statuses["Transient MWEBV"] == "not processed"
    for busy in ("2024abcd", "2024queued", "2024started", "2024justnow"):
        requested, generation, statuses = read(blast, busy, _state)
        assert requested is not None and generation == 0
        assert statuses["Transient MWEBV"] == "processing"

    # the sensor has not launched them yet: a second sweep must not request them again
    again = job_summary(run_job(defs, JOB, instance, blast))
    assert again["retriggered"] == 0
    assert read(blast, "2024abc", _state)[1] == 1


def test_stalled_transients_is_pure_and_exact():
    now = datetime(2024, 6, 1, tzinfo=UTC)
    old = now - timedelta(hours=2)
    candidates = [("2024ab", old), ("2024abc", old), ("2024new", None), ("2024x", now)]
    assert stalled_transients(candidates, {"2024abc"}, now) == ["2024ab"]


@pytest.fixture
def cli_env(monkeypatch, blast_sqlite, tmp_path):
    monkeypatch.setenv("BLAST_HOME", blast_sqlite.home)
    monkeypatch.setenv("BLAST_DATABASE_URL", blast_sqlite.database_url)
    monkeypatch.setenv("BLAST_SKY", "none")
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    instance = dg.DagsterInstance.get()
    yield blast_sqlite, instance
    instance.dispose()


def test_cli_retrigger_refuses_a_transient_with_a_run_in_flight(cli_env, capsys):
    from blast_pipeline.cli import main

    blast, instance = cli_env
    add(blast, "2024cli", {"Transient MWEBV": "failed"})
    run_id = add_run(instance, "2024cli", Q.STARTED)
    assert main(["retrigger", "2024cli"]) == 2
    assert run_id in capsys.readouterr().err
    assert read(blast, "2024cli", _state)[1] == 0
    instance.report_run_failed(instance.get_run_by_id(run_id))
    assert main(["retrigger", "2024cli"]) == 0
    requested, generation, statuses = read(blast, "2024cli", _state)
    assert requested is None and generation == 1
    assert statuses["Transient MWEBV"] == "not processed"


def test_transients_of_an_unfinished_batch_run_are_busy(defs, blast, instance):
    """A batch run lists its transients in one tag; each of them counts as in flight."""
    from blast_pipeline.system.runs import runs_in_flight_for, transients_with_runs_in_flight
    from blast_pipeline_tests.system.system_helpers import _origin, make_new_run_id

    stuck = {"Cutout download": "processed", "Transient MWEBV": "processing"}
    add(blast, "2024in1", stuck)
    add(blast, "2024in2", stuck)
    add(blast, "2024out", stuck)
    run = dg.DagsterRun(
        job_name="transient_workflow_batch",
        run_id=make_new_run_id(),
        tags={"blast/kind": "transient_batch", "blast/transients": "2024in1,2024in2"},
        status=Q.STARTED,
        remote_job_origin=_origin("transient_workflow_batch"),
    )
    run_id = instance.add_run(run).run_id
    assert {"2024in1", "2024in2"} <= transients_with_runs_in_flight(instance)
    assert runs_in_flight_for(instance, "2024in2") == [run_id]
    assert runs_in_flight_for(instance, "2024in") == []  # exact names, no substring match
    meta = job_summary(run_job(defs, JOB, instance, blast))
    assert meta["transients"] == "2024out"
