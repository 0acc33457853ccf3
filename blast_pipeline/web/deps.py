"""Request dependencies shared by the API and the pages (FastAPI ``Depends``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from blast_pipeline.db import UnmigratedDatabase
from blast_pipeline.resources import blast_resource_from_env
from blast_pipeline.services import PipelineServices


def _build_services() -> PipelineServices:
    from dataclasses import replace

    from blast_pipeline.services import build_services

    settings = blast_resource_from_env(resolve=True).settings()
    try:
        return build_services(replace(settings, sky="none"))
    except UnmigratedDatabase as exc:  # production: migrated explicitly, not by a request
        raise HTTPException(503, detail=str(exc)) from None


def get_services(request: Request) -> PipelineServices:
    """The app's pipeline services, opened on first use (from the ``BLAST_*`` environment):
    the database and the file store only; the web service never calls the data sources."""
    state = request.app.state
    if state.services is None:
        with state.services_lock:
            if state.services is None:
                state.services = _build_services()
    return state.services


async def services_dependency(request: Request) -> PipelineServices:
    """``get_services`` as an ``async`` dependency, so that a request does not wait for a
    threadpool thread just to read the services (the first call opens them in one)."""
    services = request.app.state.services
    return services if services is not None else await run_in_threadpool(get_services, request)


Services = Annotated[PipelineServices, Depends(services_dependency)]


def get_session(services: Services) -> Iterator[Session]:
    """A database session for one request."""
    with services.database.session() as session:
        yield session


DbSession = Annotated[Session, Depends(get_session)]
