"""Is each part of a deployment alive? One function per part, shared by ``blast-pipeline
doctor`` (every part) and the web service's ``GET /health`` (the parts it needs itself: the
Blast and Dagster databases, the broker, the file store).

Each check returns a ``Check``: "ok", "down" (with what is wrong), or "not configured" (a part
the setup does not use, e.g. no Celery broker on the embedded default). A check never raises:
a failure is its answer. Secrets never appear in a detail (URLs are shown without passwords).
"""

from __future__ import annotations

import json
import os
import urllib.request
import uuid
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from blast_pipeline.config_check import shown_url

OK, DOWN, NOT_CONFIGURED = "ok", "down", "not configured"
State = Literal["ok", "down", "not configured"]

ENV_WEBSERVER_URL = "BLAST_DAGSTER_WEBSERVER_URL"
DEFAULT_WEBSERVER_URL = "http://127.0.0.1:3000"
ENV_BROKER = "BLAST_CELERY_BROKER"
#: The queue of steps without a queue tag (dagster-celery's default).
DEFAULT_QUEUE = "dagster"
#: Seconds a check waits for a network answer (a dead host must not hang the doctor).
TIMEOUT_SECONDS = 3.0


@dataclass(frozen=True)
class Check:
    part: str
    state: State
    detail: str

    @property
    def down(self) -> bool:
        return self.state == DOWN


def _guarded(part: str, check: Callable[[], Check]) -> Check:
    try:
        return check()
    except Exception as exc:  # any failure is the answer here
        return Check(part, DOWN, error_reason(exc))


def error_reason(exc: BaseException) -> str:
    """``Type: first line`` of the exception, and of its root cause when it has one (a
    retry wrapper's message alone does not say what failed)."""

    def line(e: BaseException) -> str:
        text = str(e).strip().splitlines()
        return f"{type(e).__name__}: {text[0]}" if text else type(e).__name__

    root, seen = exc, {id(exc)}
    while (nxt := root.__cause__ or root.__context__) is not None and id(nxt) not in seen:
        root = nxt
        seen.add(id(nxt))
    return line(exc) if root is exc else f"{line(exc)} ({line(root)})"


# ---- Dagster ------------------------------------------------------------------------------


def check_webserver(url: str) -> Check:
    """The Dagster webserver answers ``/server_info`` with its version."""

    def run() -> Check:
        with urllib.request.urlopen(f"{url.rstrip('/')}/server_info", timeout=TIMEOUT_SECONDS) as r:
            info = json.loads(r.read())
        version = info.get("dagster_webserver_version") or info.get("dagster_version", "?")
        return Check("webserver", OK, f"{url}, dagster-webserver {version}")

    result = _guarded("webserver", run)
    if result.down:
        return Check("webserver", DOWN, f"{url}/server_info: {result.detail}")
    return result


def open_instance():
    """The Dagster instance of ``DAGSTER_HOME`` (``RuntimeError`` when it is not set)."""
    if not os.environ.get("DAGSTER_HOME"):
        raise RuntimeError("DAGSTER_HOME is not set: no Dagster instance")
    import dagster as dg

    return dg.DagsterInstance.get()


def check_dagster_storage(instance_factory: Callable[[], Any] = open_instance) -> Check:
    """The instance's storage (runs, events, schedules) answers and its schema is at Dagster's
    head revision (``dagster instance migrate`` otherwise)."""

    def run() -> Check:
        instance = instance_factory()
        instance.get_runs(limit=1)
        behind = []
        for name in ("run_storage", "event_log_storage", "schedule_storage"):
            storage = getattr(instance, name, None)
            version = storage.alembic_version() if storage is not None else None
            if version is not None and version[0] != version[1]:
                behind.append(f"{name} at {version[0]}, head {version[1]}")
        kind = type(instance.run_storage).__name__
        if behind:
            detail = "; ".join(behind) + ": run `dagster instance migrate`"
            return Check("dagster database", DOWN, detail)
        return Check("dagster database", OK, f"{kind} in {instance.root_directory}, at head")

    return _guarded("dagster database", run)


def check_daemon(instance_factory: Callable[[], Any] = open_instance) -> Check:
    """Every daemon the instance requires has a recent heartbeat (``dagster-daemon
    liveness-check``; tolerance ``DAGSTER_DAEMON_HEARTBEAT_TOLERANCE``, default 300 s)."""

    def run() -> Check:
        from dagster._daemon.controller import (
            DEFAULT_DAEMON_HEARTBEAT_TOLERANCE_SECONDS,
            get_daemon_statuses,
        )

        instance = instance_factory()
        tolerance = float(
            os.environ.get(
                "DAGSTER_DAEMON_HEARTBEAT_TOLERANCE", DEFAULT_DAEMON_HEARTBEAT_TOLERANCE_SECONDS
            )
        )
        required = instance.get_required_daemon_types()
        statuses = get_daemon_statuses(
            instance, required, heartbeat_tolerance_seconds=tolerance, ignore_errors=True
        )
        silent = sorted(name for name, status in statuses.items() if not status.healthy)
        if silent:
            return Check("daemon", DOWN, "no recent heartbeat from " + ", ".join(silent))
        return Check("daemon", OK, f"{len(required)} daemon(s) beating")

    return _guarded("daemon", run)


# ---- Blast database -----------------------------------------------------------------------


def check_blast_database(url: str) -> Check:
    """The Blast database answers and its schema is at the code's Alembic head."""

    def run() -> Check:
        from sqlalchemy import create_engine, inspect, text

        from blast_pipeline.db import head_revision, normalise_database_url

        url_ = normalise_database_url(url)
        sqlite_file = url_.removeprefix("sqlite:///") if url_.startswith("sqlite:///") else None
        if sqlite_file and not Path(sqlite_file).expanduser().exists():
            return Check("blast database", OK, f"{url_}: created and migrated on first use")
        args = {"connect_timeout": int(TIMEOUT_SECONDS)} if url_.startswith("postgresql") else {}
        engine = create_engine(url_, connect_args=args)
        try:
            with engine.connect() as connection:
                revision = None
                if inspect(connection).has_table("alembic_version"):
                    query = text("SELECT version_num FROM alembic_version")
                    revision = connection.execute(query).scalar()
                n = None
                if inspect(connection).has_table("transients"):
                    n = connection.execute(text("SELECT count(*) FROM transients")).scalar()
        finally:
            engine.dispose()
        head = head_revision()
        where = f"{shown_url(url_)}"
        if revision != head and sqlite_file:  # the embedded default migrates itself
            return Check("blast database", OK, f"{where}: at {revision}, migrated on next open")
        if revision != head:
            at = f"at {revision}" if revision else "empty"
            return Check(
                "blast database", DOWN, f"{where}: {at}, head {head}: run `blast-pipeline migrate`"
            )
        return Check("blast database", OK, f"{where}: at {head}, {n} transient(s)")

    result = _guarded("blast database", run)
    if result.down and not result.detail.startswith(shown_url(url)):
        return Check("blast database", DOWN, f"{shown_url(url)}: {result.detail}")
    return result


# ---- Celery -------------------------------------------------------------------------------


def check_broker(broker_url: str) -> Check:
    """The Celery broker accepts a connection ("not configured" without ``BLAST_CELERY_BROKER``)."""
    if not broker_url:
        return Check("broker", NOT_CONFIGURED, f"{ENV_BROKER} is not set: steps run in-process")

    def run() -> Check:
        from kombu import Connection

        with Connection(broker_url, connect_timeout=TIMEOUT_SECONDS) as connection:
            connection.ensure_connection(max_retries=1, timeout=TIMEOUT_SECONDS)
        return Check("broker", OK, shown_url(broker_url))

    result = _guarded("broker", run)
    if result.down:
        return Check("broker", DOWN, f"{shown_url(broker_url)}: {result.detail}")
    return result


def check_workers(broker_url: str, queues: Iterable[str]) -> list[Check]:
    """At least one live Celery worker consumes each queue (``inspect ping``, then the
    answering workers' ``active_queues``); one ``Check`` per queue."""
    queues = list(queues)
    parts = [f"workers: {q}" for q in queues]
    if not broker_url:
        return [Check(p, NOT_CONFIGURED, "no Celery broker") for p in parts]
    try:
        from celery import Celery

        app = Celery("blast_doctor", broker=broker_url)
        app.conf.broker_connection_retry_on_startup = False
        app.conf.broker_connection_max_retries = 1
        inspector = app.control.inspect(timeout=TIMEOUT_SECONDS / 2)
        alive = sorted(inspector.ping() or {})
        consumed: dict[str, list[str]] = {}
        if alive:
            answers = app.control.inspect(destination=alive, timeout=TIMEOUT_SECONDS / 2)
            for worker, active in (answers.active_queues() or {}).items():
                for queue in active or []:
                    consumed.setdefault(queue["name"], []).append(worker)
        app.close()
    except Exception as exc:
        return [Check(p, DOWN, f"cannot ask the workers: {error_reason(exc)}") for p in parts]
    checks = []
    for part, queue in zip(parts, queues, strict=True):
        workers = sorted(consumed.get(queue, []))
        if workers:
            checks.append(Check(part, OK, f"{len(workers)} live: {', '.join(workers)}"))
        else:
            checks.append(Check(part, DOWN, f"no live worker consumes queue {queue!r}"))
    return checks


def worker_queues() -> list[str]:
    """The default queue and every task's own queue (``TransientTaskRunner.queue``)."""
    from blast_pipeline.tasks import TASK_RUNNERS

    own = sorted({r.queue for r in TASK_RUNNERS if getattr(r, "queue", None)})
    return [DEFAULT_QUEUE, *(q for q in own if q != DEFAULT_QUEUE)]


# ---- files --------------------------------------------------------------------------------


def check_file_store(data_root: Path) -> Check:
    """The data root takes a file, and has at least ``BLAST_MIN_FREE_DISK_GB`` free."""

    def run() -> Check:
        from blast_pipeline.runners.disk import ENV_MIN_FREE_GB, free_bytes, min_free_bytes

        root = Path(data_root)
        root.mkdir(parents=True, exist_ok=True)
        probe = root / f".doctor-{uuid.uuid4().hex}"
        try:
            probe.write_bytes(b"ok")
        finally:
            probe.unlink(missing_ok=True)
        free, needed = free_bytes(root), min_free_bytes()
        space = f"{free / 2**30:.1f} GiB free ({ENV_MIN_FREE_GB}={needed / 2**30:g})"
        if free < needed:
            return Check("file store", DOWN, f"{root}: only {space}")
        return Check("file store", OK, f"{root}: writable, {space}")

    result = _guarded("file store", run)
    if result.down and not result.detail.startswith(str(data_root)):
        return Check("file store", DOWN, f"{data_root}: {result.detail}")
    return result


SFD_FILES = ("SFD_dust_4096_ngp.fits", "SFD_dust_4096_sgp.fits")


def check_dust_map(dust_map_dir: Path | None, sky: str, sky_root: Path | None) -> Check:
    """Both SFD files are present and open as FITS. Without ``BLAST_DUST_MAP_DIR`` the
    simulated sky's own map is used (written on first use); online, MWEBV needs the real map."""
    if dust_map_dir is None:
        if sky == "none":
            return Check("dust map", NOT_CONFIGURED, "no data sources (BLAST_SKY=none)")
        if sky == "simulated" and sky_root is not None:
            folder = Path(sky_root) / "dustmaps" / "sfd"
            if not folder.exists():
                return Check("dust map", OK, f"the simulated sky writes its map to {folder}")
            dust_map_dir = folder
        else:
            return Check("dust map", DOWN, "BLAST_DUST_MAP_DIR is not set: MWEBV tasks cannot run")

    def run() -> Check:
        from astropy.io import fits

        folder = Path(dust_map_dir)
        missing = [name for name in SFD_FILES if not (folder / name).is_file()]
        if missing:
            return Check("dust map", DOWN, f"{folder}: missing {', '.join(missing)}")
        for name in SFD_FILES:
            header = fits.getheader(folder / name)
            if header.get("NAXIS", 0) < 2:
                return Check("dust map", DOWN, f"{folder / name}: not an image")
        return Check("dust map", OK, f"{folder}: {', '.join(SFD_FILES)}")

    return _guarded("dust map", run)


def check_sed_posterior(path: Path | None = None) -> Check:
    """The SED posterior file is present and a complete torch archive (not loaded: ~1 s)."""

    def run() -> Check:
        from blast_pipeline.science.sed.posterior import DEFAULT_POSTERIOR_PATH

        file = Path(path or DEFAULT_POSTERIOR_PATH)
        if not file.is_file():
            return Check("sed posterior", DOWN, f"{file}: missing")
        if not zipfile.is_zipfile(file):
            return Check("sed posterior", DOWN, f"{file}: not a torch archive (truncated?)")
        with zipfile.ZipFile(file) as archive:
            bad = archive.testzip()
        if bad is not None:
            return Check("sed posterior", DOWN, f"{file}: corrupt member {bad}")
        return Check("sed posterior", OK, f"{file} ({file.stat().st_size / 2**20:.1f} MiB)")

    return _guarded("sed posterior", run)
