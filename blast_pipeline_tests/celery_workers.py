"""Real Celery workers for tests: started as ``dagster-celery worker start`` processes (their own
process group), always stopped, even when the test fails."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
RABBITMQ_URL = "pyamqp://guest:guest@127.0.0.1:5672//"


def port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return True
    except OSError:
        return False


def redis_urls() -> tuple[str, str]:
    """A broker and a result backend on the local Redis, in databases of their own (tests
    running at once do not share queues)."""
    if not port_open(6379):
        pytest.skip("Redis at 127.0.0.1:6379 cannot be reached; the Celery tests need it")
    db = 2 + uuid.uuid4().int % 7 * 2
    return f"redis://127.0.0.1:6379/{db}", f"redis://127.0.0.1:6379/{db + 1}"


def flush_redis(url: str) -> None:
    """Empty one Redis database (queues a failed test left behind)."""
    import redis

    redis.Redis.from_url(url).flushdb()


def redis_queue_length(url: str, queue: str) -> int:
    """Messages waiting in a Celery queue on Redis. Kombu keeps one list per priority step:
    ``queue`` for priority 0, ``queue\\x06\\x16<step>`` for the others (dagster-celery sends at
    priority 5, so its messages are never in the plain ``queue`` list)."""
    import redis

    client = redis.Redis.from_url(url)
    keys = [queue.encode(), *client.keys(f"{queue}\x06\x16*")]
    return sum(client.llen(key) for key in keys)


def write_celery_yaml(
    path: Path, broker: str, backend: str, include: tuple[str, ...] = (), **config_source
) -> Path:
    """The workers' executor config (``deploy/celery.yaml`` with the values filled in);
    ``config_source``: Celery settings (e.g. ``task_acks_late=True``)."""
    lines = ["execution:", "  config:", f"    broker: {broker}", f"    backend: {backend}"]
    if include:
        lines.append(f"    include: {list(include)!r}")
    if config_source:
        lines.append("    config_source:")
        lines += [f"      {key}: {value!r}" for key, value in config_source.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


class Workers:
    """Starts workers and stops every one of them (SIGTERM to the group, then SIGKILL)."""

    def __init__(self, log_dir: Path, env: dict[str, str], celery_yaml: Path) -> None:
        self.log_dir, self.env, self.celery_yaml = log_dir, env, celery_yaml
        self.started: list[subprocess.Popen] = []

    def start(self, queues: str, label: str, concurrency: int = 1) -> subprocess.Popen:
        """A worker consuming ``queues`` (one comma list: dagster-celery turns repeated ``-q``
        into repeated ``-Q``, of which Celery keeps only the last)."""
        process = subprocess.Popen(
            [
                str(BIN / "dagster-celery"),
                "worker",
                "start",
                "-A",
                "dagster_celery.app",
                "-y",
                str(self.celery_yaml),
                "-n",
                f"blast-test-{label}-{uuid.uuid4().hex[:8]}",
                "-q",
                queues,
                "--",
                f"--concurrency={concurrency}",
            ],
            cwd=ROOT,
            env={**self.env, "BLAST_TEST_WORKER": label},
            stdout=(self.log_dir / f"worker-{label}.log").open("a"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.started.append(process)
        return process

    def stop(self, process: subprocess.Popen) -> None:
        """Stop a process started in its own session, then what outlived it in its group (the
        code servers a daemon starts ignore SIGTERM once their parent is gone)."""
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)

    def stop_all(self) -> None:
        for process in self.started:
            self.stop(process)

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text()[-4000:]}" for p in sorted(self.log_dir.glob("*.log"))
        )


def worker_env(extra: dict[str, str]) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
        **extra,
    }


def wait_for(
    predicate, timeout: float, interval: float = 0.5, what: str = "condition", on_timeout=None
):
    """Poll ``predicate`` until it returns a true value; fail naming ``what`` (and the text of
    ``on_timeout()``, e.g. worker logs) after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            details = f"\n{on_timeout()}" if on_timeout else ""
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}{details}")
        time.sleep(interval)


@pytest.fixture
def celery_workers(tmp_path) -> Iterator[callable]:
    """``make(env, celery_yaml) -> Workers``; every worker made is stopped at teardown."""
    made: list[Workers] = []

    def make(env: dict[str, str], celery_yaml: Path) -> Workers:
        workers = Workers(tmp_path, env, celery_yaml)
        made.append(workers)
        return workers

    yield make
    for workers in made:
        workers.stop_all()
