"""The production profile end to end: 10 simulated transients with the Blast database and the
Dagster instance on PostgreSQL, the queued run coordinator and the daemon, every step on Celery
workers (one ``dagster`` worker, one ``sed`` worker), broker Redis (and RabbitMQ once). The
results must be those of the embedded default (SQLite, in-process runs)."""

from __future__ import annotations

import math
import subprocess
import uuid
from pathlib import Path

import pytest
import yaml
from sqlalchemy import MetaData, select

from blast_pipeline.db import BlastDatabase
from blast_pipeline.definitions import celery_config_source
from blast_pipeline_tests.celery_workers import (
    BIN,
    RABBITMQ_URL,
    ROOT,
    celery_workers,  # noqa: F401 - fixture
    flush_redis,
    port_open,
    redis_urls,
    wait_for,
    worker_env,
    write_celery_yaml,
)
from blast_pipeline_tests.conftest import POSTGRES_DSN, _postgres_admin

N, SEED = 10, 42
#: Columns that differ between any two runs (clock, durations, claim tokens, row numbers).
VOLATILE = {
    "added_at",
    "last_modified",
    "last_processing_time_seconds",
    "workflow_requested_at",
    "created_at",
    "claim",
    "started_at",
    "beat_at",
    "processing_seconds",
}
SKIPPED_TABLES = {"run_heartbeats", "alembic_version"}


def _cli(env: dict[str, str], *args: str, timeout: float = 900) -> str:
    done = subprocess.run(
        [str(BIN / "python"), "-m", "blast_pipeline.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, f"blast-pipeline {' '.join(args)}:\n{done.stdout}{done.stderr}"
    return done.stdout


def _base_env(home: Path) -> dict[str, str]:
    return worker_env(
        {
            "BLAST_HOME": str(home),
            "BLAST_CUTOUT_FOV_ARCSEC": "120",
            "BLAST_HEARTBEAT_INTERVAL_SECONDS": "5",
        }
    )


def _value(value, home: Path):
    """A comparable cell: paths relative to the Blast home, floats kept for isclose."""
    if isinstance(value, str) and str(home) in value:
        return value.replace(str(home), "<home>")
    return value


def _rows(url: str, home: Path) -> dict[str, list[tuple]]:
    """Every table's rows without row numbers, volatile columns and foreign keys, sorted; plus
    the (transient, host) pairs and (transient, task, status) triples the keys stood for."""
    database = BlastDatabase(url)
    metadata = MetaData()
    metadata.reflect(database.engine)
    rows: dict[str, list[tuple]] = {}
    with database.engine.connect() as connection:
        for name, table in sorted(metadata.tables.items()):
            if name in SKIPPED_TABLES:
                continue
            columns = [
                c
                for c in table.columns
                if c.name not in VOLATILE and c.name != "id" and not c.name.endswith("_id")
            ]
            found = [
                tuple(_value(v, home) for v in row) for row in connection.execute(select(*columns))
            ]
            rows[name] = sorted(found, key=_sort_key)
        t, h = metadata.tables["transients"], metadata.tables["hosts"]
        rows["transient_host"] = sorted(
            connection.execute(
                select(t.c.name, h.c.name).select_from(t.outerjoin(h, t.c.host_id == h.c.id))
            ).all(),
            key=_sort_key,
        )
        r, k, s = (metadata.tables[x] for x in ("task_register", "tasks", "statuses"))
        rows["task_status"] = sorted(
            connection.execute(
                select(t.c.name, k.c.name, s.c.message)
                .select_from(r.join(t, r.c.transient_id == t.c.id))
                .join(k, r.c.task_id == k.c.id)
                .join(s, r.c.status_id == s.c.id)
            ).all(),
            key=_sort_key,
        )
    database.dispose()
    return rows


def _sort_key(row) -> tuple:
    return tuple(f"{v:.6g}" if isinstance(v, float) else str(v) for v in row)


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) or (math.isnan(a) and math.isnan(b))
    return a == b


def _assert_identical(reference: dict, production: dict) -> None:
    assert reference.keys() == production.keys()
    for table, expected in reference.items():
        got = production[table]
        assert len(got) == len(expected), f"{table}: {len(got)} rows, expected {len(expected)}"
        for row_expected, row_got in zip(expected, got, strict=True):
            assert all(_same(a, b) for a, b in zip(row_expected, row_got, strict=True)), (
                f"{table} differs:\n  sqlite   {row_expected}\n  postgres {row_got}"
            )


def _sed_results_logged(worker_log: Path) -> int:
    """The SED inference results a worker recorded (the batch op's events, in its log)."""
    return sum(
        "ASSET_MATERIALIZATION" in line and "Global host SED inference on" in line
        for line in worker_log.read_text(errors="replace").splitlines()
    )


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The embedded default: SQLite Blast database and Dagster instance, in-process runs."""
    home = tmp_path_factory.mktemp("reference")
    dagster_home = home / "dagster_home"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {**_base_env(home), "DAGSTER_HOME": str(dagster_home)}
    _cli(env, "simulate", str(N), "--seed", str(SEED))
    _cli(env, "process")
    rows = _rows(f"sqlite:///{home / 'blast.sqlite'}", home)
    assert rows["sed_fitting_results"] and rows["aperture_photometry"], "nothing to compare"
    return rows


def _create_database(prefix: str, template: str | None = None) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = _postgres_admin()
    with admin.cursor() as cursor:
        cursor.execute(
            f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")
        )
    admin.close()
    return name


def _drop_database(name: str) -> None:
    admin = _postgres_admin()
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


def _dagster_yaml(dagster_home: Path, dagster_url: str) -> None:
    """The production instance (deploy/dagster.postgres.yaml) on this test's database."""
    config = yaml.safe_load((ROOT / "deploy" / "dagster.postgres.yaml").read_text())
    config["storage"] = {"postgres": {"postgres_url": dagster_url}}
    (dagster_home / "dagster.yaml").write_text(yaml.safe_dump(config))


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.timeout(1500)
@pytest.mark.parametrize(
    "broker_kind", ["redis", pytest.param("rabbitmq", marks=pytest.mark.extended)]
)
def test_production_profile_gives_the_embedded_results(
    broker_kind,
    reference,
    postgres_template,
    tmp_path,
    celery_workers,  # noqa: F811
):
    broker, backend = redis_urls()
    if broker_kind == "rabbitmq":
        if not port_open(5672):
            pytest.skip("RabbitMQ at 127.0.0.1:5672 cannot be reached")
        broker = RABBITMQ_URL
    home, dagster_home = tmp_path / "home", tmp_path / "dagster_home"
    home.mkdir()
    dagster_home.mkdir()
    base = POSTGRES_DSN.rsplit("/", 1)[0]
    blast_db = _create_database("blast_prod", postgres_template)
    dagster_db = _create_database("dagster_prod")
    daemon = workers = None
    try:
        _dagster_yaml(dagster_home, f"{base}/{dagster_db}")
        (tmp_path / "workspace.yaml").write_text(
            "load_from:\n  - python_module:\n      module_name: blast_pipeline.definitions\n"
            f"      working_directory: {ROOT}\n      location_name: blast_pipeline\n"
        )
        env = {
            **_base_env(home),
            "DAGSTER_HOME": str(dagster_home),
            "BLAST_DATABASE_URL": f"{base}/{blast_db}",
            "BLAST_EXECUTOR": "celery",
            "BLAST_CELERY_BROKER": broker,
            "BLAST_CELERY_BACKEND": backend,
        }
        _cli(env, "configure-instance")  # creates the instance's tables, sets the pool limits
        celery_yaml = write_celery_yaml(
            tmp_path / "celery.yaml",
            broker,
            backend,
            include=("blast_pipeline.definitions",),
            **celery_config_source(env),
        )
        workers = celery_workers(env, celery_yaml)
        workers.start("dagster", "dagster")
        workers.start("sed", "sed")
        daemon = subprocess.Popen(
            [str(BIN / "dagster-daemon"), "run", "-w", str(tmp_path / "workspace.yaml")],
            cwd=ROOT,
            env=env,
            stdout=(tmp_path / "daemon.log").open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        _cli(env, "simulate", str(N), "--seed", str(SEED))
        database = BlastDatabase(env["BLAST_DATABASE_URL"])

        def finished() -> bool:
            with database.engine.connect() as connection:
                states = list(
                    connection.exec_driver_sql("select processing_status from transients").scalars()
                )
                return len(states) == N and all(s != "processing" for s in states)

        def logs() -> str:
            return (tmp_path / "daemon.log").read_text()[-4000:] + workers.logs()

        wait_for(finished, 1200, interval=5, what=f"{N} workflows to finish", on_timeout=logs)
        database.dispose()
        production = _rows(env["BLAST_DATABASE_URL"], home)
        assert _sed_results_logged(tmp_path / "worker-sed.log"), "no SED on the sed worker"
        assert not _sed_results_logged(tmp_path / "worker-dagster.log")
    finally:
        if daemon is not None:
            workers.stop(daemon)
        if workers is not None:
            workers.stop_all()
        _drop_database(blast_db)
        _drop_database(dagster_db)
        if broker.startswith("redis"):
            flush_redis(broker)
        flush_redis(backend)
    _assert_identical(reference, production)
