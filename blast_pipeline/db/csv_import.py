"""``import-csv`` into the Blast database in chunks, so a running pipeline is never starved.

The whole file is checked first (``transient_input.read_transient_csv``, then every row against
the database): any problem and nothing is imported. The rows are then written
``chunk_size`` at a time, each chunk in its own short transaction (retried while SQLite says
"database is locked"), with a short pause between chunks that lets waiting writers (a task's
status) in: on SQLite one writer at a time, so a single 50,000-row transaction held the lock
for minutes. A stored name is skipped, so the same file can be imported again.

A chunk re-checks its rows against the database, since another process (TNS ingestion, the web
API) may have added a clashing transient since the first check. If one now clashes, that
chunk is rolled back and the import stops with ``ImportStopped``: one message naming the file
and line; the earlier chunks stay committed (they were valid, and a task may already be working
on them) and running the same command again, once the line is fixed, skips them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from blast_pipeline.db.engine import BlastDatabase, retry_while_locked
from blast_pipeline.db.models import Transient
from blast_pipeline.db.transients import DuplicateTransient, duplicate_problems, insert_transient
from blast_pipeline.transient_input import NewTransient, TransientInputError

#: Rows per transaction: ~1-3 s on a loaded 2-core machine with SQLite (17 rows per transient).
CHUNK_SIZE = 200
#: Seconds between chunks: longer than SQLite's busy-handler sleep (<= 100 ms), so a writer
#: waiting for the lock gets it before the next chunk takes it again.
CHUNK_PAUSE_SECONDS = 0.15

log = logging.getLogger(__name__)


@dataclass
class ImportSummary:
    """What an import wrote: names added, names skipped (already stored), chunks committed."""

    added: int = 0
    skipped: int = 0
    chunks: int = 0
    last_line: int = 0
    seconds: float = 0.0


class ImportStopped(TransientInputError):
    """A row of a later chunk clashes with a transient stored since the file was checked; the
    earlier chunks are kept (``summary``)."""

    def __init__(self, message: str, summary: ImportSummary) -> None:
        super().__init__(message)
        self.summary = summary


def import_transients(
    database: BlastDatabase,
    task_names: Sequence[str],
    path: Path,
    rows: Sequence[tuple[int, NewTransient]],
    *,
    chunk_size: int | None = None,
    pause_seconds: float | None = None,
    report: Callable[[str], None] = print,
) -> ImportSummary:
    """Insert ``rows`` ((line, transient) of ``path``, already checked against each other) with
    their task registers, ``chunk_size`` (default ``CHUNK_SIZE``) per transaction. Raises ``TransientInputError``
    (nothing imported) when a row clashes with a stored transient, ``ImportStopped`` when one
    does only in a later chunk."""
    began = time.monotonic()
    chunk_size = chunk_size or CHUNK_SIZE
    pause_seconds = CHUNK_PAUSE_SECONDS if pause_seconds is None else pause_seconds
    with database.session() as session:
        problems = duplicate_problems(session, [new for _, new in rows])
    if problems:
        lines = [f"{path}:{rows[i][0]}: {problems[i]}" for i in sorted(problems)]
        raise TransientInputError("nothing imported:\n" + "\n".join(lines))
    summary = ImportSummary()
    for start in range(0, len(rows), chunk_size):
        if start and pause_seconds:
            time.sleep(pause_seconds)
        chunk = rows[start : start + chunk_size]
        added, skipped = retry_while_locked(
            lambda chunk=chunk: _write_chunk(database, task_names, path, chunk, summary),
            log,
            f"importing {path} lines {chunk[0][0]}-{chunk[-1][0]}",
        )
        summary.added += added
        summary.skipped += skipped
        summary.chunks += 1
        summary.last_line = chunk[-1][0]
        if len(rows) > chunk_size:
            report(
                f"  committed {start + len(chunk):,}/{len(rows):,} rows (to line "
                f"{summary.last_line}): {summary.added:,} added, {summary.skipped:,} skipped"
            )
    summary.seconds = time.monotonic() - began
    return summary


def _write_chunk(
    database: BlastDatabase,
    task_names: Sequence[str],
    path: Path,
    chunk: Sequence[tuple[int, NewTransient]],
    summary: ImportSummary,
) -> tuple[int, int]:
    """One transaction: the chunk's new rows (re-checked) and their registers."""
    with database.session() as session:
        names = [new.name for _, new in chunk]
        stored = set(session.scalars(select(Transient.name).where(Transient.name.in_(names))))
        fresh = [(line, new) for line, new in chunk if new.name not in stored]
        problems = duplicate_problems(session, [new for _, new in fresh])
        try:
            if problems:
                first = min(problems)
                raise DuplicateTransient(problems[first], fresh[first][0])
            for line, new in fresh:
                try:
                    insert_transient(session, task_names, new, check_clashes=False)
                except DuplicateTransient as exc:
                    raise DuplicateTransient(str(exc), line) from None
        except DuplicateTransient as exc:
            session.rollback()
            reason, line = exc.args
            kept = (
                f"the {summary.added:,} transient(s) of lines up to {summary.last_line} are "
                "kept; fix the line and import the file again (stored names are skipped)"
                if summary.chunks
                else "nothing imported"
            )
            raise ImportStopped(f"{path}:{line}: {reason}; {kept}", summary) from None
    return len(fresh), len(chunk) - len(fresh)
