"""Engine, sessions and migrations for the Blast database (SQLite by default, PostgreSQL by URL)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
#: A short write (a failed status, one chunk of an import) is retried this long while SQLite
#: says the database is locked (another writer held the lock past the 30 s busy timeout).
LOCKED_RETRY_SECONDS = 900.0

T = TypeVar("T")


def is_locked_error(exc: BaseException) -> bool:
    """SQLite's "database is locked" / "database table is locked"."""
    return isinstance(exc, OperationalError) and "is locked" in str(exc)


def retry_while_locked(
    write: Callable[[], T],
    log: logging.Logger,
    what: str,
    budget_seconds: float = LOCKED_RETRY_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call ``write`` (one short transaction) until it is not refused by a locked database."""
    deadline = time.monotonic() + budget_seconds
    delay = 0.2
    while True:
        try:
            return write()
        except OperationalError as exc:
            if not is_locked_error(exc) or time.monotonic() + delay > deadline:
                raise
            log.warning(f"{what}: database locked, retrying in {delay:.1f} s")
            sleep(delay)
            delay = min(delay * 2, 10.0)


class UnmigratedDatabase(RuntimeError):
    """The database schema is behind the code (or absent): ``blast-pipeline migrate``."""


def head_revision() -> str:
    """The newest Alembic revision shipped with the code."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()


def normalise_database_url(url: str) -> str:
    """Make PostgreSQL URLs use psycopg2 (SQLAlchemy 2.1 would pick psycopg 3, not installed)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix) :]
    return url


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()


class BlastDatabase:
    """A handle on one Blast database: an engine plus a session factory."""

    def __init__(self, url: str) -> None:
        self.url = normalise_database_url(url)
        if self.url.startswith("sqlite:///"):
            Path(self.url.removeprefix("sqlite:///")).expanduser().parent.mkdir(
                parents=True, exist_ok=True
            )
        self.engine = create_engine(self.url, pool_pre_ping=True)
        if self.engine.dialect.name == "sqlite":
            _configure_sqlite(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed when the block ends, rolled back if it raises."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def migrate(self) -> tuple[str | None, str]:
        """Bring the schema to the newest Alembic revision and load the reference rows
        (statuses, surveys, filters); return the revisions before and after (None: an empty
        database). Safe to call on every start."""
        before, head = self.revision(), head_revision()
        if before == head and self._reference_rows_present():
            return before, head
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

        from blast_pipeline.db.reference_rows import load_reference_rows

        with self.session() as session:
            load_reference_rows(session)
        return before, head

    def revision(self) -> str | None:
        """The schema's Alembic revision (None: no ``alembic_version`` table yet)."""
        from sqlalchemy import inspect, text

        if not inspect(self.engine).has_table("alembic_version"):
            return None
        with self.engine.connect() as connection:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()

    def require_current(self) -> None:
        """``UnmigratedDatabase`` unless the schema is at head with its reference rows: a
        production database is migrated explicitly (``blast-pipeline migrate``), never by a
        worker that happens to start first."""
        revision, head = self.revision(), head_revision()
        if revision != head:
            at = f"at revision {revision}" if revision else "empty (no Blast schema)"
            raise UnmigratedDatabase(
                f"the Blast database is {at}, the code needs {head}: "
                "run `blast-pipeline migrate` first"
            )
        if not self._reference_rows_present():
            raise UnmigratedDatabase(
                "the Blast database lacks its reference rows (statuses, filters): "
                "run `blast-pipeline migrate` first"
            )

    def _reference_rows_present(self) -> bool:
        from sqlalchemy import text

        from blast_pipeline.science.filters import FILTERS
        from blast_pipeline.statuses import STATUSES

        with self.engine.connect() as connection:
            n_filters = connection.execute(text("SELECT count(*) FROM filters")).scalar()
            n_statuses = connection.execute(text("SELECT count(*) FROM statuses")).scalar()
        return n_filters == len(FILTERS) and n_statuses == len(STATUSES)

    @property
    def migrates_automatically(self) -> bool:
        """True for SQLite (the embedded default, one machine): it is migrated on open."""
        return self.engine.dialect.name == "sqlite"

    def open_for_work(self) -> None:
        """Migrate the embedded SQLite database; require a migrated one otherwise."""
        if self.migrates_automatically:
            self.migrate()
        else:
            self.require_current()

    def dispose(self) -> None:
        self.engine.dispose()
