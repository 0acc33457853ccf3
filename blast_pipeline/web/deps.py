"""Request dependencies shared by the API and the pages (FastAPI ``Depends``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session

from blast_pipeline.db import UnmigratedDatabase
from blast_pipeline.resources import blast_resource_from_env
from blast_pipeline.services import PipelineServices


def get_services(request: Request) -> PipelineServices:
    """The app's pipeline services, opened on first use (from the ``BLAST_*`` environment):
    the database and the file store only; the web service never calls the data sources."""
    if request.app.state.services is None:
        from dataclasses import replace

        from blast_pipeline.services import build_services

        settings = blast_resource_from_env(resolve=True).settings()
        try:
            request.app.state.services = build_services(replace(settings, sky="none"))
        except UnmigratedDatabase as exc:  # production: migrated explicitly, not by a request
            raise HTTPException(503, detail=str(exc)) from None
    return request.app.state.services


Services = Annotated[PipelineServices, Depends(get_services)]


def get_session(services: Services) -> Iterator[Session]:
    """A database session for one request."""
    with services.database.session() as session:
        yield session


DbSession = Annotated[Session, Depends(get_session)]
