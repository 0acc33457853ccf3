"""Bad input (issue 13, item 8): one clear line naming the field, file and line, exit code 2, no
traceback, nothing stored lost; the same rules for ``add`` and ``import-csv``."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select, text

from blast_pipeline.cli import main
from blast_pipeline.db import BlastDatabase
from blast_pipeline.db.models import Transient
from blast_pipeline.transient_input import TransientInputError, parse_number


@pytest.fixture
def env(monkeypatch, tmp_path, database_url):
    monkeypatch.setenv("BLAST_HOME", str(tmp_path))
    monkeypatch.setenv("BLAST_DATABASE_URL", database_url)
    monkeypatch.setenv("BLAST_SKY", "none")
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    return tmp_path


@pytest.fixture
def sqlite_env(monkeypatch, tmp_path):
    url = f"sqlite:///{tmp_path / 'blast.sqlite'}"
    monkeypatch.setenv("BLAST_HOME", str(tmp_path))
    monkeypatch.setenv("BLAST_DATABASE_URL", url)
    monkeypatch.setenv("BLAST_SKY", "none")
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    return tmp_path


def _names(env_path, url=None) -> list[str]:
    import os

    database = BlastDatabase(url or os.environ["BLAST_DATABASE_URL"])
    database.migrate()  # a refused command may not have opened it
    try:
        with database.session() as session:
            return sorted(session.scalars(select(Transient.name)))
    finally:
        database.dispose()


def _csv(tmp_path, content: str | bytes, name: str = "batch.csv"):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def _refused(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.startswith("blast-pipeline: error: ")
    return err


# ---- CSV format -----------------------------------------------------------------------------


def test_csv_with_utf8_bom_is_accepted(sqlite_env, capsys):
    path = _csv(sqlite_env, "\ufeffname,ra,dec\r\n2024bom,10.5,-3.25\r\n")
    assert main(["import-csv", str(path)]) == 0
    assert _names(sqlite_env) == ["2024bom"]


def test_field_longer_than_the_csv_limit_names_file_and_line(sqlite_env, capsys):
    path = _csv(sqlite_env, "name,ra,dec\n2024ok,1,1\n2024big,1," + "9" * 140_000 + "\n")
    err = _refused(capsys, ["import-csv", str(path)])
    assert "batch.csv:3: a field is longer than 131,072 characters" in err
    assert _names(sqlite_env) == []


def test_duplicated_header_column_is_refused(sqlite_env, capsys):
    path = _csv(sqlite_env, "name,ra,dec,ra\n2024dup,1,2,3\n")
    err = _refused(capsys, ["import-csv", str(path)])
    assert "batch.csv:1: column 'ra' appears 2 times" in err


def test_extra_and_missing_fields_are_refused(sqlite_env, capsys):
    path = _csv(sqlite_env, "name,ra,dec\n2024ok,1,2\n2024extra,1,2,0.1\n2024short,1\n")
    err = _refused(capsys, ["import-csv", str(path)])
    assert "batch.csv:3: 4 fields where the header has 3" in err
    assert "batch.csv:4: 2 fields where the header has 3" in err
    assert _names(sqlite_env) == []


def test_unknown_column_is_refused(sqlite_env, capsys):
    path = _csv(sqlite_env, "name,ra,dec,host\n2024x,1,2,NGC1\n")
    assert "unknown column 'host'" in _refused(capsys, ["import-csv", str(path)])


def test_undecodable_bytes_name_file_and_line(sqlite_env, capsys):
    path = _csv(sqlite_env, b"name,ra,dec\n2024a1,1,2\n2024\xe9t\xe9,1,2\n")
    err = _refused(capsys, ["import-csv", str(path)])
    assert "batch.csv:3: byte 0xe9 at column 5 is not UTF-8" in err


def test_directory_is_not_no_such_file(sqlite_env, capsys):
    folder = sqlite_env / "a_folder"
    folder.mkdir()
    err = _refused(capsys, ["import-csv", str(folder)])
    assert "is a directory" in err and "no such file" not in err


# ---- the same rules for add and import-csv ----------------------------------------------------


def test_whitespace_in_names_is_refused_by_both(sqlite_env, capsys):
    add_err = _refused(capsys, ["add", " 2024abc", "10", "2"])
    path = _csv(sqlite_env, "name,ra,dec\n 2024abc,10,2\n")
    csv_err = _refused(capsys, ["import-csv", str(path)])
    assert "leading or trailing whitespace" in add_err
    assert "batch.csv:2: transient name ' 2024abc' has leading or trailing whitespace" in csv_err
    assert _names(sqlite_env) == []


def test_nan_redshift_is_refused_by_both(sqlite_env, capsys):
    add_err = _refused(capsys, ["add", "2024abc", "10", "2", "--redshift", "nan"])
    path = _csv(sqlite_env, "name,ra,dec,redshift\n2024abc,10,2,nan\n")
    csv_err = _refused(capsys, ["import-csv", str(path)])
    message = "transient '2024abc': redshift 'nan' is not a decimal number"
    assert message in add_err and f"batch.csv:2: {message}" in csv_err
    assert _names(sqlite_env) == []


@pytest.mark.parametrize("value", ["1_0", "\u0661\u0665\u0660", "0x10", "inf", "1e5e"])
def test_float_oddities_are_refused_by_both(sqlite_env, capsys, value):
    add_err = _refused(capsys, ["add", "2024abc", value, "2"])
    path = _csv(sqlite_env, f"name,ra,dec\n2024abc,{value},2\n")
    csv_err = _refused(capsys, ["import-csv", str(path)])
    message = f"transient '2024abc': ra {value!r} is not a decimal number"
    assert message in add_err and f"batch.csv:2: {message}" in csv_err


def test_plain_decimals_are_accepted():
    assert parse_number(" -2.5e-1 ", "dec") == -0.25
    assert parse_number("150.", "ra") == 150.0 and parse_number(".5", "z") == 0.5
    with pytest.raises(TransientInputError, match="must be a number"):
        parse_number(True, "ra")


# ---- duplicates -----------------------------------------------------------------------------


def test_names_differing_only_in_case_are_refused(env, capsys):
    assert main(["add", "2024abc", "10", "2"]) == 0
    err = _refused(capsys, ["add", "2024ABC", "100", "20"])
    assert "'2024ABC' clashes with '2024abc': names may not differ only in case" in err
    path = _csv(env, "name,ra,dec\n2024new,50,5\n2024Abc,60,6\n")
    err = _refused(capsys, ["import-csv", str(path)])
    assert "'2024Abc' clashes with '2024abc'" in err
    within = _csv(env, "name,ra,dec\n2024x1,50,5\n2024X1,60,6\n", "within.csv")
    err = _refused(capsys, ["import-csv", str(within)])
    assert "within.csv:3: transient '2024X1' repeats the name on line 2" in err
    assert _names(env) == ["2024abc"]


def test_a_transient_within_one_arcsec_is_refused(env, capsys):
    assert main(["add", "2024abc", "150.0", "2.0"]) == 0
    near = 150.0 + 0.5 / 3600  # 0.5" in RA at Dec 2: 0.4997"
    err = _refused(capsys, ["add", "2024near", f"{near:.9f}", "2.0"])
    assert "is 0.50\" from '2024abc'" in err and 'within 1"' in err
    path = _csv(env, f"name,ra,dec\n2024fine,10,10\n2024near,150.0,{2.0 + 0.8 / 3600:.9f}\n")
    assert "'2024near'" in _refused(capsys, ["import-csv", str(path)])
    # two rows of one file, across RA 0/360
    wrap = _csv(env, "name,ra,dec\n2024w1,359.99999,0\n2024w2,0.00001,0\n", "wrap.csv")
    assert "wrap.csv:3: transient '2024w2'" in _refused(capsys, ["import-csv", str(wrap)])
    # 2" away is another transient; Blast's RA box (15") would have refused it
    far = 150.0 + 2.0 / 3600
    assert main(["add", "2024far", f"{far:.9f}", "2.0"]) == 0
    assert _names(env) == ["2024abc", "2024far"]


def test_reimport_skips_stored_names_but_refuses_clashes(env, capsys):
    path = _csv(env, "name,ra,dec\n2024a1,10,1\n2024a2,20,2\n")
    assert main(["import-csv", str(path)]) == 0
    assert main(["import-csv", str(path)]) == 0
    assert "imported 0 transient(s), skipped 2" in capsys.readouterr().out


def test_simultaneous_add_of_one_name_is_a_clean_error(env, capsys, database_url):
    """Another process inserts the name between this add's check and its insert: the unique
    key refuses it, reported as a duplicate, not an IntegrityError traceback."""
    database = BlastDatabase(database_url)
    other = database._sessions()
    other.add(Transient(name="2024race", display_name="2024race", ra_deg=10.0, dec_deg=1.0))
    other.flush()  # inserted, not committed: holds the name's key (and SQLite's write lock)
    result: dict[str, int] = {}
    thread = threading.Thread(target=lambda: result.update(rc=main(["add", "2024race", "20", "3"])))
    thread.start()
    _wait_until_blocked(database, database_url)
    other.commit()
    other.close()
    thread.join(60)
    database.dispose()
    assert result.get("rc") == 2
    err = capsys.readouterr().err
    assert "'2024race' is already in the Blast database (added by another process" in err
    assert "Traceback" not in err and "IntegrityError" not in err
    assert _names(env) == ["2024race"]


def _wait_until_blocked(database: BlastDatabase, url: str) -> None:
    """Until the add waits on the uncommitted row (PostgreSQL: a lock wait is visible;
    SQLite: a fixed delay, the add then waits on the write lock)."""
    if not url.startswith("postgresql"):
        time.sleep(3.0)
        return
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with database.engine.connect() as connection:
            waiting = connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND query ILIKE 'INSERT INTO transients%'"
                )
            ).scalar()
        if waiting:
            return
        time.sleep(0.05)
    raise AssertionError("the concurrent add never reached its insert")


# ---- commands and configuration ---------------------------------------------------------------


def test_reprocess_from_empty_task_is_refused(sqlite_env, capsys):
    assert main(["add", "2024abc", "10", "2"]) == 0
    err = _refused(capsys, ["reprocess", "2024abc", "--from", ""])
    assert "--from: empty task name" in err
    capsys.readouterr()
    assert main(["status", "2024abc"]) == 0  # nothing was reset or requested
    assert "2024abc: 0% processing" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("BLAST_WORKFLOW_BATCH_SIZE", "abc", "BLAST_WORKFLOW_BATCH_SIZE must be an integer"),
        ("BLAST_WORKFLOW_BATCH_SIZE", "0", "BLAST_WORKFLOW_BATCH_SIZE must be >= 1"),
        ("BLAST_SKY_SEED", "abc", "BLAST_SKY_SEED must be an integer, got 'abc'"),
        ("BLAST_CUTOUT_FOV_ARCSEC", "wide", "BLAST_CUTOUT_FOV_ARCSEC must be a number"),
        ("BLAST_DATABASE_URL", "nonsense://x", "BLAST_DATABASE_URL nonsense://x: unknown"),
        ("BLAST_DATABASE_URL", "not a url", "BLAST_DATABASE_URL is not a database URL"),
        (
            "BLAST_DATABASE_URL",
            "postgresql://postgres:hunter2@127.0.0.1:1/x",
            "BLAST_DATABASE_URL postgresql://postgres:***@127.0.0.1:1/x: cannot open",
        ),
    ],
)
def test_configuration_errors_name_the_variable(
    sqlite_env, capsys, monkeypatch, variable, value, expected
):
    monkeypatch.setenv(variable, value)
    err = _refused(capsys, ["list"])
    assert expected in err and "hunter2" not in err


def test_blast_home_that_is_a_file_names_the_variable(sqlite_env, capsys, monkeypatch):
    home = sqlite_env / "a_file"
    home.write_text("not a folder")
    monkeypatch.setenv("BLAST_HOME", str(home))
    monkeypatch.delenv("BLAST_DATABASE_URL")
    err = _refused(capsys, ["list"])
    assert f"BLAST_HOME {home}: exists and is not a folder" in err
    assert home.read_text() == "not a folder"


def test_bad_batch_size_fails_process_cleanly(sqlite_env, capsys, monkeypatch):
    monkeypatch.setenv("BLAST_WORKFLOW_BATCH_SIZE", "abc")
    assert "BLAST_WORKFLOW_BATCH_SIZE must be an integer" in _refused(capsys, ["process"])
