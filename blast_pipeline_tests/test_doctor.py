"""``blast-pipeline doctor`` against real services: the Dagster webserver and daemon on the
production instance (deploy/dagster.postgres.yaml on PostgreSQL), the Blast database on
PostgreSQL, Redis as broker with one Celery worker per queue; all up, then each part down one
at a time (a closed port, a stopped process, a missing file)."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import numpy as np
import pytest

from blast_pipeline.cli import main
from blast_pipeline.db import BlastDatabase
from blast_pipeline.doctor import down_parts, run_checks
from blast_pipeline.health_checks import DOWN, NOT_CONFIGURED, OK, check_sed_posterior
from blast_pipeline_tests.conftest import POSTGRES_DSN, _postgres_admin
from blast_pipeline_tests.web.servers import REPO_ROOT, free_port, start, stop, wait_for_http

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
BIN = Path(sys.executable).parent
#: Redis database of these tests (Celery's control channels are scoped by database).
REDIS_DB = 1
ALL_PARTS = {
    "webserver",
    "daemon",
    "dagster database",
    "blast database",
    "broker",
    "workers: dagster",
    "workers: sed",
    "file store",
    "dust map",
    "sed posterior",
}


def _wait(predicate, timeout: float, what: str, logs: Path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(1)
    tails = "\n".join(f"--- {p.name}\n{p.read_text()[-2000:]}" for p in logs.glob("*.log"))
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}\n{tails}")


def _write_dust_map(folder: Path) -> None:
    from astropy.io import fits

    folder.mkdir(parents=True)
    for name in ("SFD_dust_4096_ngp.fits", "SFD_dust_4096_sgp.fits"):
        fits.PrimaryHDU(np.full((8, 8), 0.02, dtype=np.float32)).writeto(folder / name)


class Deployment:
    """The services of one machine, and the environment ``doctor`` reads them from."""

    def __init__(self, root: Path) -> None:
        self.root, self.env, self.processes = root, {}, {}

    def check(self, **overrides: str) -> dict:
        with mock.patch.dict(os.environ, {**self.env, **overrides}):
            return {c.part: c for c in run_checks()}

    def start(self, name: str, command: list[str]) -> None:
        env = {**os.environ, **self.env, "PYTHONPATH": str(REPO_ROOT)}
        self.processes[name] = start(command, env, self.root / f"{name}.log")

    def stop(self, name: str) -> None:
        stop(self.processes.pop(name))

    def worker(self, queue: str) -> None:
        self.start(
            f"worker-{queue}",
            [
                str(BIN / "celery"),
                "-A",
                "blast_pipeline_tests.doctor_celery_app",
                "worker",
                "-Q",
                queue,
                "-n",
                f"doctor-{queue}-{uuid.uuid4().hex[:8]}@%h",
                "--pool=solo",
                "--without-gossip",
                "--without-mingle",
                "-l",
                "INFO",
            ],
        )


@pytest.fixture(scope="module")
def deployment(tmp_path_factory) -> Iterator[Deployment]:
    import dagster as dg
    import redis

    try:
        admin = _postgres_admin()
        redis.Redis(port=6379, db=REDIS_DB, socket_connect_timeout=2).ping()
    except Exception as exc:  # pragma: no cover - depends on the machine
        pytest.skip(f"PostgreSQL or Redis cannot be reached: {exc}")
    root = tmp_path_factory.mktemp("doctor")
    uid = uuid.uuid4().hex[:10]
    dagster_db, blast_db = f"doctor_dagster_{uid}", f"doctor_blast_{uid}"
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{dagster_db}"')
        cursor.execute(f'CREATE DATABASE "{blast_db}"')
    blast_url = POSTGRES_DSN.rsplit("/", 1)[0] + f"/{blast_db}"
    home = root / "dagster_home"
    home.mkdir()
    shutil.copy(REPO_ROOT / "deploy" / "dagster.postgres.yaml", home / "dagster.yaml")
    (root / "workspace.yaml").write_text("load_from: []\n")  # /server_info needs no code
    _write_dust_map(root / "sfd")
    deployment = Deployment(root)
    deployment.env = {
        "DAGSTER_HOME": str(home),
        "DAGSTER_PG_HOST": "127.0.0.1",
        "DAGSTER_PG_PORT": "5432",
        "DAGSTER_PG_USER": "postgres",
        "DAGSTER_PG_PASSWORD": "",
        "DAGSTER_PG_DB": dagster_db,
        "BLAST_HOME": str(root / "blast_home"),
        "BLAST_DATABASE_URL": blast_url,
        "BLAST_SKY": "none",
        "BLAST_DUST_MAP_DIR": str(root / "sfd"),
        "BLAST_CELERY_BROKER": f"redis://127.0.0.1:6379/{REDIS_DB}",
        "BLAST_MIN_FREE_DISK_GB": "0.001",
    }
    try:
        BlastDatabase(blast_url).migrate()
        with mock.patch.dict(os.environ, deployment.env):  # the schema, before two processes
            dg.DagsterInstance.get().dispose()
        port = free_port()
        deployment.env["BLAST_DAGSTER_WEBSERVER_URL"] = f"http://127.0.0.1:{port}"
        workspace = str(root / "workspace.yaml")
        deployment.start(
            "webserver",
            [str(BIN / "dagster-webserver"), "-w", workspace, "-h", "127.0.0.1", "-p", str(port)],
        )
        deployment.start("daemon", [str(BIN / "dagster-daemon"), "run", "-w", workspace])
        deployment.worker("dagster")
        deployment.worker("sed")
        wait_for_http(
            f"http://127.0.0.1:{port}/server_info",
            deployment.processes["webserver"],
            180,
            root / "webserver.log",
        )
        _wait(
            lambda: not down_parts(deployment.check().values()),
            240,
            "every part up (daemon heartbeats, workers)",
            root,
        )
        yield deployment
    finally:
        for name in list(deployment.processes):
            deployment.stop(name)
        redis.Redis(port=6379, db=REDIS_DB).flushdb()
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{dagster_db}" WITH (FORCE)')
            cursor.execute(f'DROP DATABASE IF EXISTS "{blast_db}" WITH (FORCE)')
        admin.close()


def test_all_up(deployment, capsys):
    checks = deployment.check()
    assert set(checks) == ALL_PARTS
    assert {c.state for c in checks.values()} == {OK}, checks
    assert "dagster-webserver 1.13" in checks["webserver"].detail
    assert "live: doctor-sed-" in checks["workers: sed"].detail
    with mock.patch.dict(os.environ, deployment.env):
        assert main(["doctor", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and report["down"] == []
    assert {c["part"] for c in report["checks"]} == ALL_PARTS


def _closed_port() -> int:
    return free_port()  # free a moment ago: nothing listens there


@pytest.mark.parametrize(
    ("overrides", "down", "detail"),
    [
        (
            lambda root: {"BLAST_DAGSTER_WEBSERVER_URL": f"http://127.0.0.1:{_closed_port()}"},
            {"webserver"},
            "Connection refused",
        ),
        (  # the daemon is judged by its heartbeats in this storage: it cannot be read either
            lambda root: {"DAGSTER_PG_PORT": str(_closed_port())},
            {"dagster database", "daemon"},
            "Connection refused",
        ),
        (
            lambda root: {
                "BLAST_DATABASE_URL": f"postgresql://postgres:s3cret@127.0.0.1:{_closed_port()}/x"
            },
            {"blast database"},
            "postgres:***@127.0.0.1",
        ),
        (
            lambda root: {"BLAST_CELERY_BROKER": f"redis://127.0.0.1:{_closed_port()}/0"},
            {"broker", "workers: dagster", "workers: sed"},
            "redis://127.0.0.1",
        ),
        (
            lambda root: {"BLAST_DATA_ROOT": str(root / "workspace.yaml")},  # a file
            {"file store"},
            "workspace.yaml",
        ),
        (
            lambda root: {"BLAST_MIN_FREE_DISK_GB": "1000000"},
            {"file store"},
            "BLAST_MIN_FREE_DISK_GB=1e+06",
        ),
        (
            lambda root: {"BLAST_DUST_MAP_DIR": str(root)},
            {"dust map"},
            "missing SFD_dust_4096_ngp.fits, SFD_dust_4096_sgp.fits",
        ),
    ],
    ids=["webserver", "dagster-db", "blast-db", "broker", "file-store", "free-space", "dust-map"],
)
def test_one_part_down(deployment, capsys, overrides, down, detail):
    env = overrides(deployment.root)
    checks = deployment.check(**env)
    assert set(down_parts(checks.values())) == down, checks
    first = sorted(down)[0]
    assert detail in checks[first].detail and "s3cret" not in checks[first].detail
    with mock.patch.dict(os.environ, {**deployment.env, **env}):
        assert main(["doctor"]) == 1
    captured = capsys.readouterr()
    assert f"down: {', '.join(c for c in checks if c in down)}" in captured.err
    assert "Traceback" not in captured.err + captured.out and "s3cret" not in captured.out


def test_unmigrated_blast_database_is_down(deployment):
    admin = _postgres_admin()
    name = f"doctor_empty_{uuid.uuid4().hex[:10]}"
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        url = POSTGRES_DSN.rsplit("/", 1)[0] + f"/{name}"
        check = deployment.check(BLAST_DATABASE_URL=url)["blast database"]
        assert check.state == DOWN and "empty" in check.detail
        assert "run `blast-pipeline migrate`" in check.detail
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def test_truncated_sed_posterior_is_down(tmp_path):
    from blast_pipeline.science.sed.posterior import DEFAULT_POSTERIOR_PATH

    assert check_sed_posterior().state == OK
    truncated = tmp_path / "sed_posterior.pt"
    truncated.write_bytes(Path(DEFAULT_POSTERIOR_PATH).read_bytes()[:5000])
    assert check_sed_posterior(truncated).state == DOWN
    assert check_sed_posterior(tmp_path / "absent.pt").detail.endswith("missing")


def test_stopped_worker_then_stopped_daemon(deployment):
    deployment.stop("worker-sed")
    checks = deployment.check()
    assert set(down_parts(checks.values())) == {"workers: sed"}
    assert "no live worker consumes queue 'sed'" in checks["workers: sed"].detail
    assert checks["workers: dagster"].state == OK

    deployment.stop("daemon")  # its last heartbeats age past interval (30 s) + tolerance
    checks = _wait(
        lambda: (
            (c := deployment.check(DAGSTER_DAEMON_HEARTBEAT_TOLERANCE="1"))["daemon"].down and c
        ),
        90,
        "the stopped daemon's heartbeats to go stale",
        deployment.root,
    )
    assert set(down_parts(checks.values())) == {"workers: sed", "daemon"}
    assert "no recent heartbeat from" in checks["daemon"].detail


def test_embedded_default_reports_unused_parts_not_configured(tmp_path, monkeypatch):
    for name in list(os.environ):
        if name.startswith(("BLAST_", "DAGSTER_PG_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("BLAST_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    (tmp_path / "dagster.yaml").write_text(
        f"storage:\n  sqlite:\n    base_dir: {tmp_path / 'storage'}\ntelemetry:\n  enabled: false\n"
    )
    monkeypatch.setenv("BLAST_DAGSTER_WEBSERVER_URL", f"http://127.0.0.1:{_closed_port()}")
    checks = {c.part: c for c in run_checks()}
    assert checks["broker"].state == NOT_CONFIGURED
    assert checks["workers: dagster"].state == NOT_CONFIGURED
    assert checks["blast database"].state == OK  # SQLite: created and migrated on first use
    assert checks["dagster database"].state == OK
    assert set(down_parts(checks.values())) == {"webserver", "daemon"}  # nothing runs here


def test_rabbitmq_broker_up_and_refusing_a_bad_password():
    from blast_pipeline.health_checks import check_broker

    if not _port_open(5672):
        pytest.skip("RabbitMQ at 127.0.0.1:5672 cannot be reached")
    assert check_broker("pyamqp://guest:guest@127.0.0.1:5672//").state == OK
    refused = check_broker("pyamqp://guest:wrong-pw@127.0.0.1:5672//")
    assert refused.state == DOWN and "wrong-pw" not in refused.detail
    assert "guest:***@127.0.0.1:5672" in refused.detail


def _port_open(port: int) -> bool:
    import socket

    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return True
    except OSError:
        return False
