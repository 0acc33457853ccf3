"""The project's own worker heartbeat: every workflow run's process writes a sign of life to the
Blast database (``run_heartbeats``) while it runs, and the retrigger sweep fails runs whose
heartbeat stopped (``system.recovery``).

It works the same for every way a run executes (``blast-pipeline process``, the daemon's run
workers, tests), where Dagster's run monitoring cannot see a dead worker of the default run
launcher. A task running past its hard limit (``hard_limit_seconds``, Blast's 3800 s) stops the
beat too: the worker is then treated as hung, as Celery's hard time limit would kill it.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import dagster as dg
from sqlalchemy import delete, update

from blast_pipeline.db.engine import BlastDatabase
from blast_pipeline.db.models import RunHeartbeat, utcnow

ENV_INTERVAL = "BLAST_HEARTBEAT_INTERVAL_SECONDS"
ENV_TIMEOUT = "BLAST_HEARTBEAT_TIMEOUT_SECONDS"
DEFAULT_INTERVAL_SECONDS = 10.0
#: A run whose heartbeat is older than this is dead (several missed beats: a loaded machine or
#: a long database lock must not kill a healthy run).
DEFAULT_TIMEOUT_SECONDS = 90.0

log = logging.getLogger("blast_pipeline.heartbeat")


def _seconds(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = (environ.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not value > 0:
        raise ValueError(f"{name} must be positive, got {raw!r}")
    return value


def heartbeat_interval(environ: Mapping[str, str] = os.environ) -> float:
    return _seconds(environ, ENV_INTERVAL, DEFAULT_INTERVAL_SECONDS)


def heartbeat_timeout(environ: Mapping[str, str] = os.environ) -> float:
    return _seconds(environ, ENV_TIMEOUT, DEFAULT_TIMEOUT_SECONDS)


@dataclass(frozen=True)
class _Running:
    task_name: str
    transient_name: str
    started: float
    hard_limit: float | None


class TaskWatch:
    """The tasks running in this process, to tell a hung worker from a busy one."""

    def __init__(self) -> None:
        self._running: dict[int, _Running] = {}
        self._lock = threading.Lock()

    @contextmanager
    def running(
        self, task_name: str, transient_name: str, hard_limit: float | None
    ) -> Iterator[None]:
        key = threading.get_ident()
        with self._lock:
            self._running[key] = _Running(task_name, transient_name, time.monotonic(), hard_limit)
        try:
            yield
        finally:
            with self._lock:
                self._running.pop(key, None)

    def overdue(self, now: float | None = None) -> list[str]:
        """Tasks past their hard limit, as ``"task on transient"``."""
        now = time.monotonic() if now is None else now
        with self._lock:
            items = list(self._running.values())
        return [
            f"{r.task_name} on {r.transient_name}"
            for r in items
            if r.hard_limit and now - r.started > r.hard_limit
        ]


WATCH = TaskWatch()


class RunHeartbeatThread:
    """Beats for one run from a daemon thread until the run is finished in Dagster (or
    ``stop``); then removes its heartbeat row."""

    def __init__(
        self,
        instance: dg.DagsterInstance,
        database: BlastDatabase,
        run_id: str,
        interval: float | None = None,
    ) -> None:
        self.instance = instance
        self.database = database
        self.run_id = run_id
        self.interval = interval or heartbeat_interval()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, name=f"blast-heartbeat-{run_id[:8]}", daemon=True
        )

    def start(self) -> RunHeartbeatThread:
        now = utcnow()
        with self.database.session() as session:
            session.merge(
                RunHeartbeat(
                    run_id=self.run_id,
                    started_at=now,
                    beat_at=now,
                    worker=f"{socket.gethostname()}:{os.getpid()}"[:100],
                )
            )
        self._thread.start()
        return self

    def alive(self) -> bool:
        return self._thread.is_alive()

    def _run_finished(self) -> bool:
        run = self.instance.get_run_by_id(self.run_id)
        return run is None or run.is_finished

    def _loop(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                overdue = WATCH.overdue()
                if overdue:
                    log.error(
                        f"run {self.run_id}: past the hard limit ({', '.join(overdue)}); "
                        "heartbeat stopped, the retrigger sweep will fail the run"
                    )
                    return
                try:
                    if self._run_finished():
                        break
                    with self.database.session() as session:
                        session.execute(
                            update(RunHeartbeat)
                            .where(RunHeartbeat.run_id == self.run_id)
                            .values(beat_at=utcnow())
                        )
                except Exception as exc:  # a locked database delays one beat, never the run
                    log.warning(f"run {self.run_id}: heartbeat not written ({exc})")
            self._remove()
        finally:
            with _LOCK:
                if _THREADS.get(self.run_id) is self:
                    del _THREADS[self.run_id]

    def _remove(self) -> None:
        try:
            with self.database.session() as session:
                session.execute(delete(RunHeartbeat).where(RunHeartbeat.run_id == self.run_id))
        except Exception as exc:
            log.warning(f"run {self.run_id}: heartbeat not removed ({exc})")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


_THREADS: dict[str, RunHeartbeatThread] = {}
_LOCK = threading.Lock()


def ensure_run_heartbeat(
    instance: dg.DagsterInstance, database: BlastDatabase, run_id: str
) -> None:
    """Start this process's heartbeat for the run unless it beats already (called by every
    workflow step: the first one starts it, it ends with the run)."""
    with _LOCK:
        beating = _THREADS.get(run_id)
        if beating is not None and beating.alive():
            return
        _THREADS[run_id] = thread = RunHeartbeatThread(instance, database, run_id)
    thread.start()
