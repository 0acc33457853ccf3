"""``GET /health``: the Blast database (reachable, at head), the Dagster instance, the Celery
broker if configured and the file store, with the checks of ``blast-pipeline doctor``
(``health_checks.py``); and versions."""

from __future__ import annotations

import os
import platform
from dataclasses import asdict

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from blast_pipeline import __version__
from blast_pipeline.health_checks import (
    DOWN,
    ENV_BROKER,
    Check,
    check_blast_database,
    check_broker,
    check_dagster_storage,
    check_file_store,
    open_instance,
)
from blast_pipeline.resources import blast_resource_from_env
from blast_pipeline.web.api import json_response
from blast_pipeline.web.schemas import Health

router = APIRouter(tags=["health"])


def _checks(request: Request) -> list[Check]:
    """The doctor's checks of the parts the web service needs (the webserver, daemon and
    workers are the doctor's alone: the web service answers without them); the Dagster
    instance is opened once per app."""

    def instance():
        if getattr(request.app.state, "dagster_instance", None) is None:
            request.app.state.dagster_instance = open_instance()
        return request.app.state.dagster_instance

    services = request.app.state.services
    settings = services.settings if services is not None else None
    if settings is None:
        settings = blast_resource_from_env(resolve=True).settings()
    return [
        check_blast_database(settings.database_url),
        check_dagster_storage(instance),
        check_broker(os.environ.get(ENV_BROKER, "")),
        check_file_store(settings.data_root),
    ]


def _part(check: Check) -> dict:
    return {"ok": check.state != DOWN, "detail": check.detail}


def _versions() -> dict[str, str]:
    import dagster
    import fastapi
    import sqlalchemy

    return {
        "blast_pipeline": __version__,
        "dagster": dagster.__version__,
        "fastapi": fastapi.__version__,
        "sqlalchemy": sqlalchemy.__version__,
        "python": platform.python_version(),
    }


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
async def health(request: Request):
    """200 when every checked part is up (or not configured); 503 naming the failing parts."""
    checks = await run_in_threadpool(_checks, request)
    by_part = {c.part: c for c in checks}
    names = {"blast database": "database", "dagster database": "dagster"}
    failing = [names.get(c.part, c.part) for c in checks if c.down]
    body = {
        "status": "ok" if not failing else "failing: " + ", ".join(failing),
        "database": _part(by_part["blast database"]),
        "dagster": _part(by_part["dagster database"]),
        "checks": [asdict(c) for c in checks],
        "versions": _versions(),
    }
    return json_response(body, status_code=503 if failing else 200)
