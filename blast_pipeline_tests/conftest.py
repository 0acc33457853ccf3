"""Shared fixtures: a fresh Blast database on SQLite and on the local PostgreSQL server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from blast_pipeline.db import BlastDatabase

POSTGRES_DSN = os.environ.get(
    "BLAST_TEST_POSTGRES", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _postgres_admin():
    import psycopg2

    dsn = POSTGRES_DSN.replace("postgresql+psycopg2://", "postgresql://")
    connection = psycopg2.connect(dsn, connect_timeout=3)
    connection.autocommit = True
    return connection


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """A migrated template database, copied for each test (fast, and fresh per test)."""
    try:
        admin = _postgres_admin()
    except Exception as exc:  # pragma: no cover - depends on the machine
        pytest.skip(f"PostgreSQL at {POSTGRES_DSN} cannot be reached: {exc}")
    name = f"blast_tmpl_{uuid.uuid4().hex[:10]}"
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    url = POSTGRES_DSN.rsplit("/", 1)[0] + f"/{name}"
    database = BlastDatabase(url)
    database.migrate()
    database.dispose()
    yield name
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path) -> Iterator[str]:
    """A fresh, migrated Blast database: SQLite file, then PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'blast.sqlite'}"
        BlastDatabase(url).migrate()
        yield url
        return
    template = request.getfixturevalue("postgres_template")
    admin = _postgres_admin()
    name = f"blast_test_{uuid.uuid4().hex[:12]}"
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    yield POSTGRES_DSN.rsplit("/", 1)[0] + f"/{name}"
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


@pytest.fixture
def database(database_url) -> Iterator[BlastDatabase]:
    db = BlastDatabase(database_url)
    yield db
    db.dispose()
