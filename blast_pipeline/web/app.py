"""The FastAPI application: Blast's API (``api.py``, ``lists.py``, ``health.py``) and the
transient pages (``pages.py``).

Configuration comes from the same ``BLAST_*`` environment as the CLI and the Dagster resource;
the database is reached through the same ``db/`` layer (``PipelineServices``, see ``deps.py``).
Writing (post, update) is governed by ``auth.py``.
"""

from __future__ import annotations

import threading

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from blast_pipeline.services import PipelineServices
from blast_pipeline.web import api, health, lists, pages
from blast_pipeline.web.auth import WriteAccess


async def _message(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    """Errors as Blast answers them: ``{"message": ...}``."""
    return JSONResponse({"message": str(exc.detail)}, exc.status_code, headers=exc.headers)


def create_app(
    services: PipelineServices | None = None, write_access: WriteAccess | None = None
) -> FastAPI:
    """The web app over ``services`` (default: from the ``BLAST_*`` environment, opened lazily);
    ``write_access`` defaults to ``ALLOW_API_POST`` / ``BLAST_API_TOKEN`` from the environment."""
    app = FastAPI(title="blast-pipeline", summary="Blast's web API and transient pages")
    app.state.services = services
    app.state.services_lock = threading.Lock()
    app.state.write_access = write_access or WriteAccess.from_env()
    app.add_exception_handler(StarletteHTTPException, _message)
    app.include_router(api.router)
    app.include_router(lists.router)
    app.include_router(health.router)
    app.include_router(pages.router, include_in_schema=False)  # HTML pages: not the API
    return app
