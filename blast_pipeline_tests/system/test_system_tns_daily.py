"""Ingest missed TNS transients from the daily CSV: inserts what is missing, by name."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from blast_pipeline.db.models import Transient
from blast_pipeline.sources.tns import TNSObject
from blast_pipeline.system.tns_daily import days_to_fetch, missing_objects
from blast_pipeline_tests.sources.fake_tns import make_daily_csv_zip
from blast_pipeline_tests.system.system_helpers import add, job_summary, run_job

JOB = "ingest_missed_tns_transients"


def _row(name: str, objid: int, **extra) -> dict:
    row = {
        "objid": objid,
        "name_prefix": "SN",
        "name": name,
        "ra": 120.5,
        "declination": -30.25,
        "redshift": 0.04,
        "type": "SN Ia",
        "discoverydate": "2024-01-15 08:24:00.000",
    }
    row.update(extra)
    return row


def _transients(blast) -> dict[str, tuple]:
    with blast.services().database.session() as session:
        rows = session.execute(
            select(Transient.name, Transient.ingest_source, Transient.ra_deg, Transient.tns_id)
        )
        return {n: (s, ra, tid) for n, s, ra, tid in rows}


def test_daily_csv_inserts_missing_transients_by_name(defs, blast, instance, tns, no_sleep):
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    add(blast, "2024known", ingest_source="cli")
    rows = [
        _row("2024known", 1, ra=10.0),
        _row("2024miss1", 2),
        _row("2024miss2", 3, redshift=""),
        _row("bad name!", 4),
    ]
    tns.set_daily_csv(yesterday, make_daily_csv_zip(rows))
    result = run_job(defs, JOB, instance, blast)
    assert result.success
    meta = job_summary(result)
    assert meta["n_new"] == 2 and meta["n_known"] == 1 and meta["n_skipped"] == 1
    assert meta["n_no_file"] == 1  # the day before yesterday: no file (yet)
    saved = _transients(blast)
    assert saved["2024miss1"] == ("tns-daily", 120.5, 2)
    assert saved["2024known"][0] == "cli" and saved["2024known"][1] == 150.0  # untouched
    # idempotent: a second run inserts nothing
    assert job_summary(run_job(defs, JOB, instance, blast))["n_known"] == 3


def test_daily_schedule_is_off_and_needs_credentials(defs, instance, monkeypatch):
    import dagster as dg

    for var in ("TNS_BOT_API_KEY", "TNS_BOT_NAME", "TNS_BOT_ID"):
        monkeypatch.delenv(var, raising=False)
    schedule = defs.resolve_schedule_def(f"{JOB}_schedule")
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    assert schedule.cron_schedule == "0 0 * * *"
    tick = schedule.evaluate_tick(dg.build_schedule_context(instance=instance))
    assert "TNS_BOT_API_KEY" in tick.skip_message


def test_pure_helpers():
    assert days_to_fetch(date(2024, 3, 1), 2) == [date(2024, 2, 29), date(2024, 2, 28)]
    when = datetime(2024, 1, 1, tzinfo=UTC)
    objs = [TNSObject(n, 1, 1.0, 1.0, None, when, None, None) for n in ("a1", "b2", "a1")]
    assert [o.name for o in missing_objects(objs, {"b2"})] == ["a1"]
