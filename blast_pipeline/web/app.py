"""The FastAPI application: Blast's API (``api.py``, ``lists.py``, ``health.py``) and the
transient pages (``pages.py``).

Configuration comes from the same ``BLAST_*`` environment as the CLI and the Dagster resource;
the database is reached through the same ``db/`` layer (``PipelineServices``, see ``deps.py``).
Writing (post, update) is governed by ``auth.py``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from blast_pipeline.resources import blast_resource_from_env, env_number
from blast_pipeline.services import PipelineServices
from blast_pipeline.web import api, health, lists, pages
from blast_pipeline.web.auth import WriteAccess


async def _message(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    """Errors as Blast answers them: ``{"message": ...}``."""
    return JSONResponse({"message": str(exc.detail)}, exc.status_code, headers=exc.headers)


#: Threads that run requests' blocking work (database reads, files) on SQLite. The work is
#: GIL-bound Python around SQLite calls, and Python's sqlite3 releases the GIL at every row: with
#: Starlette's 40 threads, 8 concurrent clients cost ~220 thread switches and ~5 ms of CPU per
#: payload request; with 2 threads ~25 switches, ~2 ms, p99 halved. psycopg2 releases it once
#: per query, and there Starlette's default measured best (benchmarks/README.md, "Web API").
SQLITE_REQUEST_THREADS = 2
#: Starlette's (anyio's) own default, kept for PostgreSQL.
STARLETTE_REQUEST_THREADS = 40


def request_threads_from_env(database_url: str) -> int:
    """``BLAST_API_THREADS`` (an integer >= 1, checked like every ``BLAST_*`` number), or the
    default for ``database_url``."""
    if not os.environ.get("BLAST_API_THREADS", "").strip():
        sqlite = database_url.startswith("sqlite")
        return SQLITE_REQUEST_THREADS if sqlite else STARLETTE_REQUEST_THREADS
    return int(env_number("BLAST_API_THREADS", int))


def _database_url(services: PipelineServices | None) -> str:
    if services is not None:
        return services.database.url
    return blast_resource_from_env(resolve=True).settings().database_url


def create_app(
    services: PipelineServices | None = None,
    write_access: WriteAccess | None = None,
    request_threads: int | None = None,
) -> FastAPI:
    """The web app over ``services`` (default: from the ``BLAST_*`` environment, opened lazily);
    ``write_access`` defaults to ``ALLOW_API_POST`` / ``BLAST_API_TOKEN`` from the environment,
    ``request_threads`` (the worker threads for blocking work) to ``BLAST_API_THREADS`` or the
    database's default."""
    threads = request_threads
    if threads is None:
        threads = request_threads_from_env(_database_url(services))
    if threads < 1:
        raise ValueError(f"request_threads must be at least 1, got {threads}")

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # the limiter is per event loop: set it in the server's own loop
        anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        yield

    app = FastAPI(
        title="blast-pipeline", summary="Blast's web API and transient pages", lifespan=lifespan
    )
    app.state.request_threads = threads
    app.state.services = services
    app.state.services_lock = threading.Lock()
    app.state.write_access = write_access or WriteAccess.from_env()
    app.add_exception_handler(StarletteHTTPException, _message)
    app.include_router(api.router)
    app.include_router(lists.router)
    app.include_router(health.router)
    app.include_router(pages.router, include_in_schema=False)  # HTML pages: not the API
    return app
