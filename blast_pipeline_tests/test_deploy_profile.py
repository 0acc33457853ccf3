"""The production profile in deploy/: the Dagster instance loads from dagster.postgres.yaml with
its environment (every key checked by the installed Dagster), the compose file and the env
example agree with it, and deploy/run-all.sh starts every service (``doctor`` sees them all up)
and stops them all on Ctrl-C."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest
import yaml

from blast_pipeline_tests.conftest import POSTGRES_DSN, _postgres_admin
from blast_pipeline_tests.web.servers import REPO_ROOT, free_port

DEPLOY = REPO_ROOT / "deploy"
BIN = Path(sys.executable).parent
REDIS_DB = 1


@pytest.fixture
def postgres_databases() -> Iterator[callable]:
    """``make(prefix) -> name``: new empty PostgreSQL databases, dropped afterwards."""
    try:
        admin = _postgres_admin()
    except Exception as exc:  # pragma: no cover - depends on the machine
        pytest.skip(f"PostgreSQL at {POSTGRES_DSN} cannot be reached: {exc}")
    made: list[str] = []

    def make(prefix: str) -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        with admin.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        made.append(name)
        return name

    yield make
    with admin.cursor() as cursor:
        for name in made:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


def _instance_env(home: Path, db_name: str) -> dict[str, str]:
    return {
        "DAGSTER_HOME": str(home),
        "DAGSTER_PG_HOST": "127.0.0.1",
        "DAGSTER_PG_PORT": "5432",
        "DAGSTER_PG_USER": "postgres",
        "DAGSTER_PG_PASSWORD": "",
        "DAGSTER_PG_DB": db_name,
    }


def _dagster_home(tmp_path: Path) -> Path:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(DEPLOY / "dagster.postgres.yaml", home / "dagster.yaml")
    return home


@pytest.mark.postgres
def test_production_instance_loads_from_the_yaml(tmp_path, postgres_databases):
    import dagster as dg
    from dagster._core.run_coordinator import QueuedRunCoordinator

    home = _dagster_home(tmp_path)
    with mock.patch.dict(os.environ, _instance_env(home, postgres_databases("deploy_dagster"))):
        instance = dg.DagsterInstance.from_config(str(home))
        try:
            assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
            assert type(instance.run_launcher).__name__ == "DefaultRunLauncher"
            for storage in (
                instance.run_storage,
                instance.event_log_storage,
                instance.schedule_storage,
            ):
                assert type(storage).__name__.startswith("Postgres")
                db_revision, head = storage.alembic_version()
                assert db_revision == head
            config = instance.get_concurrency_config()
            assert config.run_queue_config.max_concurrent_runs == 16
            assert config.run_queue_config.tag_concurrency_limits[0]["key"] == "blast/system_job"
            assert config.pool_config.default_pool_limit == 8
            assert instance.run_monitoring_enabled
            assert instance.run_monitoring_max_runtime_seconds == 21600
            assert instance.run_monitoring_start_timeout_seconds == 180
            assert instance.run_monitoring_settings["free_slots_after_run_end_seconds"] == 300
            assert instance.run_retries_enabled and instance.run_retries_max_retries == 1
            assert not instance.run_retries_retry_on_asset_or_op_failure
            assert {"MONITORING", "EVENT_LOG_CONSUMER", "QUEUED_RUN_COORDINATOR"} <= set(
                instance.get_required_daemon_types()
            )
        finally:
            instance.dispose()

    env = _instance_env(home, "unused")
    del env["DAGSTER_PG_HOST"]
    with mock.patch.dict(os.environ, env), pytest.raises(Exception, match="DAGSTER_PG_HOST"):
        os.environ.pop("DAGSTER_PG_HOST", None)
        dg.DagsterInstance.from_config(str(home))


def test_the_env_example_and_compose_file_cover_the_profile():
    referenced = set()
    for name in ("dagster.postgres.yaml", "celery.yaml"):
        referenced |= set(re.findall(r"\{env: (\w+)\}", (DEPLOY / name).read_text()))
    example = (DEPLOY / "production.env.example").read_text()
    defined = set(re.findall(r"^#? ?(\w+)=", example, flags=re.MULTILINE))
    assert referenced and referenced <= defined, referenced - defined
    assert {"BLAST_DATABASE_URL", "BLAST_EXECUTOR", "DAGSTER_HOME"} <= defined

    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert {"webserver", "daemon", "code-server", "worker-dagster", "worker-sed", "web"} <= set(
        services
    )
    assert services["worker-sed"]["command"][-3:] == ["sed", "-n", "sed@%h"]
    assert services["migrate"]["command"][-1].startswith("blast-pipeline migrate")
    for command in (services[s]["command"] for s in services if "command" in services[s]):
        for word in command:
            if isinstance(word, str) and word.startswith("deploy/"):
                assert (REPO_ROOT / word).is_file(), word
    assert (DEPLOY / compose["services"]["migrate"]["build"]["dockerfile"].split("/")[-1]).is_file()


def _groups(output: str) -> dict[str, int]:
    return {m[0]: int(m[1]) for m in re.findall(r"started (\S+) \(pid (\d+),", output)}


def _alive(pgid: int, grace_seconds: float = 10.0) -> bool:
    """Whether a process of group ``pgid`` still runs after ``grace_seconds`` (zombies, killed
    processes their parent or a container's PID 1 has not reaped yet, do not count)."""
    deadline = time.monotonic() + grace_seconds
    while True:
        running = False
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                running = True
                break
        if not running or time.monotonic() > deadline:
            return running
        time.sleep(0.5)


@pytest.mark.postgres
@pytest.mark.slow
def test_run_all_starts_every_service_and_ctrl_c_stops_them(tmp_path, postgres_databases):
    import redis

    from blast_pipeline.doctor import down_parts, run_checks

    try:
        redis.Redis(port=6379, db=REDIS_DB, socket_connect_timeout=2).ping()
    except Exception as exc:  # pragma: no cover - depends on the machine
        pytest.skip(f"Redis cannot be reached: {exc}")
    home = _dagster_home(tmp_path)
    blast_db = postgres_databases("deploy_blast")
    env = {
        **_instance_env(home, postgres_databases("deploy_dagster")),
        "BLAST_ENV_FILE": "/nonexistent",
        "BLAST_HOME": str(tmp_path / "blast_home"),
        "BLAST_DATABASE_URL": POSTGRES_DSN.rsplit("/", 1)[0] + f"/{blast_db}",
        "BLAST_SKY": "none",
        "BLAST_EXECUTOR": "celery",
        "BLAST_CELERY_BROKER": f"redis://127.0.0.1:6379/{REDIS_DB}",
        "BLAST_CELERY_BACKEND": f"redis://127.0.0.1:6379/{REDIS_DB}",
        "BLAST_MIN_FREE_DISK_GB": "0.001",
        "BLAST_WEBSERVER_PORT": str(free_port()),
        "BLAST_WEB_PORT": str(free_port()),
        "BLAST_CODE_SERVER_PORT": str(free_port()),
        "BLAST_LOG_DIR": str(tmp_path / "logs"),
        "PYTHONPATH": str(REPO_ROOT),
        "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
    }
    env["BLAST_DAGSTER_WEBSERVER_URL"] = f"http://127.0.0.1:{env['BLAST_WEBSERVER_PORT']}"
    out = tmp_path / "run-all.out"
    script = subprocess.Popen(
        [str(DEPLOY / "run-all.sh")],
        env={**os.environ, **env},
        stdout=out.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    groups: dict[str, int] = {}
    try:
        deadline, checks = time.monotonic() + 480, []
        while time.monotonic() < deadline:
            assert script.poll() is None, out.read_text()
            with mock.patch.dict(os.environ, env):
                checks = run_checks()
            if not down_parts(checks) and len(_groups(out.read_text())) == 6:
                break
            time.sleep(3)
        logs = "\n".join(
            f"--- {p.name}\n{p.read_text()[-1500:]}" for p in (tmp_path / "logs").glob("*.log")
        )
        assert not down_parts(checks), f"{checks}\n{out.read_text()}\n{logs}"
        text = out.read_text()
        assert "from (empty) to" in text  # the script migrated the Blast database
        groups = _groups(text)
        assert set(groups) == {
            "code-server",
            "webserver",
            "daemon",
            "worker-dagster",
            "worker-sed",
            "web",
        }
        from urllib.request import urlopen

        with urlopen(f"http://127.0.0.1:{env['BLAST_WEB_PORT']}/health", timeout=30) as reply:
            assert reply.status == 200

        script.send_signal(signal.SIGINT)  # what Ctrl-C sends
        assert script.wait(timeout=120) == 130
        assert "run-all: stopped" in out.read_text()
        assert [name for name, pgid in groups.items() if _alive(pgid)] == []
    finally:
        if script.poll() is None:
            os.killpg(script.pid, signal.SIGKILL)
            script.wait()
        for pgid in (groups or _groups(out.read_text())).values():
            if _alive(pgid, grace_seconds=0):
                os.killpg(pgid, signal.SIGKILL)
        redis.Redis(port=6379, db=REDIS_DB).flushdb()


@pytest.mark.postgres
@pytest.mark.slow
def test_run_all_stops_everything_when_one_service_dies(tmp_path, postgres_databases):
    home = _dagster_home(tmp_path)
    env = {
        **_instance_env(home, postgres_databases("deploy_dagster")),
        "BLAST_ENV_FILE": "/nonexistent",
        "BLAST_HOME": str(tmp_path / "blast_home"),
        "BLAST_DATABASE_URL": POSTGRES_DSN.rsplit("/", 1)[0] + f"/{postgres_databases('b')}",
        "BLAST_SKY": "none",
        "BLAST_WEBSERVER_PORT": str(free_port()),
        "BLAST_WEB_PORT": str(free_port()),
        "BLAST_CODE_SERVER_PORT": str(free_port()),
        "BLAST_LOG_DIR": str(tmp_path / "logs"),
        "PYTHONPATH": str(REPO_ROOT),
        "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
    }
    out = tmp_path / "run-all.out"
    script = subprocess.Popen(
        [str(DEPLOY / "run-all.sh")],
        env={**os.environ, **env},
        stdout=out.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    groups: dict[str, int] = {}
    try:
        deadline = time.monotonic() + 300
        while "web" not in groups and time.monotonic() < deadline:
            assert script.poll() is None, out.read_text()
            groups = _groups(out.read_text())
            time.sleep(1)
        assert set(groups) == {"code-server", "webserver", "daemon", "web"}  # no Celery workers
        os.killpg(groups["web"], signal.SIGKILL)
        assert script.wait(timeout=120) == 1
        text = out.read_text()
        assert "run-all: web exited" in text and "run-all: stopped" in text
        assert [name for name, pgid in groups.items() if _alive(pgid)] == []
    finally:
        if script.poll() is None:
            os.killpg(script.pid, signal.SIGKILL)
            script.wait()
        for pgid in (groups or _groups(out.read_text())).values():
            if _alive(pgid, grace_seconds=0):
                os.killpg(pgid, signal.SIGKILL)
