"""The production profile on this machine, for the benchmarks: the Blast database and the
Dagster instance on fresh PostgreSQL databases (``deploy/dagster.postgres.yaml``), every step on
Celery workers (``-q dagster`` and ``-q sed``, broker Redis or RabbitMQ). Everything it starts
or creates is stopped or dropped on exit, SIGINT and SIGTERM included (the scripts turn those
into ``sys.exit``, which runs the ``finally`` of ``production_profile``)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml
from _common import pg_admin

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


def add_production_arguments(parser) -> None:
    parser.add_argument(
        "--profile",
        choices=("embedded", "production"),
        default="embedded",
        help="production: PostgreSQL (both databases) and Celery workers on this machine",
    )
    parser.add_argument("--workers", type=int, default=1, help="production: dagster-queue workers")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/12", help="production")
    parser.add_argument("--backend", default="redis://127.0.0.1:6379/13", help="production")
    parser.add_argument("--pg-url", default="postgresql+psycopg2://postgres@127.0.0.1:5432")


def _admin(pg_url: str, sql: str) -> None:
    """``pg_admin`` on the server of ``pg_url`` (``postgresql+psycopg2://user@host:port``)."""
    from sqlalchemy.engine import make_url

    url = make_url(pg_url)
    pg_admin(url.host or "127.0.0.1", url.port or 5432, sql)


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM to the process group (warm shutdown), SIGKILL after 30 s; then SIGKILL to what
    outlived the leader (a daemon's code servers ignore SIGTERM once it is gone)."""
    for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


@contextmanager
def production_profile(tmp: Path, args) -> Iterator[dict[str, str]]:
    """Create both databases, write the instance and worker settings, start the workers; yield
    the environment of the production processes (daemon, run workers, this process)."""
    from blast_pipeline.db import BlastDatabase
    from blast_pipeline.definitions import celery_config_source

    tag = uuid.uuid4().hex[:8]
    blast_db, dagster_db = f"bench_blast_{tag}", f"bench_dagster_{tag}"
    dagster_home = tmp / "dagster_home"
    dagster_home.mkdir(exist_ok=True)
    workers: list[subprocess.Popen] = []
    created: list[str] = []
    try:
        for name in (blast_db, dagster_db):
            _admin(args.pg_url, f'CREATE DATABASE "{name}"')
            created.append(name)
        config = yaml.safe_load((ROOT / "deploy" / "dagster.postgres.yaml").read_text())
        config["storage"] = {"postgres": {"postgres_url": f"{args.pg_url}/{dagster_db}"}}
        (dagster_home / "dagster.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        env = {
            **os.environ,
            "DAGSTER_HOME": str(dagster_home),
            "BLAST_DATABASE_URL": f"{args.pg_url}/{blast_db}",
            "BLAST_EXECUTOR": "celery",
            "BLAST_CELERY_BROKER": args.broker,
            "BLAST_CELERY_BACKEND": args.backend,
            "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        database = BlastDatabase(env["BLAST_DATABASE_URL"])
        database.migrate()  # before any worker or run opens it
        database.dispose()
        source = celery_config_source(env)
        celery_yaml = {
            "execution": {
                "config": {
                    "broker": args.broker,
                    "backend": args.backend,
                    "include": ["blast_pipeline.definitions"],
                    "config_source": source,
                }
            }
        }
        (tmp / "celery.yaml").write_text(yaml.safe_dump(celery_yaml))
        subprocess.run(
            [str(VENV_BIN / "python"), "-m", "blast_pipeline.cli", "configure-instance"],
            cwd=ROOT,
            env=env,
            check=True,
        )
        for i, queue in enumerate(["dagster"] * args.workers + ["sed"]):
            workers.append(
                subprocess.Popen(
                    [
                        str(VENV_BIN / "dagster-celery"),
                        "worker",
                        "start",
                        "-A",
                        "dagster_celery.app",
                        "-y",
                        str(tmp / "celery.yaml"),
                        "-n",
                        f"bench-{queue}-{i}-{tag}",
                        "-q",
                        queue,
                        "--",
                        "--concurrency=1",
                    ],
                    cwd=ROOT,
                    env=env,
                    stdout=(tmp / f"worker-{queue}-{i}.log").open("w"),
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        print(
            f"production profile: PostgreSQL {blast_db} + {dagster_db}, broker {args.broker}, "
            f"{args.workers} dagster worker(s) + 1 sed worker",
            flush=True,
        )
        yield env
    finally:
        for worker in workers:
            _stop(worker)
        for name in created:
            _admin(args.pg_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if args.broker.startswith("redis"):
            import redis

            for url in (args.broker, args.backend):
                redis.Redis.from_url(url).flushdb()
