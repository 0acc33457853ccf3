"""``import-csv`` of a big file commits in chunks: a task's status write gets in while it runs
(SQLite, one writer at a time), and a clash found in a later chunk keeps the earlier chunks."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from blast_pipeline.cli import main
from blast_pipeline.db import BlastDatabase
from blast_pipeline.db.csv_import import ImportStopped, import_transients
from blast_pipeline.db.models import Transient
from blast_pipeline.db.task_register import task_statuses
from blast_pipeline.db.transients import NewTransient, get_transient, insert_transient
from blast_pipeline.resources import BlastResource
from blast_pipeline.runners.execution import run_task
from blast_pipeline.runners.graph import WorkflowGraph
from blast_pipeline.transient_input import TransientInputError, read_transient_csv
from blast_pipeline_tests.runners.toy_runners import ToyDownload, toy_registry

GRAPH = WorkflowGraph.from_runners(toy_registry())


def _csv(path: Path, n: int, first_line_dec: float = -60.0) -> Path:
    """``n`` rows 7.2" apart in Dec (never within 1" of each other)."""
    body = "".join(
        f"2030x{i:05d},{(i * 0.01) % 360:.4f},{first_line_dec + i * 0.002:.4f}\n" for i in range(n)
    )
    path.write_text("name,ra,dec\n" + body)
    return path


def _count(database: BlastDatabase) -> int:
    with database.session() as session:
        return session.scalar(select(func.count(Transient.id)))


def test_a_task_status_is_written_while_a_big_import_runs(tmp_path):
    url = f"sqlite:///{tmp_path / 'blast.sqlite'}"
    blast = BlastResource(home=str(tmp_path), database_url=url, sky="none")
    services = blast.services()
    with services.database.session() as session:
        insert_transient(session, GRAPH.task_names, NewTransient("2024busy", 200.0, 10.0))
    path = _csv(tmp_path / "big.csv", 2000)
    rows = read_transient_csv(path)
    first_chunk, summaries, errors = threading.Event(), [], []

    def run_import():
        try:
            summaries.append(
                import_transients(
                    BlastDatabase(url),
                    GRAPH.task_names,
                    path,
                    rows,
                    chunk_size=100,
                    report=lambda _line: first_chunk.set(),
                )
            )
        except Exception as exc:  # pragma: no cover - reported by the assertion below
            errors.append(exc)
            first_chunk.set()

    importer = threading.Thread(target=run_import)
    importer.start()
    assert first_chunk.wait(120)
    outcome = run_task(ToyDownload(), "2024busy", services, GRAPH)
    stored_when_done = _count(services.database)
    importer.join()
    assert errors == []
    # the task claimed, ran and recorded its status while the import was still writing
    assert outcome.status == "processed"
    assert 0 < stored_when_done - 1 < len(rows)
    with services.database.session() as session:
        statuses = task_statuses(session, get_transient(session, "2024busy"))
    assert statuses["Cutout download"] == "processed"
    (summary,) = summaries
    assert (summary.added, summary.skipped, summary.chunks) == (2000, 0, 20)
    assert _count(services.database) == 2001
    services.database.dispose()


def test_a_clash_in_a_later_chunk_keeps_the_earlier_chunks(tmp_path, database_url):
    """Another process stores a transient within 1" of line 8 after the file was checked: the
    chunk holding line 8 is rolled back, lines 2-5 stay, and importing again after the fix
    skips them."""
    database = BlastDatabase(database_url)
    path = _csv(tmp_path / "batch.csv", 10)
    rows = read_transient_csv(path)
    clash = rows[6][1]  # line 8

    def another_process_adds(_line: str) -> None:
        with database.session() as session:
            if session.scalar(select(Transient).where(Transient.name == "2024other")) is None:
                insert_transient(
                    session,
                    GRAPH.task_names,
                    NewTransient("2024other", clash.ra_deg, clash.dec_deg),
                )

    with pytest.raises(ImportStopped) as stopped:
        import_transients(
            database, GRAPH.task_names, path, rows, chunk_size=4, report=another_process_adds
        )
    message = str(stopped.value)
    assert message.startswith(f"{path}:8: transient '2030x00006'") and "2024other" in message
    assert "the 4 transient(s) of lines up to 5 are kept" in message
    with database.session() as session:
        names = sorted(session.scalars(select(Transient.name)))
    assert names == ["2024other", "2030x00000", "2030x00001", "2030x00002", "2030x00003"]
    # the operator removes line 8 and runs the same import again
    fixed = [row for row in rows if row[0] != 8]
    again = import_transients(database, GRAPH.task_names, path, fixed, chunk_size=4)
    assert (again.added, again.skipped) == (5, 4)
    assert _count(database) == 10
    database.dispose()


def test_a_row_clashing_with_a_stored_transient_imports_nothing(tmp_path, database_url):
    database = BlastDatabase(database_url)
    path = _csv(tmp_path / "batch.csv", 10)
    rows = read_transient_csv(path)
    with database.session() as session:
        near = rows[8][1]
        insert_transient(
            session, GRAPH.task_names, NewTransient("2024old", near.ra_deg, near.dec_deg)
        )
    with pytest.raises(TransientInputError, match=r"nothing imported:\n.*batch.csv:10: "):
        import_transients(database, GRAPH.task_names, path, rows, chunk_size=4)
    assert _count(database) == 1
    database.dispose()


def test_import_csv_prints_progress_per_chunk(monkeypatch, tmp_path, database_url, capsys):
    monkeypatch.setenv("BLAST_HOME", str(tmp_path))
    monkeypatch.setenv("BLAST_DATABASE_URL", database_url)
    monkeypatch.setenv("BLAST_SKY", "none")
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.setattr("blast_pipeline.db.csv_import.CHUNK_SIZE", 4)
    monkeypatch.setattr("blast_pipeline.db.csv_import.CHUNK_PAUSE_SECONDS", 0)
    path = _csv(tmp_path / "batch.csv", 10)
    assert main(["import-csv", str(path)]) == 0
    out = capsys.readouterr().out
    assert "committed 4/10 rows (to line 5): 4 added, 0 skipped" in out
    assert "committed 10/10 rows (to line 11)" in out
    assert "imported 10 transient(s), skipped 0 (already in the database); 3 transaction(s)" in out
