"""The blast-pipeline command line, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from blast_pipeline.cli import main


@pytest.fixture
def env(monkeypatch, tmp_path, database_url):
    monkeypatch.setenv("BLAST_HOME", str(tmp_path))
    monkeypatch.setenv("BLAST_DATABASE_URL", database_url)
    monkeypatch.setenv("BLAST_SKY", "none")
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    return tmp_path


def test_add_then_list_and_status(env, capsys):
    assert main(["add", "2024abc", "150.1", "2.2", "--redshift", "0.03"]) == 0
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "2024abc" in out and "0.0300" in out and "1 transient(s)" in out
    assert main(["status", "2024abc"]) == 0
    assert "2024abc: 0% processing" in capsys.readouterr().out


def test_add_rejects_bad_input_and_keeps_what_is_stored(env, capsys):
    assert main(["add", "2024abc", "150.1", "2.2"]) == 0
    assert main(["add", "2024abc", "10", "2"]) == 2
    assert "already in the Blast database" in capsys.readouterr().err
    assert main(["add", "../x", "10", "2"]) == 2
    assert "may contain only" in capsys.readouterr().err
    assert main(["add", "2024new", "400", "2"]) == 2
    assert "RA 400.0 deg is outside [0, 360)" in capsys.readouterr().err
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "1 transient(s)" in out and "150.10000" in out


def test_import_csv(env, tmp_path, capsys):
    path = tmp_path / "batch.csv"
    path.write_text(
        "name,ra,dec,redshift\n2022example1,123.45,-30.34,\n2022example2,120.3,20.03,0.05\n"
    )
    assert main(["import-csv", str(path)]) == 0
    assert "imported 2 transient(s), skipped 0" in capsys.readouterr().out
    assert main(["import-csv", str(path)]) == 0
    assert "imported 0 transient(s), skipped 2" in capsys.readouterr().out


def test_import_csv_validates_every_row_before_writing(env, tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text("name,ra,dec\n2022ok,10,10\nSN2022bad,10,10\n2022nan,abc,1\n")
    assert main(["import-csv", str(path)]) == 2
    err = capsys.readouterr().err
    assert "bad.csv:3:" in err and "SN/AT prefix" in err and "bad.csv:4:" in err
    main(["list"])
    assert "no transients" in capsys.readouterr().out


def test_import_csv_missing_columns(env, tmp_path, capsys):
    path = tmp_path / "cols.csv"
    path.write_text("name,ra\nx1,1\n")
    assert main(["import-csv", str(path)]) == 2
    assert "missing column(s) dec" in capsys.readouterr().err


def test_status_of_unknown_transient(env, capsys):
    assert main(["status", "2099zzz"]) == 2
    assert "no transient named '2099zzz'" in capsys.readouterr().err


def test_reprocess_unknown_task(env, capsys):
    main(["add", "2024abc", "150.1", "2.2"])
    assert main(["reprocess", "2024abc", "--from", "Nope"]) == 2
    assert "no transient task named 'Nope'" in capsys.readouterr().err


def test_configure_instance_sets_pool_limits(env, tmp_path, monkeypatch, capsys):
    import dagster as dg

    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    assert main(["configure-instance"]) == 0
    assert "tns=1" in capsys.readouterr().out
    with dg.DagsterInstance.get() as instance:
        assert instance.event_log_storage.get_concurrency_info("redshift_services").slot_count == 1


@pytest.mark.parametrize(
    ("failed_runs", "failed_tasks", "code"),
    [(0, [], 0), (0, ["Host match on 2024abc"], 1), (1, [], 1)],
)
def test_process_exits_non_zero_when_a_run_or_a_task_failed(
    env, monkeypatch, capsys, failed_runs, failed_tasks, code
):
    """`process` prints the summary and its exit code says whether anything failed."""
    import blast_pipeline.orchestration as orchestration

    summary = orchestration.ProcessSummary(
        runs=1, failed_runs=failed_runs, failed_tasks=failed_tasks
    )
    monkeypatch.setattr(orchestration, "process_pending", lambda max_ticks: summary)
    assert main(["process"]) == code
    assert f"{len(failed_tasks)} task(s) failed" in capsys.readouterr().out
