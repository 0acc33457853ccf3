"""``GET /health``: the Blast database and the Dagster instance reachable, and versions."""

from __future__ import annotations

import os
import platform

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import text

from blast_pipeline import __version__
from blast_pipeline.web.api import json_response
from blast_pipeline.web.deps import get_services
from blast_pipeline.web.schemas import Health

router = APIRouter(tags=["health"])


def _database(request: Request) -> dict:
    try:
        services = get_services(request)
        with services.database.engine.connect() as connection:
            n = connection.execute(text("SELECT count(*) FROM transients")).scalar()
        dialect = services.database.engine.dialect.name
        return {"ok": True, "detail": f"{dialect}, {n} transient(s)"}
    except Exception as exc:  # any failure is the answer here
        return {"ok": False, "detail": f"database unreachable: {type(exc).__name__}: {exc}"}


def _dagster(request: Request) -> dict:
    if not os.environ.get("DAGSTER_HOME"):
        return {"ok": False, "detail": "DAGSTER_HOME is not set: no Dagster instance"}
    try:
        import dagster as dg

        instance = getattr(request.app.state, "dagster_instance", None)
        if instance is None:
            instance = request.app.state.dagster_instance = dg.DagsterInstance.get()
        instance.get_runs(limit=1)
        return {"ok": True, "detail": f"instance in {instance.root_directory}"}
    except Exception as exc:
        return {"ok": False, "detail": f"Dagster instance unreachable: {type(exc).__name__}: {exc}"}


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
    """200 when the database and the Dagster instance answer; 503 naming the failing part."""
    database = await run_in_threadpool(_database, request)
    dagster = await run_in_threadpool(_dagster, request)
    failing = [
        name for name, part in (("database", database), ("dagster", dagster)) if not part["ok"]
    ]
    body = {
        "status": "ok" if not failing else "failing: " + ", ".join(failing),
        "database": database,
        "dagster": dagster,
        "versions": _versions(),
    }
    return json_response(body, status_code=503 if failing else 200)
