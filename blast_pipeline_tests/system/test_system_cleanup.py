"""Garbage collector (orphans and leftovers of killed tasks only) and partition retention (archive,
restore, results kept)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
from sqlalchemy import update

from blast_pipeline.db.models import TaskRegister
from blast_pipeline.db.task_register import reset_tasks, task_statuses
from blast_pipeline.db.workflow_requests import request_workflow
from blast_pipeline.runners.compile import TRANSIENTS
from blast_pipeline_tests.system.system_helpers import (
    TASKS,
    add,
    add_run,
    all_processed,
    job_summary,
    read,
    run_job,
)

DONE = {"progress": 100, "processing_status": "completed"}


def _touch(path, content: bytes = b"x" * 10):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


def test_garbage_collector_removes_orphans_and_leftovers_of_killed_tasks(
    defs, blast_sqlite, instance
):
    blast = blast_sqlite
    root = blast.services().data_root
    add(blast, "2024done", all_processed(), **DONE)
    add(blast, "2024running", all_processed(), **DONE)  # finished, but a run is in flight
    add(blast, "2024working", progress=40)
    add_run(instance, "2024running", dg.DagsterRunStatus.STARTED)
    results = [
        root / "cutouts" / "2024done" / "PanSTARRS" / "g.fits",
        root / "cropped" / "2024done" / "PanSTARRS" / "g.fits",
        root / "thumbnails" / "2024done" / "final.png",
    ]
    for path in results:
        _touch(path)
    killed = [  # what a task killed mid-write leaves
        root / "cropped" / "2024done" / "PanSTARRS" / ".g.fits.4242.tmp",
        root / "thumbnails" / "2024done" / "final.preview.png",
    ]
    kept = [
        root / "cropped" / "2024running" / "SDSS" / ".r.fits.77.tmp",  # its run is writing it
        root / "thumbnails" / "2024working" / "cutout.preview.png",
    ]
    for path in killed + kept:
        _touch(path)
    _touch(root / "cutouts" / "2024gone" / "SDSS" / "r.fits")  # transient deleted meanwhile
    _touch(root / "thumbnails" / "not a name" / "keep.txt")
    (root / "cropped" / "2024linked").symlink_to(root / "cutouts" / "2024done")

    result = run_job(defs, "garbage_collector", instance, blast)
    assert result.success
    assert all(path.is_file() for path in results + kept)  # results, even behind a link
    assert not any(path.exists() for path in killed)
    assert not (root / "cutouts" / "2024gone").exists()
    assert not (root / "cropped" / "2024linked").is_symlink()  # orphan link unlinked
    assert (root / "thumbnails" / "not a name" / "keep.txt").is_file()
    meta = job_summary(result)
    assert meta["removed"] == 4 and meta["bytes_freed"] >= 30
    schedule = defs.resolve_schedule_def("garbage_collector_schedule")
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED


def _age(blast, name: str, days: float) -> None:
    when = datetime.now(UTC) - timedelta(days=days)

    def set_age(session, transient):
        transient.added_at = when
        session.execute(
            update(TaskRegister)
            .where(TaskRegister.transient_id == transient.id)
            .values(last_modified=when)
        )

    read(blast, name, set_age)


def test_retention_archives_oldest_finished_partitions_and_restores_them(
    defs, blast, instance, monkeypatch
):
    monkeypatch.setenv("BLAST_PARTITION_RETENTION_MIN", "3")
    monkeypatch.setenv("BLAST_PARTITION_RETENTION_DAYS", "30")
    add(blast, "2023oldest", all_processed(), redshift=0.07, **DONE)
    add(blast, "2023older", progress=100, processing_status="blocked")
    add(blast, "2023oldbusy", all_processed(), **DONE)
    add(blast, "2023stuck", progress=50)
    add(blast, "2024recent", all_processed(), **DONE)
    for name, days in [("2023oldest", 90), ("2023older", 60), ("2023oldbusy", 95)]:
        _age(blast, name, days)
    _age(blast, "2023stuck", 120)
    names = ["2023oldest", "2023older", "2023oldbusy", "2023stuck", "2024recent", "2024extra"]
    instance.add_dynamic_partitions(TRANSIENTS.name, names)
    add_run(instance, "2023oldbusy", dg.DagsterRunStatus.QUEUED)

    result = run_job(defs, "partition_retention", instance, blast)
    assert result.success
    assert job_summary(result)["archived"] == 2
    partitions = set(instance.get_dynamic_partitions(TRANSIENTS.name))
    assert partitions == set(names) - {"2023oldest", "2023older"}
    archived, z, statuses = read(
        blast,
        "2023oldest",
        lambda s, t: (t.partition_archived, t.redshift, task_statuses(s, t)),
    )
    assert archived and z == 0.07 and set(statuses.values()) == {"processed"}  # results kept

    # under the threshold now (4 > 3 still, but nothing else is eligible): a rerun archives none
    assert job_summary(run_job(defs, "partition_retention", instance, blast))["archived"] == 0

    # reprocessing brings the partition back through the sensor
    def reprocess(session, transient):  # what ``blast-pipeline reprocess`` does
        reset_tasks(session, transient, TASKS)
        request_workflow(transient)

    read(blast, "2023oldest", reprocess)
    assert not read(blast, "2023oldest", lambda s, t: t.partition_archived)
    sensor = defs.resolve_sensor_def("new_transients_sensor")
    tick = sensor(dg.build_sensor_context(instance=instance, resources={"blast": blast}))
    assert tick.dynamic_partitions_requests[0].partition_keys == ["2023oldest"]
    assert [r.partition_key for r in tick.run_requests] == ["2023oldest"]


def test_retention_does_nothing_below_the_threshold(defs, blast_sqlite, instance):
    add(blast_sqlite, "2020ancient", all_processed(), **DONE)
    _age(blast_sqlite, "2020ancient", 400)
    instance.add_dynamic_partitions(TRANSIENTS.name, ["2020ancient"])
    result = run_job(defs, "partition_retention", instance, blast_sqlite)
    assert "nothing to archive" in job_summary(result)["summary"]
    assert instance.has_dynamic_partition(TRANSIENTS.name, "2020ancient")
