"""``blast-pipeline migrate``: every migration on an empty PostgreSQL database, an upgrade from
the previous revision keeping its rows, and the refusal to work on an unmigrated database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect, select, text

from blast_pipeline.cli import main
from blast_pipeline.db import BlastDatabase, UnmigratedDatabase, head_revision
from blast_pipeline.db.engine import MIGRATIONS_DIR
from blast_pipeline.db.models import Status, TaskRegister, Transient
from blast_pipeline.statuses import STATUSES
from blast_pipeline_tests.conftest import POSTGRES_DSN, _postgres_admin

pytestmark = pytest.mark.postgres


@pytest.fixture
def empty_postgres() -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database (dropped afterwards)."""
    try:
        admin = _postgres_admin()
    except Exception as exc:  # pragma: no cover - depends on the machine
        pytest.skip(f"PostgreSQL at {POSTGRES_DSN} cannot be reached: {exc}")
    name = f"blast_migrate_{uuid.uuid4().hex[:10]}"
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    yield POSTGRES_DSN.rsplit("/", 1)[0] + f"/{name}"
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


@pytest.fixture
def pg_env(monkeypatch, tmp_path, empty_postgres) -> str:
    monkeypatch.setenv("BLAST_HOME", str(tmp_path))
    monkeypatch.setenv("BLAST_DATABASE_URL", empty_postgres)
    monkeypatch.setenv("BLAST_SKY", "none")
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    return empty_postgres


def _upgrade_to(url: str, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    database = BlastDatabase(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    database.dispose()


def test_migrate_applies_every_migration_to_an_empty_database(pg_env, capsys):
    assert main(["migrate"]) == 0
    out = capsys.readouterr().out
    assert f"migrated from (empty) to {head_revision()}" in out
    database = BlastDatabase(pg_env)
    try:
        assert database.revision() == head_revision()
        tables = set(inspect(database.engine).get_table_names())
        assert {"transients", "task_register", "run_heartbeats", "statuses"} <= tables
        with database.session() as session:
            assert {s.message for s in session.scalars(select(Status))} == set(STATUSES)
        database.require_current()  # no exception: the pipeline may run
    finally:
        database.dispose()
    assert main(["migrate"]) == 0
    assert f"already at {head_revision()}" in capsys.readouterr().out


def test_database_at_the_previous_revision_upgrades_keeping_its_rows(pg_env, capsys):
    _upgrade_to(pg_env, "0001")
    database = BlastDatabase(pg_env)
    now = datetime.now(UTC)
    with database.engine.begin() as connection:  # rows as the 0001 code wrote them
        status_id = connection.execute(
            text(
                "INSERT INTO statuses (message, type) VALUES ('processed', 'success') RETURNING id"
            )
        ).scalar()
        task_id = connection.execute(
            text("INSERT INTO tasks (name) VALUES ('Host match') RETURNING id")
        ).scalar()
        transient_id = connection.execute(
            text(
                "INSERT INTO transients (name, ra_deg, dec_deg, tns_id, processing_status,"
                " progress, ingest_source, added_at, workflow_generation, partition_archived,"
                " software_version) VALUES ('2019old', 150.5, -2.25, 0, 'completed', 100,"
                " 'cli', :now, 3, false, '0.0.1') RETURNING id"
            ),
            {"now": now},
        ).scalar()
        connection.execute(
            text(
                "INSERT INTO task_register (transient_id, task_id, status_id, user_warning,"
                " last_modified) VALUES (:t, :k, :s, false, :now)"
            ),
            {"t": transient_id, "k": task_id, "s": status_id, "now": now},
        )
    with pytest.raises(UnmigratedDatabase, match="at revision 0001.*blast-pipeline migrate"):
        database.require_current()
    database.dispose()

    assert main(["migrate"]) == 0
    assert f"migrated from 0001 to {head_revision()}" in capsys.readouterr().out

    database = BlastDatabase(pg_env)
    try:
        assert database.revision() == head_revision()
        with database.session() as session:
            transient = session.scalars(select(Transient)).one()
            assert (transient.name, transient.ra_deg, transient.dec_deg) == (
                "2019old",
                150.5,
                -2.25,
            )
            assert (transient.progress, transient.workflow_generation) == (100, 3)
            register = session.scalars(select(TaskRegister)).one()
            assert register.transient_id == transient.id and register.claim is None
            assert register.status.message == "processed"
            statuses = [s.message for s in session.scalars(select(Status))]
            assert statuses.count("processed") == 1 and set(statuses) == set(STATUSES)
            assert session.execute(text("SELECT count(*) FROM run_heartbeats")).scalar() == 0
    finally:
        database.dispose()


def test_the_pipeline_refuses_an_unmigrated_postgres_database(pg_env, capsys):
    assert main(["list"]) == 2
    err = capsys.readouterr().err
    assert "empty (no Blast schema)" in err and "run `blast-pipeline migrate` first" in err
    assert "Traceback" not in err
    database = BlastDatabase(pg_env)
    try:
        assert database.revision() is None  # nothing was created behind the user's back
    finally:
        database.dispose()
    assert main(["migrate"]) == 0
    assert main(["list"]) == 0
    assert "no transients" in capsys.readouterr().out


def test_the_embedded_sqlite_database_migrates_itself(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("BLAST_HOME", str(tmp_path))
    monkeypatch.delenv("BLAST_DATABASE_URL", raising=False)
    monkeypatch.setenv("BLAST_SKY", "none")
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    assert main(["list"]) == 0
    database = BlastDatabase(f"sqlite:///{tmp_path / 'blast.sqlite'}")
    try:
        assert database.revision() == head_revision()
    finally:
        database.dispose()
    assert main(["migrate"]) == 0
    assert f"already at {head_revision()}" in capsys.readouterr().out


def test_the_web_service_reports_an_unmigrated_database(pg_env):
    from fastapi.testclient import TestClient

    from blast_pipeline.web.app import create_app

    client = TestClient(create_app())
    reply = client.get("/api/transient/get/2024abc?format=json")
    assert reply.status_code == 503
    assert "run `blast-pipeline migrate` first" in reply.json()["message"]
    health = client.get("/health")
    assert health.status_code == 503 and health.json()["status"] == "failing: database, dagster"
    assert "run `blast-pipeline migrate`" in health.json()["database"]["detail"]
