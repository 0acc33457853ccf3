"""Recovery semantics on toy runners (SQLite and PostgreSQL): one live claim per task and per
transient, failures always recorded, Blast's re-run rules, dead runs detected by heartbeat."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import dagster as dg
from sqlalchemy import event, text

from blast_pipeline.db.models import RunHeartbeat, utcnow
from blast_pipeline.db.task_register import (
    claim_task,
    set_status,
)
from blast_pipeline.db.transients import get_transient
from blast_pipeline.definitions import build_definitions
from blast_pipeline.orchestration import process_pending
from blast_pipeline.resources import BlastResource
from blast_pipeline.runners.base import TransientTaskRunner
from blast_pipeline.runners.execution import run_task, step_claim_token
from blast_pipeline.runners.graph import WorkflowGraph
from blast_pipeline.runners.reset import reset_and_request
from blast_pipeline.statuses import PROCESSED
from blast_pipeline.system.retrigger import sweep
from blast_pipeline_tests.runners.toy_runners import (
    ToyDownload,
    ToyMatch,
    add_toy_transients,
    toy_registry,
    toy_state,
)
from blast_pipeline_tests.system.system_helpers import add_run

GRAPH = WorkflowGraph.from_runners(toy_registry())


def test_two_sensors_ticking_at_the_same_instant_launch_each_transient_once(blast, instance):
    names = [f"2024r{i:02d}" for i in range(12)]
    add_toy_transients(blast, *names)
    defs = build_definitions(toy_registry(), blast)
    sensor = defs.resolve_sensor_def("new_transients_sensor")
    barrier = threading.Barrier(2)
    results: list = []

    def tick():
        context = dg.build_sensor_context(instance=instance, resources={"blast": blast})
        barrier.wait()
        results.append(sensor(context))

    threads = [threading.Thread(target=tick) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    launched = [
        r.partition_key
        for result in results
        if isinstance(result, dg.SensorResult)
        for r in result.run_requests
    ]
    assert sorted(launched) == names  # every transient once, none twice


def test_a_task_claimed_by_one_run_is_not_run_by_another(blast):
    """Two runs reaching the same task at once: one runs it, the other is told it is taken."""
    add_toy_transients(blast, "2024twice")
    services = blast.services()
    started, release, calls = threading.Event(), threading.Event(), []

    class Slow(ToyDownload):
        def _run_process(self, transient, context):
            calls.append(1)
            started.set()
            release.wait(10)
            return PROCESSED

    first: list = []
    worker = threading.Thread(
        target=lambda: first.append(run_task(Slow(), "2024twice", services, GRAPH))
    )
    worker.start()
    assert started.wait(10)
    second = run_task(Slow(), "2024twice", services, GRAPH)
    release.set()
    worker.join()
    assert second.status is None and "processing" in second.skipped_reason
    assert first[0].status == PROCESSED and len(calls) == 1


def test_a_redelivered_step_takes_over_its_dead_deliverys_claim(blast):
    """A Celery worker died mid-task ("processing" under the step's token, nothing else
    committed): the broker's new delivery of that step re-claims and runs it; any other
    claimant is still refused."""
    add_toy_transients(blast, "2024redeliver")
    services = blast.services()
    token = step_claim_token("run-1", "cutout_download", "Cutout download", "2024redeliver")
    with services.database.session() as session:
        assert claim_task(
            session, get_transient(session, "2024redeliver"), "Cutout download", token
        )
    other = run_task(ToyDownload(), "2024redeliver", services, GRAPH)
    assert other.status is None and "processing" in other.skipped_reason
    again = run_task(ToyDownload(), "2024redeliver", services, GRAPH, claim_token=token)
    assert again.status == PROCESSED
    assert toy_state(blast, "2024redeliver")[0]["Cutout download"] == PROCESSED
    # a finished task is never re-run by a late duplicate of its step
    late = run_task(ToyDownload(), "2024redeliver", services, GRAPH, claim_token=token)
    assert late.status is None


def test_failure_is_recorded_while_the_database_is_locked(tmp_path):
    """A task fails while another writer holds SQLite's write lock beyond the busy timeout: its
    failed status is still recorded (own short transaction, retried), not left "processing"."""
    url = f"sqlite:///{tmp_path / 'blast.sqlite'}"
    blast = BlastResource(home=str(tmp_path), database_url=url, sky="none")
    add_toy_transients(blast, "2024locked")
    services = blast.services()

    @event.listens_for(services.database.engine, "connect")
    def _short_busy_timeout(dbapi_connection, _record):  # after the project's own listener
        dbapi_connection.execute("PRAGMA busy_timeout=100")

    services.database.engine.dispose()
    holding = threading.Event()

    class LockedOut(TransientTaskRunner):
        task_name = "Cutout download"

        def _run_process(self, transient, context):
            def hold():
                connection = services.database.engine.raw_connection()
                connection.execute("BEGIN IMMEDIATE")
                connection.execute("UPDATE transients SET display_name = 'x'")
                holding.set()
                time.sleep(2.0)
                connection.rollback()
                connection.close()

            threading.Thread(target=hold).start()
            holding.wait(5)
            raise RuntimeError("database is locked (simulated failure of the work)")

    outcome = run_task(LockedOut(), "2024locked", services, GRAPH)
    assert outcome.failed and outcome.status == "failed"
    statuses, progress, state = toy_state(blast, "2024locked")
    assert statuses["Cutout download"] == "failed"
    assert (progress, state) == (100, "blocked")


def test_periodic_retrigger_keeps_failed_and_manual_retrigger_resets_it(
    blast, instance, monkeypatch
):
    monkeypatch.setenv("BLAST_LAUNCH_GRACE_SECONDS", "0")
    add_toy_transients(blast, "2024boom")
    defs = build_definitions(toy_registry(), blast)
    first = process_pending(defs, instance)
    assert first.failed_tasks == ["Host match on 2024boom"]
    services = blast.services()
    with services.database.session() as session:  # a dead run left a task "processing"
        set_status(session, get_transient(session, "2024boom"), "Generate thumbnail", "processing")
    report = sweep(instance, services, GRAPH)
    assert report.retriggered == ["2024boom"]
    again = process_pending(defs, instance)
    # the stalled thumbnail ran; the failed match was kept and not run again
    assert again.runs == 1 and again.failed_tasks == []
    statuses, progress, state = toy_state(blast, "2024boom")
    assert statuses["Host match"] == "failed" and statuses["Generate thumbnail"] == "processed"
    assert (progress, state) == (100, "blocked")
    with services.database.session() as session:  # blast-pipeline retrigger NAME
        reset = reset_and_request(
            session, GRAPH, get_transient(session, "2024boom"), services.data_root, "manual"
        )
    assert reset == ["Host match"]
    assert toy_state(blast, "2024boom")[1] < 100  # progress recomputed at once
    third = process_pending(defs, instance)
    assert third.failed_tasks == ["Host match on 2024boom"]  # it ran again


def test_materialising_one_asset_reruns_it_and_marks_what_depends_on_it(blast, instance):
    add_toy_transients(blast, "2024manual")
    defs = build_definitions(toy_registry(), blast)
    process_pending(defs, instance)
    assert toy_state(blast, "2024manual")[2] == "completed"
    job = defs.resolve_job_def("transient_workflow")
    result = job.execute_in_process(
        instance=instance,
        partition_key="2024manual",
        asset_selection=[dg.AssetKey("host_match")],
        resources={"blast": blast},
    )
    assert result.success
    materialised = [
        e.asset_key.to_user_string() for e in result.all_events if e.is_step_materialization
    ]
    assert materialised == ["host_match"]  # re-run although it was "processed"
    statuses, progress, state = toy_state(blast, "2024manual")
    assert statuses["Host match"] == "processed"
    assert statuses["Validate local photometry"] == "not processed"  # marked for re-run
    assert (progress, state) == (75, "processing")


def test_a_run_whose_heartbeat_stopped_is_failed_and_its_transient_retriggered(blast, instance):
    add_toy_transients(blast, "2024dead", "2024alive")
    services = blast.services()
    with services.database.session() as session:
        for name in ("2024dead", "2024alive"):
            transient = get_transient(session, name)
            set_status(session, transient, "Cutout download", "processing")
            transient.workflow_requested_at = utcnow()  # just launched: within the grace
    dead = add_run(instance, "2024dead", dg.DagsterRunStatus.STARTED)
    alive = add_run(instance, "2024alive", dg.DagsterRunStatus.STARTED)
    with services.database.session() as session:
        long_ago = utcnow() - timedelta(seconds=600)
        session.add(RunHeartbeat(run_id=dead, started_at=long_ago, beat_at=long_ago, worker="x"))
        session.add(RunHeartbeat(run_id=alive, started_at=utcnow(), beat_at=utcnow(), worker="y"))
    report = sweep(instance, services, GRAPH)
    assert [r.run_id for r in report.dead_runs] == [dead]
    assert instance.get_run_by_id(dead).status == dg.DagsterRunStatus.FAILURE
    assert "heartbeat" in instance.get_run_by_id(dead).tags.get("dagster/failure_reason", "") or (
        any("heartbeat silent" in e.message for e in instance.all_logs(dead))
    )
    assert instance.get_run_by_id(alive).status == dg.DagsterRunStatus.STARTED
    assert report.retriggered == ["2024dead"]  # at once, without waiting for the launch grace
    assert toy_state(blast, "2024dead")[0]["Cutout download"] == "not processed"
    assert toy_state(blast, "2024alive")[0]["Cutout download"] == "processing"


def test_sensor_waits_while_the_disk_is_low_and_resumes(blast, instance, monkeypatch):
    add_toy_transients(blast, "2024disk")
    defs = build_definitions(toy_registry(), blast)
    sensor = defs.resolve_sensor_def("new_transients_sensor")
    monkeypatch.setenv("BLAST_MIN_FREE_DISK_GB", "1000000000")
    skipped = sensor(dg.build_sensor_context(instance=instance, resources={"blast": blast}))
    assert isinstance(skipped, dg.SkipReason)
    assert "GiB free" in skipped.skip_message and "BLAST_MIN_FREE_DISK_GB" in skipped.skip_message
    monkeypatch.setenv("BLAST_MIN_FREE_DISK_GB", "0")
    resumed = sensor(dg.build_sensor_context(instance=instance, resources={"blast": blast}))
    assert [r.partition_key for r in resumed.run_requests] == ["2024disk"]


def test_concurrent_upserts_of_one_aperture_do_not_collide(blast):
    from blast_pipeline.tasks.apertures import upsert_aperture

    add_toy_transients(blast, "2024aper")
    services = blast.services()
    with services.database.session() as session:
        transient_id = get_transient(session, "2024aper").id
    barrier, errors = threading.Barrier(4), []

    def write(i):
        try:
            with services.database.session() as session:
                barrier.wait()
                upsert_aperture(
                    session,
                    "2024aper_local",
                    transient_id=transient_id,
                    type="local",
                    is_primary=True,
                    ra_deg=1.0,
                    dec_deg=2.0,
                    orientation_deg=0.0,
                    semi_major_axis_arcsec=float(i + 1),
                    semi_minor_axis_arcsec=1.0,
                )
        except Exception as exc:  # pragma: no cover - the failure this test guards against
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with services.database.session() as session:
        assert session.execute(text("SELECT count(*) FROM apertures")).scalar() == 1


def test_match_failure_is_recorded_as_the_task_own_failed_status(blast):
    add_toy_transients(blast, "2024boom")
    services = blast.services()
    run_task(ToyDownload(), "2024boom", services, GRAPH)
    outcome = run_task(ToyMatch(), "2024boom", services, GRAPH, sleep=lambda s: None)
    assert outcome.failed and outcome.attempts == 3 and outcome.status == "failed"


def test_a_download_waits_for_free_space_and_resumes_by_itself(blast, monkeypatch):
    """A task that writes large files waits (without running) while the disk is below
    BLAST_MIN_FREE_DISK_GB, and runs once space returns; no operator step."""
    add_toy_transients(blast, "2024space")
    ran, waits = [], []

    class Download(ToyDownload):
        writes_files = True

        def _run_process(self, transient, context):
            ran.append(len(waits))
            return PROCESSED

    def sleep(seconds):
        waits.append(seconds)
        if len(waits) == 2:  # space returns while the task waits
            monkeypatch.setenv("BLAST_MIN_FREE_DISK_GB", "0")

    monkeypatch.setenv("BLAST_MIN_FREE_DISK_GB", "1000000000")
    outcome = run_task(Download(), "2024space", blast.services(), GRAPH, sleep=sleep)
    assert outcome.status == PROCESSED
    assert ran == [2] and waits == [10.0, 10.0]  # it ran only after the space came back
