"""``blast-pipeline doctor``: every check of ``health_checks.py``, configured from the
environment (``BLAST_*``, ``DAGSTER_HOME``), as a table or JSON."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import asdict

from blast_pipeline.health_checks import (
    DEFAULT_QUEUE,
    DEFAULT_WEBSERVER_URL,
    DOWN,
    ENV_BROKER,
    ENV_WEBSERVER_URL,
    Check,
    check_blast_database,
    check_broker,
    check_daemon,
    check_dagster_storage,
    check_dust_map,
    check_file_store,
    check_sed_posterior,
    check_webserver,
    check_workers,
    error_reason,
    open_instance,
    worker_queues,
)


def run_checks(parts: Iterable[str] | None = None) -> list[Check]:
    """The checks of ``parts`` (default: every part), configured from the environment."""
    from blast_pipeline.resources import blast_resource_from_env

    wanted = set(parts) if parts is not None else None
    try:
        settings = blast_resource_from_env(resolve=True).settings()
    except Exception as exc:
        return [Check("configuration", DOWN, error_reason(exc))]
    broker = os.environ.get(ENV_BROKER, "")
    instance, failure = None, None

    def shared_instance():  # opened once; a failure to open is not retried by the next check
        nonlocal instance, failure
        if failure is not None:
            raise failure
        if instance is None:
            try:
                instance = open_instance()
            except Exception as exc:
                failure = exc
                raise
        return instance

    checks: list[Check] = []

    def want(name: str) -> bool:
        return wanted is None or name in wanted

    if want("webserver"):
        url = os.environ.get(ENV_WEBSERVER_URL, DEFAULT_WEBSERVER_URL)
        checks.append(check_webserver(url))
    if want("daemon"):
        checks.append(check_daemon(shared_instance))
    if want("dagster database"):
        checks.append(check_dagster_storage(shared_instance))
    if want("blast database"):
        checks.append(check_blast_database(settings.database_url))
    broker_check = check_broker(broker) if want("broker") or want("workers") else None
    if want("broker"):
        checks.append(broker_check)
    if want("workers"):
        queues = worker_queues() if broker else [DEFAULT_QUEUE]
        if broker_check.down:  # asking the workers would wait on the broker's retries
            checks.extend(Check(f"workers: {q}", DOWN, "the broker is down") for q in queues)
        else:
            checks.extend(check_workers(broker, queues))
    if want("file store"):
        checks.append(check_file_store(settings.data_root))
    if want("dust map"):
        checks.append(check_dust_map(settings.dust_map_dir, settings.sky, settings.sky_root))
    if want("sed posterior"):
        checks.append(check_sed_posterior())
    if instance is not None:
        instance.dispose()
    return checks


def down_parts(checks: Iterable[Check]) -> list[str]:
    return [c.part for c in checks if c.down]


def as_table(checks: list[Check]) -> str:
    width = max(len(c.part) for c in checks)
    lines = [f"{'part':<{width}}  {'state':<14}  detail"]
    lines += [f"{c.part:<{width}}  {c.state:<14}  {c.detail}" for c in checks]
    return "\n".join(lines)


def as_json(checks: list[Check]) -> str:
    down = down_parts(checks)
    return json.dumps(
        {"ok": not down, "down": down, "checks": [asdict(c) for c in checks]}, indent=1
    )
