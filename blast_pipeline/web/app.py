"""The FastAPI application: Blast's API (``api.py``) and the transient pages (``pages.py``).

Configuration comes from the same ``BLAST_*`` environment as the CLI and the Dagster resource;
the database is reached through the same ``db/`` layer (``PipelineServices``, see ``deps.py``).
"""

from __future__ import annotations

from fastapi import FastAPI

from blast_pipeline.services import PipelineServices
from blast_pipeline.web import api, pages


def create_app(services: PipelineServices | None = None) -> FastAPI:
    """The web app over ``services`` (default: from the ``BLAST_*`` environment, opened lazily)."""
    app = FastAPI(title="blast-pipeline", summary="Blast's web API and transient pages")
    app.state.services = services
    app.include_router(api.router)
    app.include_router(pages.router)
    return app
