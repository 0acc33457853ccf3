"""One execution path: the same transients processed by per-transient runs and by a batch run
give identical rows in every table and the same asset events; a failed reprocess leaves no
stale results."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy import MetaData, select

from blast_pipeline.cli import main
from blast_pipeline.db import BlastDatabase
from blast_pipeline.db.models import Aperture, AperturePhotometry, Cutout
from blast_pipeline.db.task_register import task_statuses
from blast_pipeline.db.transients import get_transient
from blast_pipeline.definitions import build_definitions
from blast_pipeline.orchestration import process_pending
from blast_pipeline.resources import blast_resource_from_env
from blast_pipeline.system.consistency import check_consistency
from blast_pipeline.tasks import TASK_RUNNERS
from blast_pipeline.tasks.apertures import GlobalApertureConstruction

#: Columns that differ between any two runs (clock, durations, claim tokens).
VOLATILE = {
    "added_at",
    "last_modified",
    "last_processing_time_seconds",
    "workflow_requested_at",
    "created_at",
    "claim",
    "started_at",
    "beat_at",
}


def _process(monkeypatch, home: Path, batch_size: int):
    monkeypatch.setenv("BLAST_HOME", str(home))
    monkeypatch.setenv("BLAST_CUTOUT_FOV_ARCSEC", "120")
    monkeypatch.setenv("BLAST_WORKFLOW_BATCH_SIZE", str(batch_size))
    monkeypatch.delenv("BLAST_DATABASE_URL", raising=False)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    assert main(["simulate", "4", "--seed", "42"]) == 0
    blast = blast_resource_from_env(resolve=True)
    defs = build_definitions(TASK_RUNNERS, blast)
    with dg.instance_for_test() as instance:
        summary = process_pending(defs, instance)
        events = set()
        for kind in (
            dg.DagsterEventType.ASSET_MATERIALIZATION,
            dg.DagsterEventType.ASSET_OBSERVATION,
        ):
            for record in instance.get_event_records(dg.EventRecordsFilter(kind), limit=1000):
                entry = record.event_log_entry
                data = entry.dagster_event.event_specific_data
                event = getattr(data, "materialization", None) or data.asset_observation
                status = event.metadata["status"].value
                events.add((event.asset_key.to_user_string(), event.partition, kind.value, status))
    return summary, events, blast


#: Keys that only number rows in insertion order: a batch run's SED stage takes the transients
#: in another order than one run per transient (the rows themselves are compared).
INSERTION_ORDER_KEYS = {
    "sed_fitting_results": {"id"},
    "star_formation_history_results": {"id", "sed_fitting_result_id"},
}


def _rows(home: Path) -> dict[str, list[tuple]]:
    database = BlastDatabase(f"sqlite:///{home / 'blast.sqlite'}")
    metadata = MetaData()
    metadata.reflect(database.engine)
    rows = {}
    with database.engine.connect() as connection:
        for name, table in sorted(metadata.tables.items()):
            if name == "run_heartbeats":  # orchestration state, one row per live run
                continue
            volatile = VOLATILE | INSERTION_ORDER_KEYS.get(name, set())
            columns = [c for c in table.columns if c.name not in volatile]
            rows[name] = sorted(
                connection.execute(select(*columns)).all(), key=lambda r: tuple(map(str, r))
            )
    database.dispose()
    return rows


@pytest.mark.slow
def test_batch_and_per_transient_runs_give_identical_results(monkeypatch, tmp_path):
    single, single_events, _ = _process(monkeypatch, tmp_path / "single", 1)
    batch, batch_events, blast = _process(monkeypatch, tmp_path / "batch", 20)
    assert (single.runs, batch.runs) == (4, 1)
    assert single.failed_tasks == batch.failed_tasks == []
    single_rows, batch_rows = _rows(tmp_path / "single"), _rows(tmp_path / "batch")
    assert single_rows.keys() == batch_rows.keys()
    for table in single_rows:
        assert single_rows[table] == batch_rows[table], f"table {table} differs"
    assert len(single_rows["aperture_photometry"]) > 50  # the comparison covered real data
    assert single_events == batch_events
    assert {kind for _, _, kind, _ in single_events} == {
        "ASSET_MATERIALIZATION",
        "ASSET_OBSERVATION",
    }

    # a failed reprocess (batch home) leaves no stale apertures, photometry, crops or thumbnails
    services = blast.services()
    with services.database.session() as session:
        names = [
            name
            for name in ("sim42x00000", "sim42x00001", "sim42x00002", "sim42x00003")
            if task_statuses(session, get_transient(session, name))["Generate thumbnail final"]
            == "processed"
        ]
    assert names, "no transient completed its workflow"
    name = names[0]

    def broken(self, transient, context):
        raise RuntimeError("aperture service down")

    monkeypatch.setattr(GlobalApertureConstruction, "_run_process", broken)
    assert main(["reprocess", name, "--from", "Global aperture construction"]) == 0
    with dg.instance_for_test() as instance:
        summary = process_pending(build_definitions(TASK_RUNNERS, blast), instance)
    assert summary.failed_tasks == [f"Global aperture construction on {name}"]
    with services.database.session() as session:
        transient = get_transient(session, name)
        statuses = task_statuses(session, transient)
        assert statuses["Global aperture construction"] == "failed"
        assert statuses["Validate global photometry"] == "not processed"
        assert (
            session.scalars(
                select(Aperture).where(
                    Aperture.transient_id == transient.id, Aperture.type == "global"
                )
            ).all()
            == []
        )
        global_phot = session.scalars(
            select(AperturePhotometry)
            .join(Aperture)
            .where(Aperture.transient_id == transient.id, Aperture.type == "global")
        ).all()
        assert global_phot == []
        crops = session.scalars(
            select(Cutout.cropped_path).where(
                Cutout.transient_id == transient.id, Cutout.cropped_path.is_not(None)
            )
        ).all()
        assert crops == []
        report = check_consistency(session, services.data_root)
    assert not (services.data_root / "thumbnails" / name / "final.png").exists()
    assert not list((services.data_root / "cropped" / name).rglob("*.fits"))
    assert report.contradictions == [] and report.unfinished == []
