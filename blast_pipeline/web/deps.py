"""Request dependencies shared by the API and the pages (FastAPI ``Depends``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from blast_pipeline.resources import blast_resource_from_env
from blast_pipeline.services import PipelineServices


def get_services(request: Request) -> PipelineServices:
    """The app's pipeline services, opened on first use (from the ``BLAST_*`` environment)."""
    if request.app.state.services is None:
        request.app.state.services = blast_resource_from_env(resolve=True).services()
    return request.app.state.services


Services = Annotated[PipelineServices, Depends(get_services)]


def get_session(services: Services) -> Iterator[Session]:
    """A database session for one request."""
    with services.database.session() as session:
        yield session


DbSession = Annotated[Session, Depends(get_session)]
