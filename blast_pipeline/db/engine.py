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

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision and load the reference rows
        (statuses, surveys, filters). Safe to call on every start."""
        if self._is_current():
            return
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

    def _is_current(self) -> bool:
        """Fast path for every run: schema at head and reference rows present."""
        from alembic.script import ScriptDirectory
        from sqlalchemy import inspect, text

        if not inspect(self.engine).has_table("alembic_version"):
            return False
        head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
        with self.engine.connect() as connection:
            version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
            if version != head:
                return False
            n_filters = connection.execute(text("SELECT count(*) FROM filters")).scalar()
            n_statuses = connection.execute(text("SELECT count(*) FROM statuses")).scalar()
        from blast_pipeline.science.filters import FILTERS
        from blast_pipeline.statuses import STATUSES

        return n_filters == len(FILTERS) and n_statuses == len(STATUSES)

    def dispose(self) -> None:
        self.engine.dispose()
